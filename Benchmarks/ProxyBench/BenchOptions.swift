import Foundation

/// A command-line mistake, named by the flag or value at fault.
struct UsageError: Error, CustomStringConvertible {
    let message: String

    var description: String { message.prefix(1).uppercased() + message.dropFirst() + "." }
}

/// Everything `proxy-bench` is configured with; see `usage`.
struct BenchOptions {
    /// What to run.
    enum Command: Equatable {
        /// The reactor micro-benchmark and then every path.
        case all
        /// Only the reactor micro-benchmark.
        case reactor
        /// Only the relay paths.
        case paths
        /// Internal: serve the TLS and plaintext test endpoints from `directory`.
        case terminator(directory: String)
    }

    var command = Command.all
    var quick = false
    var jsonPath: String?
    /// Paths to measure, in order; the default is every known one.
    var paths = PathKind.allCases
    /// Scenarios to run; the default is every one.
    var scenarios = ScenarioKind.allCases
    /// Where `alloydb-auth-proxy` and `alloydb-emulator` live; default: next to this binary.
    var binDirectory: String?
    /// The port the emulator's instance endpoints listen on (the proxy dials it).
    var instancePort: UInt16 = 5433
    /// Keep the temporary directory (configs, logs, keys) for inspection.
    var keepTemporary = false
    /// Scenario sizes; `quick` picks the small defaults.
    var sizes = Sizes.full

    /// The amount of work in each scenario. Every loop is bounded by these and by `timeLimit`.
    struct Sizes: Codable {
        var bulkBytes: Int
        var roundTrips: Int
        var connections: Int
        var idleTunnels: Int
        /// Wall-clock bound for one scenario on one path, in seconds.
        var timeLimit: Double

        static let full = Sizes(bulkBytes: 2 << 30, roundTrips: 10_000, connections: 2_000,
                                idleTunnels: 5_000, timeLimit: 300)
        static let quick = Sizes(bulkBytes: 64 << 20, roundTrips: 200, connections: 200,
                                 idleTunnels: 500, timeLimit: 30)
    }

    static let usage = """
        Usage: proxy-bench [all|reactor|paths] [options]

          all (default)        the reactor micro-benchmark, then every path and scenario
          reactor              only the reactor micro-benchmark
          paths                only the relay paths

        Options:
          --quick              small sizes (64 MiB bulk, 200 round trips, 200 connections,
                               500 idle tunnels); finishes in about a minute
          --json PATH          also write the results as JSON to PATH
          --paths LIST         comma-separated subset of:
                               \(PathKind.allCases.map(\.rawValue).joined(separator: ","))
          --scenarios LIST     comma-separated subset of:
                               \(ScenarioKind.allCases.map(\.rawValue).joined(separator: ","))
          --bulk-mib N         bytes per bulk scenario, in MiB
          --round-trips N      64-byte round trips to time
          --connections N      new connections to open (16 at a time)
          --idle N             idle tunnels to hold open
          --bin-dir DIR        where alloydb-auth-proxy and alloydb-emulator are (default: next
                               to proxy-bench)
          --instance-port N    port of the emulator's instance endpoints (default 5433)
          --keep-temp          keep the temporary directory with configs, keys and logs
        """

    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String]) throws -> BenchOptions {
        var options = BenchOptions()
        var overrides: [(inout Sizes) -> Void] = []
        var index = 0
        func value(_ flag: String) throws -> String {
            guard index + 1 < arguments.count else { throw UsageError(message: "\(flag) needs a value") }
            index += 1
            return arguments[index]
        }
        func count(_ flag: String, _ range: ClosedRange<Int>) throws -> Int {
            let text = try value(flag)
            guard let number = Int(text), range.contains(number) else {
                throw UsageError(message: "\(flag) \(text) is not a whole number in \(range)")
            }
            return number
        }
        if let first = arguments.first, !first.hasPrefix("-") {
            switch first {
            case "all": options.command = .all
            case "reactor": options.command = .reactor
            case "paths": options.command = .paths
            case "terminator":
                guard arguments.count == 3, arguments[1] == "--dir" else {
                    throw UsageError(message: "terminator needs exactly --dir DIR")
                }
                options.command = .terminator(directory: arguments[2])
                return options
            default: throw UsageError(message: "unknown command \"\(first)\"")
            }
            index = 1
        }
        while index < arguments.count {
            let flag = arguments[index]
            switch flag {
            case "--quick": options.quick = true
            case "--json": options.jsonPath = try value(flag)
            case "--paths": options.paths = try list(try value(flag), flag)
            case "--scenarios": options.scenarios = try list(try value(flag), flag)
            case "--bulk-mib":
                let mib = try count(flag, 1...65_536)
                overrides.append { $0.bulkBytes = mib << 20 }
            case "--round-trips":
                let trips = try count(flag, 1...10_000_000)
                overrides.append { $0.roundTrips = trips }
            case "--connections":
                let connections = try count(flag, 1...1_000_000)
                overrides.append { $0.connections = connections }
            case "--idle":
                let idle = try count(flag, 1...20_000)
                overrides.append { $0.idleTunnels = idle }
            case "--bin-dir": options.binDirectory = try value(flag)
            case "--instance-port": options.instancePort = UInt16(try count(flag, 1...65_535))
            case "--keep-temp": options.keepTemporary = true
            case "--help", "-h": throw UsageError(message: "usage requested")
            default: throw UsageError(message: "unknown flag \"\(flag)\"")
            }
            index += 1
        }
        options.sizes = options.quick ? .quick : .full
        for override in overrides { override(&options.sizes) }
        return options
    }

    private static func list<T: RawRepresentable>(_ text: String, _ flag: String) throws -> [T]
        where T.RawValue == String
    {
        let items = try text.split(separator: ",").map { name in
            guard let item = T(rawValue: String(name)) else {
                throw UsageError(message: "\(flag) has unknown entry \"\(name)\"")
            }
            return item
        }
        guard !items.isEmpty else { throw UsageError(message: "\(flag) is empty") }
        return items
    }
}

/// A way from the load generator to the backend.
enum PathKind: String, CaseIterable, Codable {
    /// Plaintext straight to the backend: the ceiling.
    case direct
    /// This project's proxy, via the emulator's instance endpoints (with the metadata exchange).
    case proxy
    case haproxy
    case stunnel
    case nginx
    /// A Go crypto/tls relay, built only when `go` is installed.
    case go

    /// True for the comparison relays (everything but `direct` and `proxy`).
    var isPeer: Bool { self != .direct && self != .proxy }
}

/// One kind of measurement.
enum ScenarioKind: String, CaseIterable, Codable {
    case upload1 = "upload-1"
    case download1 = "download-1"
    case upload16 = "upload-16"
    case download16 = "download-16"
    case roundTrip = "round-trip"
    case connect
    case idle
}
