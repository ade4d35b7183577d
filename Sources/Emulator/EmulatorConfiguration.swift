/// Everything `alloydb-emulator serve` is configured with.
public struct EmulatorConfiguration: Equatable, Sendable {
    /// Directory for credentials, `emulator.json` and `events.jsonl`; created if missing.
    public var stateDirectory: String
    /// IPv4 literal the Admin API and token endpoint bind to.
    public var apiAddress = "127.0.0.1"
    /// Port for the Admin API; 0 picks a free one.
    public var apiPort: UInt16 = 0
    public var instances: [InstanceSpec] = []
    /// Backend for instances that name none; `echo` when neither is given.
    public var defaultPostgres: HostPort?
    /// Lifetime of issued client certificates, in seconds.
    public var certificateLifetime: Int = 3600
    /// Port of every instance endpoint.
    public var instancePort: UInt16 = 5433
    /// Serve the Admin API over HTTPS with a certificate from the emulator's own API CA,
    /// whose file `emulator.json` names (`apiCAFile`).
    public var apiTLS = false
    /// Fault switches applied at start (a `/emulator/faults` body), from `--fault`.
    public var initialFaults = JSONValue.object([])

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    /// The backend an instance uses after defaults are applied.
    public func backend(for instance: InstanceSpec) -> InstanceSpec.Backend {
        if let backend = instance.backend { return backend }
        if let postgres = defaultPostgres { return .postgres(host: postgres.host, port: postgres.port) }
        return .echo
    }
}

/// The parsed command line.
public enum EmulatorCommand: Equatable, Sendable {
    case serve(EmulatorConfiguration)
    case mintClientCertificate(ClientCertificateMinter.Options)
    case help

    /// Usage text for `--help` and usage errors.
    public static let usage = """
        Usage:
          alloydb-emulator serve --state-dir DIR [options]
          alloydb-emulator mint-client-cert --state-dir DIR --out DIR [--cluster NAME]
          alloydb-emulator --help

        A local AlloyDB for development and tests: the Admin API (connectionInfo,
        generateClientCertificate), an OAuth token endpoint, and one mutual-TLS endpoint per
        instance that performs the metadata exchange and relays to a backend.

        serve options:
          --state-dir DIR          where credentials, emulator.json and events.jsonl are written
          --api-address IP         Admin API bind address (default 127.0.0.1)
          --api-port N             Admin API port; 0 picks a free port (default 0)
          --api-tls                serve the Admin API and token endpoint over HTTPS; the CA
                                   is written to api-ca.crt (emulator.json: apiCAFile)
          --instance SPEC          URI=IP[,backend=postgres:HOST:PORT|echo|sink|source]
                                   [,public-ip=IP][,psc=NAME][,mdx=on|off]; repeatable
          --postgres HOST:PORT     backend for instances without backend= (default: echo)
          --cert-lifetime DUR      client certificate lifetime, e.g. 3600s, 90m, 2h (default 3600s)
          --instance-port N        port of every instance endpoint (default 5433)
          --fault NAME=VALUE       a fault switch as POST /emulator/faults takes it, e.g.
                                   mdx=hang, apiError='{"code":503,"count":2}'; repeatable

        emulator.json is written last, atomically, once everything is listening.

        mint-client-cert asks the emulator running with --state-dir DIR for a client
        certificate without the metadata exchange (for instances with mdx=off) and writes
        client.key, client.crt, client.pem (chain + key) and ca.crt into --out DIR.
        """

    /// Parses `arguments` (without the program name). Throws `.usage` with a sentence naming
    /// the offending flag or value.
    public static func parse(_ arguments: [String]) throws -> EmulatorCommand {
        guard let first = arguments.first else {
            throw EmulatorError(.usage, "missing command; expected \"serve\" or \"--help\"")
        }
        if ["--help", "-h", "help"].contains(first) { return .help }
        switch first {
        case "serve": return try parseServe(Array(arguments.dropFirst()))
        case "mint-client-cert": return try parseMint(Array(arguments.dropFirst()))
        default:
            throw EmulatorError(
                .usage, "unknown command \"\(first)\"; expected \"serve\" or \"mint-client-cert\"")
        }
    }

