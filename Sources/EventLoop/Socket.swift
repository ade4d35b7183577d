import CLinuxShims

#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking, close-on-exec stream socket (TCP or Unix) that owns its descriptor.
///
/// Loop thread only (or any single thread). `close()` is idempotent and `deinit` closes a
/// socket still open, so a descriptor is never leaked. Deregister the socket from its loop
/// before closing it. Every I/O call retries EINTR, reports would-block as a result instead of
/// an error, and never raises SIGPIPE (writes use MSG_NOSIGNAL).
public final class Socket {
    /// The result of a non-blocking connect.
    public enum ConnectResult: Equatable, Sendable {
        /// Connected already (typical for Unix sockets).
        case connected
        /// Wait for `.writable`, then call `finishConnect()`.
        case inProgress
    }

    /// The descriptor; -1 once closed. Register it with a loop; do not close it directly.
    public private(set) var fileDescriptor: Int32

    /// Takes ownership of `fd`, which must be a non-blocking socket.
    public init(takingOwnershipOf fd: Int32) {
        precondition(fd >= 0, "Socket over negative fd \(fd)")
        fileDescriptor = fd
    }

    /// Creates an unconnected stream socket for `family`.
    public convenience init(family: SocketAddress.Family) throws {
        let domain: Int32 = switch family {
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        case .unix: AF_UNIX
        }
        let type = CLinuxShims_SOCK_STREAM | CLinuxShims_SOCK_CLOEXEC | CLinuxShims_SOCK_NONBLOCK
        let fd = try Posix.retrying("socket") { Glibc.socket(domain, type, 0) }
        self.init(takingOwnershipOf: fd)
    }

    /// A connected pair of Unix stream sockets (socketpair), both non-blocking and
    /// close-on-exec. For in-process channels and tests.
    public static func makePair() throws -> (Socket, Socket) {
        var fds: [Int32] = [-1, -1]
        let type = CLinuxShims_SOCK_STREAM | CLinuxShims_SOCK_CLOEXEC | CLinuxShims_SOCK_NONBLOCK
        _ = try Posix.retrying("socketpair") { socketpair(AF_UNIX, type, 0, &fds) }
        return (Socket(takingOwnershipOf: fds[0]), Socket(takingOwnershipOf: fds[1]))
    }

    deinit {
        close()
    }

    /// True until `close()`.
    public var isOpen: Bool { fileDescriptor >= 0 }

    /// Closes the descriptor. Idempotent.
    public func close() {
        guard fileDescriptor >= 0 else {
            return
        }
        Posix.close(fileDescriptor)
        fileDescriptor = -1
    }

    private var fd: Int32 {
        precondition(fileDescriptor >= 0, "use of a closed Socket")
        return fileDescriptor
    }

    // MARK: Listening

