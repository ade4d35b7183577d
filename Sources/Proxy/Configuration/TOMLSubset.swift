/// A strict parser for the part of TOML a flat configuration file needs.
///
/// Debian packages no C TOML library (only C++ ones), so the proxy reads this subset itself:
/// one `key = value` per line; bare (`A-Za-z0-9_-`) or quoted keys; basic strings with the TOML
/// escapes, literal strings, decimal integers (with `_` separators), `true`/`false`, and
/// one-line arrays of those; `#` comments and blank lines. Tables, dotted keys, floats, dates
/// and multi-line strings are rejected with the line number, never misread.
///
/// Pure; any thread.
enum TOMLSubset {
    /// Parses a whole document.
    ///
    /// - Throws: `ConfigFileError` naming the line and what was wrong.
    static func parse(_ text: String) throws(ConfigFileError) -> [String: ConfigValue] {
        var result: [String: ConfigValue] = [:]
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var scanner = Scanner(Array(rawLine.unicodeScalars), line: lineNumber)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                throw scanner.failure("tables are not supported; write every key at the top level")
            }
            let key = try scanner.key()
            scanner.skipSpaces()
            guard scanner.take("=") else { throw scanner.failure("expected '=' after key \(ConfigError.quoted(key))") }
            scanner.skipSpaces()
            let value = try scanner.value(allowArray: true)
            scanner.skipSpaces()
            guard scanner.atEndOrComment else { throw scanner.failure("unexpected text after the value") }
            guard result[key] == nil else { throw scanner.failure("duplicate key \(ConfigError.quoted(key))") }
            result[key] = value
        }
        return result
    }

    /// A cursor over one line.
    private struct Scanner {
        let scalars: [Unicode.Scalar]
        let line: Int
        var index = 0

        init(_ scalars: [Unicode.Scalar], line: Int) {
            // A CRLF file leaves "\r" at the end of each line.
            self.scalars = scalars.last == "\r" ? Array(scalars.dropLast()) : scalars
            self.line = line
        }

        var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        var atEndOrComment: Bool { peek == nil || peek == "#" }

        func failure(_ reason: String) -> ConfigFileError {
            ConfigFileError("line \(line): \(reason)")
        }

        mutating func skipSpaces() {
            while let scalar = peek, scalar == " " || scalar == "\t" { index += 1 }
        }

        mutating func take(_ scalar: Unicode.Scalar) -> Bool {
            guard peek == scalar else { return false }
            index += 1
            return true
        }

        mutating func key() throws(ConfigFileError) -> String {
            if peek == "\"" { return try basicString() }
            if peek == "'" { return try literalString() }
            var key = ""
            while let scalar = peek, Self.isBareKey(scalar) {
                key.unicodeScalars.append(scalar)
                index += 1
            }
            guard !key.isEmpty else { throw failure("expected a key") }
            if peek == "." { throw failure("dotted keys are not supported") }
            return key
        }

        static func isBareKey(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return true
            default: return false
            }
        }

        mutating func value(allowArray: Bool) throws(ConfigFileError) -> ConfigValue {
            switch peek {
            case "\"": return .string(try basicString())
            case "'": return .string(try literalString())
            case "[":
                guard allowArray else { throw failure("nested arrays are not supported") }
                return try array()
            case nil: throw failure("missing value")
            default: return try bareValue()
            }
        }

        mutating func array() throws(ConfigFileError) -> ConfigValue {
            index += 1
            var items: [ConfigValue] = []
            skipSpaces()
            if take("]") { return .list(items) }
            while true {
                skipSpaces()
                items.append(try value(allowArray: false))
                skipSpaces()
                if take("]") { return .list(items) }
                guard take(",") else { throw failure("expected ',' or ']' in array (arrays must fit on one line)") }
                skipSpaces()
                // TOML allows a trailing comma.
                if take("]") { return .list(items) }
            }
        }

        mutating func bareValue() throws(ConfigFileError) -> ConfigValue {
            var word = ""
            while let scalar = peek, scalar != " ", scalar != "\t", scalar != ",", scalar != "]",
                  scalar != "#" {
                word.unicodeScalars.append(scalar)
                index += 1
            }
            if word == "true" { return .boolean(true) }
            if word == "false" { return .boolean(false) }
            if let number = Self.integer(word) { return .integer(number) }
            throw failure("unsupported value \(ConfigError.quoted(word)); use a quoted string, integer, "
                + "true/false or an array")
        }

        /// A TOML decimal integer: optional sign, digits, single `_` between digits.
        static func integer(_ word: String) -> Int? {
            var digits = Substring(word)
            var sign = ""
            if let first = digits.first, first == "+" || first == "-" {
                sign = first == "-" ? "-" : ""
                digits = digits.dropFirst()
            }
            guard let first = digits.first, first.isASCII, first.isNumber,
                  let last = digits.last, last.isASCII, last.isNumber,
                  !digits.contains("__") else { return nil }
            if digits.count > 1 && first == "0" { return nil }
            let plain = digits.filter { $0 != "_" }
            guard plain.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(sign + plain)
        }

        mutating func literalString() throws(ConfigFileError) -> String {
            index += 1
            var text = ""
            while let scalar = peek {
                index += 1
                if scalar == "'" { return text }
                text.unicodeScalars.append(scalar)
            }
            throw failure("unterminated string")
        }

        mutating func basicString() throws(ConfigFileError) -> String {
            index += 1
            var text = ""
            while let scalar = peek {
                index += 1
                switch scalar {
                case "\"":
                    return text
                case "\\":
                    text.unicodeScalars.append(try escape())
                default:
                    guard scalar.value >= 0x20 || scalar == "\t", scalar.value != 0x7F else {
                        throw failure("control character in string")
                    }
                    text.unicodeScalars.append(scalar)
                }
            }
            throw failure("unterminated string")
        }

        mutating func escape() throws(ConfigFileError) -> Unicode.Scalar {
            guard let code = peek else { throw failure("unterminated string") }
            index += 1
            switch code {
            case "\"": return "\""
            case "\\": return "\\"
            case "b": return "\u{08}"
            case "t": return "\t"
            case "n": return "\n"
            case "f": return "\u{0C}"
            case "r": return "\r"
            case "u": return try hexScalar(digits: 4)
            case "U": return try hexScalar(digits: 8)
            default:
                var text = "\\"
                text.unicodeScalars.append(code)
                throw failure("invalid escape \(ConfigError.quoted(text))")
            }
        }

        mutating func hexScalar(digits: Int) throws(ConfigFileError) -> Unicode.Scalar {
            guard index + digits <= scalars.count else { throw failure("short \\u escape") }
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars[index..<index + digits])
            index += digits
            guard let value = UInt32(text, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw failure("invalid \\u escape")
            }
            return scalar
        }
    }
}
