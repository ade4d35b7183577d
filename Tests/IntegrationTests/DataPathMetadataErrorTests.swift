import Foundation
import XCTest

/// A refused metadata exchange, seen from a real PostgreSQL client: psql must print the
/// instance's reason as a FATAL error instead of "server closed the connection unexpectedly".
final class DataPathMetadataErrorTests: XCTestCase {
    static let instance = "projects/it-project/locations/us-central1/clusters/datapath/instances/mdx"
    static let shortName = "it-project.us-central1.datapath.mdx"
    static let reason = "principal lacks alloydb.instances.connect"

    private var dir: URL!
    private var emulator: EmulatorProcess?
    private var proxy: ProxyProcess?

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/psql"), "psql is not installed")
        dir = try TestBed.temporaryDirectory("datapath-mdx")
    }

    override func tearDown() {
        if let proxy, (testRun?.totalFailureCount ?? 0) > 0 {
            print("--- proxy output ---\n\(proxy.child.output)")
            print("--- emulator output ---\n\(emulator?.child.output ?? "")")
        }
        _ = proxy?.stop()
        emulator?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testMetadataExchangeErrorReachesPsqlAsFatal() throws {
        let emulator = try EmulatorProcess(
            instances: ["\(Self.instance)=127.0.0.201"], postgresPort: nil,
            extraArguments: ["--fault", "mdx=error: \(Self.reason)"], in: dir)
        self.emulator = emulator
        let proxy = try ProxyProcess(
            arguments: [
                "--alloydbadmin-api-endpoint", emulator.apiEndpoint,
                "--credentials-file", emulator.serviceAccountFile, Self.instance,
            ],
            environment: ["HOME": dir.path],
            in: dir)
        self.proxy = proxy
        try proxy.waitUntilListening()

        let started = Date()
        let result = try runCommand(
            "/usr/bin/psql",
            ["host=127.0.0.1 port=\(proxy.port) user=alice dbname=postgres connect_timeout=10",
             "-c", "select 1"],
            environment: ["PGSSLMODE": "prefer", "PGPASSWORD": "unused", "HOME": dir.path],
            timeout: 30)

        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("FATAL"), result.stderr)
        XCTAssertTrue(result.stderr.contains(Self.reason), result.stderr)
        XCTAssertTrue(result.stderr.contains(Self.shortName), result.stderr)
        XCTAssertFalse(result.stderr.contains("closed the connection unexpectedly"), result.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        let log = proxy.child.output
        XCTAssertTrue(log.contains("[\(Self.shortName)]") && log.contains(Self.reason), log)
    }
}
