import Foundation
import XCTest

@testable import Proxy

/// `--config-file` in the three syntaxes, the precedence flag > environment > file > default,
/// and every way a file can be wrong.
final class ConfigFileTests: XCTestCase {
    private let uri = "projects/p/locations/r/clusters/c/instances/i"
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func testTheSameSettingsReadAlikeInEverySyntax() throws {
        let files = [
            ("c.toml", """
                # comment
                port = 6000
                auto-iam-authn = true
                "max-connections" = 1_000
                min-sigterm-delay = '2s'
                instance-uri = ["\(uri)", "\(uri)2"]  # two instances
                """),
            ("c.yaml", """
                port: 6000
                auto-iam-authn: true
                max-connections: 1000
                min-sigterm-delay: "2s"
                instance-uri:
                  - \(uri)
                  - \(uri)2
                """),
            ("c.yml", "{port: 6000, auto-iam-authn: True, max-connections: 1000, min-sigterm-delay: 2s, "
                + "instance-uri: [\(uri), \(uri)2]}"),
            ("c.json", """
                {"port": 6000, "auto-iam-authn": true, "max-connections": 1000, "min-sigterm-delay": "2s",
                 "instance-uri": ["\(uri)", "\(uri)2"]}
                """),
        ]
        for (name, text) in files {
            let path = try write(name, text)
            let options = try CommandLineParser.parse(["--config-file", path])
            XCTAssertEqual(options.port, 6000, name)
            XCTAssertTrue(options.autoIAMAuthN, name)
            XCTAssertEqual(options.maxConnections, 1000, name)
            XCTAssertEqual(options.minSigtermDelay, .seconds(2), name)
            XCTAssertEqual(options.instances.map(\.shortName), ["p.r.c.i", "p.r.c.i2"], name)
            XCTAssertEqual(options.warnings, [], name)
        }
    }

