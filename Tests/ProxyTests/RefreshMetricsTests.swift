import Connector
import Foundation
import Locking
import XCTest

@testable import Proxy

/// Refresh outcomes from the connector's event hook, as `/metrics` shows them.
final class RefreshMetricsTests: XCTestCase {
    private let first = "projects/p/locations/r/clusters/c/instances/a"
    private let second = "projects/p/locations/r/clusters/c/instances/b"

    private func published(_ status: ProxyStatus) -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.instances = [InstanceFigures(uri: first), InstanceFigures(uri: second)]
        status.publish(snapshot)
        return status.snapshot
    }

    func testEventsAreCountedPerInstanceAndCause() throws {
        let status = ProxyStatus(maxConnections: 0, instances: [first, second, first])
        let a = try InstanceURI(first)
        let b = try InstanceURI(second)
        let stranger = try InstanceURI("projects/p/locations/r/clusters/c/instances/other")
        let unavailable = ConnectorError(.refresh, "HTTP 503 UNAVAILABLE", httpStatus: 503, apiStatus: "UNAVAILABLE")
        let counters = status.refreshCounters
        counters.record(.refreshSucceeded(instance: a, certificateExpiry: Date()))
        counters.record(.refreshSucceeded(instance: a, certificateExpiry: Date()))
        counters.record(.refreshFailed(instance: a, error: unavailable, certificateValid: true))
        counters.record(.refreshFailed(instance: a, error: unavailable, certificateValid: false))
        counters.record(.refreshFailed(instance: b, error: ConnectorError(.token, "invalid_grant", httpStatus: 400),
                                       certificateValid: false))
        counters.record(.refreshSucceeded(instance: stranger, certificateExpiry: Date()))
        XCTAssertEqual(counters.instances, [first, second], "a repeated instance has one row")

        let text = PrometheusText.render(published(status), namespace: "", openDescriptors: nil)
        let samples = try PrometheusFormat.validate(text)
        XCTAssertEqual(samples["alloydbconn_refresh_success_count{alloydb_instance=\"\(first)\"}"], 2)
        XCTAssertEqual(samples["alloydbconn_refresh_success_count{alloydb_instance=\"\(second)\"}"], 0)
        XCTAssertEqual(samples["alloydbconn_refresh_failure_count{alloydb_instance=\"\(first)\","
                               + "alloydb_error_code=\"UNAVAILABLE\"}"], 2)
        XCTAssertEqual(samples["alloydbconn_refresh_failure_count{alloydb_instance=\"\(second)\","
                               + "alloydb_error_code=\"TOKEN_ERROR\"}"], 1)
        let failureSamples = samples.keys.filter { $0.hasPrefix("alloydbconn_refresh_failure_count{") }
        XCTAssertEqual(failureSamples.count, 2, "causes never seen are not shown: \(failureSamples)")
        XCTAssertFalse(text.contains("instances/other"), "events of instances not served are dropped")
    }

    func testCountersAreSafeUnderConcurrentWritersAndReaders() throws {
        let status = ProxyStatus(maxConnections: 0, instances: [first])
        let a = try InstanceURI(first)
        let error = ConnectorError(.refresh, "could not connect")
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for _ in 0..<1_000 {
                if worker == 3 {
                    _ = status.snapshot
                } else {
                    status.refreshCounters.record(.refreshSucceeded(instance: a, certificateExpiry: Date()))
                    status.refreshCounters.record(.refreshFailed(instance: a, error: error, certificateValid: true))
                }
            }
        }
        XCTAssertEqual(status.refreshCounters.successes(of: first), 3_000)
        XCTAssertEqual(status.refreshCounters.failures(of: first), ["TRANSPORT_ERROR": 3_000])
    }

    func testConnectorWarningsAndErrorsReachTheLogWithoutDebug() {
        let lines = LineRecorder()
        let logger = ProxyLogger(structured: true, sink: { line, isError in
            lines.entries.withLock { $0.append((line, isError)) }
        })
        let handler = ProxyMain.connectorLogHandler(logger)
        handler(.debug, "hidden detail")
        handler(.info, "refreshed again")
        handler(.warning, "refresh failed")
        handler(.error, "no valid client certificate")
        let written = lines.entries.withLock { $0 }
        XCTAssertEqual(written.count, 3, "\(written)")
        XCTAssertTrue(written[1].0.contains("\"severity\":\"WARNING\"") && written[1].1, "\(written)")
        XCTAssertTrue(written[2].0.contains("\"severity\":\"ERROR\"") && written[2].1, "\(written)")

        let quiet = LineRecorder()
        let quietHandler = ProxyMain.connectorLogHandler(
            ProxyLogger(quiet: true, sink: { line, isError in quiet.entries.withLock { $0.append((line, isError)) } }))
        quietHandler(.warning, "refresh failed")
        quietHandler(.error, "no valid client certificate")
        XCTAssertEqual(quiet.entries.withLock { $0.count }, 1, "--quiet keeps errors only")
    }
}

/// Log lines written by a `ProxyLogger` sink, with their stderr flag.
private final class LineRecorder: Sendable {
    let entries = Locked<[(String, Bool)]>([])
}
