@testable import Emulator
import Foundation
import TLS
import XCTest

/// AUTO_IAM: the token needs the alloydb.login scope, and the PostgreSQL StartupMessage must
/// name the token's principal as the database user.
final class AutoIAMTests: XCTestCase {
    private let ip = "127.0.0.147"

    /// A protocol 3.0 StartupMessage.
    private func startup(user: String) -> [UInt8] {
        var body: [UInt8] = [0x00, 0x03, 0x00, 0x00]
        for text in ["user", user, "database", "postgres"] { body += Array(text.utf8) + [0] }
        body.append(0)
        let length = UInt32(body.count + 4)
        return [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) } + body
    }

    func testLoginUserMustMatchTheTokenPrincipal() throws {
        let fixture = try EmulatorFixture(ip: ip, backend: .echo)
        defer { fixture.stop() }
        let apiToken = try fixture.accessToken()
        let loginToken = try fixture.accessToken(scope: alloyDBLoginScope)
        let user = "emulator@test-project.iam"  // the service account without .gserviceaccount.com

        // The right user (after an SSLRequest, answered N) reaches the backend unchanged.
        let good = try fixture.connectedClient(
            ip: ip, token: apiToken, mdxToken: loginToken, authType: .autoIAM)
        try good.write([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        XCTAssertEqual(try good.read(count: 1), [UInt8(ascii: "N")])
        try good.write(startup(user: user))
        XCTAssertEqual(try good.read(count: startup(user: user).count), startup(user: user))

        // Another user gets a FATAL 28000 ErrorResponse and the connection ends.
        let bad = try fixture.connectedClient(
            ip: ip, token: apiToken, mdxToken: loginToken, authType: .autoIAM)
        try bad.write(startup(user: "postgres"))
        let reply = try bad.read(count: 4096)
        XCTAssertEqual(reply.first, UInt8(ascii: "E"))
        let text = String(decoding: reply, as: UTF8.self)
        XCTAssertTrue(text.contains("28000") && text.contains("FATAL") && text.contains(user), text)
        XCTAssertNotNil(fixture.waitForEvent("login-refused"))

        // A token without the login scope is refused in the metadata exchange.
        let client = try TLSTestClient(
            host: ip, port: fixture.emulator.configuration.instancePort,
            context: try fixture.clientContext(token: apiToken))
        try client.handshake()
        let (code, error) = try client.exchangeMetadata(token: apiToken, authType: .autoIAM)
        XCTAssertEqual(code, 2)
        XCTAssertTrue(error.contains("alloydb.login"), error)
    }

    func testDatabaseUserOfPrincipals() {
        XCTAssertEqual(
            MetadataPolicy.databaseUser(forPrincipal: "sa@proj.iam.gserviceaccount.com"), "sa@proj.iam")
        XCTAssertEqual(MetadataPolicy.databaseUser(forPrincipal: "alice@example.com"), "alice@example.com")
    }

    func testStartupParserRejectsHostileLengths() {
        XCTAssertThrowsError(try PostgresStartup.parse([0x7F, 0xFF, 0xFF, 0xFF, 0, 3, 0, 0]))
        XCTAssertThrowsError(try PostgresStartup.parse([0, 0, 0, 4, 0, 3, 0, 0]))
        XCTAssertEqual(try PostgresStartup.parse([0, 0, 0, 9]), .incomplete)
        XCTAssertThrowsError(try PostgresStartup.parse([0, 0, 0, 10, 0, 3, 0, 0, 0x61, 0x62]),
                             "unterminated parameters")
    }
}
