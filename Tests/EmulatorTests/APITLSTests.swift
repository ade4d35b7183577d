import Emulator
import Foundation
import TLS
import XCTest

/// `--api-tls`: the Admin API over HTTPS (libmicrohttpd with GnuTLS) with the emulator's own CA.
final class APITLSTests: XCTestCase {
    func testAPIServesHTTPSWithTheCAFromEmulatorJSON() throws {
        try XCTSkipUnless(HTTPServer.supportsTLS, "libmicrohttpd without TLS")
        let fixture = try EmulatorFixture(ip: "127.0.0.150", apiTLS: true)
        defer { fixture.stop() }
        let readyFile = URL(fileURLWithPath: fixture.directory + "/emulator.json")
        let ready = try JSONValue.parse(Array(try Data(contentsOf: readyFile)))
        let endpoint = try XCTUnwrap(ready["apiEndpoint"]?.stringValue)
        XCTAssertTrue(endpoint.hasPrefix("https://127.0.0.1:"), endpoint)
        XCTAssertEqual(ready["tokenURI"]?.stringValue, endpoint + "/token")
        let caFile = try XCTUnwrap(ready["apiCAFile"]?.stringValue)
        let ca = try Certificate(pem: try String(contentsOfFile: caFile, encoding: .utf8))
        let port = try XCTUnwrap(UInt16(endpoint.split(separator: ":").last ?? ""))

        // The TLS engine always carries a client identity; the API never asks for it.
        let unused = try CertificateAuthority.create(commonName: "unused")
        let key = try PrivateKey.generateRSA()
        let leaf = try unused.issue(publicKey: key.publicKey, commonName: "client", purpose: .client)
        let trusting = try TLSContext.client(certificateChain: [leaf], key: key, trustedRoots: [ca])
        let client = try TLSTestClient(host: "127.0.0.1", port: port, context: trusting)
        try client.handshake()
        try client.write(Array("GET /emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        let reply = String(decoding: try client.read(count: 1 << 16), as: UTF8.self)
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 200"), reply)
        XCTAssertTrue(reply.contains(#""mdx":"ok""#), reply)

        let distrusting = try TLSContext.client(
            certificateChain: [leaf], key: key, trustedRoots: [unused.certificate])
        let refused = try TLSTestClient(host: "127.0.0.1", port: port, context: distrusting)
        XCTAssertThrowsError(try refused.handshake(), "only the API CA vouches for the API")

        // mint-client-cert finds the CA in emulator.json and works over HTTPS too.
        let written = try ClientCertificateMinter(
            options: .init(stateDirectory: fixture.directory, outputDirectory: fixture.directory + "/m")
        ).run()
        XCTAssertEqual(written.count, 4)
    }
}
