import Foundation
import Locking
import XCTest

/// Refresh outcomes as a user sees them through the built proxy and emulator: `/metrics`
/// counters and the scenario log lines (BR-03, BR-04), with lifetimes scaled down by the
/// emulator's `--cert-lifetime` and the documented test variables.
final class WiringRefreshTests: XCTestCase {
    static let project = "it-wiring"
    static let instance = "projects/it-wiring/locations/us-central1/clusters/wire/instances/echo"
    static let shortName = "it-wiring.us-central1.wire.echo"

    private var dir: URL!
    private var emulator: EmulatorProcess?
    private var proxy: ProxyProcess?

    override func setUpWithError() throws {
        dir = try TestBed.temporaryDirectory("wiring-refresh")
    }

    override func tearDown() {
        if let proxy, (testRun?.totalFailureCount ?? 0) > 0 {
            print("--- proxy output ---\n\(proxy.child.output)")
            print("--- emulator output ---\n\(emulator?.child.output ?? "")")
        }
        _ = proxy?.stop()
        emulator?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Starts the emulator (echo backend at `address`) and the proxy with structured logs.
    private func start(
        address: String, certificateLifetime: String, proxyArguments: [String] = [],
        environment: [String: String]
    ) throws {
        let emulator = try EmulatorProcess(
            instances: ["\(Self.instance)=\(address)"], postgresPort: nil,
            extraArguments: ["--cert-lifetime", certificateLifetime], in: dir)
        self.emulator = emulator
        let proxy = try ProxyProcess(
            arguments: [
                "--structured-logs", "--alloydbadmin-api-endpoint", emulator.apiEndpoint,
                "--credentials-file", emulator.serviceAccountFile,
            ] + proxyArguments + [Self.instance],
            environment: ["HOME": dir.path].merging(environment) { $1 },
            in: dir)
        self.proxy = proxy
        try proxy.waitUntilListening()
    }

    private func echo() throws -> Bool {
        let client = try EchoClient(port: try XCTUnwrap(proxy).port)
        return client.roundTrip("ping \(UUID().uuidString)")
    }

    func testPrometheusCountsRefreshSuccessesAndFailuresByCause() throws {
        let http = try TestBed.freePort()
        try start(
            address: "127.0.0.111", certificateLifetime: "4s",
            proxyArguments: ["--prometheus", "--http-port", String(http)],
            environment: ["ALLOYDB_PROXY_TEST_REFRESH_BUFFER": "2", "ALLOYDB_PROXY_TEST_RATE_INTERVAL": "0.3"])
        let success = "alloydbconn_refresh_success_count{alloydb_instance=\"\(Self.instance)\"}"
        let failure = "alloydbconn_refresh_failure_count{alloydb_instance=\"\(Self.instance)\","
            + "alloydb_error_code=\"UNAVAILABLE\"}"
        XCTAssertTrue(try echo())
        XCTAssertTrue(TestBed.waitUntil(timeout: 5) { Wiring.metric(port: http, success) == 1 },
                      "one success after the first dial")
        XCTAssertNil(Wiring.metric(port: http, failure), "no failure sample before any failure")

        // Both Admin API calls of the next scheduled refresh (at half the 4 s lifetime) fail.
        try Wiring.setFaults(try XCTUnwrap(emulator), #"{"apiError":{"code":503,"status":"UNAVAILABLE","count":2}}"#)
        XCTAssertTrue(TestBed.waitUntil(timeout: 8) { (Wiring.metric(port: http, failure) ?? 0) >= 1 },
                      "the injected failure is counted under its cause")
        let successesAtFailure = Wiring.metric(port: http, success) ?? 0
        XCTAssertTrue(TestBed.waitUntil(timeout: 8) { (Wiring.metric(port: http, success) ?? 0) > successesAtFailure },
                      "the refresh after the failure is counted as a success")
        XCTAssertTrue(try echo(), "connections still work")
    }

    // BR-03: failures while the certificate is valid give one WARN per 30 s naming the instance
    // and the cause; once it has expired, one ERROR "no valid client certificate; last refresh
    // error: ..." and clients are closed quickly; the first connection after recovery works.
    func testTransientFailures_warnOnceWhileValid_errorOnceExpired_recover() throws {
        try start(
            address: "127.0.0.112", certificateLifetime: "6s",
            environment: ["ALLOYDB_PROXY_TEST_REFRESH_BUFFER": "3", "ALLOYDB_PROXY_TEST_RATE_INTERVAL": "0.5"])
        let emulator = try XCTUnwrap(self.emulator)
        let child = try XCTUnwrap(proxy).child
        XCTAssertTrue(try echo())
        let issued = Date()
        try Wiring.setFaults(
            emulator, #"{"apiError":{"code":503,"status":"UNAVAILABLE","message":"backend down","count":1000}}"#)

        // Until shortly before the 6 s expiry, every connection still succeeds.
        while Date().timeIntervalSince(issued) < 4.5 {
            XCTAssertTrue(try echo(), "the still-valid certificate keeps serving")
            usleep(300_000)
        }
        let expired = "no valid client certificate; last refresh error"
        XCTAssertTrue(TestBed.waitUntil(timeout: 6) {
            !Wiring.records(child.output, "ERROR", containing: expired).isEmpty
        }, "an ERROR once the certificate expired")
        XCTAssertGreaterThanOrEqual(emulator.events(named: "api").filter { ($0["status"] as? Int) == 503 }.count, 4,
                                    "the refresh was retried")
        let warnings = Wiring.records(child.output, "WARNING", containing: "refresh failed")
        XCTAssertEqual(warnings.count, 1, "at most one WARN per 30 s: \(warnings.map(\.message))")
        for warning in warnings {
            XCTAssertTrue(warning.message.contains("[\(Self.shortName)]"), warning.message)
            XCTAssertTrue(warning.message.contains("503") && warning.message.contains("UNAVAILABLE"), warning.message)
            XCTAssertTrue(warning.message.contains("keeping the current certificate"), warning.message)
        }
        let errors = Wiring.records(child.output, "ERROR", containing: expired)
        XCTAssertEqual(errors.count, 1, "one ERROR, no client has asked yet: \(errors.map(\.message))")
        XCTAssertTrue(errors.first?.message.contains(Self.shortName) ?? false)

        let refused = try EchoClient(port: try XCTUnwrap(proxy).port)
        let started = Date()
        XCTAssertTrue(refused.send("hello"))
        XCTAssertTrue(refused.waitForClose(timeout: 5), "the client is closed")
        // The scenario asks for 1 s; the slack absorbs a loaded CI machine.
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertTrue(TestBed.waitUntil(timeout: 2) {
            Wiring.records(child.output, "ERROR", containing: "failed to connect to instance").contains {
                $0.message.contains(expired)
            }
        }, "the refused client's line names the cause")

        try Wiring.setFaults(emulator, #"{"apiError":null}"#)
        XCTAssertTrue(TestBed.waitUntil(timeout: 5) { (try? echo()) ?? false }, "recovers without a restart")
        XCTAssertTrue(child.isRunning)
        let refreshErrors = Wiring.records(child.output, "ERROR", containing: expired)
            .filter { $0.message.hasPrefix("[\(Self.shortName)] refresh error:") }
        XCTAssertEqual(refreshErrors.count, 1, "one refresh ERROR per outage, not one per failed attempt")
    }

    // BR-04: certificates shorter than the refresh buffer are refreshed as often as the limiter
    // allows, every connection succeeds, and exactly one WARN explains why.
    func testShortLivedCertificates_oneWarning_limitedCalls_connectionsSucceed() throws {
        try start(address: "127.0.0.113", certificateLifetime: "3s",
                  environment: ["ALLOYDB_PROXY_TEST_RATE_INTERVAL": "0.5"])
        let emulator = try XCTUnwrap(self.emulator)
        let started = Date()
        XCTAssertTrue(try echo())
        let port = try XCTUnwrap(proxy).port
        let results = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 20) { _ in
            let client = try? EchoClient(port: port)
            if client?.roundTrip("concurrent \(UUID().uuidString)") == true { results.withLock { $0 += 1 } }
        }
        XCTAssertEqual(results.withLock { $0 }, 20, "all concurrent connections succeed")
        usleep(3_000_000)
        let elapsed = Date().timeIntervalSince(started)
        let certificates = emulator.events(named: "certificate").count
        XCTAssertGreaterThanOrEqual(certificates, 3, "the scheduler keeps refreshing")
        XCTAssertLessThanOrEqual(Double(certificates), 2 + (elapsed / 0.5).rounded(.up),
                                 "the limiter holds: \(certificates) in \(elapsed) s")
        let child = try XCTUnwrap(proxy).child
        let warnings = Wiring.records(child.output, "WARNING", containing: "shorter than the refresh buffer")
        XCTAssertEqual(warnings.count, 1, "\(warnings.map(\.message))")
        XCTAssertTrue(warnings.first?.message.contains(Self.shortName) ?? false)
    }
}
