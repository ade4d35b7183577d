import Foundation
import TLS
import XCTest

/// Keys, PEM encodings, signatures and certificates: round trips, issued fields, and typed
/// errors for bad input.
final class KeyAndCertificateTests: XCTestCase {
    func testPublicKeyPEM_roundTripsInBothFormats() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let key = pki.clientKey.publicKey

        let pkcs1 = key.pem(.pkcs1)
        let spki = key.pem(.spki)

        XCTAssertTrue(pkcs1.hasPrefix("-----BEGIN RSA PUBLIC KEY-----\n"))
        XCTAssertTrue(pkcs1.hasSuffix("-----END RSA PUBLIC KEY-----\n"))
        XCTAssertTrue(spki.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        XCTAssertTrue(spki.hasSuffix("-----END PUBLIC KEY-----\n"))
        for line in (pkcs1 + spki).split(separator: "\n") where !line.hasPrefix("-----") {
            XCTAssertLessThanOrEqual(line.count, 64)
        }
        XCTAssertEqual(try PublicKey(pem: pkcs1), key)
        XCTAssertEqual(try PublicKey(pem: spki), key)
        XCTAssertEqual(try PublicKey(pem: pkcs1).pem(.spki), spki)
        XCTAssertNotEqual(try PublicKey(pem: spki), pki.serverKey.publicKey)
    }

    func testPrivateKeyPEM_roundTripsAsPKCS8() throws {
        let pki = try XCTUnwrap(TestPKI.shared)

        for key in [pki.clientKey, pki.serverKey] {
            let pem = key.pem()
            XCTAssertTrue(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
            XCTAssertEqual(try PrivateKey(pem: pem).publicKey, key.publicKey)
            XCTAssertFalse(key.description.contains("BEGIN"), "description leaks nothing")
        }
    }

    func testRS256_signatureVerifiesOnlyForSameData() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let data = Array("header.payload".utf8)

        let signature = try pki.clientKey.signSHA256(data)

        XCTAssertEqual(signature.count, 256, "RSA-2048 PKCS#1 v1.5 signature")
        XCTAssertTrue(pki.clientKey.publicKey.verifySHA256(signature: signature, data: data))
        XCTAssertFalse(pki.clientKey.publicKey.verifySHA256(signature: signature,
                                                             data: data + [0]))
        XCTAssertFalse(pki.serverKey.publicKey.verifySHA256(signature: signature, data: data))
        XCTAssertFalse(pki.clientKey.publicKey.verifySHA256(signature: [1, 2, 3], data: data))
    }

    func testGarbagePEM_throwsTypedErrors() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let inputs = ["", "garbage", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
                      pki.root.certificate.pem]

