import Foundation
import TLS
import XCTest

@testable import Connector

/// `--static-connection-info FILE`: parsed once, shared by instances, never refreshed.
final class StaticConnectionInfoTests: XCTestCase {
    private let second = try! InstanceURI("projects/p/locations/r/clusters/c/instances/second")  // Literal is valid.

    private func writeFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "static-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A file with entries for `Fixture.instance` and `second`, certificates from one CA.
    private func makeFile() throws -> (path: String, leafExpiry: Date, ca: CertificateAuthority) {
        let ca = try CertificateAuthority.create(commonName: "static-ca")
        let key = try PrivateKey.generateRSA(bits: 2048)
        let leaf = try ca.issue(publicKey: key.publicKey, commonName: "client", lifetime: 7200, purpose: .client)
        let entry: [String: Any] = [
            "ipAddress": "127.0.0.98", "publicIPAddress": "127.0.0.99",
            "pscInstanceConfig": ["pscDnsName": "static.alloydb-psc.goog."],
            "pemCertificateChain": [leaf.pem, ca.certificate.pem], "caCert": ca.certificate.pem,
        ]
        let document: [String: Any] = [
            "privateKey": key.pem(), "publicKey": key.publicKey.pem(.pkcs1),
            Fixture.instance.name: entry, second.name: entry,
        ]
        let data = try JSONSerialization.data(withJSONObject: document)
        return (try writeFile(String(decoding: data, as: UTF8.self)), leaf.notAfter, ca)
    }

    private func connector(path: String) throws -> Connector {
        // Nothing listens on port 9: any Admin API call would fail.
        try Connector(configuration: ConnectorConfiguration(
            apiEndpoint: "http://127.0.0.1:9", credentials: .token("T"),
            http: HTTPOptions(connectTimeout: 1, totalTimeout: 2), environment: [:],
            staticConnectionInfoPath: path,
            hostLookup: HostLookup { _ in .success("127.0.0.98") }))
    }

    func testStaticInfo_servesEveryInstance_withoutAdminAPI() throws {
        let file = try makeFile()
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let connector = try connector(path: file.path)
        defer { connector.stop() }

        let first = try Scenario.one(connector, connector.makeHandle(for: Fixture.instance)).get()
        XCTAssertEqual(first.dialAddress, "127.0.0.98")
        XCTAssertEqual(first.expiration, file.leafExpiry)
        XCTAssertEqual(first.mdxToken, "T")
        let other = try Scenario.one(connector, connector.makeHandle(for: second, ipType: .public)).get()
        XCTAssertEqual(other.dialAddress, "127.0.0.99", "a second instance reads the same parsed file")
        let psc = try Scenario.one(connector, connector.makeHandle(for: second, ipType: .psc)).get()
        XCTAssertEqual(psc.pscDNSName, "static.alloydb-psc.goog")
        XCTAssertEqual(psc.resolvedIP, "127.0.0.98")

        let server = try InstanceTLSPeer(serverCA: file.ca, clientCA: file.ca, ipAddresses: ["127.0.0.98"])
        XCTAssertTrue(try server.handshake(first).succeeded, "the file's key and chain are used for TLS")
    }

    func testUnknownInstance_isTypedConfigError() throws {
        let file = try makeFile()
        defer { try? FileManager.default.removeItem(atPath: file.path) }
        let connector = try connector(path: file.path)
        defer { connector.stop() }
        let unknown = try InstanceURI("projects/p/locations/r/clusters/c/instances/nope")
        guard case .failure(let error) = Scenario.one(connector, connector.makeHandle(for: unknown)) else {
            return XCTFail("succeeded")
        }
        XCTAssertEqual(error.code, .config)
        XCTAssertTrue(error.message.contains("unknown instance"), "\(error)")
        XCTAssertEqual(error.instance, "p.r.c.nope")
    }

    func testMalformedFiles_failAtStartup_namingTheProblem() throws {
        let cases: [(text: String, expected: String)] = [
            ("not json", "is not a JSON object"),
            ("[]", "is not a JSON object"),
            (#"{"publicKey":"x"}"#, "no usable privateKey"),
            (#"{"privateKey":"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}"#,
             "no usable privateKey"),
        ]
        for (text, expected) in cases {
            let path = try writeFile(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            XCTAssertThrowsError(try connector(path: path)) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains(path), "\(text): \(error)")
            }
        }
        let key = try PrivateKey.generateRSA(bits: 2048).pem()
        let badEntries: [(member: String, value: Any, expected: String)] = [
            ("projects/p/instances/i", [String: Any](), "not an instance URI"),
            (Fixture.instance.name, "text", "is not an object"),
            (Fixture.instance.name, ["ipAddress": "1.2.3.4"], "needs pemCertificateChain and caCert"),
        ]
        for (member, value, expected) in badEntries {
            let data = try JSONSerialization.data(withJSONObject: ["privateKey": key, member: value])
            let path = try writeFile(String(decoding: data, as: UTF8.self))
            defer { try? FileManager.default.removeItem(atPath: path) }
            XCTAssertThrowsError(try connector(path: path)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(member): \(error)")
            }
        }
        XCTAssertThrowsError(try connector(path: "/nonexistent/static.json")) { error in
            XCTAssertTrue("\(error)".contains("could not read static connection info file"), "\(error)")
        }
    }
}
