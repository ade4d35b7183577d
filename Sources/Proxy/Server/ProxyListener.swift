import EventLoop
import Glibc

/// One instance's listening socket (TCP or Unix) and the cleanup it needs.
///
/// Loop thread only. For Unix endpoints the directory is created (mode 0777) when absent, a
/// stale socket file is replaced, the socket file gets `socketMode` (0777 by default, best
/// effort like the reference: a failed chmod is reported in `chmodProblem`) and the file is
/// removed again by `close()`.
final class ProxyListener {
    let route: InstanceRoute
    let endpoint: ListenerEndpoint
    private let listener: Listener
    /// The bound address (with the kernel's port for port 0).
    let boundAddress: String
    /// Why the socket file could not be given its mode, when that failed.
    private(set) var chmodProblem: String?

    /// Binds and starts accepting; `onAccept` receives each connection.
    ///
    /// - Throws: `ProxyStartError` naming the instance.
    init(
        route: InstanceRoute,
        endpoint: ListenerEndpoint,
        loop: EventLoop,
        socketMode: UInt16 = 0o777,
        onAccept: @escaping (Socket) -> Void,
        onError: @escaping (SyscallError) -> Void
    ) throws {
        self.route = route
        self.endpoint = endpoint
        let socket: Socket
        var chmodProblem: String?
        do {
            switch endpoint {
            case .tcp(let host, let port):
                socket = try Socket.listen(on: SocketAddress(ip: host, port: port))
            case .unix(let directory):
                try Self.prepareDirectory(directory, socketMode: socketMode)
                let path = endpoint.socketPath ?? directory
                try Self.removeStaleSocket(path)
                socket = try Socket.listen(on: SocketAddress(unixPath: path))
                // Best effort, as in the reference: clients of other users must be able to connect
                // (unless a narrower --unix-socket-mode asks otherwise).
                // Only ever the socket just bound: never widen or narrow any other file.
                if !Self.isSocket(path) || chmod(path, mode_t(socketMode)) != 0 {
                    chmodProblem = "could not set mode \(String(socketMode, radix: 8)) on \(path): "
                        + String(cString: strerror(errno))
                }
            }
            listener = try Listener(socket: socket, loop: loop, onAccept: onAccept, onError: onError)
        } catch {
            throw ProxyStartError(instance: route.shortName, reason: "\(error)")
        }
        boundAddress = socket.localAddress.map { "\($0)" } ?? endpoint.description
        self.chmodProblem = chmodProblem
    }

    /// Stops accepting and closes the socket; removes a Unix socket file. Idempotent.
    func close() {
        listener.close()
        if let path = endpoint.socketPath {
            _ = unlink(path)
        }
    }

    /// `mkdir` when absent (the parent must exist), with the socket's mode plus the search
    /// bits that go with it: 0777 by default as the reference does, but a narrower
    /// `--unix-socket-mode` narrows the directory too, or anyone could replace the socket.
    private static func prepareDirectory(_ directory: String, socketMode: UInt16) throws {
        let read = socketMode & 0o444, write = socketMode & 0o222
        let mode = mode_t(socketMode | (read >> 2) | (write >> 1))
        if mkdir(directory, mode) == 0 {
            // The umask narrowed the mode; set it as meant.
            _ = chmod(directory, mode)
            return
        }
        let code = errno
        guard code == EEXIST else {
            throw SyscallError(errno: code, call: "mkdir(\(directory))")
        }
    }

    /// True when `path` itself (not a link's target) is a Unix socket.
    private static func isSocket(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
    }

    /// A socket file left by an earlier run would make bind fail with EADDRINUSE.
    private static func removeStaleSocket(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SyscallError(errno: EEXIST, call: "bind(\(path)): not a socket")
        }
        _ = unlink(path)
    }
}

/// A listener could not be created; the proxy exits 1 with
/// `[P.R.C.I] Unable to mount socket: <reason>`.
public struct ProxyStartError: Error, CustomStringConvertible, Sendable {
    public let instance: String
    public let reason: String

    public var description: String {
        "[\(instance)] Unable to mount socket: \(reason)"
    }
}
