import Foundation
import Locking
import TLS
import XCTest

@testable import Connector

/// The certificate refresh scenarios (BR-02 to BR-07) at connector level, against the loopback
/// Admin API fake, with an injected clock where durations matter.
final class RefreshScenarioTests: XCTestCase {
    private let instance = Fixture.instance

    // MARK: BR-02 lazy refresh and suspended refresh-ahead

    func testLazyRefresh_callsOnlyOnDemand_andSingleFlightWhenDue() throws {
        let clock = ManualClock()
        let api = try FakeAdminAPI(certificateLifetime: 3600, now: { clock.now })
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(api: api, clock: clock, lazy: true))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)

        clock.advance(by: 10)
        connector.wakeForTesting()
        usleep(100_000)
        XCTAssertEqual(api.callCounts.info + api.callCounts.certificate, 0, "no call before the first connection")

        let first = try Scenario.one(connector, handle).get()
        XCTAssertEqual(api.callCounts.info, 1)
        XCTAssertEqual(api.callCounts.certificate, 1)
        for _ in 0..<20 {
            XCTAssertTrue(try Scenario.one(connector, handle).get() === first)
        }
        XCTAssertEqual(api.callCounts.certificate, 1, "connections inside the lifetime reuse the certificate")

        clock.advance(by: 3600 - RefreshTiming.defaultRefreshBuffer + 1)
        let due = try Scenario.request(connector, handle, count: 50).map { try $0.get() }
        XCTAssertEqual(due.count, 50)
        XCTAssertTrue(due.allSatisfy { $0 === due[0] && $0 !== first })
        XCTAssertEqual(api.callCounts.info, 2, "50 concurrent connections share one refresh")
        XCTAssertEqual(api.callCounts.certificate, 2)

        clock.advance(by: 3 * 3600)
        connector.wakeForTesting()
        usleep(200_000)
        XCTAssertEqual(api.callCounts.certificate, 2, "lazy mode makes no call while idle")
    }

    func testRefreshAhead_afterSuspendPastExpiry_refreshesBeforeDial() throws {
        let clock = ManualClock()
        let api = try FakeAdminAPI(certificateLifetime: 3600, now: { clock.now })
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(api: api, clock: clock))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)
        let first = try Scenario.one(connector, handle).get()

        // The process was stopped across the scheduled refresh and the expiry.
        clock.advance(by: 2 * 3600)
        XCTAssertFalse(first.isValid(at: clock.now))
        let fresh = try Scenario.dial(connector, handle, now: clock.now).get()
        XCTAssertTrue(fresh.isValid(at: clock.now), "the dial gets a certificate valid now")
        XCTAssertEqual(api.callCounts.certificate, 2)
    }

    // MARK: BR-03 transient failures keep a valid certificate

    func testTransientFailure_keepsValidCertificate_warnsRateLimited_andRecovers() throws {
        let clock = ManualClock()
        let log = LogRecorder()
        let api = try FakeAdminAPI(certificateLifetime: 120, now: { clock.now })
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(
            api: api, clock: clock, log: log, buffer: 60, rateInterval: 30))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)
        let first = try Scenario.one(connector, handle).get()
        api.setMode(.failing(status: 503, envelope: Fixture.envelope(503, "UNAVAILABLE", "backend down")))

        for _ in stride(from: 5, through: 115, by: 5) {
            clock.advance(by: 5)
            connector.wakeForTesting()
            usleep(30_000)
            let snapshot = try Scenario.dial(connector, handle, now: clock.now).get()
            XCTAssertTrue(snapshot === first, "the still-valid certificate keeps serving")
        }
        XCTAssertGreaterThanOrEqual(api.server.requests.count, 4, "the refresh was attempted")
        let warnings = log.messages(.warning)
        XCTAssertGreaterThanOrEqual(warnings.count, 1)
        XCTAssertLessThanOrEqual(warnings.count, 2, "at most one warning per 30 s over 55 s: \(warnings)")
        for line in warnings {
            XCTAssertTrue(line.contains("p.r.c.i") && line.contains("503") && line.contains("UNAVAILABLE"), line)
            XCTAssertTrue(line.contains("keeping the current certificate"), line)
        }

        clock.advance(by: 10)
        connector.wakeForTesting()
        let started = Date()
        guard case .failure(let error) = Scenario.dial(connector, handle, now: clock.now) else {
            return XCTFail("an expired certificate must not be used")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "the client is answered within 1 s")
        XCTAssertTrue(error.message.hasPrefix("no valid client certificate; last refresh error:"), "\(error)")
        XCTAssertTrue(error.message.contains("503"), "\(error)")

        api.setMode(.healthy)
        clock.advance(by: 31)
        connector.wakeForTesting()
        XCTAssertTrue(Scenario.waitUntil { handle.current.map { $0.isValid(at: clock.now) } ?? false })
        let recovered = try Scenario.dial(connector, handle, now: clock.now).get()
        XCTAssertTrue(recovered.isValid(at: clock.now))
        XCTAssertTrue(log.messages(.info).contains { $0.contains("refreshed again") })
    }

    // MARK: BR-04 certificates shorter than the buffer

    func testShortLivedCertificates_rateLimited_oneWarning() throws {
        let log = LogRecorder()
        let api = try FakeAdminAPI(certificateLifetime: 2)
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(
            api: api, log: log, buffer: 5, rateInterval: 0.5))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)
        let start = Date()
        _ = try Scenario.one(connector, handle).get()
        usleep(300_000)
        XCTAssertLessThanOrEqual(api.callCounts.certificate, 2, "the burst is two")

        let concurrent = Scenario.request(connector, handle, count: 100)
        XCTAssertEqual(try concurrent.map { try $0.get() }.count, 100, "all concurrent connections succeed")
        usleep(3_000_000)
        let elapsed = Date().timeIntervalSince(start)
        let calls = api.callCounts.certificate
        XCTAssertLessThanOrEqual(Double(calls), 2 + (elapsed / 0.5).rounded(.up), "limited to one per interval")
        XCTAssertGreaterThanOrEqual(calls, 3, "the scheduler keeps refreshing")
        let warnings = log.messages(.warning)
        XCTAssertEqual(warnings.count, 1, "\(warnings)")
        XCTAssertTrue(warnings.first?.contains("shorter than the refresh buffer") ?? false)
    }

    // MARK: BR-05 terminal errors

    private func assertTerminal(status: Int, apiStatus: String, expecting phrase: String) throws {
        let clock = ManualClock()
        let api = try FakeAdminAPI(now: { clock.now })
        defer { api.stop() }
        api.setMode(.failing(status: status, envelope: Fixture.envelope(status, apiStatus, "refused")))
        let connector = try Connector(configuration: Scenario.configuration(api: api, clock: clock))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)
        guard case .failure(let error) = Scenario.one(connector, handle) else { return XCTFail("succeeded") }
        XCTAssertTrue(error.description.contains("p.r.c.i") && error.description.contains(phrase), "\(error)")
        let calls = api.server.requests.count

        for _ in 0..<10 {
            clock.advance(by: 30)
            connector.wakeForTesting()
            usleep(10_000)
        }
        XCTAssertEqual(api.server.requests.count, calls, "no background calls after a terminal error")

        api.setMode(.healthy)
        XCTAssertNoThrow(try Scenario.one(connector, handle).get(), "recovers without restart")
        XCTAssertEqual(api.server.requests.count, calls + 2, "exactly one new call pair")
    }

    func testNotFound_stopsBackgroundRefresh_andRecovers() throws {
        try assertTerminal(status: 404, apiStatus: "NOT_FOUND", expecting: "not found")
    }

    func testPermissionDenied_namesRole_andRecovers() throws {
        try assertTerminal(status: 403, apiStatus: "PERMISSION_DENIED", expecting: "roles/alloydb.client")
    }

    func testMissingPublicIP_recoversWhenAdded() throws {
        let clock = ManualClock()
        let api = try FakeAdminAPI(now: { clock.now })
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(api: api, clock: clock))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance, ipType: .public)
        guard case .failure(let error) = Scenario.one(connector, handle) else { return XCTFail("succeeded") }
        XCTAssertTrue(error.message.contains("does not have IP of type \"PUBLIC\""), "\(error)")
        let calls = api.server.requests.count
        clock.advance(by: 300)
        connector.wakeForTesting()
        usleep(100_000)
        XCTAssertEqual(api.server.requests.count, calls)

        api.setConnectionInfo(#"{"ipAddress":"10.0.0.5","publicIpAddress":"34.1.2.3"}"#)
        XCTAssertEqual(try Scenario.one(connector, handle).get().dialAddress, "34.1.2.3")
    }

    // MARK: BR-06 CA rotation and IP change

    func testHandshakeFailure_forcedRefresh_picksUpNewCAAndAddress() throws {
        let api = try FakeAdminAPI(connectionInfo: #"{"ipAddress":"127.0.0.91"}"#)
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(api: api))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)
        let first = try Scenario.one(connector, handle).get()
        let instanceA = try InstanceTLSPeer(serverCA: api.ca, clientCA: api.ca, ipAddresses: ["127.0.0.91"])
        XCTAssertTrue(try instanceA.handshake(first).succeeded)

        let rotated = try CertificateAuthority.create(commonName: "rotated-server-ca")
        api.setServerCA(rotated)
        api.setConnectionInfo(#"{"ipAddress":"127.0.0.92"}"#)
        let instanceARotated = try InstanceTLSPeer(serverCA: rotated, clientCA: api.ca, ipAddresses: ["127.0.0.91"])
        let instanceB = try InstanceTLSPeer(serverCA: rotated, clientCA: api.ca, ipAddresses: ["127.0.0.92"])
        XCTAssertFalse(try instanceARotated.handshake(first).succeeded, "the old CA no longer verifies")

        // The tunnel forces a refresh after the failed handshake and does not wait for it.
        XCTAssertTrue(try Scenario.one(connector, handle, force: true).get() === first)
        XCTAssertTrue(Scenario.waitUntil(timeout: 2) { handle.current !== first }, "refreshed within 2 s")
        let second = try XCTUnwrap(handle.current)
        XCTAssertEqual(second.dialAddress, "127.0.0.92")
        XCTAssertTrue(try instanceB.handshake(second).succeeded)
        XCTAssertTrue(try instanceA.handshake(first).succeeded, "a tunnel's old snapshot stays usable")
    }

    // MARK: BR-07 server identity

    func testServerIdentity_ipSANMismatchAndForeignCAFail() throws {
        let api = try FakeAdminAPI(connectionInfo: #"{"ipAddress":"127.0.0.93"}"#)
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(api: api))
        defer { connector.stop() }
        let snapshot = try Scenario.one(connector, connector.makeHandle(for: instance)).get()
        let foreign = try CertificateAuthority.create(commonName: "foreign")

        let good = try InstanceTLSPeer(serverCA: api.ca, clientCA: api.ca, ipAddresses: ["127.0.0.93"])
        XCTAssertTrue(try good.handshake(snapshot).succeeded)
        let wrongName = try InstanceTLSPeer(serverCA: api.ca, clientCA: api.ca, ipAddresses: ["127.0.0.94"])
        let mismatch = try wrongName.handshake(snapshot)
        XCTAssertFalse(mismatch.succeeded)
        guard case .failed = mismatch.client else { return XCTFail("the client must refuse: \(mismatch.client)") }
        let foreignCA = try InstanceTLSPeer(serverCA: foreign, clientCA: api.ca, ipAddresses: ["127.0.0.93"])
        guard case .failed = try foreignCA.handshake(snapshot).client else { return XCTFail("foreign CA accepted") }
    }

    func testPSC_trailingDotStripped_resolvedOffTheRefreshThread_SNIWithoutDot() throws {
        let api = try FakeAdminAPI(
            connectionInfo: #"{"ipAddress":"127.0.0.94","pscDnsName":"inst.x.alloydb-psc.goog."}"#)
        defer { api.stop() }
        let lookups = Locked<[String]>([])
        var configuration = Scenario.configuration(api: api)
        configuration.hostLookup = HostLookup { name in
            lookups.withLock { $0.append(name) }
            usleep(700_000)  // A slow DNS server.
            return name == "inst.x.alloydb-psc.goog"
                ? .success("127.0.0.95") : .failure(ConnectorError(.refresh, "no such host \(name)"))
        }
        let connector = try Connector(configuration: configuration)
        defer { connector.stop() }
        let pscHandle = connector.makeHandle(for: instance, ipType: .psc)
        let pscDone = Locked<Date?>(nil)
        connector.requestInfo(for: pscHandle, forceRefresh: false) { _ in pscDone.withLock { $0 = Date() } }
        XCTAssertTrue(Scenario.waitUntil { !lookups.withLock { $0.isEmpty } })
        _ = try Scenario.one(connector, connector.makeHandle(for: instance)).get()
        XCTAssertNil(pscDone.withLock { $0 }, "another instance refreshed while the PSC lookup was still running")
        XCTAssertTrue(Scenario.waitUntil { pscDone.withLock { $0 } != nil })

        let snapshot = try XCTUnwrap(pscHandle.current)
        XCTAssertEqual(snapshot.dialAddress, "inst.x.alloydb-psc.goog")
        XCTAssertEqual(snapshot.pscDNSName, "inst.x.alloydb-psc.goog")
        XCTAssertEqual(snapshot.resolvedIP, "127.0.0.95")
        XCTAssertEqual(lookups.withLock { $0 }, ["inst.x.alloydb-psc.goog"])

        let server = try InstanceTLSPeer(serverCA: api.ca, clientCA: api.ca, dnsNames: ["inst.x.alloydb-psc.goog"])
        let outcome = try server.handshake(snapshot)
        XCTAssertTrue(outcome.succeeded)
        XCTAssertEqual(outcome.serverName, "inst.x.alloydb-psc.goog")
        let other = try InstanceTLSPeer(serverCA: api.ca, clientCA: api.ca, dnsNames: ["other.alloydb-psc.goog"])
        XCTAssertFalse(try other.handshake(snapshot).succeeded)

        api.setConnectionInfo(#"{"pscDnsName":"gone.alloydb-psc.goog."}"#)
        let failing = connector.makeHandle(for: instance, ipType: .psc)
        guard case .failure(let error) = Scenario.one(connector, failing) else { return XCTFail("resolved") }
        XCTAssertTrue(error.message.contains("no such host gone.alloydb-psc.goog"), "\(error)")
    }

    func testIPTypes_resolvedIPIsTheDialAddress() throws {
        let api = try FakeAdminAPI(connectionInfo: #"{"ipAddress":"127.0.0.96","publicIpAddress":"127.0.0.97"}"#)
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(api: api))
        defer { connector.stop() }
        let privateSnapshot = try Scenario.one(connector, connector.makeHandle(for: instance)).get()
        XCTAssertEqual(privateSnapshot.resolvedIP, "127.0.0.96")
        let publicSnapshot = try Scenario.one(connector, connector.makeHandle(for: instance, ipType: .public)).get()
        XCTAssertEqual(publicSnapshot.resolvedIP, "127.0.0.97")
    }
}
