import Connector

/// One positional argument: an instance URI plus its optional per-instance query string
/// (`projects/p/locations/r/clusters/c/instances/i?port=6000&psc`).
///
/// Query keys follow the reference proxy: `address`, `port`, `unix-socket`, `unix-socket-path`,
/// `auto-iam-authn`, `public-ip` and `psc`; each at most once; other keys are ignored. A key
/// that is present overrides the global flag for this instance only; `auto-iam-authn` is truly
/// per instance here (the reference applies any `true` to every instance).
public struct InstanceArgument: Equatable, Sendable {
    /// The text as given on the command line (used in error messages).
    public let argument: String

    /// The left side of the `?`: the validated instance URI.
    public let instance: InstanceURI

    /// The dot-joined short name `P.R.C.I` used in log prefixes.
    public var shortName: String { instance.shortName }

    /// Listener bind address for this instance (an IP literal); forces TCP.
    public var address: String?

    /// Listener port for this instance; forces TCP and does not use the global port counter.
    public var port: Int?

    /// Directory under which this instance's socket directory is created.
    public var unixSocket: String?

    /// Exact directory (or socket path) for this instance's Unix socket.
    public var unixSocketPath: String?

    /// Per-instance overrides of the global booleans; nil means "use the global flag".
    public var autoIAMAuthN: Bool?
    public var publicIP: Bool?
    public var psc: Bool?

    /// Parses one positional argument.
    ///
    /// - Throws: `ConfigError` naming the argument when the URI is malformed, a key repeats, two
    ///   listener keys conflict or a value is invalid.
    public init(parsing argument: String) throws {
        self.argument = argument
        // Split on the `?` scalar: as a Character it could fuse with a following combining mark.
        let parts = argument.unicodeScalars.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            .map { String(String.UnicodeScalarView($0)) }
        // AlloyDB resource ids (and domain-scoped projects) use only these characters; anything
        // else is a quoting mistake and would otherwise reach the Admin API URL.
        guard parts[0].unicodeScalars.allSatisfy(Self.isResourceCharacter) else {
            throw ConfigError.invalidInstanceURI(argument)
        }
        do {
            instance = try InstanceURI(parts[0])
        } catch {
            throw ConfigError.invalidInstanceURI(argument)
        }
        if parts.count == 2 {
            try applyQuery(parts[1])
        }
    }

    private mutating func applyQuery(_ query: String) throws {
        let pairs = try URLQuery.parse(query, context: argument)
        var seen: Set<String> = []
        for (key, value) in pairs {
            // The reference ignores unknown parameters; a typo (`?prot=6000`) would then be lost.
            guard Self.knownKeys.contains(key) else {
                throw Self.queryError("unknown query param \(quoted(key)); known ones are "
                    + Self.knownKeys.sorted().joined(separator: ", "))
            }
            guard seen.insert(key).inserted else {
                throw Self.queryError("\(key) query param should be only one value")
            }
            try apply(key: key, value: value)
        }
        try checkConflicts()
    }

    /// ASCII letters and digits, `-`, `_`, `.`, `:` (domain-scoped projects) and `/`.
    private static func isResourceCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".", ":", "/": return true
        default: return false
        }
    }

    private static let knownKeys: Set<String> = [
        "address", "port", "unix-socket", "unix-socket-path", "auto-iam-authn", "public-ip", "psc",
    ]

    private mutating func apply(key: String, value: String) throws {
        switch key {
        case "address":
            guard IPAddressText.isLiteral(value) else {
                throw Self.queryError("address query param should be an IP address, got: \(quoted(value))")
            }
            address = value
        case "port":
            guard let number = Int(value), (0...65535).contains(number) else {
                throw Self.queryError("port query param should be a port number, got: \(quoted(value))")
            }
            port = number
        case "unix-socket":
            unixSocket = value
        case "unix-socket-path":
            unixSocketPath = value
        case "auto-iam-authn":
            autoIAMAuthN = try Self.queryBool(key, value)
        case "public-ip":
            publicIP = try Self.queryBool(key, value)
        default:
            psc = try Self.queryBool(key, value)
        }
    }

    /// Query booleans: `true`, `t` or an empty value mean true; `false`, `f` mean false.
    static func queryBool(_ key: String, _ value: String) throws -> Bool {
        switch value.lowercased() {
        case "", "true", "t": return true
        case "false", "f": return false
        default:
            throw queryError("\(key) query param should be true or false, got: \(quoted(value))")
        }
    }

    private static func queryError(_ message: String) -> ConfigError {
        ConfigError(.invalidQueryParameter, message)
    }

    private func quoted(_ text: String) -> String { ConfigError.quoted(text) }

    private static func quoted(_ text: String) -> String { ConfigError.quoted(text) }

    private func checkConflicts() throws {
        let tcp = address != nil || port != nil
        if tcp && (unixSocket != nil || unixSocketPath != nil) {
            throw ConfigError.conflicting(
                "cannot specify both address or port and unix-socket or unix-socket-path query "
                    + "params for \(quoted(argument))"
            )
        }
        if unixSocket != nil && unixSocketPath != nil {
            throw ConfigError.conflicting(
                "cannot specify both unix-socket and unix-socket-path query params for "
                    + quoted(argument)
            )
        }
    }
}
