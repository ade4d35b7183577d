import Foundation
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
    let ca: CertificateAuthority
    private let mode = Locked<Mode>(.healthy)
    private let counts = Locked<(info: Int, certificate: Int)>((0, 0))

    init(certificateLifetime: TimeInterval = 3600, connectionInfo: String = #"{"ipAddress":"10.0.0.5"}"#) throws {
        let ca = try CertificateAuthority.create(commonName: "test-cluster-ca")
        self.ca = ca
        let mode = self.mode
        let counts = self.counts
        server = try LoopbackHTTPServer { request in
            if case .failing(let status, let envelope) = mode.withLock({ $0 }) {
                return .init(status: status, body: envelope)
            }
            if request.path.hasSuffix("/connectionInfo") {
                counts.withLock { $0.info += 1 }
                return .init(status: 200, body: connectionInfo)
            }
            guard request.path.hasSuffix(":generateClientCertificate"),
                let pem = request.bodyJSON?["publicKey"] as? String,
                let key = try? PublicKey(pem: pem),
                let leaf = try? ca.issue(
                    publicKey: key, commonName: "client", lifetime: certificateLifetime, purpose: .client)
            else { return .init(status: 400, body: #"{"error":{"code":400,"status":"INVALID_ARGUMENT"}}"#) }
            counts.withLock { $0.certificate += 1 }
            let body: [String: Any] = ["pemCertificateChain": [leaf.pem, ca.certificate.pem], "caCert": ca.certificate.pem]
            // Cannot fail: the dictionary holds only strings.
            let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
            return .init(status: 200, body: String(decoding: data, as: UTF8.self))
        }
    }

    var callCounts: (info: Int, certificate: Int) { counts.withLock { $0 } }

    func setMode(_ newMode: Mode) { mode.withLock { $0 = newMode } }

    func stop() { server.stop() }
}

/// A mutex in a class, so closures can share it (`Mutex` itself cannot be copied).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// Fixture values shared by the client and connector tests.
enum Fixture {
    static let instance = try! InstanceURI("projects/p/locations/r/clusters/c/instances/i")  // Literal is valid.

    static func envelope(_ code: Int, _ status: String, _ message: String) -> String {
        #"{"error":{"code":\#(code),"message":"\#(message)","status":"\#(status)","details":[]}}"#
    }
}
