import Foundation
import XCTest

@testable import Connector

/// Answers of the impersonation, gcloud and metadata token sources, and the configuration
/// checks for impersonation: malformed input gives a clear token or config error.
final class CredentialParsingTests: XCTestCase {
    private func response(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, body: Array(body.utf8))
    }

    private func json(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    func testRFC3339_withAndWithoutFractionsAndOffsets() throws {
        let base = try XCTUnwrap(RFC3339.parse("2026-01-02T03:04:05Z"))
        XCTAssertEqual(base.timeIntervalSince1970, 1_767_323_045)
        let fraction = try XCTUnwrap(RFC3339.parse("2026-01-02T03:04:05.250Z"))
        XCTAssertEqual(fraction.timeIntervalSince(base), 0.25, accuracy: 0.001)
        XCTAssertEqual(try XCTUnwrap(RFC3339.parse("2026-01-02T04:04:05+01:00")), base)
        XCTAssertNil(RFC3339.parse("2026-01-02 03:04:05"))
        XCTAssertNil(RFC3339.parse(""))
    }

    func testImpersonationAnswers() {
        let url = "http://127.0.0.1:1/v1/projects/-/serviceAccounts/t@p:generateAccessToken"
        let ok = ImpersonatedTokenSource.parse(
            response(200, #"{"accessToken":"IMP","expireTime":"2026-01-02T03:04:05Z"}"#), url: url)
        XCTAssertEqual(try ok.get().value, "IMP")
        let cases: [(HTTPResponse, String)] = [
            (response(200, #"{"expireTime":"2026-01-02T03:04:05Z"}"#), "returned no accessToken"),
            (response(200, #"{"accessToken":"IMP"}"#), "no valid expireTime"),
            (response(200, #"{"accessToken":"IMP","expireTime":"soon"}"#), "no valid expireTime"),
            (response(200, "garbage"), "returned no accessToken"),
            (response(403, Fixture.envelope(403, "PERMISSION_DENIED", "denied")),
             "roles/iam.serviceAccountTokenCreator"),
            (response(500, "<html>oops</html>"), "HTTP 500 <html>oops</html>"),
        ]
        for (answer, expected) in cases {
            guard case .failure(let error) = ImpersonatedTokenSource.parse(answer, url: url) else {
                XCTFail("accepted \(answer)")
                continue
            }
            XCTAssertEqual(error.code, .token)
            XCTAssertTrue(error.message.contains(expected), error.message)
        }
    }

    func testImpersonationBody_expandsDelegates_andOmitsEmptyList() throws {
        let source = StaticTokenSource(token: "s")
        let chained = ImpersonatedTokenSource(
            source: source, url: "u", delegates: ["a@p", "projects/-/serviceAccounts/b@p"], scopes: nil)
        let body = try XCTUnwrap(json(chained.body(scopes: ["x"])))
        let delegates = body["delegates"] as? [String]
        XCTAssertEqual(delegates, ["projects/-/serviceAccounts/a@p", "projects/-/serviceAccounts/b@p"])
        XCTAssertEqual(body["scope"] as? [String], ["x"])
        let plain = ImpersonatedTokenSource(source: source, url: "u", delegates: [], scopes: ["fixed"])
        let plainBody = try XCTUnwrap(json(plain.body(scopes: ["x"])))
        XCTAssertNil(plainBody["delegates"])
        XCTAssertEqual(plainBody["scope"] as? [String], ["fixed"], "a file's scopes win")
    }

    func testGcloudOutput() {
        let good = #"{"credential":{"access_token":"G","token_expiry":"2026-01-02T03:04:05Z"}}"#
        XCTAssertEqual(try GcloudTokenSource.parse(Array(good.utf8)).get().value, "G")
        let bad = [
            "", "{}", #"{"credential":{}}"#, #"{"credential":{"access_token":""}}"#,
            #"{"credential":{"access_token":"G"}}"#, #"{"credential":{"access_token":"G","token_expiry":"x"}}"#,
        ]
        for text in bad {
            guard case .failure(let error) = GcloudTokenSource.parse(Array(text.utf8)) else {
                XCTFail("accepted \(text)")
                continue
            }
            XCTAssertTrue(error.message.hasPrefix("gcloud config config-helper printed no"), error.message)
            XCTAssertFalse(error.message.contains("\"G\""), "the output is never echoed")
        }
    }

    func testImpersonationChain_validated() {
        for account in ["", "a b@p", "projects/x"] {
            var configuration = ConnectorConfiguration(credentials: .token("t"), environment: [:])
            configuration.impersonationChain = ["sa@p", account]
            XCTAssertThrowsError(try Connector(configuration: configuration)) { error in
                XCTAssertTrue("\(error)".contains("for impersonation"), "\(error)")
            }
        }
        var configuration = ConnectorConfiguration(credentials: .token("t"), environment: [:])
        configuration.iamCredentialsEndpoint = "ftp://x"
        XCTAssertThrowsError(try Connector(configuration: configuration))
    }

    func testMetadataTokenWithoutLifetime_isRefused() throws {
        let server = try LoopbackHTTPServer { _ in .init(status: 200, body: #"{"access_token":"m","expires_in":0}"#) }
        defer { server.stop() }
        let source = MetadataServerTokenSource(host: "127.0.0.1:\(server.port)", timeout: 2)
        let engine = try HTTPEngine(options: HTTPOptions(connectTimeout: 2, totalTimeout: 5))
        var outcome: Result<AccessToken, ConnectorError>?
        source.fetch(scopes: [OAuthScope.cloudPlatform], now: Date(), engine: engine) { outcome = $0 }
        engine.runUntilIdle()
        guard case .failure(let error) = try XCTUnwrap(outcome) else { return XCTFail("accepted") }
        XCTAssertTrue(error.message.contains("without expires_in"), error.message)
    }
}
