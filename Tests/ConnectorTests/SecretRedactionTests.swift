import Foundation
import XCTest

@testable import Connector

/// Response excerpts quoted in errors (and so in logs) never carry credentials, even when an
/// endpoint echoes them.
final class SecretRedactionTests: XCTestCase {
    func testCredentialValuesAreRedactedFromExcerpts() {
        let body = #"{"error":"bad","access_token": "ya29.SECRET1", "refresh_token":"1//SECRET2","#
            + #""private_key":"-----BEGIN PRIVATE KEY-----\nSECRET3\n-----END PRIVATE KEY-----\n","#
            + #""accessToken":"SECRET4\"quoted","kept":"visible"} assertion=SECRET5&grant_type=jwt"#
        let excerpt = HTTPResponse(status: 400, body: Array(body.utf8)).bodyExcerpt()
        for secret in ["SECRET1", "SECRET2", "SECRET3", "SECRET4", "quoted", "SECRET5"] {
            XCTAssertFalse(excerpt.contains(secret), "\(secret) leaked: \(excerpt)")
        }
        XCTAssertTrue(excerpt.contains(#""kept":"visible""#), excerpt)
        XCTAssertTrue(excerpt.contains("grant_type=jwt"), excerpt)
        XCTAssertTrue(excerpt.contains(#""access_token": <redacted>"#), excerpt)
    }

    func testACutExcerptCannotExposeTheStartOfASecret() {
        let body = String(repeating: "x", count: 40) + #" {"access_token":"SECRETSECRETSECRET"}"#
        let excerpt = HTTPResponse(status: 500, body: Array(body.utf8)).bodyExcerpt(limit: 60)
        XCTAssertFalse(excerpt.contains("SECRET"), excerpt)
        XCTAssertTrue(excerpt.hasSuffix("bytes)") || excerpt.count <= 60, excerpt)
    }
}
