import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts the process behind each path on loopback: the peers from their Debian binaries with
/// generated configs, and this project's emulator plus proxy. Main thread only.
struct PathLauncher {
    /// The run's temporary directory (keys, configs, logs).
    let directory: URL
    /// The terminator's TLS ports per mode.
    let tlsPorts: [BackendMode: Int]
    let terminatorPid: Int32
    /// Where the project's binaries are.
    let binDirectory: String
    let instancePort: UInt16
    /// Upper bound on simultaneous tunnels any scenario opens (sizes the peers' limits).
    let maxTunnels: Int

    /// Instance URIs of the emulator's three instances, one per backend mode.
    static func instanceURI(_ mode: BackendMode) -> String {
        "projects/bench/locations/local/clusters/bench/instances/\(mode.rawValue)"
    }

    /// The emulator instance address for `mode`, on loopback but off 127.0.0.1 so the fixed
    /// instance port does not collide with anything else there.
    static func instanceIP(_ mode: BackendMode) -> String {
        switch mode {
        case .sink: return "127.0.77.1"
        case .source: return "127.0.77.2"
        case .echo: return "127.0.77.3"
        }
    }

    /// Starts `kind` and waits until all three of its ports accept connections.
    func launch(_ kind: PathKind, emulator: inout ChildProcess?) throws -> RelayEndpoint {
        switch kind {
        case .direct:
            throw SetupError("direct needs no launch")
        case .proxy:
            return try launchProxy(emulator: &emulator)
        case .haproxy, .stunnel, .nginx, .go:
            return try launchPeer(kind)
        }
    }

    private func launchPeer(_ kind: PathKind) throws -> RelayEndpoint {
        let path = directory.path
        var routes: [PeerConfigs.Route] = []
        for mode in BackendMode.allCases {
            routes.append(.init(mode: mode, listenPort: try PortProbe.freePort(),
                                terminatorPort: tlsPorts[mode] ?? 0))
        }
        let log = "\(path)/\(kind.rawValue).log"
        let process: ChildProcess
        switch kind {
        case .haproxy:
            let binary = try Self.find("haproxy")
            let config = "\(path)/haproxy.cfg"
            try write(PeerConfigs.haproxy(routes: routes, directory: path, maxConnections: maxTunnels + 100), config)
            process = try ChildProcess(name: "haproxy", executable: binary, arguments: ["-db", "-f", config],
                                       logPath: log)
        case .stunnel:
            let binary = try Self.find("stunnel4", "stunnel")
            let config = "\(path)/stunnel.conf"
            try write(PeerConfigs.stunnel(routes: routes, directory: path), config)
            process = try ChildProcess(name: "stunnel", executable: binary, arguments: [config], logPath: log)
        case .nginx:
            let binary = try Self.find("nginx")
            let config = "\(path)/nginx.conf"
            let module = "/usr/lib/nginx/modules/ngx_stream_module.so"
            // nginx counts both legs of a tunnel against worker_connections.
            let text = PeerConfigs.nginx(routes: routes, directory: path,
                                         maxConnections: min(2 * maxTunnels + 100, 19_500),
                                         streamModule: FileManager.default.fileExists(atPath: module) ? module : nil)
            try write(text, config)
            process = try ChildProcess(name: "nginx", executable: binary,
                                       arguments: ["-p", path, "-c", config, "-e", "\(path)/nginx-error.log"],
                                       logPath: log)
        case .go:
            let binary = try buildGoRelay()
            var arguments = ["\(path)/ca.pem", "\(path)/client.pem", "\(path)/client.key"]
            arguments += routes.map { "127.0.0.1:\($0.listenPort)=127.0.0.1:\($0.terminatorPort)" }
            process = try ChildProcess(name: "go-relay", executable: binary, arguments: arguments, logPath: log)
        case .direct, .proxy:
            throw SetupError("\(kind.rawValue) is not a peer")
        }
        try process.wait(seconds: 15, for: "listening") {
            routes.allSatisfy { PortProbe.accepts(port: $0.listenPort) }
        }
        let ports = Dictionary(uniqueKeysWithValues: routes.map { ($0.mode, $0.listenPort) })
        return RelayEndpoint(kind: kind, ports: ports, process: process, backendDescriptorsPerTunnel: 1,
                             backendPid: terminatorPid)
    }

