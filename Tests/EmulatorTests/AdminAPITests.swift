import Emulator
import TLS
import XCTest

/// The Admin API and token endpoint over real HTTP on loopback.
final class AdminAPITests: XCTestCase {
    private var fixture: EmulatorFixture!

    override func setUpWithError() throws {
        fixture = try EmulatorFixture(ip: "127.0.0.61")
    }

    override func tearDown() {
        fixture.stop()
    }

    func testSignedJWTIsExchangedForAToken() throws {
        let (status, json) = try fixture.tokenRequest(assertion: try fixture.assertion(scope: cloudPlatformScope))
        XCTAssertEqual(status, 200)
        XCTAssertEqual(json["token_type"]?.stringValue, "Bearer")
        XCTAssertEqual(json["expires_in"]?.numberValue, 3600)
        XCTAssertGreaterThan(json["access_token"]?.stringValue?.count ?? 0, 127)
    }

    func testWronglySignedJWTIsRefused() throws {
        let foreign = try PrivateKey.generateRSA()
        let (status, json) = try fixture.tokenRequest(
            assertion: try fixture.assertion(scope: cloudPlatformScope, key: foreign))
        XCTAssertEqual(status, 400)
        XCTAssertEqual(json["error"]?.stringValue, "invalid_grant")
    }

    func testJWTForAnotherAudienceIsRefused() throws {
        let (status, json) = try fixture.tokenRequest(
            assertion: try fixture.assertion(scope: cloudPlatformScope, audience: "https://elsewhere/token"))
        XCTAssertEqual(status, 400)
        XCTAssertEqual(json["error"]?.stringValue, "invalid_grant")
    }

    func testAPIWithoutTokenIsUnauthenticated() throws {
        let response = try httpRequest(
            fixture.api, method: "GET",
            path: "/v1alpha/\(EmulatorFixture.instanceURI)/connectionInfo")
        XCTAssertEqual(response.status, 401)
        let json = try JSONValue.parse(response.body)
        XCTAssertEqual(json["error"]?["code"]?.numberValue, 401)
        XCTAssertEqual(json["error"]?["status"]?.stringValue, "UNAUTHENTICATED")
    }

    func testTokenWithoutCloudPlatformScopeIsDenied() throws {
        let token = try fixture.accessToken(scope: alloyDBLoginScope)
        let response = try httpRequest(
            fixture.api, method: "GET", path: "/v1/\(EmulatorFixture.instanceURI)/connectionInfo",
            headers: ["Authorization": "Bearer \(token)"])
        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(try JSONValue.parse(response.body)["error"]?["status"]?.stringValue, "PERMISSION_DENIED")
    }

    func testConnectionInfoOfKnownAndUnknownInstances() throws {
        let token = try fixture.accessToken()
        let known = try httpRequest(
            fixture.api, method: "GET",
            path: "/v1beta/\(EmulatorFixture.instanceURI)/connectionInfo?%24alt=json%3Benum-encoding%3Dint",
            headers: ["Authorization": "Bearer \(token)"])
        XCTAssertEqual(known.status, 200)
        XCTAssertEqual(try JSONValue.parse(known.body)["ipAddress"]?.stringValue, "127.0.0.61")

        let unknown = try httpRequest(
            fixture.api, method: "GET",
            path: "/v1alpha/projects/test-project/locations/us-central1/clusters/c1/instances/nope/connectionInfo",
            headers: ["Authorization": "Bearer \(token)"])
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(try JSONValue.parse(unknown.body)["error"]?["status"]?.stringValue, "NOT_FOUND")
    }

