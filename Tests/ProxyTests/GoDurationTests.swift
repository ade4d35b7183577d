import XCTest

@testable import Proxy

final class GoDurationTests: XCTestCase {
    func testParsesGoSyntax() {
        let cases: [(String, Duration?)] = [
            ("30s", .seconds(30)),
            ("1m30s", .seconds(90)),
            ("500ms", .milliseconds(500)),
            ("1.5h", .seconds(5400)),
            ("0", .zero),
            ("0s", .zero),
            ("+2s", .seconds(2)),
            ("-2s", .seconds(-2)),
            ("1h2m3s4ms5us6ns", .nanoseconds(3_723_004_005_006)),
            ("10\u{00B5}s", .microseconds(10)),
            (".5s", .milliseconds(500)),
            ("1.s", .seconds(1)),
            ("", nil),
            ("30", nil),
            ("s", nil),
            ("1d", nil),
            ("1.5.5s", nil),
            ("3 s", nil),
            ("9999999999999h", nil),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(GoDuration.parse(text), expected, "parsing \(text)")
        }
    }

    func testFormatsLikeGo() {
        let cases: [(Duration, String)] = [
            (.zero, "0s"),
            (.seconds(30), "30s"),
            (.seconds(90), "1m30s"),
            (.milliseconds(500), "500ms"),
            (.milliseconds(1500), "1.5s"),
            (.seconds(3600), "1h0m0s"),
        ]
        for (duration, expected) in cases {
            XCTAssertEqual(GoDuration.format(duration), expected)
        }
    }

    func testFractionThatOverflowsIsRejectedNotATrap() {
        XCTAssertNil(GoDuration.parse("18446744073709551.999us"))
        XCTAssertThrowsError(try CommandLineParser.parse(["--max-sigterm-delay", "18446744073709551.999us",
                                                          "projects/p/locations/r/clusters/c/instances/i"]))
    }
}
