import Foundation

/// Conversions between IP address text and the 4- or 16-byte form certificates carry.
enum IPAddress {
    /// The address bytes of an IPv4 or IPv6 literal, or nil if `text` is not one.
    static func bytes(fromText text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// The canonical text of a 4- or 16-byte address, or nil for other lengths.
    static func text(fromBytes bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let converted = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard converted != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                      as: UTF8.self)
    }

    /// True when `text` is an IPv4 or IPv6 literal.
    static func isLiteral(_ text: String) -> Bool {
        bytes(fromText: text) != nil
    }
}
