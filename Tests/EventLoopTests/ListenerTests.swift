import EventLoop
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ListenerTests: XCTestCase {
    func testAcceptAtDescriptorLimit_pausesWithBackoff_reportsOnce_thenResumes() throws {
        let clock = FakeClock()
        let loop = try EventLoop(clock: clock)
        defer { loop.close() }
        var errors: [SyscallError] = []
        var accepted: [Socket] = []
        let listener = try Listener(
            socket: Socket.listen(on: SocketAddress(ip: "127.0.0.1", port: 0)),
            loop: loop,
            onAccept: { accepted.append($0) },
            onError: { errors.append($0) }
        )
        defer { listener.close() }
        let client = try Socket(family: .ipv4)

        // Use up every descriptor, then connect: the connect needs none, the accept does.
        var fillers: [Int32] = []
        while true {
            let fd = dup(0)
            if fd < 0 { break }
            fillers.append(fd)
        }
        defer { fillers.forEach { close($0) } }
        _ = try client.connect(to: XCTUnwrap(listener.socket.localAddress))

        XCTAssertTrue(loop.drive { listener.failures == 1 })
        XCTAssertEqual(errors.map(\.errno), [EMFILE])
        XCTAssertTrue(listener.isPaused)

        // Paused: turns do not retry, so nothing spins while the clock stands still.
        for _ in 0..<5 { loop.runOnce(maximumWaitMilliseconds: 0) }
        XCTAssertEqual(listener.failures, 1)

        // The first back-off elapses: one more failure, same episode, no second report.
        clock.advance(Listener.initialBackoff)
        XCTAssertTrue(loop.drive { listener.failures == 2 })
        XCTAssertEqual(errors.count, 1)

        // The back-off doubled: the first interval again is not enough.
        clock.advance(Listener.initialBackoff)
        for _ in 0..<3 { loop.runOnce(maximumWaitMilliseconds: 0) }
        XCTAssertEqual(listener.failures, 2)

        // Descriptors come back; the next retry accepts the queued connection.
        fillers.forEach { close($0) }
        fillers = []
        clock.advance(Listener.initialBackoff)
        XCTAssertTrue(loop.drive { accepted.count == 1 })
        XCTAssertFalse(listener.isPaused)
        XCTAssertEqual(errors.count, 1)
    }
}
