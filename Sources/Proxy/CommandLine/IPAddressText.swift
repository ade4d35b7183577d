import Glibc

/// Recognises IP literals (`127.0.0.1`, `::1`); host names are not addresses.
///
/// Pure and thread-safe; uses `inet_pton`, which accepts exactly the dotted-quad and RFC 4291
/// forms (no zone suffixes, no shortened IPv4 such as `127.1`).
enum IPAddressText {
    /// True when `text` is an IPv4 or IPv6 literal.
    static func isLiteral(_ text: String) -> Bool {
        isIPv4(text) || isIPv6(text)
    }

    /// True when `text` is an IPv4 dotted quad.
    static func isIPv4(_ text: String) -> Bool {
        var storage = in_addr()
        return inet_pton(AF_INET, text, &storage) == 1
    }

    /// True when `text` is an IPv6 literal (without brackets).
    static func isIPv6(_ text: String) -> Bool {
        var storage = in6_addr()
        return inet_pton(AF_INET6, text, &storage) == 1
    }
}