    private static func parseMint(_ arguments: [String]) throws -> EmulatorCommand {
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let flag = arguments[index]
            if flag == "--help" || flag == "-h" { return .help }
            guard ["--state-dir", "--out", "--cluster"].contains(flag) else {
                throw EmulatorError(.usage, "mint-client-cert: unknown flag \"\(flag)\"")
            }
            guard index + 1 < arguments.count, !arguments[index + 1].isEmpty else {
                throw EmulatorError(.usage, "\(flag) needs a value")
            }
            values[flag] = arguments[index + 1]
            index += 2
        }
        guard let state = values["--state-dir"], let out = values["--out"] else {
            throw EmulatorError(.usage, "mint-client-cert needs --state-dir DIR and --out DIR")
        }
        if let cluster = values["--cluster"] {
            _ = try InstanceSpec(uri: cluster + "/instances/x", ipAddress: "127.0.0.1")
        }
        return .mintClientCertificate(
            ClientCertificateMinter.Options(
                stateDirectory: state, outputDirectory: out, cluster: values["--cluster"]))
    }

    private static func parseServe(_ arguments: [String]) throws -> EmulatorCommand {
        var stateDirectory: String?
        var configuration = EmulatorConfiguration(stateDirectory: "")
        var index = 0
        func value(_ flag: String) throws -> String {
            guard index + 1 < arguments.count else {
                throw EmulatorError(.usage, "\(flag) needs a value")
            }
            index += 1
            return arguments[index]
        }
        while index < arguments.count {
            var flag = arguments[index]
            var inline: String?
            if flag.hasPrefix("--"), let equals = flag.firstIndex(of: "=") {
                inline = String(flag[flag.index(after: equals)...])
                flag = String(flag[..<equals])
            }
            let next = { () throws -> String in try inline ?? value(flag) }
            switch flag {
            case "--help", "-h": return .help
            case "--state-dir": stateDirectory = try next()
            case "--api-tls":
                guard inline == nil else { throw EmulatorError(.usage, "--api-tls takes no value") }
                configuration.apiTLS = true
            case "--api-address":
                let address = try next()
                guard IPv4.isLiteral(address) else {
                    throw EmulatorError(.usage, "--api-address \"\(address)\" is not an IPv4 address")
                }
                configuration.apiAddress = address
            case "--api-port": configuration.apiPort = try port(try next(), flag: flag, allowZero: true)
            case "--instance": configuration.instances.append(try InstanceSpec(flag: try next()))
            case "--postgres": configuration.defaultPostgres = try HostPort(try next(), flag: flag)
            case "--cert-lifetime":
                configuration.certificateLifetime = try DurationFlag.parseSeconds(try next(), flag: flag)
            case "--instance-port":
                configuration.instancePort = try port(try next(), flag: flag, allowZero: false)
            case "--fault":
                guard case .object(var members) = configuration.initialFaults else { break }
                members.append(try FaultsAPI.member(fromFlag: try next()))
                configuration.initialFaults = .object(members)
            default:
                throw EmulatorError(.usage, "unknown flag \"\(flag)\"")
            }
            index += 1
        }
        guard let stateDirectory, !stateDirectory.isEmpty else {
            throw EmulatorError(.usage, "serve needs --state-dir DIR")
        }
        configuration.stateDirectory = stateDirectory
        try checkUnique(configuration.instances)
        do {
            let scratch = FaultSwitches(certificateLifetime: configuration.certificateLifetime)
            try FaultsAPI(faults: scratch).apply(configuration.initialFaults)
        } catch {
            throw EmulatorError(.usage, "--fault: \(error)")
        }
        return .serve(configuration)
    }

    private static func port(_ text: String, flag: String, allowZero: Bool) throws -> UInt16 {
        guard let port = UInt16(text), allowZero || port != 0 else {
            throw EmulatorError(.usage, "\(flag) \"\(text)\" is not a port number")
        }
        return port
    }

    private static func checkUnique(_ instances: [InstanceSpec]) throws {
        var uris = Set<String>()
        var addresses = Set<String>()
        for instance in instances {
            guard uris.insert(instance.uri).inserted else {
                throw EmulatorError(.usage, "instance \(instance.uri) is given twice")
            }
            guard addresses.insert(instance.ipAddress).inserted else {
                throw EmulatorError(
                    .usage, "IP address \(instance.ipAddress) is used by two instances")
            }
        }
    }
}

/// Duration flags in the protobuf/Go style: `3600s`, `90m`, `2h`, or bare seconds.
enum DurationFlag {
    /// Seconds in `text` (1 s to 30 days); throws `.usage` naming `flag`.
    static func parseSeconds(_ text: String, flag: String) throws -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
        var digits = Substring(text)
        var multiplier = 1
        if let last = text.last, let unit = units[last] {
            digits = text.dropLast()
            multiplier = unit
        }
        guard let count = Int(digits), count > 0, count <= 30 * 86400 / multiplier else {
            throw EmulatorError(.usage, "\(flag) \"\(text)\" is not a duration like 3600s, 90m or 2h")
        }
        return count * multiplier
    }
}
