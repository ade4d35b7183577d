import Foundation
import XCTest

/// The real binary on loopback: exit codes, draining, second signals, /quitquitquit and the
/// shutdown subcommand, systemd notifications.
final class LifecycleTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try TestBed.temporaryDirectory("lifecycle")
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testExitCodesForSignalsAndStartupErrors() throws {
        let base = ["--port", "0", Lifecycle.instance]
        let cases: [(name: String, flags: [String], signal: Int32, code: Int32, line: String)] = [
            ("term", [], SIGTERM, 143, "SIGTERM signal received. Shutting down..."),
            ("term-zero", ["--exit-zero-sigterm"], SIGTERM, 0, "SIGTERM signal received. Shutting down..."),
            ("int", [], SIGINT, 130, "SIGINT signal received. Shutting down..."),
        ]
        let children = try cases.map { try Lifecycle.start($0.flags + base, name: $0.name, in: dir) }
        for child in children {
            XCTAssertTrue(Lifecycle.waitForLog(child, "ready for new connections"), child.output)
        }
        for (child, expected) in zip(children, cases) {
            // Clients keep connecting while the signal arrives; the shutdown must stay clean.
            let port = try Lifecycle.listeningPort(child)
            for _ in 0..<20 { if let fd = Lifecycle.connect(port: port) { close(fd) } }
            kill(child.pid, expected.signal)
            for _ in 0..<20 { if let fd = Lifecycle.connect(port: port) { close(fd) } }
        }
        for (child, expected) in zip(children, cases) {
            XCTAssertTrue(child.waitForExit(timeout: 10), "\(expected.name) kept running")
            XCTAssertEqual(child.terminationStatus, expected.code, "\(expected.name):\n\(child.output)")
            XCTAssertTrue(child.output.contains(expected.line), child.output)
            XCTAssertFalse(child.output.lowercased().contains("accept failed"), child.output)
        }

        let bad = try Lifecycle.start(["--port", "notaport", Lifecycle.instance], name: "bad", in: dir)
        XCTAssertTrue(bad.waitForExit(timeout: 10))
        XCTAssertEqual(bad.terminationStatus, 1, bad.output)
    }

    func testDrainKeepsAcceptingThenWaitsForOpenTunnels() throws {
        let http = try TestBed.freePort()
        let child = try Lifecycle.start([
            "--port", "0", "--min-sigterm-delay", "1s", "--max-sigterm-delay", "4s",
            "--health-check", "--http-port", String(http), Lifecycle.instance,
        ], name: "drain", in: dir)
        let port = try Lifecycle.listeningPort(child)
        XCTAssertTrue(TestBed.waitUntil(timeout: 10) {
            Lifecycle.http("GET", port: http, path: "/readiness")?.status == 200
        })
        let first = try XCTUnwrap(Lifecycle.connect(port: port))

        let signalled = Date()
        kill(child.pid, SIGTERM)
        XCTAssertTrue(TestBed.waitUntil(timeout: 0.5) {
            Lifecycle.http("GET", port: http, path: "/readiness")?.body == "proxy has stopped"
        }, "readiness must turn 503 as soon as the drain starts")
        usleep(300_000)
        let second = Lifecycle.connect(port: port)
        XCTAssertNotNil(second, "listeners keep accepting during --min-sigterm-delay")
        XCTAssertTrue(TestBed.waitUntil(timeout: 3) {
            guard let probe = Lifecycle.connect(port: port) else { return true }
            close(probe)
            return false
        }, "listeners close after --min-sigterm-delay")
        XCTAssertGreaterThan(Date().timeIntervalSince(signalled), 0.9)
        XCTAssertTrue(child.isRunning, "open tunnels hold the exit")

        close(first)
        if let second { close(second) }
        let closed = Date()
        XCTAssertTrue(child.waitForExit(timeout: 5), child.output)
        XCTAssertLessThan(
            Date().timeIntervalSince(closed), 1.0 * TestBed.timeScale, "exit follows the last tunnel's close")
        XCTAssertEqual(child.terminationStatus, 143, child.output)
    }

    func testTunnelsStillOpenAfterTheMaximumDelayExitOne() throws {
        let child = try Lifecycle.start(["--port", "0", "--max-sigterm-delay", "1s", Lifecycle.instance],
                                        name: "stuck", in: dir)
        let port = try Lifecycle.listeningPort(child)
        let tunnel = try XCTUnwrap(Lifecycle.connect(port: port))
        defer { close(tunnel) }
        usleep(200_000)
        let signalled = Date()
        kill(child.pid, SIGTERM)
        XCTAssertTrue(child.waitForExit(timeout: 5), child.output)
        XCTAssertGreaterThan(Date().timeIntervalSince(signalled), 0.9)
        XCTAssertEqual(child.terminationStatus, 1, child.output)
        XCTAssertTrue(child.output.contains("1 connection(s) still open after waiting 1s"), child.output)
    }

    func testSecondSignalExitsImmediately() throws {
        let child = try Lifecycle.start(["--port", "0", "--max-sigterm-delay", "60s", Lifecycle.instance],
                                        name: "twice", in: dir)
        let port = try Lifecycle.listeningPort(child)
        let tunnel = try XCTUnwrap(Lifecycle.connect(port: port))
        defer { close(tunnel) }
        usleep(200_000)
        kill(child.pid, SIGINT)
        XCTAssertTrue(Lifecycle.waitForLog(child, "SIGINT signal received"), child.output)
        usleep(500_000)
        XCTAssertTrue(child.isRunning, "the first signal waits for the open tunnel")
        let second = Date()
        kill(child.pid, SIGINT)
        XCTAssertTrue(child.waitForExit(timeout: 5), child.output)
        XCTAssertLessThan(Date().timeIntervalSince(second), 1.0)
        XCTAssertEqual(child.terminationStatus, 130, child.output)
        XCTAssertTrue(child.output.contains("second signal received, exiting immediately"), child.output)
    }

    func testQuitquitquitAndTheShutdownSubcommand() throws {
        let admin = try TestBed.freePort()
        let child = try Lifecycle.start(["--port", "0", "--quitquitquit", "--admin-port", String(admin),
                                         "--structured-logs", Lifecycle.instance], name: "quit", in: dir)
        XCTAssertTrue(Lifecycle.waitForLog(child, "Serving the admin server"), child.output)
        XCTAssertEqual(Lifecycle.http("PUT", port: admin, path: "/quitquitquit")?.status, 400)
        usleep(200_000)
        XCTAssertTrue(child.isRunning, "PUT must not stop the proxy")

        let statuses = Statuses()
        let requested = Date()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            statuses.append(Lifecycle.http("POST", port: admin, path: "/quitquitquit")?.status)
        }
        XCTAssertEqual(statuses.all, [200, 200])
        XCTAssertTrue(child.waitForExit(timeout: 5), child.output)
        XCTAssertLessThan(Date().timeIntervalSince(requested), 1.5)
        XCTAssertEqual(child.terminationStatus, 0, child.output)
        let announcements = child.output.split(separator: "\n").filter { $0.contains("/quitquitquit received") }
        XCTAssertEqual(announcements.count, 1, child.output)
        XCTAssertTrue(announcements.first?.contains("\"severity\":\"INFO\"") == true, child.output)

        let target = try Lifecycle.start(["--port", "0", "--quitquitquit", "--admin-port", String(admin),
                                          Lifecycle.instance], name: "target", in: dir)
        XCTAssertTrue(Lifecycle.waitForLog(target, "Serving the admin server"), target.output)
        let result = try Lifecycle.subcommand(["shutdown", "--admin-port", String(admin)])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(target.waitForExit(timeout: 5), target.output)
        XCTAssertEqual(target.terminationStatus, 0, target.output)

        let nobody = try Lifecycle.subcommand(["shutdown", "--admin-port", String(admin)])
        XCTAssertEqual(nobody.status, 1)
        XCTAssertTrue(nobody.stderr.contains("127.0.0.1:\(admin)"), nobody.stderr)
    }

    func testSystemdIsToldWhenReadyAndWhenStopping() throws {
        let socketPath = dir.appendingPathComponent("notify.sock").path
        let receiver = try NotifySocket(path: socketPath)
        let child = try Lifecycle.start(["--port", "0", Lifecycle.instance],
                                        environment: ["NOTIFY_SOCKET": socketPath], name: "notify", in: dir)
        XCTAssertEqual(receiver.receive(), "READY=1")
        XCTAssertTrue(child.output.contains("ready for new connections"), "READY=1 comes after the listeners")
        kill(child.pid, SIGTERM)
        XCTAssertEqual(receiver.receive(), "STOPPING=1")
        XCTAssertTrue(child.waitForExit(timeout: 5))
        XCTAssertEqual(child.terminationStatus, 143)
    }
}

/// Results gathered from concurrent requests.
private final class Statuses: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var values: [Int?] = []

    func append(_ value: Int?) {
        lock.lock()
        values.append(value)
        lock.unlock()
    }

    var all: [Int?] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

/// A Unix datagram socket standing in for systemd's notify socket.
final class NotifySocket {
    private let fd: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw HarnessError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw HarnessError("bind(\(path)) failed: errno \(errno)") }
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram, or nil after 10 s.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    deinit {
        close(fd)
        unlink(path)
    }
}
