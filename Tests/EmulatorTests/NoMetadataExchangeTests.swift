@testable import Emulator
import Foundation
import TLS
import XCTest

/// Instances with `mdx=off` and certificates minted for TLS peers that cannot run the metadata
/// exchange (HAProxy, stunnel, psql with sslcert).
final class NoMetadataExchangeTests: XCTestCase {
    func testMintedCertificateRelaysRawBytesWithoutMetadataExchange() throws {
        let ip = "127.0.0.148"
        let fixture = try EmulatorFixture(ip: ip, backend: .echo, metadataExchange: false)
        defer { fixture.stop() }
        let out = fixture.directory + "/minted"
        let written = try ClientCertificateMinter(
            options: .init(stateDirectory: fixture.directory, outputDirectory: out)
        ).run()
        XCTAssertEqual(written.map { ($0 as NSString).lastPathComponent },
                       ["client.key", "client.crt", "client.pem", "ca.crt"])
        let keyMode = try FileManager.default.attributesOfItem(atPath: out + "/client.key")[.posixPermissions]
        XCTAssertEqual((keyMode as? NSNumber)?.intValue, 0o600)

        // A plain TLS client built only from the files: no MDX, bytes flow at once.
        let key = try PrivateKey(pem: try String(contentsOfFile: out + "/client.key", encoding: .utf8))
        let chain = try Certificate.chain(fromPEM: try String(contentsOfFile: out + "/client.crt", encoding: .utf8))
        let ca = try Certificate(pem: try String(contentsOfFile: out + "/ca.crt", encoding: .utf8))
        XCTAssertEqual(chain.count, 2, "leaf and intermediate")
        let context = try TLSContext.client(certificateChain: chain, key: key, trustedRoots: [ca])
        let client = try TLSTestClient(host: ip, port: fixture.emulator.configuration.instancePort, context: context)
        try client.handshake()
        let payload = Array("SELECT 1; -- raw bytes, no metadata exchange".utf8)
        try client.write(payload)
        XCTAssertEqual(try client.read(count: payload.count), payload)
        XCTAssertEqual(fixture.waitForEvent("tunnel")?["mdx"]?.stringValue, "off")

        // libpq's preface: a plaintext SSLRequest is answered S, then TLS as above.
        let socket = try BlockingSocket(host: ip, port: fixture.emulator.configuration.instancePort)
        try socket.send([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        XCTAssertEqual(try socket.receive(), [UInt8(ascii: "S")])
        let afterPreface = try TLSTestClient(socket: socket, host: ip, context: context)
        try afterPreface.handshake()
        try afterPreface.write(payload)
        XCTAssertEqual(try afterPreface.read(count: payload.count), payload)
        XCTAssertEqual(
            fixture.events().last { $0["event"]?.stringValue == "certificate" }?["useMetadataExchange"],
            false)
    }

    func testMintCommandLine() throws {
        XCTAssertEqual(
            try EmulatorCommand.parse(["mint-client-cert", "--state-dir", "s", "--out", "o"]),
            .mintClientCertificate(.init(stateDirectory: "s", outputDirectory: "o")))
        XCTAssertThrowsError(try EmulatorCommand.parse(["mint-client-cert", "--state-dir", "s"]))
        XCTAssertThrowsError(try EmulatorCommand.parse(["mint-client-cert", "--out", "o", "--cluster", "x"]))
        XCTAssertThrowsError(
            try ClientCertificateMinter(options: .init(stateDirectory: "/nonexistent", outputDirectory: "/tmp/o"))
                .run())
    }
}