    func testClientCertificateForPKCS1AndSPKIKeys() throws {
        let token = try fixture.accessToken()
        let key = try PrivateKey.generateRSA()
        for format in [PublicKeyFormat.pkcs1, .spki] {
            let (status, json) = try fixture.generateClientCertificate(
                publicKeyPEM: key.publicKey.pem(format), token: token)
            XCTAssertEqual(status, 200, "\(format)")
            let chain = try XCTUnwrap(json["pemCertificateChain"]?.arrayValue).map {
                try Certificate(pem: try XCTUnwrap($0.stringValue))
            }
            let root = try Certificate(pem: try XCTUnwrap(json["caCert"]?.stringValue))
            XCTAssertEqual(chain.count, 3)
            XCTAssertEqual(chain[0].publicKey, key.publicKey)
            XCTAssertEqual(chain[1].subjectCommonName, "client.alloydb")
            XCTAssertTrue(chain[0].isIssued(by: chain[1]))
            XCTAssertTrue(chain[1].isIssued(by: root))
            XCTAssertEqual(chain[2], root)
            let lifetime = chain[0].notAfter.timeIntervalSinceNow
            XCTAssertEqual(lifetime, 3600, accuracy: 30)
        }
    }

    func testMalformedJSONIsInvalidArgument() throws {
        let token = try fixture.accessToken()
        let response = try httpRequest(
            fixture.api, method: "POST",
            path: "/v1alpha/\(EmulatorFixture.clusterName):generateClientCertificate",
            headers: ["Authorization": "Bearer \(token)"], body: Array(#"{"publicKey": "#.utf8))
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(try JSONValue.parse(response.body)["error"]?["status"]?.stringValue, "INVALID_ARGUMENT")
    }

    func testOversizedBodyIsRefused() throws {
        let token = try fixture.accessToken()
        let response = try httpRequest(
            fixture.api, method: "POST",
            path: "/v1alpha/\(EmulatorFixture.clusterName):generateClientCertificate",
            headers: ["Authorization": "Bearer \(token)"],
            body: [UInt8](repeating: 0x20, count: (1 << 20) + 1))
        XCTAssertEqual(response.status, 413)
    }

    func testEventsAreLogged() throws {
        _ = try fixture.accessToken()
        _ = try httpRequest(fixture.api, method: "GET", path: "/v1/\(EmulatorFixture.instanceURI)/connectionInfo")
        let lines = try String(contentsOfFile: fixture.directory + "/events.jsonl", encoding: .utf8)
            .split(separator: "\n").map { try JSONValue.parse(Array($0.utf8)) }
        XCTAssertEqual(lines.first?["event"]?.stringValue, "token")
        XCTAssertEqual(lines.first?["grant"]?.stringValue, "jwt-bearer")
        XCTAssertEqual(lines.last?["event"]?.stringValue, "api")
        XCTAssertEqual(lines.last?["status"]?.numberValue, 401)
    }

    private func document(_ name: String) throws -> JSONValue {
        try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/" + name))))
    }

    func testStateFilesArePrivateAndReadinessIsComplete() throws {
        for name in ["service-account.json", "authorized-user.json", "emulator.json"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: fixture.directory + "/" + name)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, name)
        }
        let ready = try document("emulator.json")
        XCTAssertEqual(ready["apiEndpoint"]?.stringValue, fixture.api)
        XCTAssertEqual(ready["instances"]?.arrayValue?.first?["uri"]?.stringValue, EmulatorFixture.instanceURI)
        let account = try document("service-account.json")
        XCTAssertEqual(account["token_uri"]?.stringValue, fixture.api + "/token")
        XCTAssertNoThrow(try PrivateKey(pem: account["private_key"]?.stringValue ?? ""))
    }

    func testRefreshTokenGrantFromAuthorizedUserFile() throws {
        let user = try document("authorized-user.json")
        let form = ["refresh_token", "client_id", "client_secret"].map {
            "\($0)=\(FormCoding.formEncode(user[$0]?.stringValue ?? ""))"
        }.joined(separator: "&")
        let response = try httpRequest(
            fixture.api, method: "POST", path: "/token",
            headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Array(("grant_type=refresh_token&" + form).utf8))
        XCTAssertEqual(response.status, 200)
        XCTAssertNotNil(try JSONValue.parse(response.body)["access_token"]?.stringValue)
    }
}
