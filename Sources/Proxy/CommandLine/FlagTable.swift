/// The proxy's flags: names, short forms, value kinds, help and how each sets `ProxyOptions`.
///
/// Every configuration source goes through `Flag.apply(_:to:)` with the value as text, so the
/// command line, `ALLOYDB_PROXY_<FLAG>` environment variables and a config file all share one
/// set of parsing rules and messages.
struct Flag: Sendable {
    /// How a flag's value is written.
    enum Kind: Sendable {
        case string
        case bool
        case int
        case uint
        case duration
    }

    let name: String
    let short: Character?
    let kind: Kind
    let help: String
    /// Stores an already-typed value; the closures are pure, so the table can be shared.
    let setter: @Sendable (inout ProxyOptions, FlagValue) throws -> Void

    /// Parses `text` according to `kind` and stores it; marks the flag as explicitly set.
    ///
    /// - Throws: `ConfigError.invalidValue` naming the flag and the text.
    func apply(_ text: String, to options: inout ProxyOptions) throws {
        let value: FlagValue
        switch kind {
        case .string:
            value = .string(text)
        case .bool:
            guard let parsed = Self.parseBool(text) else {
                throw ConfigError.invalidValue("--\(name)", text, "not a boolean")
            }
            value = .bool(parsed)
        case .int:
            guard let parsed = Int(text) else {
                throw ConfigError.invalidValue("--\(name)", text, "not an integer")
            }
            value = .int(parsed)
        case .uint:
            guard let parsed = UInt64(text) else {
                throw ConfigError.invalidValue("--\(name)", text, "not a non-negative integer")
            }
            value = .uint(parsed)
        case .duration:
            guard let parsed = GoDuration.parse(text), parsed >= .zero else {
                throw ConfigError.invalidValue(
                    "--\(name)",
                    text,
                    "not a non-negative duration such as 30s, 1m30s or 500ms"
                )
            }
            value = .duration(parsed)
        }
        try setter(&options, value)
        options.explicitlySet.insert(name)
    }

    /// Go's `strconv.ParseBool`.
    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: return nil
        }
    }
}

/// A flag value after kind-specific parsing.
enum FlagValue: Sendable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case uint(UInt64)
    case duration(Duration)

    var string: String {
        if case .string(let text) = self { return text }
        preconditionFailure("flag table declares a string flag with another kind")
    }

    var bool: Bool {
        if case .bool(let flag) = self { return flag }
        preconditionFailure("flag table declares a bool flag with another kind")
    }

    var duration: Duration {
        if case .duration(let value) = self { return value }
        preconditionFailure("flag table declares a duration flag with another kind")
    }
}

extension Flag {
    private static func string(
        _ name: String,
        _ short: Character? = nil,
        _ help: String,
        _ keyPath: WritableKeyPath<ProxyOptions, String?> & Sendable
    ) -> Flag {
        Flag(name: name, short: short, kind: .string, help: help) { $0[keyPath: keyPath] = $1.string }
    }

    private static func bool(
        _ name: String,
        _ short: Character? = nil,
        _ help: String,
        _ keyPath: WritableKeyPath<ProxyOptions, Bool> & Sendable
    ) -> Flag {
        Flag(name: name, short: short, kind: .bool, help: help) { $0[keyPath: keyPath] = $1.bool }
    }

    private static func duration(
        _ name: String,
        _ help: String,
        _ keyPath: WritableKeyPath<ProxyOptions, Duration> & Sendable
    ) -> Flag {
        Flag(name: name, short: nil, kind: .duration, help: help) { $0[keyPath: keyPath] = $1.duration }
    }

    /// All flags, in the order the help text lists them.
    static let all: [Flag] = [
        Flag(name: "address", short: "a", kind: .string,
             help: "Address on which to bind listeners (an IP literal). Default 127.0.0.1") {
            $0.address = $1.string
        },
        Flag(name: "port", short: "p", kind: .int,
             help: "Initial port for listeners; later instances use the next ports. Default 5432") {
            guard case .int(let port) = $1 else { return }
            guard (0...65535).contains(port) else {
                throw ConfigError.invalidValue("--port", String(port), "not a port number (0-65535)")
            }
            $0.port = port
        },
        string("unix-socket", "u", "Directory in which to create a Unix socket per instance", \.unixSocket),
        string("credentials-file", "c", "Path to a service account or ADC JSON key file", \.credentialsFile),
        string("json-credentials", "j", "Service account or ADC JSON key as a string", \.jsonCredentials),
        string("token", "t", "Bearer token used for the Admin API and the metadata exchange", \.token),
        string("login-token", nil, "Bearer token used for IAM database login only", \.loginToken),
        Flag(name: "alloydbadmin-api-endpoint", short: nil, kind: .string,
             help: "AlloyDB Admin API endpoint. Default https://alloydb.googleapis.com") {
            var endpoint = $1.string
            while endpoint.hasSuffix("/") { endpoint.removeLast() }
            $0.adminAPIEndpoint = endpoint
        },
        string("admin-api-ca-file", nil, "Extra PEM trust anchors for the Admin API (emulators)",
               \.adminAPICAFile),
        bool("auto-iam-authn", "i", "Use automatic IAM database authentication", \.autoIAMAuthN),
        bool("public-ip", nil, "Connect to the instances' public IP addresses", \.publicIP),
        bool("psc", nil, "Connect to the instances' PSC DNS names", \.psc),
        bool("lazy-refresh", nil, "Fetch connection info on demand instead of ahead of expiry",
             \.lazyRefresh),
        Flag(name: "max-connections", short: nil, kind: .uint,
             help: "Maximum number of simultaneous client connections; 0 means no limit") {
            guard case .uint(let limit) = $1 else { return }
            $0.maxConnections = limit
        },
        string("user-agent", nil, "Extra space-separated tokens for the User-Agent header", \.userAgent),
        bool("structured-logs", "l", "Write logs as JSON lines", \.structuredLogs),
        bool("debug-logs", nil, "Enable debug logs (per-connection records, refresh cycle)", \.debugLogs),
        bool("quiet", nil, "Log errors only", \.quiet),
        duration("dial-timeout", "Bound on a whole dial, from connection info to the end of the "
                 + "metadata exchange. Default 30s", \.dialTimeout),
        duration("handshake-timeout", "Bound on the TLS handshake with the instance. Default 10s",
                 \.handshakeTimeout),
        duration("metadata-exchange-timeout", "Bound on the metadata exchange. Default 10s",
                 \.metadataExchangeTimeout),
        duration("half-close-timeout", "After one direction has ended, close the tunnel when the "
                 + "other has not ended within this time. Default 0 (no bound)", \.halfCloseTimeout),
        bool("version", "v", "Print the version and exit", \.version),
        bool("help", "h", "Print this help and exit", \.help),
    ]

    /// Looks a flag up by long name.
    static func named(_ name: String) -> Flag? {
        all.first { $0.name == name }
    }

    /// Looks a flag up by its one-letter form.
    static func short(_ letter: Character) -> Flag? {
        all.first { $0.short == letter }
    }
}
