import Emulator
import Foundation
import TLS
import XCTest

/// Every fault switch of `/emulator/faults`, against one emulator shared by the class (its
/// switches are reset before each test).
final class FaultSwitchTests: XCTestCase {
    private static let ip = "127.0.0.145"
    nonisolated(unsafe) private static var shared: EmulatorFixture?  // set up once, XCTest runs serially
    private var fixture: EmulatorFixture { Self.shared! }  // created in setUp before any test body

    override class func setUp() {
        super.setUp()
        shared = try? EmulatorFixture(ip: ip, backend: .echo)
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        XCTAssertNotNil(Self.shared, "the emulator did not start")
        let (status, _) = try fixture.setFaults("""
            {"apiError":null,"apiDelayMs":0,"tokenError":null,"tokenDelayMs":0,
             "certLifetimeSeconds":3600,"mdx":"ok","handshake":"ok","handshakeDelayMs":0,
             "instanceTLS":"1.3","dropAfterBytes":null,"dropMode":"fin"}
            """)
        XCTAssertEqual(status, 200)
    }

    private var port: UInt16 { fixture.emulator.configuration.instancePort }

    private func connectionInfo(token: String) throws -> (status: Int, body: JSONValue) {
        let response = try httpRequest(
            fixture.api, method: "GET", path: "/v1alpha/\(EmulatorFixture.instanceURI)/connectionInfo",
            headers: ["Authorization": "Bearer \(token)"])
        return (response.status, (try? JSONValue.parse(response.body)) ?? .null)
    }

