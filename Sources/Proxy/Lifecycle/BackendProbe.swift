import Connector
import EventLoop
import Foundation
import Glibc
import Locking
import Synchronization

/// Checks that every instance can be reached: valid connection info from the connector, then a
/// TCP connection to the instance's proxy port. Used by `--run-connection-test` (before
/// serving) and by `/startup` with `--with-backend-check`.
///
/// Blocking: runs on the calling thread (main before serving, or a libmicrohttpd thread), never
/// on the loop. It does not do the TLS handshake or the metadata exchange; those failures
/// still show at the first client connection.
final class BackendProbe: Sendable {
    private let connector: Connector
    private let handles: [InstanceHandle]
    private let instancePort: Int
    /// Receives snapshots to drop, so an `SSL_CTX` is only ever freed on the loop thread.
    private let executor: LoopExecutor
    private let timeout: Duration

    init(connector: Connector, handles: [InstanceHandle], instancePort: Int, executor: LoopExecutor,
         timeout: Duration) {
        self.connector = connector
        self.handles = handles
        self.instancePort = instancePort
        self.executor = executor
        self.timeout = timeout
    }

    /// Probes every instance in order; nil when all are reachable, else the first problem.
    func check() -> String? {
        for handle in handles {
            if let problem = check(handle) {
                return "[\(handle.instance.shortName)] \(problem)"
            }
        }
        return nil
    }

    private func check(_ handle: InstanceHandle) -> String? {
        let done = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<InstanceSnapshot, ConnectorError>?>(nil)
        connector.requestInfo(for: handle, forceRefresh: false) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        guard done.wait(timeout: .now() + seconds) == .success,
              let result = outcome.withLock({ $0 }) else {
            return "connection info did not arrive within \(GoDuration.format(timeout))"
        }
        switch result {
        case .failure(let error):
            return "\(error)"
        case .success(let snapshot):
            let address = snapshot.dialAddress
            executor.execute { withExtendedLifetime(snapshot) {} }
            return Self.connect(host: address, port: instancePort, timeoutMilliseconds: milliseconds)
        }
    }

    private var milliseconds: Int32 {
        Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A TCP connection to `host:port` within the timeout; nil on success.
    static func connect(host: String, port: Int, timeoutMilliseconds: Int32) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            return "cannot resolve \(host): \(String(cString: gai_strerror(status)))"
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                        | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        if Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
            return "dial tcp \(host):\(port): \(String(cString: strerror(errno)))"
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, timeoutMilliseconds)
        guard ready > 0 else {
            return "dial tcp \(host):\(port): timed out"
        }
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
        guard code == 0 else {
            return "dial tcp \(host):\(port): \(String(cString: strerror(code)))"
        }
        return nil
    }
}
