import XCTest

@testable import Proxy

/// The lifecycle, health, metrics, admin and compatibility flags: defaults, forms, refusals and
/// notices.
final class LifecycleFlagTests: XCTestCase {
    private let uri = "projects/p/locations/r/clusters/c/instances/i"

    func testDefaultsMatchTheReference() throws {
        let options = try CommandLineParser.parse([uri])
        XCTAssertEqual(options.httpAddress, "localhost")
        XCTAssertEqual(options.httpBindAddress, "127.0.0.1")
        XCTAssertEqual(options.httpPort, 9090)
        XCTAssertEqual(options.adminPort, 9091)
        XCTAssertEqual(options.minSigtermDelay, .zero)
        XCTAssertEqual(options.maxSigtermDelay, .zero)
        XCTAssertEqual(options.unixSocketMode, 0o777)
        XCTAssertEqual(options.telemetrySampleRate, 10_000)
        XCTAssertFalse(options.exitZeroSigterm || options.healthCheck || options.prometheus
                       || options.quitquitquit || options.debug || options.runConnectionTest)
        XCTAssertEqual(options.warnings, [])
    }

    func testFlagsSetTheirValues() throws {
        let cases: [([String], (ProxyOptions) -> Bool)] = [
            (["--min-sigterm-delay", "2s"], { $0.minSigtermDelay == .seconds(2) }),
            (["--max-sigterm-delay=1m"], { $0.maxSigtermDelay == .seconds(60) }),
            (["--exit-zero-sigterm"], { $0.exitZeroSigterm }),
            (["--health-check", "--with-backend-check"], { $0.healthCheck && $0.withBackendCheck }),
            (["--prometheus", "--prometheus-namespace", "px"], { $0.prometheus && $0.prometheusNamespace == "px" }),
            (["--http-address", "0.0.0.0", "--http-port", "0"],
             { $0.httpBindAddress == "0.0.0.0" && $0.httpPort == 0 }),
            (["--quitquitquit", "--debug", "--admin-port=7000"],
             { $0.quitquitquit && $0.debug && $0.adminPort == 7000 }),
            (["--run-connection-test"], { $0.runConnectionTest }),
            (["--unix-socket-mode", "0700"], { $0.unixSocketMode == 0o700 }),
            (["--unix-socket-mode=660"], { $0.unixSocketMode == 0o660 }),
        ]
        for (flags, check) in cases {
            let options = try CommandLineParser.parse(flags + [uri])
            XCTAssertTrue(check(options), "\(flags)")
        }
        let env = try CommandLineParser.parse([uri], environment: ["ALLOYDB_PROXY_EXIT_ZERO_SIGTERM": "true",
                                                                   "ALLOYDB_PROXY_ADMIN_PORT": "7001"])
        XCTAssertTrue(env.exitZeroSigterm)
        XCTAssertEqual(env.adminPort, 7001)
    }

    func testBadValuesAreNamed() {
        let cases: [([String], String)] = [
            (["--unix-socket-mode", "0800"], "--unix-socket-mode"),
            (["--unix-socket-mode", "1777"], "--unix-socket-mode"),
            (["--http-port", "http"], "--http-port"),
            (["--admin-port", "70000"], "--admin-port"),
            (["--http-address", "::1"], "--http-address"),
            (["--http-address", "example.com"], "--http-address"),
            (["--max-sigterm-delay", "-1s"], "--max-sigterm-delay"),
        ]
        for (flags, named) in cases {
            XCTAssertThrowsError(try CommandLineParser.parse(flags + [uri]), "\(flags)") { error in
                XCTAssertTrue("\(error)".contains(named), "\(error)")
            }
        }
    }

    func testFeaturesThisProxyLacksAreRefused() {
        for flags in [["--fuse", "/mnt/x"], ["--fuse-tmp-dir", "/tmp/y"]] {
            XCTAssertThrowsError(try CommandLineParser.parse(flags + [uri]), "\(flags)") { error in
                XCTAssertTrue("\(error)".contains("is not supported by this proxy: FUSE mode"), "\(error)")
            }
        }
    }