    /// Starts the emulator (three instances: sink, source, echo) if needed, then the proxy
    /// with one listener per instance on consecutive ports.
    private func launchProxy(emulator: inout ChildProcess?) throws -> RelayEndpoint {
        let proxyBinary = "\(binDirectory)/alloydb-auth-proxy"
        let emulatorBinary = "\(binDirectory)/alloydb-emulator"
        let state = directory.appendingPathComponent("emulator")
        if emulator == nil {
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
            var arguments = ["serve", "--state-dir", state.path, "--api-port", "0",
                             "--instance-port", String(instancePort)]
            for mode in BackendMode.allCases {
                let spec = "\(Self.instanceURI(mode))=\(Self.instanceIP(mode)),backend=\(mode.rawValue)"
                arguments += ["--instance", spec]
            }
            let started = try ChildProcess(name: "alloydb-emulator", executable: emulatorBinary,
                                           arguments: arguments, logPath: "\(directory.path)/emulator.log")
            let ready = state.appendingPathComponent("emulator.json")
            try started.wait(seconds: 30, for: "writing emulator.json") {
                FileManager.default.fileExists(atPath: ready.path)
            }
            emulator = started
        }
        guard let emulator else { throw SetupError("the emulator did not start") }
        let readyData = try Data(contentsOf: state.appendingPathComponent("emulator.json"))
        guard let ready = try JSONSerialization.jsonObject(with: readyData) as? [String: Any],
              let endpoint = ready["apiEndpoint"] as? String else {
            throw SetupError("emulator.json has no \"apiEndpoint\"")
        }

        let base = try PortProbe.freeConsecutivePorts(BackendMode.allCases.count)
        var arguments = ["--port", String(base), "--alloydbadmin-api-endpoint", endpoint,
                         "--credentials-file", state.appendingPathComponent("service-account.json").path]
        arguments += BackendMode.allCases.map(Self.instanceURI)
        // The proxy dials instances on 5433 unless its test override names another port.
        let environment = instancePort == 5433 ? [:] : ["ALLOYDB_PROXY_TEST_INSTANCE_PORT": String(instancePort)]
        let proxy = try ChildProcess(name: "alloydb-auth-proxy", executable: proxyBinary, arguments: arguments,
                                     logPath: "\(directory.path)/proxy.log", environment: environment)
        var ports: [BackendMode: Int] = [:]
        for (offset, mode) in BackendMode.allCases.enumerated() { ports[mode] = base + offset }
        try proxy.wait(seconds: 30, for: "listening on ports \(base)-\(base + 2)") {
            ports.values.allSatisfy { PortProbe.accepts(port: $0) }
        }
        // Per tunnel the emulator holds the TLS socket and both ends of the backend pair.
        return RelayEndpoint(kind: .proxy, ports: ports, process: proxy, backendDescriptorsPerTunnel: 3,
                             backendPid: emulator.pid)
    }

    /// Builds the Go relay into the temporary directory; throws when `go` is not installed.
    private func buildGoRelay() throws -> String {
        let go = try Self.find("go")
        let source = directory.appendingPathComponent("gorelay")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try write(PeerConfigs.goRelay, source.appendingPathComponent("relay.go").path)
        let output = source.appendingPathComponent("relay").path
        let build = try ChildProcess(name: "go build", executable: go,
                                     arguments: ["build", "-o", output, "relay.go"],
                                     logPath: "\(directory.path)/go-build.log", workingDirectory: source.path)
        try build.wait(seconds: 180, for: "finishing the build") {
            !build.isRunning && FileManager.default.isExecutableFile(atPath: output)
        }
        return output
    }

    private func write(_ text: String, _ path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The first of `names` found on PATH or in the sbin directories.
    static func find(_ names: String...) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/go/bin"]
        for name in names {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        throw SetupError("\(names.joined(separator: " or ")) is not installed")
    }
}
