import EventLoop

#if canImport(Glibc)
import Glibc
#endif

/// Loopback port helpers for setting up paths. Main thread; cheap (one or two syscalls).
enum PortProbe {
    /// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it for port 0).
    static func freePort() throws -> Int {
        let socket = try Socket.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
        defer { socket.close() }
        guard let port = socket.localAddress?.port else { throw SetupError("no local port for a free-port probe") }
        return port
    }

    /// The first of `count` consecutive ports on 127.0.0.1 that are all free right now.
    static func freeConsecutivePorts(_ count: Int) throws -> Int {
        for _ in 0..<50 {
            let first = try freePort()
            guard first + count - 1 <= 65_535 else { continue }
            var held: [Socket] = []
            defer { for socket in held { socket.close() } }
            for offset in 0..<count {
                guard let address = try? SocketAddress(ip: "127.0.0.1", port: first + offset),
                      let socket = try? Socket.listen(on: address) else { break }
                held.append(socket)
            }
            if held.count == count { return first }
        }
        throw SetupError("found no \(count) consecutive free ports on 127.0.0.1")
    }

    /// True when something accepts a TCP connection on `host`:`port` (the connection is closed
    /// at once).
    static func accepts(host: String = "127.0.0.1", port: Int) -> Bool {
        guard let address = try? SocketAddress(ip: host, port: port),
              let socket = try? Socket(family: .ipv4) else { return false }
        defer { socket.close() }
        guard let result = try? socket.connect(to: address) else { return false }
        if result == .connected { return true }
        var poll = pollfd(fd: socket.fileDescriptor, events: Int16(POLLOUT), revents: 0)
        guard Glibc.poll(&poll, 1, 1_000) == 1 else { return false }
        return (try? socket.finishConnect()) != nil
    }
}