    /// A listening socket bound to `address`: TCP with SO_REUSEADDR (port 0 picks a free
    /// port; see `localAddress`), or Unix (the path must not exist yet).
    ///
    /// - Parameter backlog: the kernel's accept queue length (capped by net.core.somaxconn).
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024) throws -> Socket {
        let socket = try Socket(family: address.family)
        if address.family != .unix {
            try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)")
        }
        try socket.bind(to: address)
        let fd = socket.fd
        _ = try Posix.retrying("listen") { Glibc.listen(fd, backlog) }
        return socket
    }

    /// Binds to `address` (for listeners, or to pick a client's source address).
    public func bind(to address: SocketAddress) throws {
        let fd = self.fd
        _ = try address.withSockAddr { pointer, length throws(SyscallError) in
            try Posix.retrying("bind(\(address))") { Glibc.bind(fd, pointer, length) }
        }
    }

    /// Accepts one pending connection as a non-blocking, close-on-exec socket; nil when none is
    /// pending. ECONNABORTED (the client gave up while queued) also returns nil.
    ///
    /// - Throws: `SyscallError`; EMFILE/ENFILE (`isResourceExhaustion`) mean back off, see
    ///   `Listener`.
    public func accept() throws -> Socket? {
        let fd = self.fd
        let flags = CLinuxShims_SOCK_CLOEXEC | CLinuxShims_SOCK_NONBLOCK
        while true {
            let result = CLinuxShims_accept4(fd, nil, nil, flags)
            if result >= 0 {
                return Socket(takingOwnershipOf: result)
            }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK, ECONNABORTED: return nil
            default: throw Posix.failure(code, "accept4")
            }
        }
    }

    // MARK: Connecting

    /// Starts a non-blocking connect to `address`.
    ///
    /// - Returns: `.connected`, or `.inProgress`: wait for `.writable`, then `finishConnect()`.
    /// - Throws: `SyscallError`, e.g. ECONNREFUSED for a Unix path nobody listens on.
    public func connect(to address: SocketAddress) throws -> ConnectResult {
        let fd = self.fd
        return try address.withSockAddr { pointer, length throws(SyscallError) in
            while true {
                if Glibc.connect(fd, pointer, length) == 0 {
                    return .connected
                }
                let code = errno
                switch code {
                case EINTR: continue
                case EINPROGRESS, EAGAIN: return .inProgress
                default: throw Posix.failure(code, "connect(\(address))")
                }
            }
        }
    }

    /// Completes a connect reported `.inProgress`, once the socket is writable.
    /// - Throws: the connect's failure (ECONNREFUSED, ETIMEDOUT, ...) read from SO_ERROR.
    public func finishConnect() throws {
        if let error = try pendingError(call: "connect") {
            throw error
        }
    }

    /// Reads and clears the socket's pending error (SO_ERROR); nil if there is none.
    public func pendingError(call: String = "socket") throws -> SyscallError? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let fd = self.fd
        _ = try Posix.retrying("getsockopt(SO_ERROR)") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) }
        return value == 0 ? nil : SyscallError(errno: value, call: call)
    }

    // MARK: I/O

    /// Reads into `buffer`. `.eof` when the peer closed its sending side; never `.processed(0)`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult {
        let fd = self.fd
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            return .processed(0)
        }
        guard let count = try Posix.nonBlocking("read", { Glibc.read(fd, base, buffer.count) }) else {
            return .wouldBlock
        }
        return count == 0 ? .eof : .processed(count)
    }

    /// Writes from `buffer`; may write fewer bytes than given (a short write).
    /// - Throws: e.g. EPIPE or ECONNRESET when the peer is gone (no SIGPIPE is raised).
    public func write(_ buffer: UnsafeRawBufferPointer) throws -> IOResult {
        let fd = self.fd
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            return .processed(0)
        }
        let flags = CLinuxShims_MSG_NOSIGNAL
        guard let count = try Posix.nonBlocking("send", { send(fd, base, buffer.count, flags) }) else {
            return .wouldBlock
        }
        return .processed(count)
    }

    /// Writes several buffers in one call (gather write); may write fewer bytes than given.
    /// At most `IOV_MAX` (1024) buffers per call.
    public func writev(_ buffers: [UnsafeRawBufferPointer]) throws -> IOResult {
        let fd = self.fd
        precondition(buffers.count <= 1024, "writev of \(buffers.count) buffers exceeds IOV_MAX")
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: max(buffers.count, 1)) { vectors in
            for (index, buffer) in buffers.enumerated() {
                vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                                       iov_len: buffer.count)
            }
            var message = msghdr()
            message.msg_iov = vectors.baseAddress
            message.msg_iovlen = buffers.count
            let flags = CLinuxShims_MSG_NOSIGNAL
            guard let count = try Posix.nonBlocking("sendmsg", { sendmsg(fd, &message, flags) }) else {
                return .wouldBlock
            }
            return .processed(count)
        }
    }

    /// Sends FIN: the peer reads EOF while this side can still read.
    public func shutdownWrite() throws {
        let fd = self.fd
        _ = try Posix.retrying("shutdown(SHUT_WR)") { shutdown(fd, Int32(SHUT_WR)) }
    }

    // MARK: Options and addresses

    /// Turns Nagle's algorithm off (on = true) so small writes leave at once.
    public func setNoDelay(_ on: Bool = true) throws {
        try setOption(CLinuxShims_IPPROTO_TCP, CLinuxShims_TCP_NODELAY, on ? 1 : 0, "setsockopt(TCP_NODELAY)")
    }

    /// Enables TCP keepalive: first probe after `idle` of silence, then every `interval`, and
    /// the connection fails after `count` unanswered probes. Durations round down to seconds
    /// (minimum 1).
    public func setKeepAlive(idle: Duration, interval: Duration, count: Int32) throws {
        let tcp = CLinuxShims_IPPROTO_TCP
        try setOption(SOL_SOCKET, SO_KEEPALIVE, 1, "setsockopt(SO_KEEPALIVE)")
        try setOption(tcp, CLinuxShims_TCP_KEEPIDLE, Self.seconds(idle), "setsockopt(TCP_KEEPIDLE)")
        try setOption(tcp, CLinuxShims_TCP_KEEPINTVL, Self.seconds(interval), "setsockopt(TCP_KEEPINTVL)")
        try setOption(tcp, CLinuxShims_TCP_KEEPCNT, max(count, 1), "setsockopt(TCP_KEEPCNT)")
    }

    private static func seconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(duration.components.seconds, 1))
    }

    /// Sets an integer socket option.
    public func setOption(_ level: Int32, _ name: Int32, _ value: Int32, _ call: String) throws {
        var value = value
        let fd = self.fd
        _ = try Posix.retrying(call) {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// The address this socket is bound to (nil for an unnamed Unix socket).
    public var localAddress: SocketAddress? {
        address(getsockname)
    }

    /// The address of the connected peer (nil when not connected, or an unnamed Unix peer).
    public var peerAddress: SocketAddress? {
        address(getpeername)
    }

    private func address(
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> SocketAddress? {
        guard fileDescriptor >= 0 else {
            return nil
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fileDescriptor, $0, &length) }
        }
        return result == 0 ? SocketAddress(kernel: storage) : nil
    }
}
