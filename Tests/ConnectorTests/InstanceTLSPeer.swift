import Foundation
import TLS

@testable import Connector

/// A fake instance's TLS side, run in memory against a snapshot's client context: a server
/// certificate for given names issued by a chosen CA, requiring client certificates from the
/// Admin API's client CA. Ciphertext moves between the two engines without sockets.
struct InstanceTLSPeer {
    let context: TLSContext

    /// One server key for every peer: RSA generation is the slow part, and what differs between
    /// peers is the certificate, not the key.
    private static let sharedKey = Result { try PrivateKey.generateRSA(bits: 2048) }

    /// A server presenting a certificate from `serverCA` for `ipAddresses`/`dnsNames` and
    /// accepting clients whose certificates `clientCA` issued.
    init(serverCA: CertificateAuthority, clientCA: CertificateAuthority, ipAddresses: [String] = [],
         dnsNames: [String] = []) throws {
        let key = try Self.sharedKey.get()
        let leaf = try serverCA.issue(
            publicKey: key.publicKey, commonName: "uid.server.alloydb", ipAddresses: ipAddresses,
            dnsNames: dnsNames, purpose: .server)
        context = try TLSContext.server(
            certificateChain: [leaf, serverCA.certificate], key: key, clientCAs: [clientCA.certificate])
    }

    /// The outcome of one handshake as a tunnel from `snapshot` would run it.
    struct Outcome {
        var client: TLSResult
        var server: TLSResult
        /// The SNI name the server saw.
        var serverName: String?

        var succeeded: Bool { client == .complete && server == .complete }
    }

    /// Handshakes `snapshot`'s context (verifying its dial address) against this server.
    func handshake(_ snapshot: InstanceSnapshot) throws -> Outcome {
        let client = try TLSConnection(
            context: snapshot.tlsContext, role: .client(ServerIdentity(host: snapshot.dialAddress)))
        let server = try TLSConnection(context: context, role: .server)
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        func move(_ source: TLSConnection, _ destination: TLSConnection) {
            while source.pendingCiphertextCount > 0 {
                let count = scratch.withUnsafeMutableBytes { source.sendCiphertext(into: $0) }
                if count == 0 { break }
                scratch.withUnsafeBytes {
                    destination.receiveCiphertext(UnsafeRawBufferPointer(rebasing: $0[..<count]))
                }
            }
        }
        var outcome = Outcome(client: .wantMore, server: .wantMore)
        for _ in 0..<20 {
            outcome.client = client.handshake()
            move(client, server)
            outcome.server = server.handshake()
            move(server, client)
            if outcome.client != .wantMore && outcome.server != .wantMore { break }
            if case .failed = outcome.client { break }
            if case .failed = outcome.server { break }
        }
        outcome.serverName = server.serverName
        return outcome
    }
}
