import XCTest

@testable import Proxy

final class InstanceArgumentTests: XCTestCase {
    private let uri = "projects/p/locations/r/clusters/c/instances/i"

    func testQueryParametersOverrideFlagsPerInstance() throws {
        let options = try CommandLineParser.parse([
            "--public-ip", "-i",
            uri + "?port=6000&public-ip=false&auto-iam-authn=f",
            uri + "2?psc&address=127.0.0.82",
            uri + "3?psc=false",
        ])
        let (first, second, third) = (options.instances[0], options.instances[1], options.instances[2])
        XCTAssertEqual(first.port, 6000)
        XCTAssertEqual(options.ipType(for: first), .private)
        XCTAssertFalse(options.autoIAMAuthN(for: first))
        XCTAssertEqual(second.address, "127.0.0.82")
        XCTAssertEqual(options.ipType(for: second), .psc)
        XCTAssertTrue(options.autoIAMAuthN(for: second))
        XCTAssertEqual(options.ipType(for: third), .public)
    }

    func testBooleanQueryValues() throws {
        let cases: [(String, Bool?)] = [
            ("", true), ("true", true), ("T", true), ("TRUE", true),
            ("false", false), ("F", false), ("yes", nil), ("1", nil),
        ]
        for (value, expected) in cases {
            let argument = try? InstanceArgument(parsing: uri + "?psc=" + value)
            XCTAssertEqual(argument?.psc, expected, "psc=\(value)")
        }
    }

    func testQueryErrors() {
        let cases: [(String, String)] = [
            ("?port=1&port=2", "port query param should be only one value"),
            ("?unknown=1", "unknown query param \"unknown\""),
            ("?psc=maybe", "psc query param should be true or false, got: \"maybe\""),
            ("?address=db.local", "address query param should be an IP address"),
            ("?port=-1", "port query param should be a port number"),
            ("?port=1&unix-socket=/tmp", "cannot specify both address or port and unix-socket"),
            ("?address=::1&unix-socket-path=/tmp/x", "cannot specify both address or port"),
            ("?unix-socket=/a&unix-socket-path=/b", "cannot specify both unix-socket and unix-socket-path"),
            ("?port=%zz", "invalid URL escape"),
            ("?a=1;b=2", "invalid semicolon separator"),
        ]
        for (query, expected) in cases {
            XCTAssertThrowsError(try InstanceArgument(parsing: uri + query), query) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(query): \(error)")
            }
        }
    }

    func testPercentEncodedValuesAreDecoded() throws {
        let argument = try InstanceArgument(parsing: uri + "?unix-socket-path=%2Ftmp%2Fmy+dir")
        XCTAssertEqual(argument.unixSocketPath, "/tmp/my dir")
    }
}
