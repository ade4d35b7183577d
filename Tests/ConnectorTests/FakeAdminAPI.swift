import Foundation
import Locking
import Synchronization
import TLS

@testable import Connector

/// A scripted AlloyDB Admin API for tests on top of `LoopbackHTTPServer`: answers
/// `connectionInfo` and `generateClientCertificate` with real certificates issued by a test CA
/// for the public key in the request, counts calls, and can be switched to fail.
final class FakeAdminAPI: Sendable {
    enum Mode: Sendable {
        case healthy
        case failing(status: Int, envelope: String)
    }

    let server: LoopbackHTTPServer
    /// Signs client certificates.
    let ca: CertificateAuthority
    private let mode = Locked<Mode>(.healthy)
    private let counts = Locked<(info: Int, certificate: Int)>((0, 0))
    /// The `caCert` answered: the server's CA (changes on a simulated rotation).
    private let serverCA: Locked<CertificateAuthority>
    private let info: Locked<String>
    private let lifetime: Locked<TimeInterval>

    /// `now` dates issued certificates, so tests with an injected clock get matching expiries.
    init(
        certificateLifetime: TimeInterval = 3600,
        connectionInfo: String = #"{"ipAddress":"10.0.0.5"}"#,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        let ca = try CertificateAuthority.create(commonName: "test-cluster-ca")
        self.ca = ca
        serverCA = Locked(ca)
        info = Locked(connectionInfo)
        lifetime = Locked(certificateLifetime)
        let mode = self.mode
        let counts = self.counts
        let serverCA = self.serverCA
        let info = self.info
        let lifetime = self.lifetime
        server = try LoopbackHTTPServer { request in
            if case .failing(let status, let envelope) = mode.withLock({ $0 }) {
                return .init(status: status, body: envelope)
            }
            if request.path.hasSuffix("/connectionInfo") {
                counts.withLock { $0.info += 1 }
                return .init(status: 200, body: info.withLock { $0 })
            }
            guard request.path.hasSuffix(":generateClientCertificate"),
                let pem = request.bodyJSON?["publicKey"] as? String,
                let key = try? PublicKey(pem: pem),
                let leaf = try? ca.issue(
                    publicKey: key, commonName: "client", lifetime: lifetime.withLock { $0 }, notBefore: now(),
                    purpose: .client)
            else { return .init(status: 400, body: #"{"error":{"code":400,"status":"INVALID_ARGUMENT"}}"#) }
            counts.withLock { $0.certificate += 1 }
            let anchor = serverCA.withLock { $0 }.certificate.pem
            let body: [String: Any] = ["pemCertificateChain": [leaf.pem, ca.certificate.pem], "caCert": anchor]
            // Cannot fail: the dictionary holds only strings.
            let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
            return .init(status: 200, body: String(decoding: data, as: UTF8.self))
        }
    }

    var callCounts: (info: Int, certificate: Int) { counts.withLock { $0 } }

    func setMode(_ newMode: Mode) { mode.withLock { $0 = newMode } }

    /// Later answers carry `json` as connection info.
    func setConnectionInfo(_ json: String) { info.withLock { $0 = json } }

    /// Later answers name `authority` as the server CA (`caCert`).
    func setServerCA(_ authority: CertificateAuthority) { serverCA.withLock { $0 = authority } }

    /// Later certificates live `seconds`.
    func setCertificateLifetime(_ seconds: TimeInterval) { lifetime.withLock { $0 = seconds } }

    /// Bearer tokens of every Admin API request so far.
    var bearerTokens: [String] {
        server.requests.compactMap { $0.headers["authorization"] }.map {
            $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : $0
        }
    }

    func stop() { server.stop() }
}

/// Fixture values shared by the client and connector tests.
enum Fixture {
    static let instance = try! InstanceURI("projects/p/locations/r/clusters/c/instances/i")  // Literal is valid.

    static func envelope(_ code: Int, _ status: String, _ message: String) -> String {
        #"{"error":{"code":\#(code),"message":"\#(message)","status":"\#(status)","details":[]}}"#
    }
}
