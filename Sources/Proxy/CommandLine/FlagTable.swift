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

    var int: Int {
        if case .int(let number) = self { return number }
        preconditionFailure("flag table declares an int flag with another kind")
    }

    var duration: Duration {
        if case .duration(let value) = self { return value }
        preconditionFailure("flag table declares a duration flag with another kind")
    }
}
