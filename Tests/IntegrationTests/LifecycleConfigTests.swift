import Foundation
import XCTest

/// The real binary on loopback: health endpoints and `wait`, metrics after a failed dial,
/// config-file precedence, log formats and Unix socket modes.
final class LifecycleConfigTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try TestBed.temporaryDirectory("lifecycle-config")
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testHealthEndpointsAndTheWaitSubcommand() throws {
        let http = try TestBed.freePort()
        let child = try Lifecycle.start([
            "--port", "0", "--health-check", "--http-port", String(http), "--max-connections", "2",
            Lifecycle.instance,
        ], name: "health", in: dir)
        let waited = try Lifecycle.subcommand(["wait", "--http-port", String(http), "-m", "20s"])
        XCTAssertEqual(waited.status, 0, waited.stderr + child.output)
        XCTAssertEqual(Lifecycle.http("GET", port: http, path: "/startup")?.status, 200)
        XCTAssertEqual(Lifecycle.http("GET", port: http, path: "/liveness")?.status, 200)
        XCTAssertEqual(Lifecycle.http("POST", port: http, path: "/readiness")?.status, 200)

        let port = try Lifecycle.listeningPort(child)
        let clients = [Lifecycle.connect(port: port), Lifecycle.connect(port: port)].compactMap { $0 }
        defer { clients.forEach { close($0) } }
        XCTAssertEqual(clients.count, 2)
        XCTAssertTrue(TestBed.waitUntil(timeout: 2) {
            Lifecycle.http("GET", port: http, path: "/readiness")?.body == "max connections reached (open = 2, max = 2)"
        }, child.output)
        XCTAssertEqual(Lifecycle.http("GET", port: http, path: "/readiness")?.status, 503)
        XCTAssertEqual(Lifecycle.http("GET", port: http, path: "/liveness")?.status, 200)
        XCTAssertTrue(child.output.contains("[Health Check] max connections reached"), child.output)
        XCTAssertEqual(child.stop(), 143)

        let started = Date()
        let timedOut = try Lifecycle.subcommand(["wait", "--http-port", String(http), "--max=1s"])
        XCTAssertEqual(timedOut.status, 1)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(timedOut.stderr.contains("did not become ready within 1s"), timedOut.stderr)
    }

    func testFailedDialsShowInMetricsAndQuietStructuredLogsKeepOnlyErrors() throws {
        let http = try TestBed.freePort()
        let port = try TestBed.freePort()
        let child = try Lifecycle.start([
            "--port", String(port), "--prometheus", "--prometheus-namespace", "it", "--http-port", String(http),
            "--quiet", "--structured-logs", "--alloydbadmin-api-endpoint", "http://127.0.0.1:1",
            Lifecycle.instance,
        ], name: "metrics", in: dir)
        XCTAssertTrue(TestBed.waitUntil(timeout: 10) {
            Lifecycle.http("GET", port: http, path: "/metrics")?.status == 200
        }, child.output)
        // A PostgreSQL-speaking client triggers a dial, which fails fetching connection info.
        let client = try XCTUnwrap(Lifecycle.connect(port: port))
        let startup: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
        _ = startup.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var metrics = ""
        XCTAssertTrue(TestBed.waitUntil(timeout: 15) {
            metrics = Lifecycle.http("GET", port: http, path: "/metrics")?.body ?? ""
            return metrics.contains("it_alloydbconn_dial_failure_count 1\n")
        }, metrics + child.output)
        close(client)
        XCTAssertTrue(metrics.contains("it_alloydbproxy_tunnels_failed_total{phase=\"connection-info\"} 1\n"), metrics)
        XCTAssertTrue(metrics.contains("# TYPE it_alloydbconn_dial_latency histogram"), metrics)
        XCTAssertEqual(child.stop(), 143)

        let lines = child.output.split(separator: "\n")
        XCTAssertFalse(lines.isEmpty, "the failed dial must be logged")
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual(object?["severity"] as? String, "ERROR", "quiet mode: \(line)")
        }
    }

    func testStructuredLogsAreJSONWithSeverity() throws {
        let child = try Lifecycle.start(["--port", "0", "--structured-logs", "--telemetry-project", "p",
                                         Lifecycle.instance], name: "json", in: dir)
        XCTAssertTrue(Lifecycle.waitForLog(child, "ready for new connections"), child.output)
        XCTAssertEqual(child.stop(), 143)
        var severities: Set<String> = []
        for line in child.output.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let severity = try XCTUnwrap(object?["severity"] as? String, String(line))
            severities.insert(severity)
            XCTAssertNotNil(object?["timestamp"] as? String)
        }
        XCTAssertEqual(severities, ["INFO", "WARNING"], child.output)

        let bad = try Lifecycle.start(["--structured-logs", "--bogus"], name: "json-bad", in: dir)
        XCTAssertTrue(bad.waitForExit(timeout: 10))
        XCTAssertEqual(bad.terminationStatus, 1)
        let object = try JSONSerialization.jsonObject(with: Data(bad.output.utf8)) as? [String: Any]
        XCTAssertEqual(object?["severity"] as? String, "ERROR", bad.output)
    }

    func testConfigFilePrecedenceOnTheBinary() throws {
        let ports = try (0..<4).map { _ in try TestBed.freePort() }
        let toml = dir.appendingPathComponent("cfg.toml")
        try Data("port = \(ports[0])\ninstance-uri = \"\(Lifecycle.instance)\"\nunknown-key = 1\n".utf8).write(to: toml)
        try Data("port: \(ports[3])\ninstance-uri: \(Lifecycle.instance)\n".utf8)
            .write(to: dir.appendingPathComponent("cfg.yaml"))
        let cases: [(String, [String], [String: String], Int)] = [
            ("file", [], [:], ports[0]),
            ("env", [], ["ALLOYDB_PROXY_PORT": String(ports[1])], ports[1]),
            ("flag", ["--port", String(ports[2])], ["ALLOYDB_PROXY_PORT": String(ports[1])], ports[2]),
        ]
        let children = try cases.map { name, flags, env, _ in
            try Lifecycle.start(["--config-file", toml.path] + flags, environment: env, name: name, in: dir)
        }
        for (child, expected) in zip(children, cases) {
            XCTAssertEqual(try Lifecycle.listeningPort(child), expected.3, "\(expected.0):\n\(child.output)")
            XCTAssertTrue(child.output.contains("ignoring unknown key \"unknown-key\""), child.output)
            XCTAssertEqual(child.stop(), 143)
        }

        let missing = dir.appendingPathComponent("absent.toml").path
        let started = Date()
        let child = try Lifecycle.start(["--config-file", missing], name: "missing", in: dir)
        XCTAssertTrue(child.waitForExit(timeout: 10))
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertEqual(child.terminationStatus, 1)
        XCTAssertTrue(child.output.contains("failed to load configuration from \"\(missing)\""), child.output)
    }

    func testUnixSocketModeDespiteARestrictiveUmask() throws {
        let old = umask(0o077)
        defer { umask(old) }
        let cases: [(String, [String], mode_t)] = [
            ("wide", [], 0o777),
            ("narrow", ["--unix-socket-mode", "0700"], 0o700),
        ]
        for (name, flags, mode) in cases {
            let socketDir = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: socketDir, withIntermediateDirectories: true)
            let child = try Lifecycle.start(["--unix-socket", socketDir.path] + flags + [Lifecycle.instance],
                                            name: "unix-\(name)", in: dir)
            XCTAssertTrue(Lifecycle.waitForLog(child, "ready for new connections"), child.output)
            let path = socketDir.path + "/lifecycle.r.c.i/.s.PGSQL.5432"
            var info = stat()
            XCTAssertEqual(stat(path, &info), 0, "\(path): \(child.output)")
            XCTAssertEqual(info.st_mode & 0o777, mode, name)
            var dirInfo = stat()
            XCTAssertEqual(stat(socketDir.path + "/lifecycle.r.c.i", &dirInfo), 0)
            // Wide: other users can reach the socket; narrow: nobody else can replace it either.
            XCTAssertEqual(dirInfo.st_mode & 0o777, mode, "the instance directory follows the socket mode")
            XCTAssertEqual(child.stop(), 143)
        }
    }
}
