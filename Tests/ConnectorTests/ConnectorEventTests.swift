import Foundation
import Locking
import XCTest

@testable import Connector

/// The refresh outcome hook and the once-per-outage error line, against the loopback Admin API
/// fake with an injected clock.
final class ConnectorEventTests: XCTestCase {
    private let instance = Fixture.instance

    func testOutcomesReachTheEventHandler_andExpiryLogsOneError() throws {
        let clock = ManualClock()
        let log = LogRecorder()
        let events = Locked<[ConnectorEvent]>([])
        let api = try FakeAdminAPI(certificateLifetime: 120, now: { clock.now })
        defer { api.stop() }
        var configuration = Scenario.configuration(api: api, clock: clock, log: log, buffer: 60, rateInterval: 30)
        configuration.eventHandler = { event in events.withLock { $0.append(event) } }
        let connector = try Connector(configuration: configuration)
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)

        let first = try Scenario.one(connector, handle).get()
        guard case .refreshSucceeded(let uri, let expiry) = events.withLock({ $0.first }) else {
            return XCTFail("no success event: \(events.withLock { $0 })")
        }
        XCTAssertEqual(uri, instance)
        XCTAssertEqual(expiry, first.effectiveExpiration)

        api.setMode(.failing(status: 503, envelope: Fixture.envelope(503, "UNAVAILABLE", "backend down")))
        clock.advance(by: 61)
        connector.wakeForTesting()
        XCTAssertTrue(Scenario.waitUntil { events.withLock { $0.count } >= 2 }, "the scheduled refresh failed")
        guard case .refreshFailed(_, let error, let valid) = events.withLock({ $0[1] }) else {
            return XCTFail("no failure event: \(events.withLock { $0 })")
        }
        XCTAssertEqual(error.errorCode, "UNAVAILABLE")
        XCTAssertTrue(valid, "the certificate still had 59 s left")
        XCTAssertEqual(log.messages(.error), [], "no error while the certificate is valid")

        // Past expiry, every further failure is one more event but only the first is an error.
        for _ in 0..<3 {
            clock.advance(by: 31)
            connector.wakeForTesting()
            _ = Scenario.dial(connector, handle, now: clock.now)
        }
        let failures = events.withLock { $0.filter { if case .refreshFailed = $0 { true } else { false } } }
        XCTAssertGreaterThanOrEqual(failures.count, 3, "\(failures)")
        let errors = log.messages(.error)
        XCTAssertEqual(errors.count, 1, "\(errors)")
        let line = errors.first ?? ""
        XCTAssertTrue(line.hasPrefix("[p.r.c.i] refresh error: no valid client certificate; last refresh error:"), line)
        XCTAssertTrue(line.contains("HTTP 503 UNAVAILABLE"), line)
        XCTAssertFalse(log.all.contains { $0.contains("static-token") }, "tokens never reach the log")

        api.setMode(.healthy)
        clock.advance(by: 31)
        connector.wakeForTesting()
        XCTAssertTrue(Scenario.waitUntil { handle.current.map { $0.isValid(at: clock.now) } ?? false })
        guard case .refreshSucceeded = events.withLock({ $0.last }) else {
            return XCTFail("the recovery is reported: \(events.withLock { $0 })")
        }
    }

    func testErrorCodesAreBoundedAndNameTheCause() {
        let cases: [(ConnectorError, String)] = [
            (ConnectorError(.refresh, "x", httpStatus: 503, apiStatus: "UNAVAILABLE"), "UNAVAILABLE"),
            (ConnectorError(.refresh, "x", httpStatus: 404, apiStatus: nil), "NOT_FOUND"),
            (ConnectorError(.refresh, "x", httpStatus: 502, apiStatus: "SOMETHING NEW"), "INTERNAL"),
            (ConnectorError(.token, "invalid_grant", httpStatus: 400), "TOKEN_ERROR"),
            (ConnectorError(.refresh, "could not connect"), "TRANSPORT_ERROR"),
            (ConnectorError(.config, "no public IP"), "CONFIG_ERROR"),
            (ConnectorError(.certificate, "bad PEM"), "CERTIFICATE_ERROR"),
            (ConnectorError(.metadataExchange, "x"), "UNKNOWN"),
        ]
        for (error, expected) in cases {
            XCTAssertEqual(error.errorCode, expected, "\(error)")
            XCTAssertTrue(ConnectorError.errorCodes.contains(error.errorCode))
        }
    }
}
