import Foundation
import XCTest

/// Wrong input from the user or the network: each gives one clear error naming the instance
/// and the cause, the client sees its connection closed, and the proxy keeps serving.
final class BadInputTests: XCTestCase {
    static let known = "projects/it-project/locations/us-central1/clusters/bad/instances/known"
    static let unknown = "projects/it-project/locations/us-central1/clusters/bad/instances/missing"

    private var dir: URL!

    override func setUpWithError() throws {
        dir = try TestBed.temporaryDirectory("bad")
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Runs the proxy with `arguments` and expects it to refuse to start: exit 1 and a message.
    private func expectStartupFailure(_ arguments: [String]) throws -> String {
        let proxy = try ProxyProcess(arguments: arguments, in: dir)
        XCTAssertTrue(proxy.child.waitForExit(timeout: 20), "the proxy kept running")
        XCTAssertEqual(proxy.child.terminationStatus, 1, proxy.child.output)
        return proxy.child.output
    }

    func testMalformedInstanceURIIsRejectedAtStartup() throws {
        let output = try expectStartupFailure([
            "--token", "unused", "projects/p/locations/r/clusters/c/instance/typo",
        ])
        XCTAssertTrue(output.contains("projects/p/locations/r/clusters/c/instance/typo"), output)
        XCTAssertEqual(output.split(separator: "\n").count, 1, "expected one error line: \(output)")
    }

    func testMissingCredentialsFileIsRejectedAtStartup() throws {
        let path = dir.appendingPathComponent("absent.json").path
        let output = try expectStartupFailure(["--credentials-file", path, Self.known])
        XCTAssertTrue(output.contains(path), output)
    }

    func testMalformedCredentialsFileIsRejectedAtStartup() throws {
        let path = dir.appendingPathComponent("broken.json")
        try Data("{\"type\": \"service_account\", \"private_key\": \"not a key\"".utf8).write(to: path)
        let output = try expectStartupFailure(["--credentials-file", path.path, Self.known])
        XCTAssertTrue(output.contains(path.path), output)
    }

    /// An Admin API that nobody answers: the client's connection closes, the log names the
    /// instance and the cause, and the proxy stays up for the next client.
    func testUnreachableAdminAPIClosesClientAndKeepsServing() throws {
        let emulator = try EmulatorProcess(instances: [], postgresPort: nil, in: dir)
        defer { emulator.stop() }
        let deadPort = try TestBed.freePort()
        let proxy = try ProxyProcess(
            arguments: [
                "--alloydbadmin-api-endpoint", "http://127.0.0.1:\(deadPort)",
                "--credentials-file", emulator.serviceAccountFile,
                Self.known,
            ],
            in: dir
        )
        defer { _ = proxy.stop() }
        try proxy.waitUntilListening()

        for _ in 0..<2 {
            let result = try runCommand("/usr/bin/psql", [proxy.connectionString, "-c", "SELECT 1"], timeout: 60)
            XCTAssertNotEqual(result.status, 0)
        }
        XCTAssertTrue(proxy.child.isRunning, "the proxy exited:\n\(proxy.child.output)")
        let errors = proxy.child.output.split(separator: "\n").filter {
            $0.contains("it-project.us-central1.bad.known")
                && $0.contains("failed to connect to instance")
        }
        XCTAssertFalse(errors.isEmpty, proxy.child.output)
        XCTAssertTrue(errors.allSatisfy { $0.contains("127.0.0.1:\(deadPort)") || $0.contains("onnect") }, "\(errors)")
    }

    /// One instance the Admin API does not know next to one it does: the unknown one fails
    /// with "not found" naming it, the known one keeps working through the same proxy.
    func testUnknownInstanceFailsWhileHealthyInstanceServes() throws {
        let postgres = try Postgres()
        defer { postgres.stop() }
        let emulator = try EmulatorProcess(
            instances: ["\(Self.known)=127.0.0.22"],
            postgresPort: postgres.port,
            in: dir
        )
        defer { emulator.stop() }
        let secondPort = try TestBed.freePort()
        let proxy = try ProxyProcess(
            arguments: [
                "--alloydbadmin-api-endpoint", emulator.apiEndpoint,
                "--credentials-file", emulator.serviceAccountFile,
                Self.known,
                "\(Self.unknown)?port=\(secondPort)",
            ],
            in: dir
        )
        defer { _ = proxy.stop() }
        try proxy.waitUntilListening()

        let bad = try runCommand(
            "/usr/bin/psql",
            ["host=127.0.0.1 port=\(secondPort) user=postgres sslmode=disable", "-c", "SELECT 1"]
        )
        XCTAssertNotEqual(bad.status, 0)
        let good = try runCommand("/usr/bin/psql", [proxy.connectionString, "-tAc", "SELECT 7"])
        XCTAssertEqual(good.status, 0, good.stderr + proxy.child.output)
        XCTAssertEqual(good.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "7")
        let line = proxy.child.output.split(separator: "\n").first {
            $0.contains("it-project.us-central1.bad.missing") && $0.lowercased().contains("not found")
        }
        XCTAssertNotNil(line, proxy.child.output)
    }
}
