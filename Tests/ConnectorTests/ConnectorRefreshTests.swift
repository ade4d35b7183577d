import Foundation
import Locking
import TLS
import XCTest

@testable import Connector

final class ConnectorRefreshTests: XCTestCase {
    private func makeConnector(_ api: FakeAdminAPI, lazy: Bool = false) throws -> Connector {
        try Connector(configuration: ConnectorConfiguration(
            apiEndpoint: api.server.baseURL + "/", credentials: .token("static-token"), proxyVersion: "9.9.9",
            lazyRefresh: lazy, http: HTTPOptions(connectTimeout: 2, totalTimeout: 5), environment: [:]))
    }

    /// Sends `count` requests from many threads and waits (bounded) for every answer.
    private func request(
        _ connector: Connector, _ handle: InstanceHandle, count: Int = 1, force: Bool = false
    ) -> [Result<InstanceSnapshot, ConnectorError>] {
        let results = Locked<[Result<InstanceSnapshot, ConnectorError>]>([])
        let done = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: count) { _ in
            done.enter()
            connector.requestInfo(for: handle, forceRefresh: force) { result in
                results.withLock { $0.append(result) }
                done.leave()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "requests unanswered")
        return results.withLock { $0 }
    }

    private func waitUntil(_ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(condition(), "condition not reached within 10 s")
    }

    func testConcurrentRequests_shareOneRefresh() throws {
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try makeConnector(api)
        defer { connector.stop() }
        let handle = connector.makeHandle(for: Fixture.instance)
        XCTAssertNil(handle.current)

        let results = request(connector, handle, count: 100)
        XCTAssertEqual(results.count, 100)
        let snapshots = try results.map { try $0.get() }
        XCTAssertTrue(snapshots.allSatisfy { $0 === snapshots[0] })
        XCTAssertEqual(api.callCounts.info, 1)
        XCTAssertEqual(api.callCounts.certificate, 1)

        let snapshot = snapshots[0]
        XCTAssertTrue(handle.current === snapshot)
        XCTAssertEqual(snapshot.dialAddress, "10.0.0.5")
        XCTAssertEqual(snapshot.mdxToken, "static-token")
        XCTAssertGreaterThan(snapshot.expiration.timeIntervalSinceNow, 3000)
        XCTAssertFalse(snapshot.certificateSerial.isEmpty)
        let userAgent = api.server.requests.first?.headers["user-agent"]
        XCTAssertEqual(userAgent, "alloydb-go-connector/1.18.5 alloy-db-auth-proxy/9.9.9")
    }

    func testFailedRefresh_keepsValidSnapshot() throws {
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try makeConnector(api)
        defer { connector.stop() }
        let handle = connector.makeHandle(for: Fixture.instance)
        let first = try XCTUnwrap(request(connector, handle).first).get()

        api.setMode(.failing(status: 503, envelope: Fixture.envelope(503, "UNAVAILABLE", "down")))
        let forced = try XCTUnwrap(request(connector, handle, force: true).first).get()
        XCTAssertTrue(forced === first, "a forced request is answered with the valid snapshot")
        waitUntil { api.server.requests.count >= 4 }
        let after = try XCTUnwrap(request(connector, handle).first).get()
        XCTAssertTrue(after === first)
        XCTAssertTrue(handle.current === first)
    }

    func testSuccessfulRefresh_retiresOldSnapshot() throws {
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try makeConnector(api)
        defer { connector.stop() }
        let retired = Locked<[InstanceSnapshot]>([])
        let handle = connector.makeHandle(for: Fixture.instance) { old in retired.withLock { $0.append(old) } }
        let first = try XCTUnwrap(request(connector, handle).first).get()
        _ = request(connector, handle, force: true)
        waitUntil { retired.withLock { !$0.isEmpty } }
        XCTAssertTrue(retired.withLock { $0.first } === first)
        XCTAssertFalse(handle.current === first)
    }

    func testNoValidSnapshot_surfacesApiError() throws {
        let api = try FakeAdminAPI()
        defer { api.stop() }
        api.setMode(.failing(status: 404, envelope: Fixture.envelope(404, "NOT_FOUND", "no such instance")))
        let connector = try makeConnector(api)
        defer { connector.stop() }
        let handle = connector.makeHandle(for: Fixture.instance)
        guard case .failure(let error) = try XCTUnwrap(request(connector, handle).first) else {
            return XCTFail("succeeded")
        }
        XCTAssertEqual(error.httpStatus, 404)
        XCTAssertTrue(error.description.hasPrefix("[p.r.c.i] refresh error: no valid client certificate"), "\(error)")
        XCTAssertTrue(error.description.contains("no such instance"), "\(error)")
    }

    func testMissingIPType_isConfigError() throws {
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try makeConnector(api, lazy: true)
        defer { connector.stop() }
        let handle = connector.makeHandle(for: Fixture.instance, ipType: .public)
        guard case .failure(let error) = try XCTUnwrap(request(connector, handle).first) else {
            return XCTFail("succeeded")
        }
        XCTAssertEqual(error.code, .config)
        XCTAssertTrue(error.message.contains("instance does not have IP of type \"PUBLIC\""), "\(error)")
    }

    func testStoppedConnector_failsRequestsAtOnce() throws {
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try makeConnector(api)
        connector.stop()
        let handle = connector.makeHandle(for: Fixture.instance)
        guard case .failure(let error) = try XCTUnwrap(request(connector, handle).first) else {
            return XCTFail("succeeded")
        }
        XCTAssertEqual(error.code, .closed)
    }
}
