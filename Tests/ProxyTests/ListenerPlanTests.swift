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

    func testTwoInstancesOnOneEndpointAreRefusedNamingIt() {
        let cases: [([String], String)] = [
            ([base + "a?port=7001", base + "b?port=7001"], "p.r.c.a and p.r.c.b would both listen on 127.0.0.1:7001"),
            (["-p", "7000", base + "a?port=7001", base + "b", base + "c"], "p.r.c.a and p.r.c.c"),
            ([base + "a?unix-socket-path=/x/y", base + "b?unix-socket-path=/x/y/.s.PGSQL.5432"],
             "would both listen on /x/y/.s.PGSQL.5432"),
        ]
        for (arguments, expected) in cases {
            XCTAssertThrowsError(try plan(arguments), "\(arguments)") { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
        XCTAssertNoThrow(try plan(["-p", "0", base + "a", base + "b"]), "kernel-chosen ports never collide")
        XCTAssertNoThrow(try plan([base + "a?port=7001&address=127.0.0.81", base + "b?port=7001"]))
    }
}