        for input in inputs {
            assertInvalidPEM(try PublicKey(pem: input), input)
            assertInvalidPEM(try PrivateKey(pem: input), input)
        }
        assertInvalidPEM(try PublicKey(pem: pki.clientKey.pem()), "private key")
        assertInvalidPEM(try Certificate(pem: pki.clientKey.publicKey.pem(.spki)), "key")
        assertInvalidPEM(try Certificate(pem: "garbage"), "garbage")
        assertInvalidPEM(try Certificate.chain(fromPEM: ""), "empty chain")
        let truncated = pki.root.certificate.pem + String(pki.clientCertificate.pem.prefix(200))
        assertInvalidPEM(try Certificate.chain(fromPEM: truncated), "truncated chain")
    }

    func testCertificateChain_parsesAllBlocksInOrder() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let joined = pki.clientChain.map(\.pem).joined(separator: "\n")

        XCTAssertEqual(try Certificate.chain(fromPEM: joined), pki.clientChain)
        XCTAssertEqual(try Certificate(pem: joined), pki.clientCertificate)
    }

    func testIssuedCertificate_carriesRequestedFields() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let key = try PrivateKey.generateECP256()

        let certificate = try pki.root.issue(
            publicKey: key.publicKey, commonName: "db", ipAddresses: ["10.0.0.2", "2001:db8::1"],
            dnsNames: ["x.example.com"], lifetime: 3600, notBefore: start, purpose: .server)

        XCTAssertEqual(certificate.subjectCommonName, "db")
        XCTAssertEqual(certificate.issuerCommonName, "Test Root CA")
        XCTAssertEqual(certificate.ipAddresses, ["10.0.0.2", "2001:db8::1"])
        XCTAssertEqual(certificate.dnsNames, ["x.example.com"])
        XCTAssertEqual(certificate.notBefore, start)
        XCTAssertEqual(certificate.notAfter, start.addingTimeInterval(3600))
        XCTAssertEqual(certificate.publicKey, key.publicKey)
        XCTAssertEqual(certificate.serialNumberHex.count, 32, "128-bit serial, top bit set")
        XCTAssertEqual(try Certificate(pem: certificate.pem), certificate)
    }

    func testSerialNumbers_areRandom() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let serials = try (0..<8).map { _ in
            try pki.root.issue(publicKey: pki.serverKey.publicKey, commonName: "s",
                               purpose: .server).serialNumberHex
        }

        XCTAssertEqual(Set(serials).count, serials.count)
    }

    func testIsIssuedBy_followsTheChain() throws {
        let pki = try XCTUnwrap(TestPKI.shared)

        XCTAssertTrue(pki.clientCertificate.isIssued(by: pki.intermediate.certificate))
        XCTAssertTrue(pki.intermediate.certificate.isIssued(by: pki.root.certificate))
        XCTAssertTrue(pki.root.certificate.isIssued(by: pki.root.certificate))
        XCTAssertFalse(pki.clientCertificate.isIssued(by: pki.root.certificate))
        XCTAssertFalse(pki.serverCertificate.isIssued(by: pki.otherCA.certificate))
    }

    func testIssue_rejectsBadNamesAndLifetimes() throws {
        let pki = try XCTUnwrap(TestPKI.shared)
        let key = pki.serverKey.publicKey

        assertInvalidArgument(try pki.root.issue(publicKey: key, commonName: "x",
                                                 ipAddresses: ["1.2.3"], purpose: .server))
        assertInvalidArgument(try pki.root.issue(publicKey: key, commonName: "x",
                                                 dnsNames: ["a,IP:1.2.3.4"], purpose: .server))
        assertInvalidArgument(try pki.root.issue(publicKey: key, commonName: "",
                                                 purpose: .client))
        assertInvalidArgument(try pki.root.issue(publicKey: key, commonName: "x", lifetime: -1,
                                                 purpose: .client))
        assertInvalidArgument(try PrivateKey.generateRSA(bits: 512))
        assertInvalidArgument(try CertificateAuthority(certificate: pki.root.certificate,
                                                       key: pki.serverKey))
    }

    func testServerIdentity_fromHost() {
        XCTAssertEqual(ServerIdentity(host: "10.1.2.3"), .ipAddress("10.1.2.3"))
        XCTAssertEqual(ServerIdentity(host: "fd00::5"), .ipAddress("fd00::5"))
        XCTAssertEqual(ServerIdentity(host: "a.b.c."), .dnsName("a.b.c."))
        XCTAssertEqual(ServerIdentity.dnsName("a.b.c.").verificationName, "a.b.c")
        XCTAssertEqual(ServerIdentity.dnsName("a.b.c").verificationName, "a.b.c")
    }

    func testLibraryVersion_namesOpenSSL3() {
        XCTAssertTrue(TLSLibrary.versionString.hasPrefix("OpenSSL 3."), TLSLibrary.versionString)
    }

    func testSHA256_matchesKnownDigest() {
        let digest = SHA256Hasher.hash(Array("abc".utf8))
        let hex = digest.map { String(format: "%02x", $0) }.joined()

        XCTAssertEqual(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    // MARK: Helpers

    private func assertInvalidPEM<T>(_ expression: @autoclosure () throws -> T, _ what: String,
                                     line: UInt = #line) {
        XCTAssertThrowsError(try expression(), what, line: line) { error in
            guard case .invalidPEM = (error as? TLSError)?.code else {
                return XCTFail("\(what): unexpected error \(error)", line: line)
            }
        }
    }

    private func assertInvalidArgument<T>(_ expression: @autoclosure () throws -> T,
                                          line: UInt = #line) {
        XCTAssertThrowsError(try expression(), line: line) { error in
            guard case .invalidArgument = (error as? TLSError)?.code else {
                return XCTFail("unexpected error \(error)", line: line)
            }
        }
    }
}
