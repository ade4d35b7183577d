import Foundation
import TLS
import XCTest

@testable import Connector

final class AdminAPIClientTests: XCTestCase {
    private func fetch(
        server: LoopbackHTTPServer,
        options: HTTPOptions = HTTPOptions(connectTimeout: 2, totalTimeout: 5)
    ) throws -> Result<AdminAPIResult, ConnectorError> {
        let engine = try HTTPEngine(options: options)
        let client = AdminAPIClient(baseURL: server.baseURL, userAgent: "ua-test extra", quotaProject: "quota-p")
        let key = try PrivateKey.generateECP256()
        var outcome: Result<AdminAPIResult, ConnectorError>?
        client.fetch(
            instance: Fixture.instance, token: "tok-1", publicKeyPEM: key.publicKey.pem(.pkcs1), engine: engine
        ) { outcome = $0 }
        engine.runUntilIdle()
        return try XCTUnwrap(outcome)
    }

    func testSuccess_sendsBothCallsWithHeaders_andParsesAnswers() throws {
        let info = #"{"ipAddress":"10.0.0.5","publicIpAddress":"34.1.2.3","#
            + #""psc_dns_name":"x.psc.goog.","extra":{"a":1}}"#
        let api = try FakeAdminAPI(connectionInfo: info)
        defer { api.stop() }
        let result = try fetch(server: api.server).get()
        XCTAssertEqual(result.connectionInfo.ipAddress, "10.0.0.5")
        XCTAssertEqual(result.connectionInfo.publicIpAddress, "34.1.2.3")
        XCTAssertEqual(result.connectionInfo.pscDnsName, "x.psc.goog.")
        XCTAssertEqual(result.certificate.pemCertificateChain.count, 2)

        let requests = api.server.requests
        XCTAssertEqual(requests.count, 2)
        let get = try XCTUnwrap(requests.first { $0.method == "GET" })
        XCTAssertEqual(get.path, "/v1alpha/projects/p/locations/r/clusters/c/instances/i/connectionInfo")
        let post = try XCTUnwrap(requests.first { $0.method == "POST" })
        XCTAssertEqual(post.path, "/v1alpha/projects/p/locations/r/clusters/c:generateClientCertificate")
        for request in requests {
            XCTAssertEqual(request.headers["authorization"], "Bearer tok-1")
            XCTAssertEqual(request.headers["user-agent"], "ua-test extra")
            XCTAssertEqual(request.headers["content-type"], "application/json")
            XCTAssertEqual(request.headers["x-goog-user-project"], "quota-p")
        }
        let body = try XCTUnwrap(post.bodyJSON)
        XCTAssertEqual(body["parent"] as? String, "projects/p/locations/r/clusters/c")
        XCTAssertEqual(body["certDuration"] as? String, "3600s")
        XCTAssertEqual(body["useMetadataExchange"] as? Bool, true)
        XCTAssertTrue((body["publicKey"] as? String)?.hasPrefix("-----BEGIN") == true)
    }

    func testErrorEnvelopes_nameInstanceStatusAndMessage() throws {
        let cases = [(403, "PERMISSION_DENIED", "caller lacks alloydb.clusters.generateClientCertificate", true),
                     (404, "NOT_FOUND", "instance not found", true),
                     (503, "UNAVAILABLE", "try again", false)]
        for (status, name, message, terminal) in cases {
            let server = try LoopbackHTTPServer { _ in
                .init(status: status, body: Fixture.envelope(status, name, message))
            }
            defer { server.stop() }
            guard case .failure(let error) = try fetch(server: server) else { return XCTFail("\(status) succeeded") }
            XCTAssertEqual(error.httpStatus, status)
            XCTAssertEqual(error.apiStatus, name)
            XCTAssertEqual(error.isTerminal, terminal)
            let text = error.description
            XCTAssertTrue(text.contains("[p.r.c.i]") && text.contains("HTTP \(status)"), text)
            XCTAssertTrue(text.contains(name) && text.contains(message), text)
        }
    }

    func testMalformedJSON_isRefreshError() throws {
        let server = try LoopbackHTTPServer { _ in .init(status: 200, body: "{not json") }
        defer { server.stop() }
        guard case .failure(let error) = try fetch(server: server) else { return XCTFail("succeeded") }
        XCTAssertEqual(error.code, .refresh)
        XCTAssertTrue(error.message.contains("malformed response"), error.message)
    }

    func testHungServer_timesOut() throws {
        let server = try LoopbackHTTPServer { _ in nil }
        defer { server.stop() }
        let started = Date()
        let result = try fetch(server: server, options: HTTPOptions(connectTimeout: 1, totalTimeout: 0.3))
        guard case .failure(let error) = result else { return XCTFail("succeeded") }
        XCTAssertTrue(error.message.contains("timed out"), error.message)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testOversizedResponse_failsRatherThanTruncating() throws {
        let server = try LoopbackHTTPServer { _ in .init(status: 200, body: String(repeating: " ", count: 5000)) }
        defer { server.stop() }
        let options = HTTPOptions(connectTimeout: 1, totalTimeout: 5, maximumResponseBytes: 1000)
        guard case .failure(let error) = try fetch(server: server, options: options) else {
            return XCTFail("succeeded")
        }
        XCTAssertTrue(error.message.contains("exceeds 1000 bytes"), error.message)
    }
}
