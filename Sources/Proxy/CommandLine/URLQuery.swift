/// Decodes a URL query string (`a=1&b=x%20y&flag`) the way Go's `url.ParseQuery` does:
/// pairs split on `&`, key and value split at the first `=`, `+` and `%XX` decoded.
///
/// Pure and thread-safe.
enum URLQuery {
    /// Returns the pairs in order, repeated keys included, so callers can reject duplicates.
    ///
    /// - Parameter context: the whole argument, named in error messages.
    /// - Throws: `ConfigError` for a `;` separator or a malformed `%` escape.
    static func parse(_ query: String, context: String) throws -> [(String, String)] {
        var pairs: [(String, String)] = []
        // Split on scalars, not Characters: a combining mark after `&` or `=` must not hide it.
        for scalars in query.unicodeScalars.split(separator: "&", omittingEmptySubsequences: true) {
            let piece = Substring(scalars)
            guard !scalars.contains(";") else {
                throw ConfigError(
                    .invalidQueryParameter,
                    "could not parse query for \(ConfigError.quoted(context)): invalid semicolon separator"
                )
            }
            let halves = piece.unicodeScalars.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                .map { Substring($0) }
            let key = try unescape(halves[0], context: context)
            let value = halves.count == 2 ? try unescape(halves[1], context: context) : ""
            pairs.append((key, value))
        }
        return pairs
    }

    /// Percent-decodes one component; the bytes must form valid UTF-8.
    private static func unescape(_ text: Substring, context: String) throws -> String {
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.first {
            input = input.dropFirst()
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard input.count >= 2, let high = hexValue(input.first!),
                    let low = hexValue(input.dropFirst().first!)
                else {
                    throw ConfigError(
                        .invalidQueryParameter,
                        "could not parse query for \(ConfigError.quoted(context)): invalid URL escape"
                    )
                }
                bytes.append(high << 4 | low)
                input = input.dropFirst(2)
            default:
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(
                .invalidQueryParameter,
                "could not parse query for \(ConfigError.quoted(context)): not valid UTF-8"
            )
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
