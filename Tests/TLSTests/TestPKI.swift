import Foundation
import TLS

/// The certificates and keys the TLS tests share: an AlloyDB-shaped PKI.
///
/// Root CA -> intermediate CA -> client leaf (RSA, as the proxy uses), plus a server leaf for
/// 127.0.0.1, ::1 and db.example.com issued by the same root, and an unrelated CA. Built once
/// per test process because RSA key generation is the slow part.
struct TestPKI: Sendable {
    let root: CertificateAuthority
    let intermediate: CertificateAuthority
    let clientKey: PrivateKey
    let clientCertificate: Certificate
    let serverKey: PrivateKey
    let serverCertificate: Certificate
    let otherCA: CertificateAuthority

    /// The shared instance, or nil if building it failed (tests then fail on XCTUnwrap).
    static let shared: TestPKI? = try? TestPKI()

    init() throws {
        root = try CertificateAuthority.create(commonName: "Test Root CA",
                                               key: PrivateKey.generateECP256())
        intermediate = try root.issueIntermediate(commonName: "Test Intermediate CA",
                                                  key: PrivateKey.generateECP256())
        clientKey = try PrivateKey.generateRSA(bits: 2048)
        clientCertificate = try intermediate.issue(
            publicKey: clientKey.publicKey, commonName: "client", purpose: .client)
        serverKey = try PrivateKey.generateECP256()
        serverCertificate = try root.issue(
            publicKey: serverKey.publicKey, commonName: "server",
            ipAddresses: ["127.0.0.1", "::1"], dnsNames: ["db.example.com"], purpose: .server)
        otherCA = try CertificateAuthority.create(commonName: "Other CA",
                                                  key: PrivateKey.generateECP256())
    }

    /// The client chain as AlloyDB sends it: leaf, intermediate, root.
    var clientChain: [Certificate] {
        [clientCertificate, intermediate.certificate, root.certificate]
    }

    /// A client context trusting the root.
    func clientContext() throws -> TLSContext {
        try TLSContext.client(certificateChain: clientChain, key: clientKey,
                              trustedRoots: [root.certificate])
    }

    /// A server context presenting the server leaf and requiring clients from the root.
    func serverContext(maximumVersion: TLSVersion = .tls13) throws -> TLSContext {
        try TLSContext.server(
            certificateChain: [serverCertificate], key: serverKey,
            clientCAs: [root.certificate], requireClientCertificate: true,
            minimumVersion: .tls12, maximumVersion: maximumVersion)
    }
}
