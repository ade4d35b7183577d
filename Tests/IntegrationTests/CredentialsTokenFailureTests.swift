import Foundation
import XCTest

/// A token endpoint that refuses the grant (`invalid_grant`: revoked or expired credentials, or
/// a wrong system clock) must produce a clear error on the client's connection, keep the proxy
/// running, and recover on the next connection once the endpoint accepts again.
final class CredentialsTokenFailureTests: XCTestCase {
    static let instance = "projects/it-project/locations/us-central1/clusters/creds/instances/grant"
    static let shortName = "it-project.us-central1.creds.grant"

    func testInvalidGrant_closesClientWithHint_thenRecovers() throws {
        let dir = try TestBed.temporaryDirectory("grant")
        defer { try? FileManager.default.removeItem(at: dir) }
        let emulator = try EmulatorProcess(
            instances: ["\(Self.instance)=127.0.0.74"], postgresPort: nil,
            extraArguments: [
                "--fault",
                #"tokenError={"code":400,"error":"invalid_grant","message":"Invalid JWT Signature.","count":1}"#,
            ],
            in: dir)
        defer { emulator.stop() }
        let proxy = try ProxyProcess(
            arguments: [
                "--alloydbadmin-api-endpoint", emulator.apiEndpoint,
                "--credentials-file", emulator.serviceAccountFile, Self.instance,
            ],
            environment: ["HOME": dir.path, "ALLOYDB_PROXY_TEST_RATE_INTERVAL": "0.2"],
            in: dir)
        defer { _ = proxy.stop() }
        try proxy.waitUntilListening()

        // Let the proxy finish generating its RSA key, so the bound measures the refresh only.
        usleep(1_000_000)
        let refused = try EchoClient(port: proxy.port)
        let started = Date()
        XCTAssertTrue(refused.send("hello"))
        XCTAssertTrue(refused.waitForClose(timeout: 5))
        // The scenario asks for 1 s; the slack absorbs a loaded CI machine.
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "closed within about 1 s")
        let child = proxy.child
        _ = TestBed.waitUntil(timeout: 2) { child.output.contains("invalid_grant") }
        let line = proxy.child.output.split(separator: "\n").first {
            $0.contains(Self.shortName) && $0.contains("invalid_grant")
        }
        let text = try XCTUnwrap(line, proxy.child.output)
        XCTAssertTrue(text.contains("check the clock") && text.contains("application-default login"), String(text))
        XCTAssertTrue(proxy.child.isRunning)

        usleep(300_000)
        let client = try EchoClient(port: proxy.port)
        XCTAssertTrue(client.roundTrip("after the endpoint recovered"), proxy.child.output)
        // Granted tokens only (refusals are not logged): one per scope after the recovery.
        let granted = emulator.events(named: "token").count
        XCTAssertTrue((1...2).contains(granted), "\(granted) grants: no retry loop against the token endpoint")
    }
}
