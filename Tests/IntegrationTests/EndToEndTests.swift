import Foundation
import XCTest

/// psql and pgbench through the built proxy, to a real PostgreSQL behind the emulator: the
/// path users take, with real clients, real OpenSSL and a real database.
final class EndToEndTests: XCTestCase {
    static let instance = "projects/it-project/locations/us-central1/clusters/it/instances/primary"
    /// This suite's own loopback address for the instance endpoint on port 5433.
    static let instanceAddress = "127.0.0.21"

    private var dir: URL!
    private var postgres: Postgres!
    private var emulator: EmulatorProcess!
    private var proxy: ProxyProcess!

    override func setUpWithError() throws {
        dir = try TestBed.temporaryDirectory("e2e")
        postgres = try Postgres()
        emulator = try EmulatorProcess(
            instances: ["\(Self.instance)=\(Self.instanceAddress)"],
            postgresPort: postgres.port,
            in: dir
        )
        proxy = try ProxyProcess(
            arguments: [
                "--alloydbadmin-api-endpoint", emulator.apiEndpoint,
                "--credentials-file", emulator.serviceAccountFile,
                Self.instance,
            ],
            in: dir
        )
        try proxy.waitUntilListening()
    }

    override func tearDown() {
        if let proxy, (testRun?.totalFailureCount ?? 0) > 0 {
            print("--- proxy output ---\n\(proxy.child.output)")
            print("--- emulator output ---\n\(emulator?.child.output ?? "")")
        }
        _ = proxy?.stop()
        emulator?.stop()
        postgres?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    private func psql(_ sql: String, input: Data? = nil) throws -> CommandResult {
        try runCommand(
            "/usr/bin/psql",
            [proxy.connectionString, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
            input: input
        )
    }

    func testQueryRunsThroughMutualTLS13WithEmulatorIssuedCertificate() throws {
        let result = try psql("SELECT 'through the proxy', 40 + 2")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "through the proxy|42")

        let tunnels = emulator.events(named: "tunnel")
        XCTAssertFalse(tunnels.isEmpty, "the emulator saw no tunnel")
        for tunnel in tunnels {
            XCTAssertEqual(tunnel["tlsVersion"] as? String, "TLSv1.3")
            XCTAssertEqual(tunnel["authType"] as? String, "DB_NATIVE")
            XCTAssertEqual(tunnel["mdx"] as? String, "ok")
            let serial = tunnel["clientCertSerial"] as? String ?? ""
            XCTAssertFalse(serial.isEmpty, "no client certificate serial recorded")
        }
        // The proxy fetched its certificate from the emulator: the serial it presented is one
        // the emulator issued through generateClientCertificate.
        let issued = Set(emulator.events(named: "certificate").compactMap { $0["serial"] as? String })
        let presented = Set(tunnels.compactMap { $0["clientCertSerial"] as? String })
        XCTAssertTrue(presented.isSubset(of: issued), "presented \(presented), issued \(issued)")

        let api = emulator.events(named: "api")
        XCTAssertTrue(api.contains { ($0["path"] as? String ?? "").hasSuffix("/connectionInfo") })
        XCTAssertTrue(api.contains { ($0["path"] as? String ?? "").contains(":generateClientCertificate") })
        XCTAssertTrue(api.allSatisfy { ($0["userAgent"] as? String ?? "").contains("alloy-db-auth-proxy/") })
    }

    func testMultiMegabyteResultArrivesIntact() throws {
        // About 6 MB of rows; md5 computed by the server over the same rows must match ours.
        let query = "SELECT i || ':' || repeat(md5(i::text), 6) FROM generate_series(1, 30000) AS i"
        let rows = try psql(query)
        XCTAssertEqual(rows.status, 0, rows.stderr)
        let lines = rows.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 30000)
        XCTAssertGreaterThan(rows.stdout.utf8.count, 5_000_000)
        let digest = try psql(
            "SELECT md5(string_agg(i || ':' || repeat(md5(i::text), 6), E'\\n' ORDER BY i))"
                + " FROM generate_series(1, 30000) AS i"
        )
        XCTAssertEqual(digest.status, 0, digest.stderr)
        let local = try runCommand("/usr/bin/md5sum", [], input: Data(lines.joined(separator: "\n").utf8))
        XCTAssertEqual(
            String(local.stdout.prefix(32)),
            digest.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        )
    }

    func testCopyInAndOutRoundTripsBytes() throws {
        var payload = ""
        for i in 0..<40_000 { payload += "\(i)\trow-\(i)-\(String(repeating: "z", count: i % 50))\n" }
        XCTAssertEqual(try psql("CREATE TABLE copied (id int, body text)").status, 0)
        let copyIn = try psql("COPY copied FROM STDIN", input: Data(payload.utf8))
        XCTAssertEqual(copyIn.status, 0, copyIn.stderr)
        let copyOut = try psql("COPY (SELECT * FROM copied ORDER BY id) TO STDOUT")
        XCTAssertEqual(copyOut.status, 0, copyOut.stderr)
        XCTAssertEqual(copyOut.stdout, payload)
    }

    func testPgbenchRunsWithoutFailures() throws {
        let pgbench = "/usr/bin/pgbench"
        let initialise = try runCommand(pgbench, [proxy.connectionString, "-i", "-s", "1", "-q"])
        XCTAssertEqual(initialise.status, 0, initialise.stderr)
        let run = try runCommand(pgbench, [proxy.connectionString, "-c", "4", "-j", "2", "-T", "3"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("number of failed transactions: 0"), run.stdout)
        let processed = run.stdout.split(separator: "\n")
            .first { $0.contains("number of transactions actually processed") }
            .flatMap { $0.split(separator: ":").last }
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: "/").first ?? "") }
        XCTAssertGreaterThan(processed ?? 0, 100, run.stdout)
    }
}
