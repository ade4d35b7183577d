import Emulator
import XCTest

/// Pure codecs and parsers: metadata exchange, JSON, command line.
final class CodecTests: XCTestCase {
    func testMetadataExchangeRequestRoundTripsWithLongToken() throws {
        let token = String(repeating: "t", count: 500)
        let frame = MetadataExchange.encodeRequest(
            .init(userAgent: "alloydb-go-connector/1.18.5", authType: .autoIAM, oauth2Token: token))
        XCTAssertEqual(Array(frame[0..<4]), [0x00, 0x00, 0x02, 0x16])
        guard case .complete(let length) = try MetadataExchange.frame(in: frame) else {
            return XCTFail("frame incomplete")
        }
        let request = try MetadataExchange.decodeRequest(frame[4..<4 + length])
        XCTAssertEqual(request.oauth2Token, token)
        XCTAssertEqual(request.authType, .autoIAM)
        XCTAssertEqual(request.userAgent, "alloydb-go-connector/1.18.5")
    }

    func testMetadataExchangeSkipsUnknownFieldsAndRejectsTruncation() throws {
        // field 9 (varint), field 10 (fixed64), field 11 (fixed32), then oauth2_token "ab".
        let body: [UInt8] = [0x48, 0x96, 0x01, 0x51] + [UInt8](repeating: 1, count: 8)
            + [0x5D, 1, 2, 3, 4, 0x1A, 0x02, 0x61, 0x62]
        XCTAssertEqual(try MetadataExchange.decodeRequest(body[...]).oauth2Token, "ab")
        XCTAssertThrowsError(try MetadataExchange.decodeRequest([0x1A, 0x05, 0x61][...]))
        XCTAssertThrowsError(try MetadataExchange.frame(in: [0x00, 0x01, 0x00, 0x00]))
        XCTAssertEqual(try MetadataExchange.frame(in: [0, 0, 0, 2, 8]), .incomplete)
    }

    func testResponsesMatchTheWireExamples() throws {
        XCTAssertEqual(MetadataExchange.okResponse(), [0, 0, 0, 2, 0x08, 0x01])
        let error = MetadataExchange.errorResponse("no")
        XCTAssertEqual(try MetadataExchange.decodeResponse(error[4...]).error, "no")
    }

    func testJSONParserAcceptsValidAndRejectsInvalid() throws {
        let value = try JSONValue.parse(Array(#"{"a":[1,true,null,"x\u00e9\n"],"b":{"c":-2.5e1}}"#.utf8))
        XCTAssertEqual(value["a"]?.arrayValue?[3].stringValue, "xé\n")
        XCTAssertEqual(value["b"]?["c"]?.numberValue, -25)
        for bad in ["{", "[1,]", "{\"a\" 1}", "01x", "\"\u{01}\"", String(repeating: "[", count: 100)] {
            XCTAssertThrowsError(try JSONValue.parse(Array(bad.utf8)), bad)
        }
        XCTAssertEqual(try JSONValue.parse(value.bytes), value)
    }

    func testServeCommandLine() throws {
        let command = try EmulatorCommand.parse([
            "serve", "--state-dir", "/tmp/x", "--api-port", "0",
            "--instance", "projects/p/locations/r/clusters/c/instances/i=127.0.0.5,backend=sink,psc=x.y.",
            "--instance", "projects/p/locations/r/clusters/c/instances/j=127.0.0.6",
            "--postgres", "localhost:5432", "--cert-lifetime", "90m", "--instance-port=15433",
        ])
        guard case .serve(let configuration) = command else { return XCTFail("not serve") }
        XCTAssertEqual(configuration.instances.count, 2)
        XCTAssertEqual(configuration.instances[0].backend, .sink)
        XCTAssertEqual(configuration.instances[0].pscDNSName, "x.y.")
        XCTAssertEqual(configuration.backend(for: configuration.instances[1]), .postgres(host: "localhost", port: 5432))
        XCTAssertEqual(configuration.certificateLifetime, 5400)
        XCTAssertEqual(configuration.instancePort, 15433)
    }

    func testBadCommandLinesAreUsageErrors() {
        let cases: [[String]] = [
            [], ["serve"], ["serve", "--state-dir"], ["serve", "--state-dir", "d", "--bogus"],
            ["serve", "--state-dir", "d", "--instance", "projects/p/i=127.0.0.1"],
            ["serve", "--state-dir", "d", "--instance", "projects/p/locations/r/clusters/c/instances/i=host"],
            ["serve", "--state-dir", "d", "--cert-lifetime", "soon"],
            ["serve", "--state-dir", "d", "--postgres", "nohost"],
        ]
        for arguments in cases {
            XCTAssertThrowsError(try EmulatorCommand.parse(arguments), "\(arguments)") {
                XCTAssertEqual(($0 as? EmulatorError)?.code, .usage)
            }
        }
        XCTAssertEqual(try EmulatorCommand.parse(["--help"]), .help)
    }
}
