/// A problem with the command line or the proxy's configuration: always the user's to fix.
///
/// Every configuration error ends the process with exit code 1 before anything is served; the
/// `description` is the one line printed to stderr.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of mistake was made; internal so that new kinds can be added freely.
    enum Code: Equatable, Sendable {
        case unknownFlag
        case missingValue
        case invalidValue
        case invalidInstanceURI
        case invalidQueryParameter
        case conflictingOptions
        case missingInstance
        case unsupported
        case invalidConfigFile
    }

    /// The kind of mistake.
    let code: Code

    /// The sentence shown to the user.
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    static func unknownFlag(_ flag: String) -> ConfigError {
        ConfigError(.unknownFlag, "unknown flag: \(displayed(flag)) (see --help)")
    }

    static func missingValue(_ flag: String) -> ConfigError {
        ConfigError(.missingValue, "flag needs an argument: \(displayed(flag))")
    }

    /// `text` as is when every character is printable, else `quoted(text)`: plain flag names
    /// read naturally, and a hostile one cannot put a line break or terminal escape into a log.
    static func displayed(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { scalar in
            scalar.value >= 0x20 && scalar.value != 0x7F && !(0x80...0x9F).contains(scalar.value)
                && scalar.properties.generalCategory != .format
                && scalar.properties.generalCategory != .lineSeparator
                && scalar.properties.generalCategory != .paragraphSeparator
        }
        return plain ? text : quoted(text)
    }

    static func invalidValue(_ flag: String, _ value: String, _ reason: String) -> ConfigError {
        ConfigError(.invalidValue, "invalid argument \(quoted(value)) for \(flag): \(reason)")
    }

    static func invalidInstanceURI(_ uri: String) -> ConfigError {
        ConfigError(
            .invalidInstanceURI,
            "could not parse instance uri: \(quoted(uri)) "
                + "(expected projects/PROJECT/locations/REGION/clusters/CLUSTER/instances/INSTANCE)"
        )
    }

    static func conflicting(_ message: String) -> ConfigError {
        ConfigError(.conflictingOptions, message)
    }

    /// Go's `%q` rendering, close enough for error texts: quotes, backslashes and control
    /// characters are escaped so a hostile argument cannot forge extra log lines.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    result += "\\x" + hex2(UInt8(scalar.value))
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    private static func hex2(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}
