import Foundation
import Glibc

/// Resolves a PSC DNS name to an IP literal off the loop thread.
///
/// `getaddrinfo` blocks, so each lookup runs on a short-lived thread and reports through the
/// completion, which the caller re-posts to its loop. Only PSC dials use it; IP literals are
/// dialled directly.
// TODO: lookups are neither cached nor bounded in concurrency; a burst of PSC dials starts one
// thread each.
enum HostResolver {
    /// Why a lookup failed.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Looks `host` up (IPv4 first, as dialled) and calls `completion` on the lookup thread.
    static func resolve(
        _ host: String,
        completion: @escaping @Sendable (Result<String, Failure>) -> Void
    ) {
        let thread = Thread {
            completion(lookup(host))
        }
        thread.name = "psc-resolver"
        thread.start()
    }

    /// Blocking lookup of the first stream address of `host`.
    static func lookup(_ host: String) -> Result<String, Failure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let list else {
            return .failure(Failure(description: "lookup \(host): \(String(cString: gai_strerror(status)))"))
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
            return .failure(Failure(description: "lookup \(host): no usable address"))
        }
        return .success(fallback)
    }

    private static func numericHost(_ info: addrinfo) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let status = getnameinfo(
            info.ai_addr, info.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST
        )
        guard status == 0 else { return nil }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
