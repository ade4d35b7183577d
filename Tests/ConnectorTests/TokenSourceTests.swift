import Foundation
import TLS
import XCTest

@testable import Connector

final class TokenSourceTests: XCTestCase {
    func testServiceAccount_postsJWTGrant_andCacheCoalesces() throws {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let server = try LoopbackHTTPServer { _ in
            .init(status: 200, body: #"{"access_token":"ya29.fresh","expires_in":3599,"token_type":"Bearer"}"#)
        }
        defer { server.stop() }
        let json: [String: String] = [
            "type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key": key.pem(),
            "private_key_id": "kid-7", "token_uri": server.baseURL + "/token",
        ]
        let source = try CredentialResolver.parse(
            Array(try JSONSerialization.data(withJSONObject: json)), origin: "test credentials")
        let cache = TokenCache(source: source, scopes: [OAuthScope.alloyDBLogin])
        let engine = try HTTPEngine(options: HTTPOptions(connectTimeout: 2, totalTimeout: 5))
        let now = Date()
        var tokens: [AccessToken] = []
        for _ in 0..<3 {
            cache.token(now: now, engine: engine) { tokens.append(try! $0.get()) }  // Failure fails the test.
        }
        engine.runUntilIdle()
        XCTAssertEqual(tokens.map(\.value), ["ya29.fresh", "ya29.fresh", "ya29.fresh"])
        XCTAssertEqual(server.requests.count, 1, "concurrent callers share one fetch")
        cache.token(now: now.addingTimeInterval(3599 - 300), engine: engine) { tokens.append(try! $0.get()) }
        XCTAssertEqual(server.requests.count, 1, "still more than 225 s left: cached")
        cache.token(now: now.addingTimeInterval(3599 - 200), engine: engine) { _ in }
        engine.runUntilIdle()
        XCTAssertEqual(server.requests.count, 2, "under 225 s left: refreshed")

        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.path, "/token")
        XCTAssertEqual(request.headers["content-type"], "application/x-www-form-urlencoded")
        let form = String(decoding: request.body, as: UTF8.self)
        XCTAssertTrue(form.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="))
        let jwt = try XCTUnwrap(form.split(separator: "=").last)
        let claims = try JSONDecoder().decode(
            JSONWebToken.Claims.self, from: Data(XCTUnwrap(JSONWebToken.decodeBase64URL(jwt.split(separator: ".")[1]))))
        XCTAssertEqual(claims.scope, OAuthScope.alloyDBLogin)
        XCTAssertEqual(claims.aud, server.baseURL + "/token")
    }

    func testTokenEndpointError_isTokenErrorWithoutSecrets() throws {
        let server = try LoopbackHTTPServer { _ in
            .init(status: 400, body: #"{"error":"invalid_grant","error_description":"Bad Request"}"#)
        }
        defer { server.stop() }
        let source = AuthorizedUserTokenSource(
            clientID: "cid", clientSecret: "very-secret", refreshToken: "refresh-secret",
            tokenURI: server.baseURL + "/token", quotaProject: nil)
        let engine = try HTTPEngine(options: HTTPOptions(connectTimeout: 2, totalTimeout: 5))
        var outcome: Result<AccessToken, ConnectorError>?
        source.fetch(scopes: [], now: Date(), engine: engine) { outcome = $0 }
        engine.runUntilIdle()
        guard case .failure(let error) = try XCTUnwrap(outcome) else { return XCTFail("succeeded") }
        XCTAssertEqual(error.code, .token)
        XCTAssertTrue(error.message.contains("invalid_grant: Bad Request"), error.message)
        XCTAssertFalse("\(error)".contains("secret"))
        let form = String(decoding: try XCTUnwrap(server.requests.first).body, as: UTF8.self)
        XCTAssertFalse(form.contains("scope"), "authorized_user refresh sends no scope")
    }
}