    func testCredentialFlagsConflictAsInTheReference() throws {
        let cases: [([String], String)] = [
            (["-g", "-t", "x"], "cannot specify --token and --gcloud-auth flags at the same time"),
            (["-g", "-c", "/k.json"], "cannot specify --credentials-file and --gcloud-auth flags at the same time"),
            (["-g", "-j", "{}"], "cannot specify --json-credentials and --gcloud-auth flags at the same time"),
            (["--impersonate-service-account", "a@x,,b@x"], "without empty items"),
        ]
        for (flags, message) in cases {
            XCTAssertThrowsError(try CommandLineParser.parse(flags + [uri]), "\(flags)") { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
        let options = try CommandLineParser.parse(["-g", "--impersonate-service-account", "a@x,b@x",
                                                   "--static-connection-info", "/s.json", uri])
        XCTAssertTrue(options.gcloudAuth)
        XCTAssertEqual(options.impersonateServiceAccount, "a@x,b@x")
        XCTAssertEqual(options.staticConnectionInfo, "/s.json")
    }

    func testIgnoredFlagsGiveOneNotice() throws {
        let options = try CommandLineParser.parse([
            "--telemetry-project", "p", "--telemetry-sample-rate", "5", "--disable-built-in-telemetry",
            "--login-token", "secret-token", "--http-port", "9999", uri,
        ])
        XCTAssertEqual(options.warnings.count, 3, "\(options.warnings)")
        XCTAssertTrue(options.warnings[0].contains("--telemetry-project, --telemetry-sample-rate, "
                                                   + "--disable-built-in-telemetry"))
        XCTAssertEqual(options.warnings[1], "Ignoring --login-token because --auto-iam-authn is not enabled")
        XCTAssertFalse(options.warnings.joined().contains("secret-token"))
        XCTAssertTrue(options.warnings[2].contains("--http-port"))
        let iam = try CommandLineParser.parse(["--login-token", "t", "-i", uri])
        XCTAssertEqual(iam.warnings, [])
    }

    func testTokenWithAutoIAMSuggestsLoginTokenOnce() throws {
        for arguments in [["-t", "api-secret", "-i", uri], ["-t", "api-secret", uri + "?auto-iam-authn=true"]] {
            let options = try CommandLineParser.parse(arguments)
            XCTAssertEqual(options.warnings.count, 1, "\(arguments): \(options.warnings)")
            XCTAssertTrue(options.warnings.first?.contains("pass --login-token") ?? false, "\(options.warnings)")
            XCTAssertFalse(options.warnings.joined().contains("api-secret"))
        }
        XCTAssertEqual(try CommandLineParser.parse(["-t", "a", "--login-token", "b", "-i", uri]).warnings, [])
        XCTAssertEqual(try CommandLineParser.parse(["-t", "a", uri]).warnings, [])
    }

    func testHelpListsEveryFlagUnderAGroup() {
        let text = Usage.text
        for flag in Flag.all {
            XCTAssertTrue(text.contains("--\(flag.name)"), flag.name)
        }
        for group in Flag.groups {
            XCTAssertTrue(text.contains("\n\(group.title):\n"), group.title)
        }
        XCTAssertEqual(Set(Flag.all.map(\.name)).count, Flag.all.count, "duplicate flag names")
        let shorts = Flag.all.compactMap(\.short)
        XCTAssertEqual(Set(shorts).count, shorts.count, "duplicate short forms")
    }

    func testParseErrorsHonourStructuredLogs() {
        XCTAssertTrue(ProxyMain.wantsStructuredLogs(["--structured-logs", "--bogus"], [:]))
        XCTAssertTrue(ProxyMain.wantsStructuredLogs(["-il"], [:]))
        XCTAssertTrue(ProxyMain.wantsStructuredLogs([], ["ALLOYDB_PROXY_STRUCTURED_LOGS": "true"]))
        XCTAssertFalse(ProxyMain.wantsStructuredLogs(["--structured-logs=false", "-p", "5"], [:]))
        XCTAssertFalse(ProxyMain.wantsStructuredLogs(["--", "-l"], [:]))
    }

    func testSubcommandFlags() throws {
        let parsed = try Subcommands.parse(["-m", "5s", "--http-port=9999"], environment: [:], command: "wait",
                                           flags: ["max": "m", "http-address": nil, "http-port": nil])
        XCTAssertEqual(parsed["max"], "5s")
        XCTAssertEqual(parsed["http-port"], "9999")
        let env = try Subcommands.parse([], environment: ["ALLOYDB_PROXY_ADMIN_PORT": "7000"],
                                        command: "shutdown", flags: ["admin-port": nil])
        XCTAssertEqual(env["admin-port"], "7000")
        XCTAssertThrowsError(try Subcommands.parse(["--bogus", "1"], environment: [:], command: "shutdown",
                                                   flags: ["admin-port": nil]))
        XCTAssertThrowsError(try Subcommands.parse(["extra"], environment: [:], command: "shutdown",
                                                   flags: ["admin-port": nil]))
    }

    func testAdminAPIEndpointIsNormalisedOrRefused() throws {
        let good: [(String, String)] = [
            ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
            ("127.0.0.1:8443", "https://127.0.0.1:8443"),
            ("https://localhost:8443/v1beta/", "https://localhost:8443/v1beta"),
            ("https://localhost", "https://localhost"),
            ("http://[::1]:9000", "http://[::1]:9000"),
            ("HTTPS://example.com", "https://example.com"),
        ]
        for (given, expected) in good {
            let options = try CommandLineParser.parse(["--alloydbadmin-api-endpoint", given, uri])
            XCTAssertEqual(options.adminAPIEndpoint, expected, given)
            XCTAssertFalse(options.adminAPIEndpoint.contains("///"), given)
        }
        let bad: [(String, String)] = [
            ("ftp://x", "the scheme must be https:// or http://"),
            ("https://", "the URL has no host"),
            ("https:///x", "the URL has no host"),
            ("tcp:///host", "the scheme must be"),
            ("https://h:0", "the port must be"),
            ("https://h:99999", "the port must be"),
            ("https://h:8x", "the port must be"),
            ("https://user@h", "credentials"),
            ("https://[::1", "unterminated IPv6"),
        ]
        for (given, reason) in bad {
            XCTAssertThrowsError(try CommandLineParser.parse(["--alloydbadmin-api-endpoint", given, uri]), given) {
                XCTAssertTrue("\($0)".contains("--alloydbadmin-api-endpoint") && "\($0)".contains(reason), "\($0)")
            }
        }
    }

    func testHostileTextIsQuotedAndCombiningMarksDoNotHideSeparators() {
        XCTAssertThrowsError(try CommandLineParser.parse(["--max-si\u{14}gterm-delay", "1s", uri])) { error in
            XCTAssertEqual("\(error)", "unknown flag: \"--max-si\\x14gterm-delay\" (see --help)")
        }
        XCTAssertThrowsError(try CommandLineParser.parse(["--bogus", uri])) { error in
            XCTAssertEqual("\(error)", "unknown flag: --bogus (see --help)", "plain names stay unquoted")
        }
        // `?` followed by a combining mark is still the query separator, so the mark makes an
        // unknown key instead of vanishing into the instance id.
        XCTAssertThrowsError(try CommandLineParser.parse([uri + "?\u{350}prt=60"])) { error in
            XCTAssertTrue("\(error)".contains("unknown query param"), "\(error)")
        }
        XCTAssertThrowsError(try CommandLineParser.parse(["projects/x:\u{301}y/locations/r/clusters/c/instances/i"]))
        let options = try? CommandLineParser.parse([uri + "?port=6000&\u{301}psc"])
        XCTAssertNil(options, "a combining mark after & is part of the next key, not hidden")
    }
}
