import XCTest

@testable import Connector

final class MetadataExchangeCodecTests: XCTestCase {
    func testRequestEncoding_matchesProtocolExample() {
        let token = String(repeating: "t", count: 500)
        let frame = MetadataExchangeRequest(
            userAgent: "alloydb-go-connector/1.18.5", authType: .dbNative, oauth2Token: token
        ).encodeFrame()
        XCTAssertEqual(Array(frame[0..<4]), [0x00, 0x00, 0x02, 0x16])
        XCTAssertEqual(Array(frame[4..<6]), [0x0A, 0x1B])
        XCTAssertEqual(String(decoding: frame[6..<33], as: UTF8.self), "alloydb-go-connector/1.18.5")
        XCTAssertEqual(Array(frame[33..<38]), [0x10, 0x01, 0x1A, 0xF4, 0x03])
        XCTAssertEqual(frame.count, 4 + 534)
    }

    func testRequestEncoding_autoIAMAndEmptyFieldsOmitted() {
        let message = MetadataExchangeRequest(userAgent: "", authType: .autoIAM, oauth2Token: "").encodeMessage()
        XCTAssertEqual(message, [0x10, 0x02])
    }

    func testOKResponse_fromProtocolExample() throws {
        var decoder = MetadataExchangeDecoder()
        let progress = try decoder.feed([0x00, 0x00, 0x00, 0x02, 0x08, 0x01])
        XCTAssertEqual(progress, .complete(MetadataExchangeResponse(responseCode: 1, error: ""), consumed: 6))
        XCTAssertNoThrow(try decoder.endOfStream())
    }

    func testErrorResponse_byteAtATime_withTrailingBytes() throws {
        let message: [UInt8] = [0x08, 0x02, 0x12, 0x04] + Array("nope".utf8)
        let stream: [UInt8] = [0, 0, 0, UInt8(message.count)] + message + [0xAA, 0xBB]
        var decoder = MetadataExchangeDecoder()
        for byte in stream.dropLast(3) {
            XCTAssertEqual(try decoder.feed([byte]), .needMore)
        }
        let last = try decoder.feed(Array(stream.suffix(3)))
        XCTAssertEqual(last, .complete(MetadataExchangeResponse(responseCode: 2, error: "nope"), consumed: 1))
        guard case .complete(let response, _) = last else { return }
        XCTAssertFalse(response.isOK)
    }

    func testUnknownFields_ofEveryWireTypeAreSkipped() throws {
        let message: [UInt8] = [
            0x18, 0x96, 0x01,  // field 3 varint
            0x21, 1, 2, 3, 4, 5, 6, 7, 8,  // field 4 fixed64
            0x2A, 0x02, 0xFF, 0xFE,  // field 5 bytes
            0x35, 1, 2, 3, 4,  // field 6 fixed32
            0x08, 0x01,
        ]
        let response = try MetadataExchangeDecoder.parse(message)
        XCTAssertTrue(response.isOK)
    }

    func testMissingCode_decodesAsUnspecifiedFailure() throws {
        let response = try MetadataExchangeDecoder.parse([])
        XCTAssertEqual(response.responseCode, 0)
        XCTAssertFalse(response.isOK)
    }

    func testRoundTrip_ofEncoderVarints() throws {
        for length in [0, 1, 127, 128, 300, 16_000] {
            var out: [UInt8] = []
            ProtoWire.appendVarint(UInt64(length), to: &out)
            var reader = ProtoReader(bytes: out)
            XCTAssertEqual(try reader.readVarint(), UInt64(length))
            XCTAssertTrue(reader.isAtEnd)
        }
    }

    func testMalformedInputs_areTypedErrors() {
        let cases: [([UInt8], MetadataExchangeError.Code)] = [
            ([0x00, 0x00, 0x40, 0x01], .oversizedLength(16_385)),
            ([0xFF, 0xFF, 0xFF, 0xFF], .oversizedLength(UInt32.max)),
            ([0, 0, 0, 2, 0x08, 0x80], .truncatedVarint),
            ([0, 0, 0, 1, 0x88], .truncatedVarint),
            ([0, 0, 0, 11, 0x08] + [UInt8](repeating: 0xFF, count: 10), .varintTooLong),
            ([0, 0, 0, 3, 0x12, 0x05, 0x41], .truncatedField(fieldNumber: 2)),
            ([0, 0, 0, 2, 0x1B, 0x00], .unsupportedWireType(3, fieldNumber: 3)),
            ([0, 0, 0, 2, 0x1F, 0x00], .unsupportedWireType(7, fieldNumber: 3)),
            ([0, 0, 0, 2, 0x00, 0x01], .invalidFieldNumber),
            ([0, 0, 0, 2, 0x0A, 0x00], .unexpectedWireType(2, fieldNumber: 1)),
            ([0, 0, 0, 4, 0x12, 0x02, 0xC3, 0x28], .invalidUTF8),
            ([0, 0, 0, 3, 0x25, 0x01, 0x02], .truncatedField(fieldNumber: 4)),
        ]
        for (bytes, expected) in cases {
            var decoder = MetadataExchangeDecoder()
            XCTAssertThrowsError(try decoder.feed(bytes), "\(bytes)") { error in
                XCTAssertEqual((error as? MetadataExchangeError)?.code, expected, "\(bytes)")
            }
        }
    }

    func testEndOfStream_beforeCompleteFrame_isTruncatedFrame() throws {
        var decoder = MetadataExchangeDecoder()
        XCTAssertEqual(try decoder.feed([0, 0, 0, 5, 0x08]), .needMore)
        XCTAssertThrowsError(try decoder.endOfStream()) { error in
            XCTAssertEqual((error as? MetadataExchangeError)?.code, .truncatedFrame(received: 5, expected: 9))
        }
    }

    func testFeedingAfterCompletion_isAnError() throws {
        var decoder = MetadataExchangeDecoder()
        _ = try decoder.feed([0, 0, 0, 2, 0x08, 0x01])
        XCTAssertThrowsError(try decoder.feed([0x00]))
    }
}
