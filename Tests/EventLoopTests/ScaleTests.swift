import EventLoop
import XCTest

/// Server side of one echo connection: sends back whatever arrives, closes on EOF.
private final class EchoConnection: IOHandler {
    let socket: Socket
    unowned let loop: EventLoop
    let buffer: ByteBuffer
    var registration: Registration?
    var onClose: () -> Void = {}

    init(socket: Socket, loop: EventLoop, buffer: ByteBuffer) {
        self.socket = socket
        self.loop = loop
        self.buffer = buffer
    }

    func handle(_ events: IOEvents) {
        for _ in 0..<EventLoop.maxReadsPerEvent {
            switch try? buffer.read(from: socket) {
            case .processed:
                // Messages are small: the kernel buffer always has room for the echo.
                _ = try? buffer.write(to: socket)
            case .wouldBlock:
                return
            case .eof, nil:
                close()
                return
            }
        }
    }

    func close() {
        if let registration { loop.deregister(registration) }
        registration = nil
        socket.close()
        onClose()
    }
}

/// Client side: connects, sends its message once writable, waits for the same bytes back.
private final class EchoClient: IOHandler {
    let socket: Socket
    unowned let loop: EventLoop
    let message: [UInt8]
    var registration: Registration?
    var received: [UInt8] = []
    var sent = false
    var failure: Error?
    var onDone: () -> Void = {}

    init(socket: Socket, loop: EventLoop, index: Int) {
        self.socket = socket
        self.loop = loop
        message = Array("message \(index)".utf8)
    }

    func handle(_ events: IOEvents) {
        do {
            if !sent {
                try socket.finishConnect()
                try socket.writeAll(message)
                sent = true
                loop.setInterest(registration!, .readable)  // Set right after registering.
                return
            }
            guard let bytes = try socket.readSome() else {
                throw SyscallError(errno: 0, call: "unexpected EOF")
            }
            received += bytes
            if received.count >= message.count {
                loop.deregister(registration!)  // Still registered: we are in its callback.
                onDone()
            }
        } catch {
            failure = error
            loop.deregister(registration!)  // Still registered: we are in its callback.
            onDone()
        }
    }
}

final class ScaleTests: XCTestCase {
    func testEchoServer_5000ConcurrentConnections_thenDescriptorsReturnToBaseline() throws {
        let connections = 5_000
        try ProcessResources.raiseDescriptorLimit()
        let baseline = try ProcessResources.openDescriptorCount()
        let loop = try EventLoop()
        defer { loop.close() }
        let pool = BufferPool(bufferSize: 4096, maximumPooled: 64)
        var serverSide = 0
        let listener = try Listener(
            socket: Socket.listen(on: SocketAddress(ip: "127.0.0.1", port: 0), backlog: 4096),
            loop: loop,
            onAccept: { socket in
                let connection = EchoConnection(socket: socket, loop: loop, buffer: pool.take())
                connection.onClose = { serverSide -= 1; pool.recycle(connection.buffer) }
                connection.registration = try? loop.register(
                    fd: socket.fileDescriptor, interest: .readable, handler: connection)
                serverSide += 1
            },
            onError: { XCTFail("accept failed: \($0)") }
        )
        let address = try XCTUnwrap(listener.socket.localAddress)

        var clients: [EchoClient] = []
        var finished = 0
        func startClients() throws {
            // Keep the number of unanswered connects under the accept backlog.
            while clients.count < connections && clients.count - finished < 1_000 {
                let client = EchoClient(socket: try Socket(family: .ipv4), loop: loop, index: clients.count)
                client.onDone = { finished += 1 }
                _ = try client.socket.connect(to: address)
                client.registration = try loop.register(
                    fd: client.socket.fileDescriptor, interest: .writable, handler: client)
                clients.append(client)
            }
        }
        let allEchoed = loop.drive(for: .seconds(60)) {
            try? startClients()
            return finished == connections
        }
        XCTAssertTrue(allEchoed, "only \(finished) of \(connections) round trips in 60 s")
        XCTAssertEqual(clients.count, connections)
        XCTAssertEqual(clients.filter { $0.failure != nil }.count, 0)
        XCTAssertTrue(clients.allSatisfy { $0.received == $0.message }, "every echo matches")
        XCTAssertEqual(serverSide, connections, "all connections are open at once")
        XCTAssertGreaterThanOrEqual(try ProcessResources.openDescriptorCount(), baseline + 2 * connections)

        for client in clients {
            client.socket.close()
        }
        XCTAssertTrue(loop.drive(for: .seconds(30)) { serverSide == 0 }, "\(serverSide) not closed")
        listener.close()
        clients = []
        loop.close()
        XCTAssertEqual(try ProcessResources.openDescriptorCount(), baseline)
        XCTAssertLessThanOrEqual(pool.idleCount, pool.maximumPooled)
    }
}
