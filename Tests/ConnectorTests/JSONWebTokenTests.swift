import TLS
import XCTest

@testable import Connector

final class JSONWebTokenTests: XCTestCase {
    func testAssertion_hasExpectedHeaderClaimsAndValidSignature() throws {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let jwt = try JSONWebToken.assertion(
            clientEmail: "sa@p.iam.gserviceaccount.com", keyID: "kid-1", audience: "https://oauth2.example/token",
            scopes: [OAuthScope.cloudPlatform, OAuthScope.alloyDBLogin], now: now, sign: key.signSHA256)
        let parts = jwt.split(separator: ".")
        XCTAssertEqual(parts.count, 3)
        XCTAssertFalse(jwt.contains("="))

        let header = try JSONDecoder().decode(
            JSONWebToken.Header.self, from: Data(XCTUnwrap(JSONWebToken.decodeBase64URL(parts[0]))))
        XCTAssertEqual(header, JSONWebToken.Header(alg: "RS256", typ: "JWT", kid: "kid-1"))
        let claims = try JSONDecoder().decode(
            JSONWebToken.Claims.self, from: Data(XCTUnwrap(JSONWebToken.decodeBase64URL(parts[1]))))
        XCTAssertEqual(claims.iss, "sa@p.iam.gserviceaccount.com")
        XCTAssertEqual(claims.aud, "https://oauth2.example/token")
        XCTAssertEqual(claims.scope, "\(OAuthScope.cloudPlatform) \(OAuthScope.alloyDBLogin)")
        XCTAssertEqual(claims.iat, 1_700_000_000 - 10)
        XCTAssertEqual(claims.exp, claims.iat + 3600)

        let signature = try XCTUnwrap(JSONWebToken.decodeBase64URL(parts[2]))
        let signed = Array("\(parts[0]).\(parts[1])".utf8)
        XCTAssertTrue(key.publicKey.verifySHA256(signature: signature, data: signed))
        XCTAssertFalse(key.publicKey.verifySHA256(signature: signature, data: signed + [0]))
    }

    func testFormEncoding_escapesReservedCharacters() {
        XCTAssertEqual(
            String(decoding: FormEncoding.encode([("grant_type", "urn:a b"), ("x", "+/=&")]), as: UTF8.self),
            "grant_type=urn%3Aa%20b&x=%2B%2F%3D%26")
    }

    func testCredentialsJSON_unsupportedOrBrokenInputs_areConfigErrors() {
        let inputs = [
            #"{"type":"external_account"}"#, #"{"client_email":"x"}"#, "not json",
            #"{"type":"service_account","client_email":"a@b","private_key":"garbage"}"#,
            #"{"type":"authorized_user","client_id":"c"}"#,
        ]
        for input in inputs {
            XCTAssertThrowsError(try CredentialResolver.parse(Array(input.utf8), origin: "JSON credentials")) {
                XCTAssertEqual(($0 as? ConnectorError)?.code, .config, input)
                XCTAssertFalse("\($0)".contains("garbage"), "secrets must not be echoed")
            }
        }
    }

    func testApplicationDefault_readsEnvironmentFile() throws {
        let path = NSTemporaryDirectory() + "adc-\(UUID().uuidString).json"
        let json = #"{"type":"authorized_user","client_id":"c","client_secret":"s","#
            + #""refresh_token":"r","quota_project_id":"qp"}"#
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try CredentialResolver.resolve(
            ConnectorConfiguration(environment: ["GOOGLE_APPLICATION_CREDENTIALS": path]))
        XCTAssertEqual(source.quotaProject, "qp")
        XCTAssertFalse(source.reusesAPITokenForLogin)
        XCTAssertThrowsError(
            try CredentialResolver.resolve(ConnectorConfiguration(environment: ["HOME": "/nonexistent"])))
    }
}