    func testAPIErrorsByStatusAndCount() throws {
        let token = try fixture.accessToken()
        let expected = [500: "INTERNAL", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                        429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"]
        for (code, status) in expected {
            try fixture.setFaults(#"{"apiError":{"code":\#(code),"count":2}}"#)
            for _ in 0..<2 {
                let reply = try connectionInfo(token: token)
                XCTAssertEqual(reply.status, code)
                XCTAssertEqual(reply.body["error"]?["code"]?.numberValue, Double(code))
                XCTAssertEqual(reply.body["error"]?["status"]?.stringValue, status)
            }
            XCTAssertEqual(try connectionInfo(token: token).status, 200, "count \(code) exhausted")
        }
    }

    func testAPIDelay() throws {
        let token = try fixture.accessToken()
        try fixture.setFaults(#"{"apiDelayMs":300}"#)
        let start = Date()
        XCTAssertEqual(try connectionInfo(token: token).status, 200)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.3)
    }

    func testTokenEndpointFailureAndDelay() throws {
        try fixture.setFaults(#"{"tokenError":{"code":503,"count":1},"tokenDelayMs":200}"#)
        let start = Date()
        let (status, json) = try fixture.tokenRequest(assertion: try fixture.assertion(scope: cloudPlatformScope))
        XCTAssertEqual(status, 503)
        XCTAssertEqual(json["error"]?.stringValue, "temporarily_unavailable")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.2)
        XCTAssertFalse(try fixture.accessToken().isEmpty, "one failure only")
    }

    func testShortCertificateLifetime() throws {
        try fixture.setFaults(#"{"certLifetimeSeconds":120}"#)
        let key = try PrivateKey.generateRSA()
        let (_, json) = try fixture.generateClientCertificate(
            publicKeyPEM: key.publicKey.pem(.spki), token: try fixture.accessToken())
        let leaf = try Certificate(pem: json["pemCertificateChain"]?.arrayValue?.first?.stringValue ?? "")
        XCTAssertEqual(leaf.notAfter.timeIntervalSinceNow, 120, accuracy: 30)
    }

    func testCARotationInvalidatesOldCertificates() throws {
        let token = try fixture.accessToken()
        let before = try fixture.clientContext(token: token)
        XCTAssertEqual(try fixture.setFaults(#"{"rotateCA":true}"#).0, 200)
        let after = try fixture.clientContext(token: token)
        XCTAssertNotEqual(before.certificateChain.last, after.certificateChain.last)

        let fresh = try TLSTestClient(host: Self.ip, port: port, context: after)
        try fresh.handshake()
        XCTAssertEqual(try fresh.exchangeMetadata(token: token, authType: .dbNative).0, 1)
        let stale = try TLSTestClient(host: Self.ip, port: port, context: before)
        XCTAssertThrowsError(try {
            try stale.handshake()
            _ = try stale.exchangeMetadata(token: token, authType: .dbNative)
        }())
    }

    /// Connects and sends an MDX request; returns the client after the handshake.
    private func clientAfterHandshake(token: String) throws -> TLSTestClient {
        let client = try TLSTestClient(host: Self.ip, port: port, context: try fixture.clientContext(token: token))
        try client.handshake()
        return client
    }

    func testMetadataExchangeErrorHangCloseAndGarbage() throws {
        let token = try fixture.accessToken()
        try fixture.setFaults(#"{"mdx":"error: instance in maintenance"}"#)
        let refused = try clientAfterHandshake(token: token)
        let (code, message) = try refused.exchangeMetadata(token: token, authType: .dbNative)
        XCTAssertEqual(code, 2)
        XCTAssertEqual(message, "instance in maintenance")

        try fixture.setFaults(#"{"mdx":"close"}"#)
        let closed = try clientAfterHandshake(token: token)
        XCTAssertThrowsError(try closed.exchangeMetadata(token: token, authType: .dbNative))

        try fixture.setFaults(#"{"mdx":"garbage"}"#)
        let garbled = try clientAfterHandshake(token: token)
        XCTAssertThrowsError(try garbled.exchangeMetadata(token: token, authType: .dbNative)) {
            XCTAssertEqual(($0 as? EmulatorError)?.code, .metadataExchange, "\($0)")
        }

        try fixture.setFaults(#"{"mdx":"hang"}"#)
        let hanging = try clientAfterHandshake(token: token)
        hanging.socket.setReceiveTimeout(milliseconds: 300)
        let start = Date()
        XCTAssertThrowsError(try hanging.exchangeMetadata(token: token, authType: .dbNative))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.29)
        XCTAssertNotNil(fixture.events().last { $0["mdx"]?.stringValue == "error: hang (fault)" })
    }

    func testRefusedAndDelayedHandshakes() throws {
        let token = try fixture.accessToken()
        let context = try fixture.clientContext(token: token)
        for fault in ["refuse", "close-before-server-hello"] {
            try fixture.setFaults(#"{"handshake":"\#(fault)"}"#)
            let client = try TLSTestClient(host: Self.ip, port: port, context: context)
            XCTAssertThrowsError(try client.handshake(), fault)
        }
        XCTAssertNotNil(fixture.events().last {
            $0["reason"]?.stringValue == "closed before ServerHello (fault)"
        })

        try fixture.setFaults(#"{"handshake":"ok","handshakeDelayMs":400}"#)
        let start = Date()
        let client = try TLSTestClient(host: Self.ip, port: port, context: context)
        try client.handshake()
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.4)
        XCTAssertEqual(try client.exchangeMetadata(token: token, authType: .dbNative).0, 1)
    }

    func testInstanceCappedAtTLS12IsRefusedByTLS13Clients() throws {
        let token = try fixture.accessToken()
        let context = try fixture.clientContext(token: token)
        try fixture.setFaults(#"{"instanceTLS":"1.2"}"#)
        let client = try TLSTestClient(host: Self.ip, port: port, context: context)
        XCTAssertThrowsError(try client.handshake())
        try fixture.setFaults(#"{"instanceTLS":"1.3"}"#)
        let again = try TLSTestClient(host: Self.ip, port: port, context: context)
        XCTAssertNoThrow(try again.handshake())
    }

    func testDropAfterBytesWithFINAndRST() throws {
        let token = try fixture.accessToken()
        try fixture.setFaults(#"{"dropAfterBytes":50000,"dropMode":"fin"}"#)
        let fin = try fixture.connectedClient(ip: Self.ip, token: token)
        try fin.write([UInt8](repeating: 7, count: 40_000))
        let echoed = try fin.read(count: 40_000)
        XCTAssertLessThan(echoed.count, 40_000, "dropped before everything came back")
        XCTAssertNotNil(fixture.waitForEvent("tunnel-closed") {
            $0["error"]?.stringValue == "dropped after 50000 bytes (fault)"
        })

        try fixture.setFaults(#"{"dropMode":"rst"}"#)
        let rst = try fixture.connectedClient(ip: Self.ip, token: token)
        try rst.write([UInt8](repeating: 7, count: 40_000))
        XCTAssertThrowsError(try rst.read(count: 40_000), "a reset is an error, not an end")
    }

    func testDropNowCutsOpenTunnels() throws {
        let token = try fixture.accessToken()
        let client = try fixture.connectedClient(ip: Self.ip, token: token)
        try client.write([1, 2, 3])
        XCTAssertEqual(try client.read(count: 3), [1, 2, 3])
        XCTAssertEqual(try fixture.setFaults(#"{"dropNow":"rst"}"#).0, 200)
        XCTAssertThrowsError(try client.read(count: 1))
    }

    func testGetShowsSwitchesAndBadBodiesChangeNothing() throws {
        try fixture.setFaults(#"{"mdx":"hang","dropAfterBytes":10}"#)
        let (status, bad) = try fixture.setFaults(#"{"mdx":"ok","handshake":"sometimes"}"#)
        XCTAssertEqual(status, 400)
        XCTAssertEqual(bad["error"]?["status"]?.stringValue, "INVALID_ARGUMENT")
        let reply = try httpRequest(fixture.api, method: "GET", path: "/emulator/faults")
        let state = try JSONValue.parse(reply.body)
        XCTAssertEqual(state["mdx"]?.stringValue, "hang", "a rejected body applies nothing")
        XCTAssertEqual(state["dropAfterBytes"]?.numberValue, 10)
    }
}

/// Fault switches given on the command line.
final class FaultFlagTests: XCTestCase {
    func testFaultFlagsAreParsedValidatedAndApplied() throws {
        let command = try EmulatorCommand.parse([
            "serve", "--state-dir", "/tmp/x", "--fault", "mdx=error: read only",
            "--fault", #"apiError={"code":429,"count":3}"#,
        ])
        guard case .serve(let configuration) = command else { return XCTFail("not serve") }
        XCTAssertEqual(configuration.initialFaults["mdx"]?.stringValue, "error: read only")
        XCTAssertThrowsError(try EmulatorCommand.parse(["serve", "--state-dir", "d", "--fault", "bogus=1"]))
        XCTAssertThrowsError(try EmulatorCommand.parse(["serve", "--state-dir", "d", "--fault", "rotateCA=true"]))

        let ip = "127.0.0.146"
        // Only the MDX switch: an armed apiError would fail the certificate request below.
        let mdx = try XCTUnwrap(configuration.initialFaults["mdx"])
        let fixture = try EmulatorFixture(ip: ip, faults: .object([("mdx", mdx)]))
        defer { fixture.stop() }
        let token = try fixture.accessToken()
        let client = try TLSTestClient(
            host: ip, port: fixture.emulator.configuration.instancePort,
            context: try fixture.clientContext(token: token))
        try client.handshake()
        XCTAssertEqual(try client.exchangeMetadata(token: token, authType: .dbNative).1, "read only")
    }
}
