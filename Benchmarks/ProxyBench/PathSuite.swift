import EventLoop
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs every selected scenario on every selected path, one path at a time so that relays
/// never compete with each other, all against the same terminator in the same run.
///
/// Main thread only. Owns the temporary directory, the terminator and the emulator; call
/// `tearDown()` when done (it stops every process and removes the directory unless asked to
/// keep it).
final class PathSuite {
    private let options: BenchOptions
    private let directory: URL
    private let terminator: ChildProcess
    private let launcher: PathLauncher
    private var emulator: ChildProcess?
    private let generator: LoadGenerator
    private let descriptorLimit: Int

    /// Remarks about the run (skipped paths, substitutions), for the report.
    private(set) var notes: [String] = []

    init(options: BenchOptions) throws {
        self.options = options
        directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("proxy-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try BenchPKI.write(into: directory)

        let ownBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        terminator = try ChildProcess(name: "terminator", executable: ownBinary,
                                      arguments: ["terminator", "--dir", directory.path],
                                      logPath: directory.appendingPathComponent("terminator.log").path)
        let portsFile = directory.appendingPathComponent(Terminator.portsFile)
        try terminator.wait(seconds: 15, for: "listening") {
            FileManager.default.fileExists(atPath: portsFile.path)
        }
        let ports = try JSONDecoder().decode(Terminator.Ports.self, from: Data(contentsOf: portsFile))
        var tlsPorts: [BackendMode: Int] = [:]
        var plainPorts: [BackendMode: Int] = [:]
        for mode in BackendMode.allCases {
            tlsPorts[mode] = ports.tls[mode.rawValue]
            plainPorts[mode] = ports.plain[mode.rawValue]
        }
        self.plainPorts = plainPorts
        let binDirectory = options.binDirectory
            ?? URL(fileURLWithPath: ownBinary).deletingLastPathComponent().path
        launcher = PathLauncher(directory: directory, tlsPorts: tlsPorts, terminatorPid: terminator.pid,
                                binDirectory: binDirectory, instancePort: options.instancePort,
                                maxTunnels: max(options.sizes.idleTunnels, 16))
        generator = try LoadGenerator(timeLimit: options.sizes.timeLimit)
        descriptorLimit = Int(clamping: try ProcessResources.descriptorLimit().hard)
        notes.append("Peers terminate at proxy-bench's own TLS 1.3 terminator (client certificate required, "
                     + "no resumption); the proxy path terminates at the emulator's instance endpoints, "
                     + "which add the metadata exchange.")
    }

    private let plainPorts: [BackendMode: Int]

    /// Runs everything and returns one result per path and scenario.
    func run() -> [ScenarioResult] {
        var results: [ScenarioResult] = []
        for kind in options.paths {
            let endpoint: RelayEndpoint
            if kind == .direct {
                endpoint = RelayEndpoint(kind: .direct, ports: plainPorts, process: nil,
                                         backendDescriptorsPerTunnel: 1, backendPid: terminator.pid)
            } else {
                do {
                    endpoint = try launcher.launch(kind, emulator: &emulator)
                } catch {
                    Console.line("-- \(kind.rawValue): skipped: \(error)")
                    notes.append("\(kind.rawValue) skipped: \(error)")
                    results += options.scenarios.map {
                        ScenarioResult(scenario: $0, path: kind, failure: "unavailable: \(error)")
                    }
                    continue
                }
            }
            Console.line("-- \(kind.rawValue)")
            for scenario in options.scenarios {
                let result = measure(scenario, on: endpoint)
                Console.line("   \(result.summary)")
                results.append(result)
            }
            endpoint.process?.stop()
        }
        return results
    }

    /// Stops every process and removes the temporary directory (unless `--keep-temp`).
    func tearDown() {
        emulator?.stop()
        terminator.stop()
        if options.keepTemporary {
            Console.line("proxy-bench: temporary files kept in \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    // MARK: Scenarios

    private func measure(_ scenario: ScenarioKind, on endpoint: RelayEndpoint) -> ScenarioResult {
        var result = ScenarioResult(scenario: scenario, path: endpoint.kind)
        if let process = endpoint.process, !process.isRunning {
            result.failure = "the relay exited: \(process.logTail())"
            return result
        }
        let sizes = options.sizes
        do {
            switch scenario {
            case .upload1: try bulk(&result, endpoint, upload: true, connections: 1)
            case .download1: try bulk(&result, endpoint, upload: false, connections: 1)
            case .upload16: try bulk(&result, endpoint, upload: true, connections: 16)
            case .download16: try bulk(&result, endpoint, upload: false, connections: 16)
            case .roundTrip:
                let latency = generator.roundTrips(port: endpoint.port(.echo), count: sizes.roundTrips)
                let sorted = latency.nanoseconds.sorted()
                if !sorted.isEmpty {
                    result.metrics[Metric.p50] = Double(sorted[sorted.count / 2]) / 1_000
                    result.metrics[Metric.p99] = Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) / 1_000
                    result.metrics[Metric.roundTrips] = Double(sorted.count)
                }
                result.verified = latency.verified
                result.failure = latency.failure
            case .connect:
                let before = try endpoint.pid.map(ProcessProbe.sample)
                let connect = generator.connectionRate(port: endpoint.port(.echo), count: sizes.connections)
                if let pid = endpoint.pid, let before, connect.completed > 0 {
                    let after = try ProcessProbe.sample(pid)
                    result.metrics[Metric.cpuPerConnection] =
                        (after.cpuSeconds - before.cpuSeconds) * 1_000 / Double(connect.completed)
                }
                result.metrics[Metric.connectionsPerSecond] = Double(connect.completed) / connect.seconds
                result.metrics[Metric.connections] = Double(connect.completed)
                result.failure = connect.failure
            case .idle:
                try idle(&result, endpoint, count: sizes.idleTunnels)
            }
        } catch {
            result.failure = "\(error)"
        }
        return result
    }

    private func bulk(_ result: inout ScenarioResult, _ endpoint: RelayEndpoint, upload: Bool,
                      connections: Int) throws {
        let before = try endpoint.pid.map(ProcessProbe.sample)
        let counter = endpoint.pid.flatMap { SyscallCounter(pid: $0, directory: directory) }
        let bulk = generator.bulk(port: endpoint.port(upload ? .sink : .source), upload: upload,
                                  totalBytes: options.sizes.bulkBytes, connections: connections)
        let syscalls = counter?.finish()
        result.failure = bulk.failure
        result.verified = bulk.verified
        guard bulk.bytes > 0, bulk.seconds > 0 else { return }
        let mebibytes = Double(bulk.bytes) / 1_048_576
        if let syscalls { result.metrics[Metric.syscallsPerMiB] = Double(syscalls) / mebibytes }
        result.metrics[Metric.throughput] = Double(bulk.bytes) / bulk.seconds / 1e6
        if let pid = endpoint.pid, let before {
            let after = try ProcessProbe.sample(pid)
            result.metrics[Metric.cpuPerGB] = (after.cpuSeconds - before.cpuSeconds) / (Double(bulk.bytes) / 1e9)
            result.metrics[Metric.readWritePerMiB] = Double(after.syscalls - before.syscalls) / mebibytes
        }
    }

    private func idle(_ result: inout ScenarioResult, _ endpoint: RelayEndpoint, count: Int) throws {
        // Descriptor budget: refuse rather than run any process into its limit mid-scenario.
        let margin = 256
        let needs: [(String, Int)] = [
            ("proxy-bench", ((try? ProcessResources.openDescriptorCount()) ?? 0) + count),
            ("the relay", endpoint.pid.map { ProcessProbe.descriptorCount($0) + 2 * count } ?? 0),
            ("the backend", ProcessProbe.descriptorCount(endpoint.backendPid)
                + endpoint.backendDescriptorsPerTunnel * count),
        ]
        if let (process, need) = needs.first(where: { $0.1 + margin > descriptorLimit }) {
            result.failure = "refused: \(count) tunnels need about \(need) descriptors in \(process), "
                + "above the limit of \(descriptorLimit)"
            return
        }

        let before = try endpoint.pid.map(ProcessProbe.sample)
        let fdsBefore = endpoint.pid.map(ProcessProbe.descriptorCount)
        var measured: Error?
        let idle = generator.idleTunnels(port: endpoint.port(.echo), count: count) { alive in
            guard alive > 0, let pid = endpoint.pid, let before, let fdsBefore else { return }
            do {
                let after = try ProcessProbe.sample(pid)
                result.metrics[Metric.rssPerTunnel] = Double(Int64(after.rssKiB) - Int64(before.rssKiB)) / Double(alive)
                result.metrics[Metric.rssTotal] = Double(after.rssKiB) / 1_024
                result.metrics[Metric.descriptorsPerTunnel] =
                    Double(ProcessProbe.descriptorCount(pid) - fdsBefore) / Double(alive)
            } catch {
                measured = error
            }
        }
        result.metrics[Metric.tunnels] = Double(idle.established)
        result.failure = idle.failure ?? measured.map { "\($0)" }
    }
}
