import EventLoop
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class SocketTests: XCTestCase {
    /// Connects a client to `listener` through `loop`; returns (client, server side).
    private func connectedPair(_ listener: Socket, _ loop: EventLoop) throws -> (Socket, Socket) {
        let address = try XCTUnwrap(listener.localAddress)
        let client = try Socket(family: address.family)
        if try client.connect(to: address) == .inProgress {
            let handler = RecordingHandler()
            let registration = try loop.register(fd: client.fileDescriptor, interest: .writable, handler: handler)
            XCTAssertTrue(loop.drive { !handler.calls.isEmpty })
            loop.deregister(registration)
            try client.finishConnect()
        }
        var server: Socket?
        XCTAssertTrue(loop.drive { server = try? listener.accept(); return server != nil })
        return (client, try XCTUnwrap(server))
    }

    private func exchange(on address: SocketAddress) throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let listener = try Socket.listen(on: address)
        let (client, server) = try connectedPair(listener, loop)

        try client.writeAll(Array("hello".utf8))
        var received: [UInt8] = []
        XCTAssertTrue(loop.drive { received += (try? server.readSome()) ?? []; return received.count == 5 })
        XCTAssertEqual(String(decoding: received, as: UTF8.self), "hello")

        try server.writeAll(Array("world".utf8))
        try server.shutdownWrite()
        var reply: [UInt8] = []
        var sawEOF = false
        XCTAssertTrue(loop.drive { () -> Bool in
            if let bytes = try? client.readSome() {
                reply += bytes
            } else {
                sawEOF = true
            }
            return sawEOF
        })
        XCTAssertEqual(String(decoding: reply, as: UTF8.self), "world", "data before FIN arrives")

        // Half-close: the client can still send after the server's FIN.
        try client.writeAll([42])
        XCTAssertTrue(loop.drive { (try? server.readSome()) == [42] })
        if address.family != .unix {
            XCTAssertEqual(server.peerAddress, client.localAddress)
        }
        client.close()
        server.close()
        listener.close()
        listener.close()
        XCTAssertFalse(listener.isOpen)
    }

    func testTCPv4_listenAcceptConnectReadWriteShutdown() throws {
        try exchange(on: try SocketAddress(ip: "127.0.0.1", port: 0))
    }

    func testTCPv6_listenAcceptConnectReadWriteShutdown() throws {
        let address = try SocketAddress(ip: "::1", port: 0)
        do {
            try Socket.listen(on: address).close()
        } catch let error as SyscallError where error.errno == EADDRNOTAVAIL || error.errno == EAFNOSUPPORT {
            throw XCTSkip("IPv6 loopback unavailable: \(error)")
        }
        try exchange(on: address)
    }

    func testUnix_listenAcceptConnectReadWriteShutdown() throws {
        let path = NSTemporaryDirectory() + "evl-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        try exchange(on: try SocketAddress(unixPath: path))
    }

    func testConnectRefused_reportsECONNREFUSED_fromFinishConnect() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        // Bind a port, then close it, so nothing listens there.
        let probe = try Socket.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
        let address = try XCTUnwrap(probe.localAddress)
        probe.close()

        let client = try Socket(family: .ipv4)
        var failure: SyscallError?
        do {
            if try client.connect(to: address) == .inProgress {
                let handler = RecordingHandler()
                let registration = try loop.register(fd: client.fileDescriptor, interest: .writable, handler: handler)
                XCTAssertTrue(loop.drive { !handler.calls.isEmpty })
                loop.deregister(registration)
                try client.finishConnect()
            }
        } catch let error as SyscallError {
            failure = error
        }
        XCTAssertEqual(failure?.errno, ECONNREFUSED)
        XCTAssertEqual(failure?.call, "connect")
        XCTAssertTrue(failure?.description.contains("Connection refused") ?? false)
    }

    func testSocketAddress_parsesAndDescribes() throws {
        XCTAssertEqual(try SocketAddress(ip: "127.0.0.1", port: 5432).description, "127.0.0.1:5432")
        XCTAssertEqual(try SocketAddress(ip: "::1", port: 5432).description, "[::1]:5432")
        XCTAssertEqual(try SocketAddress(ip: "10.1.2.3", port: 5433).host, "10.1.2.3")
        XCTAssertEqual(try SocketAddress(unixPath: "/tmp/.s.PGSQL.5432").description, "/tmp/.s.PGSQL.5432")
        XCTAssertThrowsError(try SocketAddress(ip: "localhost", port: 1))
        XCTAssertThrowsError(try SocketAddress(ip: "1.2.3.4", port: 70_000))
        XCTAssertThrowsError(try SocketAddress(unixPath: String(repeating: "x", count: 200)))
        XCTAssertThrowsError(try SocketAddress(unixPath: ""))
    }

    func testWritev_gathersBuffers() throws {
        let (a, b) = try Socket.makePair()
        let head = Array("abc".utf8)
        let tail = Array("defg".utf8)
        let result = try head.withUnsafeBytes { h in try tail.withUnsafeBytes { t in try a.writev([h, t]) } }
        XCTAssertEqual(result, .processed(7))
        XCTAssertEqual(try b.readSome(), Array("abcdefg".utf8))
        XCTAssertEqual(try b.readSome(), [], "nothing more: would block")
    }

    func testWriteToClosedPeer_throwsEPIPE_withoutSignal() throws {
        let (a, b) = try Socket.makePair()
        b.close()
        XCTAssertThrowsError(try a.writeAll([1])) {
            XCTAssertEqual(($0 as? SyscallError)?.errno, EPIPE)
        }
    }

    func testOptions_noDelayAndKeepAlive() throws {
        let listener = try Socket.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
        let client = try Socket(family: .ipv4)
        try client.setNoDelay()
        try client.setKeepAlive(idle: .seconds(60), interval: .seconds(10), count: 3)
        listener.close()
    }
}
