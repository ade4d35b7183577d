import Glibc

/// Sends sd_notify(3) messages (`READY=1`, `STOPPING=1`) to `$NOTIFY_SOCKET` when systemd set
/// it: one datagram per message on a Unix socket; a leading `@` names the abstract namespace.
///
/// Any thread; each `notify` opens, sends and closes its own socket (a handful of calls per
/// process lifetime). Failures are returned for logging, never fatal.
struct SystemdNotifier: Sendable {
    /// The socket path from the environment, or nil when not running under systemd.
    let socketPath: String?

    init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"] ?? ""
        socketPath = path.isEmpty ? nil : path
    }

    /// Sends `state` (e.g. `READY=1`).
    ///
    /// - Returns: nil on success or when there is no socket; otherwise why it failed.
    @discardableResult
    func notify(_ state: String) -> String? {
        guard let socketPath else { return nil }
        guard socketPath.hasPrefix("/") || socketPath.hasPrefix("@") else {
            return "NOTIFY_SOCKET \(ConfigError.quoted(socketPath)) is neither a path nor an abstract name"
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") {
            pathBytes[0] = 0
        }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            return "NOTIFY_SOCKET path is longer than \(capacity - 1) bytes"
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        // Abstract names are not NUL-terminated: the length covers exactly the name.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count
            + (pathBytes.first == 0 ? 0 : 1))

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket(AF_UNIX): errno \(errno)" }
        defer { close(fd) }
        let message = Array(state.utf8)
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        guard sent == message.count else {
            return "sendto(\(socketPath)): \(String(cString: strerror(errno)))"
        }
        return nil
    }
}
