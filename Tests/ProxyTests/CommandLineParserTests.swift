import XCTest

@testable import Proxy

final class CommandLineParserTests: XCTestCase {
    private let uri = "projects/p/locations/r/clusters/c/instances/i"

    func testDefaultsMatchTheReference() throws {
        let options = try CommandLineParser.parse([uri])
        XCTAssertEqual(options.address, "127.0.0.1")
        XCTAssertEqual(options.port, 5432)
        XCTAssertEqual(options.adminAPIEndpoint, "https://alloydb.googleapis.com")
        XCTAssertEqual(options.dialTimeout, .seconds(30))
        XCTAssertEqual(options.handshakeTimeout, .seconds(10))
        XCTAssertEqual(options.metadataExchangeTimeout, .seconds(10))
        XCTAssertEqual(options.halfCloseTimeout, .zero)
        XCTAssertEqual(options.maxConnections, 0)
        XCTAssertFalse(options.autoIAMAuthN)
        XCTAssertEqual(options.instances.map(\.shortName), ["p.r.c.i"])
    }

    func testFlagFormsSetTheSameValues() throws {
        let cases: [([String], (ProxyOptions) -> Bool)] = [
            (["--port", "6000"], { $0.port == 6000 }),
            (["--port=6000"], { $0.port == 6000 }),
            (["-p", "6000"], { $0.port == 6000 }),
            (["-p6000"], { $0.port == 6000 }),
            (["-p=6000"], { $0.port == 6000 }),
            (["-a", "::1"], { $0.address == "::1" }),
            (["--address=10.0.0.1"], { $0.address == "10.0.0.1" }),
            (["-i"], { $0.autoIAMAuthN }),
            (["--auto-iam-authn=false"], { !$0.autoIAMAuthN }),
            (["--auto-iam-authn=T"], { $0.autoIAMAuthN }),
            (["-il"], { $0.autoIAMAuthN && $0.structuredLogs }),
            (["--psc", "--public-ip"], { $0.psc && $0.publicIP }),
            (["-t", "tok"], { $0.token == "tok" }),
            (["-c", "/k.json"], { $0.credentialsFile == "/k.json" }),
            (["-j", "{}"], { $0.jsonCredentials == "{}" }),
            (["--login-token", "x"], { $0.loginToken == "x" }),
            (["-u", "/tmp/s"], { $0.unixSocket == "/tmp/s" }),
            (["--max-connections", "7"], { $0.maxConnections == 7 }),
            (["--user-agent", "a b"], { $0.userAgent == "a b" }),
            (["--quiet", "--debug-logs"], { $0.quiet && $0.debugLogs }),
            (["--lazy-refresh"], { $0.lazyRefresh }),
            (["--dial-timeout", "1m30s"], { $0.dialTimeout == .seconds(90) }),
            (["--handshake-timeout=500ms"], { $0.handshakeTimeout == .milliseconds(500) }),
            (["--metadata-exchange-timeout", "2s"], { $0.metadataExchangeTimeout == .seconds(2) }),
            (["--half-close-timeout", "5s"], { $0.halfCloseTimeout == .seconds(5) }),
            (["--admin-api-ca-file", "/ca.pem"], { $0.adminAPICAFile == "/ca.pem" }),
            (["--alloydbadmin-api-endpoint", "http://127.0.0.1:9000/"],
             { $0.adminAPIEndpoint == "http://127.0.0.1:9000" }),
        ]
        for (flags, check) in cases {
            let options = try CommandLineParser.parse(flags + [uri])
            XCTAssertTrue(check(options), "flags \(flags)")
            let interspersed = try CommandLineParser.parse([uri] + flags)
            XCTAssertTrue(check(interspersed), "flags after the instance: \(flags)")
        }
    }

    func testInvalidInputIsAOneLineError() {
        let cases: [([String], String)] = [
            (["--bogus", uri], "unknown flag: --bogus"),
            (["-x", uri], "unknown flag: -x"),
            ([uri, "--port"], "flag needs an argument: --port"),
            (["--port", "http", uri], "invalid argument \"http\" for --port"),
            (["--port", "70000", uri], "not a port number"),
            (["--dial-timeout", "30", uri], "invalid argument \"30\" for --dial-timeout"),
            (["--dial-timeout", "-1s", uri], "non-negative duration"),
            (["--psc=maybe", uri], "invalid argument \"maybe\" for --psc"),
            (["--address", "localhost", uri], "not a valid IP address"),
            (["-u", "/tmp", "-p", "5000", uri], "cannot specify --unix-socket and --address or --port"),
            (["-t", "a", "-c", "b", uri], "--token and --credentials-file"),
            (["-j", "{}", "-t", "a", uri], "--json-credentials"),
            ([], "missing instance uri"),
            (["projects/p/locations/r/clusters/c"],
             "could not parse instance uri: \"projects/p/locations/r/clusters/c\""),
            (["projects/p/locations/r:x/clusters/c/instances/i"], "could not parse instance uri"),
            ([uri + "/"], "(expected projects/PROJECT/locations/REGION/clusters/CLUSTER/instances/INSTANCE)"),
            (["projects/p/locations/r/clusters/c/instances/i x"], "could not parse instance uri"),
            ([uri + "?port=abc"], "port query param should be a port number, got: \"abc\""),
            ([uri + "?port=1&port=2"], "port query param should be only one value"),
            ([uri + "?prot=6000"], "unknown query param \"prot\"; known ones are address, auto-iam-authn"),
        ]
        for (arguments, expected) in cases {
            XCTAssertThrowsError(try CommandLineParser.parse(arguments), "\(arguments)") { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(expected), "\(arguments): \(text)")
                XCTAssertFalse(text.contains("\n"), "\(arguments): one line expected")
            }
        }
    }

    func testEnvironmentFillsFlagsTheCommandLineLeftUnset() throws {
        let environment = [
            "ALLOYDB_PROXY_PORT": "7000",
            "ALLOYDB_PROXY_STRUCTURED_LOGS": "true",
            "ALLOYDB_PROXY_INSTANCE_URI_0": uri,
            "ALLOYDB_PROXY_INSTANCE_URI_1": uri + "2",
            "ALLOYDB_PROXY_INSTANCE_URI_3": uri + "4",
        ]
        let options = try CommandLineParser.parse(["-p", "6000"], environment: environment)
        XCTAssertEqual(options.port, 6000)
        XCTAssertTrue(options.structuredLogs)
        XCTAssertEqual(options.instances.map(\.shortName), ["p.r.c.i", "p.r.c.i2"])
    }

    func testHelpAndVersionNeedNoInstance() throws {
        XCTAssertTrue(try CommandLineParser.parse(["-h"]).help)
        XCTAssertTrue(try CommandLineParser.parse(["--version"]).version)
        XCTAssertTrue(Usage.text.contains("-p, --port int"))
        XCTAssertEqual(Usage.versionLine, "alloydb-auth-proxy version \(Usage.version)")
    }
}