    func testFlagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        // A second file with another extension next to it must never be picked up.
        _ = try write("cfg.yaml", "port: 6100\n")
        let path = try write("cfg.toml", "port = 6000\ninstance-uri = \"\(uri)\"\n")
        let env = ["ALLOYDB_PROXY_PORT": "6001"]
        XCTAssertEqual(try CommandLineParser.parse(["--config-file", path, "-p", "6002"], environment: env).port,
                       6002)
        XCTAssertEqual(try CommandLineParser.parse(["--config-file", path], environment: env).port, 6001)
        XCTAssertEqual(try CommandLineParser.parse(["--config-file", path]).port, 6000)
        XCTAssertEqual(try CommandLineParser.parse([uri]).port, 5432)
    }

    func testInstancesComeFromArgumentsThenEnvironmentThenNumberedFileKeys() throws {
        let path = try write("i.toml", "instance-uri-0 = \"\(uri)a\"\ninstance-uri-1 = \"\(uri)b\"\n"
            + "instance-uri-3 = \"\(uri)gap\"\n")
        XCTAssertEqual(try CommandLineParser.parse(["--config-file", path]).instances.map(\.shortName),
                       ["p.r.c.ia", "p.r.c.ib"])
        let env = ["ALLOYDB_PROXY_INSTANCE_URI_0": "\(uri)env"]
        XCTAssertEqual(
            try CommandLineParser.parse(["--config-file", path], environment: env).instances.map(\.shortName),
            ["p.r.c.ienv"])
        XCTAssertEqual(
            try CommandLineParser.parse(["--config-file", path, "\(uri)arg"], environment: env)
                .instances.map(\.shortName),
            ["p.r.c.iarg"])
    }

    func testUnknownKeysWarnAndDoNotStop() throws {
        let path = try write("u.json", "{\"instance-uri\": \"\(uri)\", \"prot\": 1}")
        let options = try CommandLineParser.parse(["--config-file", path])
        XCTAssertEqual(options.warnings, ["ignoring unknown key \"prot\" in \"\(path)\""])
    }

    func testBadFilesNameThePathAndTheProblem() throws {
        let cases: [(String, String, String)] = [
            ("c.ini", "port = 1", "unsupported file extension \".ini\""),
            ("noext", "port = 1", "unsupported file extension (none)"),
            ("t.toml", "port = ", "line 1: missing value"),
            ("t2.toml", "[section]\nport = 1", "line 1: tables are not supported"),
            ("t3.toml", "port = 1\nport = 2", "line 2: duplicate key \"port\""),
            ("t4.toml", "port = 1.5", "unsupported value \"1.5\""),
            ("t5.toml", "a.b = 1", "dotted keys are not supported"),
            ("t6.toml", "token = \"abc", "unterminated string"),
            ("y.yaml", "port: [1, 2\n", "malformed YAML"),
            ("y2.yaml", "- a\n- b\n", "the top level must be a mapping"),
            ("y3.yaml", "port:\n  nested: 1\n", "nested mappings are not supported"),
            ("j.json", "{\"port\": ", "malformed JSON"),
            ("j2.json", "[1]", "malformed JSON"),
            ("v.toml", "port = \"many\"", "invalid argument \"many\" for --port"),
            ("l.toml", "port = [1]", "\"port\": a list is only allowed for instance-uri"),
        ]
        for (name, text, expected) in cases {
            let path = try write(name, text)
            XCTAssertThrowsError(try CommandLineParser.parse(["--config-file", path, uri]), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("failed to load configuration from \"\(path)\": "), message)
                XCTAssertTrue(message.contains(expected), "\(name): \(message)")
            }
        }
        let missing = dir.appendingPathComponent("absent.toml").path
        XCTAssertThrowsError(try CommandLineParser.parse(["--config-file", missing, uri])) { error in
            XCTAssertTrue("\(error)".contains(missing), "\(error)")
        }
    }

    func testTOMLStringsAndIntegers() throws {
        let values = try TOMLSubset.parse("""
            a = "x\\ty\\u00e9\\"q\\\\"
            b = 'C:\\raw'
            c = -42
            d = +7
            e = []
            f = [ "x", 'y', ]
            """)
        XCTAssertEqual(values["a"], .string("x\tyé\"q\\"))
        XCTAssertEqual(values["b"], .string("C:\\raw"))
        XCTAssertEqual(values["c"], .integer(-42))
        XCTAssertEqual(values["d"], .integer(7))
        XCTAssertEqual(values["e"], .list([]))
        XCTAssertEqual(values["f"], .list([.string("x"), .string("y")]))
        for bad in ["a = 012", "a = 1__0", "a = _1", "a = tru", "a = \"\\q\"", "a = [[1]]", "a = 1 2"] {
            XCTAssertThrowsError(try TOMLSubset.parse(bad), bad)
        }
    }

    func testYAMLQuotedScalarsStayStrings() throws {
        let values = try YAMLMapping.parse("a: \"true\"\nb: '5432'\nc: 5432\nd: yes\n")
        XCTAssertEqual(values["a"], .string("true"))
        XCTAssertEqual(values["b"], .string("5432"))
        XCTAssertEqual(values["c"], .integer(5432))
        XCTAssertEqual(values["d"], .string("yes"))
        XCTAssertEqual(try YAMLMapping.parse(""), [:])
        XCTAssertThrowsError(try YAMLMapping.parse("a: &x 1\nb: *x\n"))
        XCTAssertThrowsError(try YAMLMapping.parse("a: 1\n---\nb: 2\n"))
    }

    func testEnvironmentConfigFileIsNotLoaded() throws {
        // As in the reference: the file is read before environment values are applied.
        let path = try write("e.toml", "port = 6000\n")
        let options = try CommandLineParser.parse([uri], environment: ["ALLOYDB_PROXY_CONFIG_FILE": path])
        XCTAssertEqual(options.port, 5432)
    }

    func testShippedSampleConfigurationIsValid() throws {
        let sample = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("packaging/systemd/config.toml").path
        let options = try CommandLineParser.parse(["--config-file", sample, uri])
        XCTAssertEqual(options.warnings, [], "every key of the sample must be a flag")
        XCTAssertTrue(options.healthCheck && options.prometheus && options.exitZeroSigterm)
        XCTAssertEqual(options.maxSigtermDelay, .seconds(30))
        XCTAssertNotNil(options.credentialsFile)
    }

    func testFileContentReachesErrorsEscaped() throws {
        let toml = try write("nul.toml", "user-agent = \"seed\\\u{0}x\"\n")
        XCTAssertThrowsError(try CommandLineParser.parse(["--config-file", toml, uri])) { error in
            XCTAssertTrue("\(error)".contains("invalid escape \"\\\\\\x00\""), "\(error)")
            XCTAssertFalse("\(error)".unicodeScalars.contains { $0.value < 0x20 }, "\(error)")
        }
        let json = try write("del.json", "{\"k\\u007f\": {\"nested\": 1}}")
        XCTAssertThrowsError(try CommandLineParser.parse(["--config-file", json, uri])) { error in
            XCTAssertTrue("\(error)".contains("\"k\\x7f\""), "\(error)")
            XCTAssertFalse("\(error)".unicodeScalars.contains { $0.value == 0x7F }, "\(error)")
        }
    }
}
