import Locking
import Synchronization
import XCTest

@testable import Proxy

final class LoggingTests: XCTestCase {
    /// Collects lines written by a logger.
    private final class Capture: Sendable {
        let lines = Locked<[(String, Bool)]>([])
        var sink: ProxyLogger.Sink { { line, isError in self.lines.withLock { $0.append((line, isError)) } } }
        var all: [(String, Bool)] { lines.withLock { $0 } }
    }

    // 2024-05-01T12:34:56.789Z
    private let clock: ProxyLogger.WallClock = { (1_714_566_896, 789_000_000) }

    func testTextFormatLevelsAndStreams() {
        let capture = Capture()
        let logger = ProxyLogger(sink: capture.sink, clock: clock)
        logger.debug("hidden")
        logger.info("[p.r.c.i] Listening on 127.0.0.1:5432")
        logger.error("[p.r.c.i] failed to connect to instance: boom\nforged line")
        let lines = capture.all
        XCTAssertEqual(lines.count, 2)
        let pattern = #"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[p\.r\.c\.i\] Listening on 127\.0\.0\.1:5432\n$"#
        XCTAssertNotNil(lines[0].0.range(of: pattern, options: .regularExpression), lines[0].0)
        XCTAssertFalse(lines[0].1, "info goes to stdout")
        XCTAssertTrue(lines[1].1, "errors go to stderr")
        XCTAssertTrue(lines[1].0.hasSuffix("failed to connect to instance: boom forged line\n"))
    }

    func testStructuredFormat() throws {
        let capture = Capture()
        let logger = ProxyLogger(structured: true, debug: true, sink: capture.sink, clock: clock)
        logger.debug("tunnel \"1\" closed")
        let line = try XCTUnwrap(capture.all.first?.0)
        let expected = #"{"severity":"DEBUG","message":"tunnel \"1\" closed","#
            + #""timestamp":"2024-05-01T12:34:56.789Z"}"# + "\n"
        XCTAssertEqual(line, expected)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        XCTAssertEqual(object?["message"], "tunnel \"1\" closed")
    }

    func testQuietKeepsOnlyErrorsAndDebugIsLazy() {
        let capture = Capture()
        let logger = ProxyLogger(quiet: true, sink: capture.sink, clock: clock)
        var built = false
        logger.debug({ built = true; return "x" }())
        logger.info("info")
        logger.error("error")
        XCTAssertFalse(built, "disabled messages are never built")
        XCTAssertEqual(capture.all.map(\.1), [true])
    }
}
