import Foundation
import TLS

/// The benchmark's own certificates: a root CA, a server certificate for the terminator
/// (IP 127.0.0.1 and DNS `terminator.bench`) and a client certificate the peers present.
/// All RSA 2048, like AlloyDB's. Written once into the run's temporary directory.
struct BenchPKI {
    /// The DNS name in the server certificate (nginx verifies by name).
    static let serverName = "terminator.bench"

    /// Creates the keys and certificates and writes `ca.pem`, `server.pem`, `server.key`,
    /// `client.pem`, `client.key` and `client-with-key.pem` (certificate then key, for HAProxy)
    /// into `directory`, private keys with mode 0600.
    static func write(into directory: URL) throws {
        let ca = try CertificateAuthority.create(commonName: "proxy-bench CA")
        let serverKey = try PrivateKey.generateRSA()
        let server = try ca.issue(publicKey: serverKey.publicKey, commonName: serverName,
                                  ipAddresses: ["127.0.0.1"], dnsNames: [serverName],
                                  lifetime: 7 * 86_400, purpose: .server)
        let clientKey = try PrivateKey.generateRSA()
        let client = try ca.issue(publicKey: clientKey.publicKey, commonName: "proxy-bench client",
                                  lifetime: 7 * 86_400, purpose: .client)

        try save(ca.certificate.pem, directory, "ca.pem", secret: false)
        try save(server.pem, directory, "server.pem", secret: false)
        try save(serverKey.pem(), directory, "server.key", secret: true)
        try save(client.pem, directory, "client.pem", secret: false)
        try save(clientKey.pem(), directory, "client.key", secret: true)
        try save(client.pem + clientKey.pem(), directory, "client-with-key.pem", secret: true)
    }

    private static func save(_ text: String, _ directory: URL, _ name: String, secret: Bool) throws {
        let path = directory.appendingPathComponent(name).path
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
            throw SetupError("could not write \(path)")
        }
    }
}

/// A failure while preparing a path (missing binary, a process that did not start, ...).
struct SetupError: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}
