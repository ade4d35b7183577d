import Foundation
import XCTest

/// The opt-in backend checks against the emulator: `/startup` with `--with-backend-check` and
/// `--run-connection-test`, with the instance reachable and unreachable.
final class LifecycleBackendTests: XCTestCase {
    static let instance = "projects/it-project/locations/us-central1/clusters/life/instances/probe"
    /// This suite's own loopback address for the instance endpoint on port 5433.
    static let instanceAddress = "127.0.0.171"

    private var dir: URL!
    private var emulator: EmulatorProcess!

    override func setUpWithError() throws {
        dir = try TestBed.temporaryDirectory("lifecycle-backend")
        emulator = try EmulatorProcess(instances: ["\(Self.instance)=\(Self.instanceAddress)"], postgresPort: nil,
                                       in: dir)
    }

    override func tearDown() {
        emulator?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    private func proxy(_ flags: [String], name: String, instanceDown: Bool) throws -> ChildProcess {
        // A closed port stands in for an instance that is down.
        let environment = instanceDown ? ["ALLOYDB_PROXY_TEST_INSTANCE_PORT": String(try TestBed.freePort())] : [:]
        return try Lifecycle.start(
            ["--port", "0", "--alloydbadmin-api-endpoint", emulator.apiEndpoint,
             "--credentials-file", emulator.serviceAccountFile] + flags + [Self.instance],
            environment: environment, name: name, in: dir, token: false)
    }

    func testStartupChecksTheBackendOnlyWhenAsked() throws {
        let ports = try (0..<3).map { _ in try TestBed.freePort() }
        let down = try proxy(["--health-check", "--with-backend-check", "--http-port", String(ports[0])],
                             name: "down", instanceDown: true)
        let up = try proxy(["--health-check", "--with-backend-check", "--http-port", String(ports[1])],
                           name: "up", instanceDown: false)
        let plain = try proxy(["--health-check", "--http-port", String(ports[2])], name: "plain", instanceDown: true)
        for child in [down, up, plain] {
            XCTAssertTrue(Lifecycle.waitForLog(child, "Serving health checks"), child.output)
        }

        XCTAssertTrue(TestBed.waitUntil(timeout: 10) {
            Lifecycle.http("GET", port: ports[1], path: "/startup")?.status == 200
        }, up.output)

        let asked = Date()
        let failing = Lifecycle.http("GET", port: ports[0], path: "/startup")
        XCTAssertLessThan(Date().timeIntervalSince(asked), 2.5, "a down instance must not stall the probe")
        XCTAssertEqual(failing?.status, 503, down.output)
        XCTAssertTrue(failing?.body.contains("[\("it-project.us-central1.life.probe")] dial tcp") == true,
                      failing?.body ?? "no answer")
        XCTAssertEqual(Lifecycle.http("GET", port: ports[0], path: "/readiness")?.status, 200,
                       "readiness never depends on the instance")

        XCTAssertEqual(Lifecycle.http("GET", port: ports[2], path: "/startup")?.status, 200,
                       "without --with-backend-check nothing is dialled")
        for child in [down, up, plain] {
            XCTAssertEqual(child.stop(), 143)
        }
    }

    func testConnectionTestGatesServing() throws {
        let failing = try proxy(["--run-connection-test"], name: "test-fail", instanceDown: true)
        let passing = try proxy(["--run-connection-test"], name: "test-pass", instanceDown: false)
        XCTAssertTrue(failing.waitForExit(timeout: 20), failing.output)
        XCTAssertEqual(failing.terminationStatus, 1, failing.output)
        XCTAssertTrue(failing.output.contains("Connection test started"), failing.output)
        XCTAssertTrue(failing.output.contains("Connection test failed"), failing.output)

        XCTAssertTrue(Lifecycle.waitForLog(passing, "Connection test passed"), passing.output)
        XCTAssertTrue(passing.isRunning)
        XCTAssertEqual(passing.stop(), 143)
    }

    func testSuccessfulDialsShowInTheLatencyHistogram() throws {
        let http = try TestBed.freePort()
        let child = try proxy(["--prometheus", "--http-port", String(http)], name: "latency", instanceDown: false)
        let port = try Lifecycle.listeningPort(child)
        let client = try XCTUnwrap(Lifecycle.connect(port: port))
        defer { close(client) }
        // A PostgreSQL SSLRequest starts the dial; the emulator completes TLS and the exchange.
        let request: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
        _ = request.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var metrics = ""
        XCTAssertTrue(TestBed.waitUntil(timeout: 15) {
            metrics = Lifecycle.http("GET", port: http, path: "/metrics")?.body ?? ""
            return metrics.contains("alloydbconn_dial_latency_count 1\n")
        }, metrics + child.output + emulator.child.output)
        XCTAssertTrue(metrics.contains("alloydbconn_dial_latency_bucket{le=\"+Inf\"} 1\n"), metrics)
        XCTAssertTrue(metrics.contains("alloydbproxy_tunnels_established_total 1\n"), metrics)
        XCTAssertTrue(metrics.contains("alloydbconn_refresh_success_count{alloydb_instance=\"\(Self.instance)\"} 1\n"),
                      metrics)
        XCTAssertTrue(metrics.contains("alloydbproxy_certificate_expiry_timestamp_seconds{alloydb_instance="), metrics)
        XCTAssertEqual(child.stop(), 143)
    }
}
