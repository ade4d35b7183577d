import EventLoop
import Foundation
import Glibc
import TLS
import XCTest

@testable import Proxy

/// Ends of streams, resets, hang-ups and backpressure through whole tunnels on loopback: a
/// client thread -> the proxy's loop (this thread) -> a fake instance thread.
final class TunnelDataPathTests: XCTestCase {
    private let proxyIP = "127.0.0.91"
    private let instanceIP = "127.0.0.92"

    private func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// The instance ends first; the client then sends 8 KiB and closes (small enough that the
    /// bytes and the FIN arrive together). Its socket reports a full hang-up with the bytes
    /// still unread: every byte must still reach the instance.
    func testBytesSentBeforeAFullHangUpAreForwarded() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let upload = randomBytes(8 << 10)
        let received = Outcome<[UInt8]>()
        let replyRead = Outcome<[UInt8]>()
        let clientDone = Outcome<Bool>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return received.set([]) }
            defer { close(instance.fd) }
            instance.write(Array("bye".utf8))
            instance.closeNotify()
            var bytes: [UInt8] = []
            while let more = instance.readSome() { bytes += more }
            received.set(bytes)
        }.start()
        let clientFD = try bed.connectClient()
        BlockingSocket.writeAll(clientFD, [0x01])
        Thread { replyRead.set(BlockingSocket.readToEnd(clientFD)) }.start()
        XCTAssertTrue(bed.run { replyRead.get != nil })

        // The loop is not running: the upload and the FIN queue up behind a full hang-up.
        Thread {
            BlockingSocket.writeAll(clientFD, upload)
            close(clientFD)
            clientDone.set(true)
        }.start()
        while clientDone.get == nil { usleep(1000) }
        usleep(20_000)
        bed.run { received.get != nil && bed.server.openTunnels == 0 }

        XCTAssertEqual(replyRead.get.map { String(decoding: $0, as: UTF8.self) }, "bye")
        let bytes = try XCTUnwrap(received.get)
        XCTAssertEqual(bytes.count, upload.count + 1)
        XCTAssertEqual(SHA256Hasher.hash(Array(bytes.dropFirst())), SHA256Hasher.hash(upload))
        XCTAssertEqual(bed.server.openTunnels, 0)
    }

    /// The instance sends 100 KiB and closes TCP without close_notify (harmless under
    /// PostgreSQL framing): the client gets all of it then EOF, and nothing is logged as an
    /// error.
    func testInstanceClosingWithoutCloseNotifyDeliversEverything() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let reply = randomBytes(100 << 10)
        let downloaded = Outcome<[UInt8]>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return }
            _ = instance.readSome()
            instance.write(reply)
            close(instance.fd)
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return downloaded.set([]) }
            BlockingSocket.writeAll(fd, [0x01])
            let bytes = BlockingSocket.readToEnd(fd)
            close(fd)
            downloaded.set(bytes)
        }.start()
        bed.run { downloaded.get != nil && bed.server.openTunnels == 0 }

        XCTAssertEqual(SHA256Hasher.hash(try XCTUnwrap(downloaded.get)), SHA256Hasher.hash(reply))
        XCTAssertEqual(bed.server.openTunnels, 0)
        XCTAssertEqual(bed.errorLines, [], "a close without close_notify is not an error")
        XCTAssertFalse(bed.log.joined().contains("unclean"), bed.log.joined())
        XCTAssertTrue(bed.log.joined().contains("ended by instance"), bed.log.joined())
    }

    /// An RST from the instance mid-stream closes the client within 100 ms and is logged as
    /// the instance's reset.
    func testInstanceResetClosesClientQuicklyAndIsBlamedOnTheInstance() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let resetAt = Outcome<Double>()
        let clientSawEnd = Outcome<Double>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return }
            _ = instance.readSome()
            instance.write(Array(repeating: 0x42, count: 4096))
            usleep(50_000)
            resetAt.set(SocketTricks.nowMilliseconds())
            SocketTricks.reset(instance.fd)
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return }
            BlockingSocket.writeAll(fd, [0x01])
            SocketTricks.setReadTimeout(fd, seconds: 5)
            _ = BlockingSocket.readToEnd(fd)
            clientSawEnd.set(SocketTricks.nowMilliseconds())
            close(fd)
        }.start()
        bed.run { clientSawEnd.get != nil && bed.server.openTunnels == 0 }

        let elapsed = try XCTUnwrap(clientSawEnd.get) - (try XCTUnwrap(resetAt.get))
        XCTAssertLessThan(elapsed, 100, "client closed \(elapsed) ms after the instance's RST")
        let errors = bed.errorLines.joined()
        XCTAssertTrue(errors.contains("error reading from instance: connection reset by peer"), errors)
        XCTAssertEqual(bed.errorLines.count, 1, "one line per tunnel")
    }

    /// An RST from the client mid-stream closes the instance's side within 100 ms and is
    /// attributed to the client (not logged as an error).
    func testClientResetClosesInstanceQuicklyAndIsBlamedOnTheClient() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let resetAt = Outcome<Double>()
        let instanceSawEnd = Outcome<Double>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return }
            defer { close(instance.fd) }
            while instance.readSome() != nil {}
            instanceSawEnd.set(SocketTricks.nowMilliseconds())
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return }
            BlockingSocket.writeAll(fd, Array(repeating: 0x43, count: 256 << 10))
            usleep(50_000)
            resetAt.set(SocketTricks.nowMilliseconds())
            SocketTricks.reset(fd)
        }.start()
        bed.run { instanceSawEnd.get != nil && bed.server.openTunnels == 0 }

        let elapsed = try XCTUnwrap(instanceSawEnd.get) - (try XCTUnwrap(resetAt.get))
        XCTAssertLessThan(elapsed, 100, "instance side closed \(elapsed) ms after the client's RST")
        XCTAssertEqual(bed.errorLines, [])
        let log = bed.log.joined()
        XCTAssertTrue(log.contains("ended by client") && log.contains("connection reset by peer"), log)
    }

    /// A client that closes normally mid-session: the instance sees close_notify within
    /// 100 ms, and the tunnel is not logged as an error.
    func testClientCloseReachesTheInstanceQuickly() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let closedAt = Outcome<Double>()
        let instanceSawEnd = Outcome<Double>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return }
            defer { close(instance.fd) }
            while instance.readSome() != nil {}
            instanceSawEnd.set(SocketTricks.nowMilliseconds())
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return }
            BlockingSocket.writeAll(fd, Array(repeating: 0x44, count: 32 << 10))
            usleep(50_000)
            closedAt.set(SocketTricks.nowMilliseconds())
            close(fd)
        }.start()
        bed.run { instanceSawEnd.get != nil && bed.server.openTunnels == 0 }

        let elapsed = try XCTUnwrap(instanceSawEnd.get) - (try XCTUnwrap(closedAt.get))
        XCTAssertLessThan(elapsed, 100, "instance saw the end \(elapsed) ms after the client's close")
        XCTAssertEqual(bed.errorLines, [])
    }

    /// The client half-closes; the instance reads to close_notify and then never answers nor
    /// closes. The idle bound closes the tunnel, so no socket stays in CLOSE_WAIT.
    func testInstanceThatNeverAnswersCloseNotifyIsClosedByTheIdleBound() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP) {
            $0.timeouts.halfCloseIdle = .milliseconds(300)
        }
        let payload = randomBytes(1 << 20)
        let received = Outcome<[UInt8]>()
        let instanceSawClose = Outcome<Bool>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return received.set([]) }
            defer { close(instance.fd) }
            var bytes: [UInt8] = []
            while let more = instance.readSome() { bytes += more }
            received.set(bytes)
            // Silent from here on; wait for the proxy to close TCP.
            var byte: UInt8 = 0
            SocketTricks.setReadTimeout(instance.fd, seconds: 5)
            instanceSawClose.set(recv(instance.fd, &byte, 1, 0) == 0)
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return }
            BlockingSocket.writeAll(fd, payload)
            shutdown(fd, Int32(SHUT_WR))
            _ = BlockingSocket.readToEnd(fd)
            close(fd)
        }.start()
        let start = Date()
        bed.run { instanceSawClose.get != nil && bed.server.openTunnels == 0 }

        XCTAssertEqual(SHA256Hasher.hash(try XCTUnwrap(received.get)), SHA256Hasher.hash(payload))
        XCTAssertEqual(instanceSawClose.get, true, "the proxy closed its instance socket")
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        XCTAssertEqual(bed.server.openTunnels, 0)
        XCTAssertTrue(bed.log.joined().contains("the instance sent nothing for 300ms"), bed.log.joined())
    }

    /// A client that stops reading while the instance sends as fast as it can: the proxy
    /// stops reading the instance (TCP pushes back), so its memory stays bounded.
    func testClientThatStopsReadingKeepsProxyMemoryBounded() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let sent = Outcome<Int>()
        let chunk = randomBytes(256 << 10)
        let total = 64 << 20
        let downloaded = Outcome<Int>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return }
            defer { close(instance.fd) }
            _ = instance.readSome()
            var written = 0
            // Blocking TLS writes: the thread stalls once every buffer on the way is full.
            while written < total {
                instance.write(chunk)
                written += chunk.count
                sent.set(written)
            }
            instance.closeNotify()
        }.start()
        let clientFD = try bed.connectClient()
        defer { close(clientFD) }
        BlockingSocket.writeAll(clientFD, [0x01])
        bed.run(for: 2) { (sent.get ?? 0) > (2 << 20) }
        let before = SocketTricks.residentKiB()
        var last = -1
        // Run until the instance's progress stops (every buffer full), at most 3 s.
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            bed.run(for: 0.2) { false }
            let now = sent.get ?? 0
            if now == last { break }
            last = now
        }
        let growthKiB = SocketTricks.residentKiB() - before
        let stalledAt = sent.get ?? 0
        XCTAssertLessThan(stalledAt, total, "the instance was pushed back")
        // Sanitizer runtimes keep freed memory in quarantine and add shadow pages, so RSS
        // grows several times more there; the bound must still stay well under the 64 MiB sent.
        let sanitized = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil
            || dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil
        let limitKiB = sanitized ? 40 * 1024 : 8 * 1024
        XCTAssertLessThan(growthKiB, limitKiB, "RSS grew \(growthKiB) KiB while the client did not read")

        // Reading again resumes the stream: every byte arrives, then EOF.
        Thread {
            var count = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let got = buffer.withUnsafeMutableBytes { recv(clientFD, $0.baseAddress, $0.count, 0) }
                guard got > 0 else { break }
                count += got
            }
            downloaded.set(count)
        }.start()
        bed.run(for: 30) { downloaded.get != nil && bed.server.openTunnels == 0 }
        XCTAssertEqual(downloaded.get, total)
    }

    /// Nothing listens on the instance's port: the client is closed at once and the error
    /// names the address, the OS error and what to check.
    func testRefusedInstanceErrorNamesAddressErrorAndHint() throws {
        let (probe, freePort) = try BlockingSocket.listen(ip: instanceIP)
        close(probe)
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP, instancePort: freePort)
        let closedAfter = Outcome<Double>()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return }
            let start = SocketTricks.nowMilliseconds()
            BlockingSocket.writeAll(fd, [0x01])
            _ = BlockingSocket.readToEnd(fd)
            closedAfter.set(SocketTricks.nowMilliseconds() - start)
            close(fd)
        }.start()
        bed.run { closedAfter.get != nil && bed.server.openTunnels == 0 }

        XCTAssertLessThan(try XCTUnwrap(closedAfter.get), 100)
        let errors = bed.errorLines.joined()
        XCTAssertTrue(errors.contains("[p.r.c.i]"), errors)
        XCTAssertTrue(errors.contains("\(instanceIP):\(freePort)"), errors)
        XCTAssertTrue(errors.contains("connection refused"), errors)
        XCTAssertTrue(errors.contains("instance's IP address on TCP port \(freePort)"), errors)
    }
}
