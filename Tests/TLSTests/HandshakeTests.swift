import TLS
import XCTest

/// Mutual TLS 1.3 handshakes between two in-memory engines: what succeeds and how each kind
/// of failure is reported.
final class HandshakeTests: XCTestCase {
    func testMutualTLS13_withIntermediateClientChain() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let pair = try ConnectionPair(clientContext: pki.clientContext(),
                                      serverContext: pki.serverContext(),
                                      identity: .ipAddress("127.0.0.1"))

        let results = pair.handshake()

        XCTAssertEqual(results.client, .complete)
        XCTAssertEqual(results.server, .complete)
        XCTAssertEqual(pair.client.negotiatedVersion, "TLSv1.3")
        XCTAssertEqual(pair.server.negotiatedVersion, "TLSv1.3")
        XCTAssertTrue(pair.client.cipherName.hasPrefix("TLS_"))
        XCTAssertNil(pair.server.serverName, "no SNI for an IP identity")
        XCTAssertEqual(pair.client.peerCertificate, pki.serverCertificate)
        XCTAssertEqual(pair.server.peerCertificate, pki.clientCertificate)
        XCTAssertEqual(pair.server.peerCertificateChain, pki.clientChain)
        XCTAssertEqual(pair.client.peerCertificateChain, [pki.serverCertificate])
    }

    func testIPv6Identity_matchesIPv6SAN() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let pair = try ConnectionPair(clientContext: pki.clientContext(),
                                      serverContext: pki.serverContext(),
                                      identity: .ipAddress("::1"))

        XCTAssertEqual(pair.handshake().client, .complete)
    }

    func testWrongIPAddress_failsWithMismatch() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let pair = try ConnectionPair(clientContext: pki.clientContext(),
                                      serverContext: pki.serverContext(),
                                      identity: .ipAddress("10.9.8.7"))

        let results = pair.handshake()

        XCTAssertEqual(code(results.client), .verifyFailed("IP address mismatch"))
        XCTAssertNotEqual(results.server, .complete)
    }

    func testServerFromOtherCA_failsVerification() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let otherKey = try PrivateKey.generateECP256()
        let otherLeaf = try pki.otherCA.issue(publicKey: otherKey.publicKey, commonName: "rogue",
                                              ipAddresses: ["127.0.0.1"], purpose: .server)
        let server = try TLSContext.server(certificateChain: [otherLeaf], key: otherKey,
                                           clientCAs: [pki.root.certificate])
        let pair = try ConnectionPair(clientContext: pki.clientContext(), serverContext: server,
                                      identity: .ipAddress("127.0.0.1"))

        let results = pair.handshake()

        XCTAssertEqual(code(results.client),
                       .verifyFailed("unable to get local issuer certificate"))
        guard case .failed(let error) = results.client else { return XCTFail("no failure") }
        XCTAssertTrue(error.description.contains("unable to get local issuer certificate"))
    }

    func testServerRejectsClientFromOtherCA() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let server = try TLSContext.server(certificateChain: [pki.serverCertificate],
                                           key: pki.serverKey,
                                           clientCAs: [pki.otherCA.certificate])
        let pair = try ConnectionPair(clientContext: pki.clientContext(), serverContext: server,
                                      identity: .ipAddress("127.0.0.1"))

        let results = pair.handshake()
        pair.shuttle()

        guard case .verifyFailed = code(results.server) else {
            return XCTFail("server accepted a foreign client: \(results.server)")
        }
        // TLS 1.3 clients finish first; the rejection arrives as an alert on the next read.
        guard case .failed(let error) = pair.drain(pair.client) else {
            return XCTFail("client did not see the rejection")
        }
        XCTAssertEqual(error.code, .connectionFailed)
        XCTAssertTrue(error.description.contains("alert"), error.description)
    }

    func testServerCappedAtTLS12_failsWithProtocolVersion() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let pair = try ConnectionPair(clientContext: pki.clientContext(),
                                      serverContext: pki.serverContext(maximumVersion: .tls12),
                                      identity: .ipAddress("127.0.0.1"))

        let results = pair.handshake()

        XCTAssertEqual(code(results.client), .protocolVersion)
        XCTAssertEqual(code(results.server), .protocolVersion)
        guard case .failed(let error) = results.client else { return XCTFail("no failure") }
        XCTAssertTrue(error.description.hasPrefix("TLS 1.3 required"), error.description)
    }

    func testDNSIdentityWithTrailingDot_sendsSNIWithoutDot() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let pair = try ConnectionPair(clientContext: pki.clientContext(),
                                      serverContext: pki.serverContext(),
                                      identity: .dnsName("db.example.com."))

        let results = pair.handshake()

        XCTAssertEqual(results.client, .complete)
        XCTAssertEqual(results.server, .complete)
        XCTAssertEqual(pair.server.serverName, "db.example.com")
    }

    func testWrongDNSName_failsWithHostnameMismatch() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let pair = try ConnectionPair(clientContext: pki.clientContext(),
                                      serverContext: pki.serverContext(),
                                      identity: .dnsName("other.example.com"))

        XCTAssertEqual(code(pair.handshake().client), .verifyFailed("hostname mismatch"))
    }

    func testEOFDuringHandshake_isUnexpectedEOF() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let client = try TLSConnection(context: pki.clientContext(),
                                       role: .client(.ipAddress("127.0.0.1")))

        XCTAssertEqual(client.handshake(), .wantMore)
        XCTAssertGreaterThan(client.pendingCiphertextCount, 0, "ClientHello queued")
        client.receiveEndOfStream()

        XCTAssertEqual(code(client.handshake()), .unexpectedEOF)
        XCTAssertEqual(code(client.handshake()), .unexpectedEOF, "failure is sticky")
    }

    func testGarbageFromPeer_failsHandshake() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let server = try TLSConnection(context: pki.serverContext(), role: .server)
        let garbage = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)

        garbage.withUnsafeBytes { server.receiveCiphertext($0) }

        XCTAssertEqual(code(server.handshake()), .handshakeFailed)
    }

    func testBadIdentity_throwsInvalidArgument() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let context = try pki.clientContext()

        XCTAssertThrowsError(try TLSConnection(context: context,
                                               role: .client(.ipAddress("10.0.0.300"))))
        XCTAssertThrowsError(try TLSConnection(context: context, role: .client(.dnsName(""))))
    }

    func testClientContext_rejectsKeyNotMatchingLeaf() throws {
        let pki = try XCTUnwrap(TestPKI.shared)

        XCTAssertThrowsError(try TLSContext.client(certificateChain: pki.clientChain,
                                                   key: pki.serverKey,
                                                   trustedRoots: [pki.root.certificate])) {
            guard case .invalidArgument = ($0 as? TLSError)?.code else {
                return XCTFail("unexpected error \($0)")
            }
        }
    }

    /// The error code of a failed result, or nil.
    private func code(_ result: TLSResult) -> TLSError.Code? {
        if case .failed(let error) = result { return error.code }
        return nil
    }

    private func code(_ result: TLSReadResult) -> TLSError.Code? {
        if case .failed(let error) = result { return error.code }
        return nil
    }
}
