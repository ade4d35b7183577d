import XCTest

@testable import Proxy

final class ListenerPlanTests: XCTestCase {
    private let base = "projects/p/locations/r/clusters/c/instances/"

    private func plan(_ arguments: [String]) throws -> [ListenerEndpoint] {
        try ListenerPlan.endpoints(for: CommandLineParser.parse(arguments))
    }

    private func local(_ port: Int) -> ListenerEndpoint {
        .tcp(host: "127.0.0.1", port: port)
    }

    func testPortCounterSkipsInstancesWithTheirOwnPort() throws {
        let cases: [([String], [ListenerEndpoint])] = [
            ([base + "a", base + "b"], [local(5432), local(5433)]),
            (["--port", "5000", base + "a", base + "b"], [local(5000), local(5001)]),
            (["-p", "5000", base + "a?port=6000", base + "b"], [local(6000), local(5000)]),
            (["-a", "::1", base + "a", base + "b?address=127.0.0.81"],
             [.tcp(host: "::1", port: 5432), .tcp(host: "127.0.0.81", port: 5433)]),
        ]
        for (arguments, expected) in cases {
            XCTAssertEqual(try plan(arguments), expected, "\(arguments)")
        }
    }

    func testUnixSocketDirectories() throws {
        let cases: [([String], [ListenerEndpoint])] = [
            (["-u", "/tmp/s", "projects/Dom.com:P/locations/R/clusters/C/instances/I"],
             [.unix(directory: "/tmp/s/dom.com_p.r.c.i")]),
            (["-u", "/tmp/s/", base + "a?unix-socket=/other"], [.unix(directory: "/tmp/s/p.r.c.a")]),
            ([base + "a?unix-socket=/other"], [.unix(directory: "/other/p.r.c.a")]),
            ([base + "a?unix-socket-path=/x/y/.s.PGSQL.5432"], [.unix(directory: "/x/y")]),
            ([base + "a?unix-socket-path=/x/y"], [.unix(directory: "/x/y")]),
            (["-u", "/tmp/s", base + "a?port=7000", base + "b"],
             [.tcp(host: "127.0.0.1", port: 7000), .unix(directory: "/tmp/s/p.r.c.b")]),
        ]
        for (arguments, expected) in cases {
            XCTAssertEqual(try plan(arguments), expected, "\(arguments)")
        }
        XCTAssertEqual(ListenerEndpoint.unix(directory: "/a").socketPath, "/a/.s.PGSQL.5432")
        XCTAssertEqual(ListenerEndpoint.tcp(host: "::1", port: 5).description, "[::1]:5")
    }

    func testPortCounterOverflowIsAnError() {
        XCTAssertThrowsError(try plan(["-p", "65535", base + "a", base + "b"]))
    }
}
