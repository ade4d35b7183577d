import Foundation
import Glibc

/// Resolves a host name (a PSC DNS name) to one IP literal. Injectable so tests can map names
/// to loopback addresses.
///
/// The connector calls it on a short-lived helper thread started by the refresh thread (the
/// lookup blocks), never on the proxy's loop; the answer travels in `InstanceSnapshot`.
public struct HostLookup: Sendable {
    private let resolve: @Sendable (String) -> Result<String, ConnectorError>

    /// A lookup that calls `resolve` (on a helper thread).
    public init(_ resolve: @escaping @Sendable (String) -> Result<String, ConnectorError>) {
        self.resolve = resolve
    }

    /// `getaddrinfo`, preferring the first IPv4 stream address, else the first IPv6 one.
    public static let system = HostLookup { host in systemLookup(host) }

    /// Resolves `host`; blocks.
    public func callAsFunction(_ host: String) -> Result<String, ConnectorError> { resolve(host) }

    private static func systemLookup(_ host: String) -> Result<String, ConnectorError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let list else {
            let reason = String(cString: gai_strerror(status))
            return .failure(ConnectorError(.refresh, "cannot resolve \(InstanceURI.quoted(host)): \(reason)"))
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = list
        var fallback: String?
        while let current = entry {
            if let text = numericHost(current.pointee) {
                if current.pointee.ai_family == AF_INET { return .success(text) }
                fallback = fallback ?? text
            }
            entry = current.pointee.ai_next
        }
        guard let fallback else {
            return .failure(ConnectorError(.refresh, "\(InstanceURI.quoted(host)) has no usable address"))
        }
        return .success(fallback)
    }

    private static func numericHost(_ info: addrinfo) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let status = getnameinfo(
            info.ai_addr, info.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
        guard status == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
