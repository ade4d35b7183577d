#if canImport(Glibc)
import Glibc
#endif

/// Why a textual address was rejected.
public struct SocketAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    enum Code: Equatable, Sendable {
        case invalidIP
        case invalidPort
        case pathTooLong
        case emptyPath
    }

    let code: Code

    /// The text that was rejected.
    public let input: String

    public var description: String {
        switch code {
        case .invalidIP: "\"\(input)\" is not an IPv4 or IPv6 address."
        case .invalidPort: "\(input) is not a port number between 0 and 65535."
        case .pathTooLong: "The Unix socket path \"\(input)\" is longer than 107 bytes."
        case .emptyPath: "The Unix socket path is empty."
        }
    }
}

/// An IPv4, IPv6 or Unix-domain socket address. A value; safe to share between threads.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    enum Storage: Hashable, Sendable {
        /// Address bytes in network order, port in host order.
        case v4(address: UInt32, port: UInt16)
        case v6(address: [UInt8], port: UInt16, scope: UInt32)
        case unix(path: String)
    }

    let storage: Storage

    /// The address family, for creating a matching socket.
    public enum Family: Sendable {
        case ipv4, ipv6, unix
    }

    /// Parses a numeric IPv4 (`127.0.0.1`) or IPv6 (`::1`, no brackets) address; no DNS.
    public init(ip: String, port: Int) throws(SocketAddressError) {
        guard (0...65535).contains(port) else {
            throw SocketAddressError(code: .invalidPort, input: String(port))
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            storage = .v4(address: v4.s_addr, port: UInt16(port))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            storage = .v6(address: bytes, port: UInt16(port), scope: 0)
            return
        }
        throw SocketAddressError(code: .invalidIP, input: ip)
    }

    /// A Unix-domain socket path (at most 107 bytes, the kernel's limit).
    public init(unixPath path: String) throws(SocketAddressError) {
        guard !path.isEmpty else {
            throw SocketAddressError(code: .emptyPath, input: path)
        }
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw SocketAddressError(code: .pathTooLong, input: path)
        }
        storage = .unix(path: path)
    }

    init(storage: Storage) {
        self.storage = storage
    }

    /// The family of this address.
    public var family: Family {
        switch storage {
        case .v4: .ipv4
        case .v6: .ipv6
        case .unix: .unix
        }
    }

    /// The TCP port, or nil for a Unix path.
    public var port: Int? {
        switch storage {
        case .v4(_, let port), .v6(_, let port, _): Int(port)
        case .unix: nil
        }
    }

    /// The address without the port: `127.0.0.1`, `::1`, or the Unix path.
    public var host: String {
        switch storage {
        case .v4(var address, _):
            return withUnsafeBytes(of: &address) {
                // Non-nil: the buffer of a 4-byte value.
                Self.format(AF_INET, $0.baseAddress!, length: Int(INET_ADDRSTRLEN))
            }
        case .v6(let bytes, _, _):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            return withUnsafeBytes(of: &address) {
                // Non-nil: the buffer of a 16-byte value.
                Self.format(AF_INET6, $0.baseAddress!, length: Int(INET6_ADDRSTRLEN))
            }
        case .unix(let path):
            return path
        }
    }

    /// `127.0.0.1:5432`, `[::1]:5432`, or the Unix path.
    public var description: String {
        switch storage {
        case .v4(_, let port): "\(host):\(port)"
        case .v6(_, let port, _): "[\(host)]:\(port)"
        case .unix(let path): path
        }
    }

    private static func format(_ family: Int32, _ address: UnsafeRawPointer, length: Int) -> String {
        var text = [CChar](repeating: 0, count: length)
        guard inet_ntop(family, address, &text, socklen_t(length)) != nil else {
            return "?"
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Kernel representation

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        switch storage {
        case .v4(let address, let port):
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = port.bigEndian
            raw.sin_addr.s_addr = address
            return try Self.withRebound(&raw, body)
        case .v6(let bytes, let port, let scope):
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = port.bigEndian
            raw.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &raw.sin6_addr) { $0.copyBytes(from: bytes) }
            return try Self.withRebound(&raw, body)
        case .unix(let path):
            var raw = sockaddr_un()
            raw.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &raw.sun_path) { $0.copyBytes(from: path.utf8) }
            return try Self.withRebound(&raw, body)
        }
    }

    private static func withRebound<T, R>(
        _ raw: inout T,
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R
    ) rethrows -> R {
        try withUnsafePointer(to: &raw) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<T>.size))
            }
        }
    }

    /// Decodes what the kernel wrote into `storage`; nil for a family this type does not model
    /// (or an unnamed Unix peer, which has no path).
    init?(kernel storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let raw = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            self.init(storage: .v4(address: raw.sin_addr.s_addr, port: UInt16(bigEndian: raw.sin_port)))
        case AF_INET6:
            var raw = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            let bytes = withUnsafeBytes(of: &raw.sin6_addr) { Array($0) }
            self.init(storage: .v6(address: bytes, port: UInt16(bigEndian: raw.sin6_port), scope: raw.sin6_scope_id))
        case AF_UNIX:
            var raw = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_un.self) }
            let path = withUnsafeBytes(of: &raw.sun_path) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            self.init(storage: .unix(path: path))
        default:
            return nil
        }
    }
}
