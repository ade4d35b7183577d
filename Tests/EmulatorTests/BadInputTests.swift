import Emulator
import Foundation
import XCTest

/// Hostile or broken requests: each gets a clear error in Google's JSON envelope with the
/// fitting status, and the emulator keeps serving afterwards.
final class BadInputTests: XCTestCase {
    nonisolated(unsafe) private static var shared: EmulatorFixture?  // XCTest runs serially
    private var fixture: EmulatorFixture { Self.shared! }  // created in class setUp

    override class func setUp() {
        super.setUp()
        shared = try? EmulatorFixture(ip: "127.0.0.149")
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
        super.tearDown()
    }

    override func tearDownWithError() throws {
        // Whatever came before, the next well-formed call works.
        let token = try fixture.accessToken()
        let response = try httpRequest(
            fixture.api, method: "GET", path: "/v1alpha/\(EmulatorFixture.instanceURI)/connectionInfo",
            headers: ["Authorization": "Bearer \(token)"])
        XCTAssertEqual(response.status, 200, "the emulator stopped serving")
    }

    /// Asserts `response` is Google's envelope with `status` and `rpcStatus`.
    private func assertEnvelope(
        _ response: (status: Int, body: [UInt8]), _ status: Int, _ rpcStatus: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(response.status, status, file: file, line: line)
        let json = try? JSONValue.parse(response.body)
        XCTAssertEqual(json?["error"]?["code"]?.numberValue, Double(status), file: file, line: line)
        XCTAssertEqual(json?["error"]?["status"]?.stringValue, rpcStatus, file: file, line: line)
        XCTAssertFalse(json?["error"]?["message"]?.stringValue?.isEmpty ?? true, file: file, line: line)
    }

    private func certificateRequest(_ body: String, token: String) throws -> (status: Int, body: [UInt8]) {
        try httpRequest(
            fixture.api, method: "POST",
            path: "/v1alpha/\(EmulatorFixture.clusterName):generateClientCertificate",
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
            body: Array(body.utf8))
    }

    func testMalformedHTTPIsRefused() throws {
        let host = fixture.api.dropFirst("http://".count).split(separator: ":")
        let socket = try BlockingSocket(host: String(host[0]), port: UInt16(host[1])!)
        try socket.send(Array("NOT-HTTP \u{01}\u{02}\r\nHost\r\n\r\n".utf8))
        let reply = String(decoding: try socket.receive(), as: UTF8.self)
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 400"), reply)
    }

    func testMalformedJSONIsInvalidArgument() throws {
        let token = try fixture.accessToken()
        for body in [#"{"publicKey": "#, "[1,]", #"{"publicKey":"x","useMetadataExchange":1}"#] {
            assertEnvelope(try certificateRequest(body, token: token), 400, "INVALID_ARGUMENT")
        }
    }

    func testMalformedPEMIsInvalidArgument() throws {
        let token = try fixture.accessToken()
        let pem = "-----BEGIN PUBLIC KEY-----\\nAAAAnotakey\\n-----END PUBLIC KEY-----\\n"
        let response = try certificateRequest(#"{"publicKey":"\#(pem)"}"#, token: token)
        assertEnvelope(response, 400, "INVALID_ARGUMENT")
        XCTAssertTrue(String(decoding: response.body, as: UTF8.self).contains("publicKey"))
    }

    func testOversizedBodyIsPayloadTooLarge() throws {
        let response = try httpRequest(
            fixture.api, method: "POST", path: "/emulator/faults",
            body: [UInt8](repeating: 0x20, count: (1 << 20) + 1))
        XCTAssertEqual(response.status, 413)
        let json = try JSONValue.parse(response.body)
        XCTAssertEqual(json["error"]?["code"]?.numberValue, 413)
    }

    func testWrongTokensAreUnauthenticatedOrDenied() throws {
        let path = "/v1alpha/\(EmulatorFixture.instanceURI)/connectionInfo"
        for header in ["Bearer ya29.forged", "Basic dXNlcjpwYXNz", "Bearer "] {
            let response = try httpRequest(fixture.api, method: "GET", path: path, headers: ["Authorization": header])
            assertEnvelope(response, 401, "UNAUTHENTICATED")
        }
        let loginOnly = try fixture.accessToken(scope: alloyDBLoginScope)
        let denied = try httpRequest(
            fixture.api, method: "GET", path: path, headers: ["Authorization": "Bearer \(loginOnly)"])
        assertEnvelope(denied, 403, "PERMISSION_DENIED")
    }

    func testUnknownResourcesAreNotFound() throws {
        let token = try fixture.accessToken()
        assertEnvelope(try httpRequest(fixture.api, method: "GET", path: "/nowhere"), 404, "NOT_FOUND")
        let unknown = try httpRequest(
            fixture.api, method: "GET",
            path: "/v1alpha/projects/p/locations/r/clusters/c/instances/none/connectionInfo",
            headers: ["Authorization": "Bearer \(token)"])
        assertEnvelope(unknown, 404, "NOT_FOUND")
    }

    func testInjectedOverloadAndOutagesUseTheEnvelope() throws {
        let token = try fixture.accessToken()
        let path = "/v1alpha/\(EmulatorFixture.instanceURI)/connectionInfo"
        for (code, status) in [(429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (503, "UNAVAILABLE")] {
            try fixture.setFaults(#"{"apiError":{"code":\#(code)}}"#)
            let response = try httpRequest(
                fixture.api, method: "GET", path: path, headers: ["Authorization": "Bearer \(token)"])
            assertEnvelope(response, code, status)
        }
    }
}
