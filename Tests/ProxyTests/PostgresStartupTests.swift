import XCTest

@testable import Proxy

final class PostgresStartupTests: XCTestCase {
    private let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]

    private func startup(user: String) -> [UInt8] {
        var body: [UInt8] = [0, 3, 0, 0] + Array("user".utf8) + [0] + Array(user.utf8) + [0, 0]
        let length = UInt32(body.count + 4)
        body = (0..<4).map { UInt8(truncatingIfNeeded: length >> (24 - 8 * $0)) } + body
        return body
    }

    func testClassifiesFirstMessages() {
        let message = startup(user: "postgres")
        XCTAssertEqual(PostgresStartup.classify(sslRequest), .encryptionRequest)
        XCTAssertEqual(PostgresStartup.classify(sslRequest.prefix(5)), .incomplete)
        XCTAssertEqual(PostgresStartup.classify(message), .startupMessage(length: message.count))
        XCTAssertEqual(PostgresStartup.classify(message.dropLast()), .incomplete)
        XCTAssertEqual(PostgresStartup.classify(Array("GET / HTTP/1.1\r\n".utf8)), .other)
        XCTAssertEqual(PostgresStartup.classify([UInt8]([0, 0, 0, 16, 4, 0xD2, 0x16, 0x2E])), .other)
    }

    func testErrorResponseFraming() {
        let reply = PostgresStartup.errorResponse(message: "no\0access")
        XCTAssertEqual(reply.first, UInt8(ascii: "E"))
        let length = reply[1..<5].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(length, reply.count - 1)
        let text = String(decoding: reply[5...], as: UTF8.self)
        XCTAssertTrue(text.contains("SFATAL\0"))
        XCTAssertTrue(text.contains("C08006\0"))
        XCTAssertTrue(text.contains("Mno access\0"))
        XCTAssertEqual(reply.last, 0)
    }
}
