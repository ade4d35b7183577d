import Foundation

/// Normalises `--alloydbadmin-api-endpoint`: a bare `host[:port]` gets `https://`, trailing
/// slashes go, and anything that would make a client dial a malformed host (`https://`,
/// `https:///x`, `ftp://x`, a bad port) is refused up front.
///
/// Pure; any thread.
enum EndpointURL {
    /// The normalised URL.
    ///
    /// - Throws: `ConfigError.invalidValue` naming the flag, the text and what is wrong.
    static func normalize(_ text: String, flag: String) throws -> String {
        var url = text.trimmingCharacters(in: .whitespaces)
        // Trailing slashes go, but never those of the scheme separator itself.
        while url.hasSuffix("/") && !url.hasSuffix("://") { url.removeLast() }
        let fail = { (reason: String) in ConfigError.invalidValue(flag, text, reason) }
        if let range = url.range(of: "://") {
            let scheme = url[..<range.lowerBound].lowercased()
            guard scheme == "https" || scheme == "http" else {
                throw fail("the scheme must be https:// or http://")
            }
            url = scheme + url[range.lowerBound...]
        } else {
            url = "https://" + url
        }
        guard let schemeEnd = url.range(of: "://") else { throw fail("not a URL") }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty else { throw fail("the URL has no host") }
        guard !authority.contains(where: { $0.isWhitespace || $0 == "@" }) else {
            throw fail("the host may not contain spaces or credentials")
        }
        var host = Substring(authority)
        var port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = authority[authority.startIndex...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after the IPv6 address") }
                port = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty, host != "[]" else { throw fail("the URL has no host") }
        if let port {
            guard let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isNumber) else {
                throw fail("the port must be a number from 1 to 65535")
            }
        }
        return url
    }
}
