import Foundation
import XCTest

/// IAM database login wiring through the built proxy and emulator: the per-instance
/// `?auto-iam-authn=true` (BR-14) and `--login-token` (BR-15), and that no token value ever
/// reaches the proxy's output, even with `--debug-logs`.
final class WiringAuthTests: XCTestCase {
    static let iamInstance = "projects/it-wiring/locations/us-central1/clusters/auth/instances/iam"
    static let nativeInstance = "projects/it-wiring/locations/us-central1/clusters/auth/instances/native"
    /// The emulator's service account as a database user (email without `.gserviceaccount.com`).
    static let serviceAccountUser = "emulator@it-wiring.iam"
    /// The emulator's authorized user.
    static let userEmail = "emulator-user@example.com"

    private var dir: URL!
    private var emulator: EmulatorProcess?
    private var proxy: ChildProcess?

    override func setUpWithError() throws {
        dir = try TestBed.temporaryDirectory("wiring-auth")
    }

    override func tearDown() {
        if let proxy, (testRun?.totalFailureCount ?? 0) > 0 {
            print("--- proxy output ---\n\(proxy.output)")
            print("--- emulator output ---\n\(emulator?.child.output ?? "")")
        }
        _ = proxy?.stop()
        emulator?.stop()
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    private func startEmulator(_ instances: [String]) throws -> EmulatorProcess {
        let emulator = try EmulatorProcess(instances: instances, postgresPort: nil, in: dir)
        self.emulator = emulator
        return emulator
    }

    private func startProxy(_ arguments: [String], name: String = "proxy") throws -> ChildProcess {
        let child = try ChildProcess(
            name: name, executable: try TestBed.executable("alloydb-auth-proxy"),
            arguments: ["--structured-logs"] + arguments, environment: ["HOME": dir.path], logDirectory: dir)
        proxy = child
        return child
    }

    private func authTypes(_ emulator: EmulatorProcess, _ instance: String) -> [String] {
        emulator.events(named: "tunnel").filter { $0["instance"] as? String == instance }
            .compactMap { $0["authType"] as? String }
    }

    // BR-14: only the instance with `?auto-iam-authn=true` logs in with AUTO_IAM, using a
    // login-scoped token; the other keeps DB_NATIVE.
    func testPerInstanceAutoIAM_onlyThatInstanceSendsAutoIAM() throws {
        let emulator = try startEmulator(["\(Self.iamInstance)=127.0.0.114", "\(Self.nativeInstance)=127.0.0.115"])
        let iamPort = try TestBed.freePort()
        let nativePort = try TestBed.freePort()
        let child = try startProxy([
            "--alloydbadmin-api-endpoint", emulator.apiEndpoint, "--credentials-file", emulator.serviceAccountFile,
            "\(Self.iamInstance)?auto-iam-authn=true&port=\(iamPort)", "\(Self.nativeInstance)?port=\(nativePort)",
        ])
        XCTAssertTrue(TestBed.waitUntil(timeout: 30) {
            !child.isRunning || TestBed.canConnect(host: "127.0.0.1", port: nativePort)
        })
        XCTAssertTrue(try Wiring.startupRoundTrip(port: iamPort, user: Self.serviceAccountUser),
                      "the AUTO_IAM login as the service account passes")
        XCTAssertTrue(try Wiring.startupRoundTrip(port: nativePort, user: "postgres"))

        XCTAssertTrue(TestBed.waitUntil(timeout: 5) { self.authTypes(emulator, Self.nativeInstance).count == 1 })
        XCTAssertEqual(authTypes(emulator, Self.iamInstance), ["AUTO_IAM"])
        XCTAssertEqual(authTypes(emulator, Self.nativeInstance), ["DB_NATIVE"])
        let scopes = emulator.events(named: "token").compactMap { $0["scope"] as? String }
        XCTAssertTrue(scopes.contains { $0.contains("alloydb.login") }, "a login-scoped token was minted: \(scopes)")
        XCTAssertEqual(Wiring.records(child.output).filter { $0.severity == "ERROR" }.map(\.message), [])
    }

    // BR-15 (a) and (e): the Admin API gets --token, the metadata exchange gets --login-token,
    // and neither value appears in the output even with --debug-logs.
    func testLoginToken_isUsedOnlyForLogin_andNoTokenIsLogged() throws {
        let emulator = try startEmulator(["\(Self.iamInstance)=127.0.0.116"])
        // Each token can do only its own job: the API one lacks the login scope (the emulator
        // refuses AUTO_IAM with it) and the login one lacks cloud-platform (403 from the API).
        let apiToken = try Wiring.mintToken(emulator, scope: "https://www.googleapis.com/auth/cloud-platform")
        let loginToken = try Wiring.mintToken(emulator, scope: "https://www.googleapis.com/auth/alloydb.login")
        let port = try TestBed.freePort()
        let child = try startProxy([
            "--debug-logs", "--alloydbadmin-api-endpoint", emulator.apiEndpoint, "--auto-iam-authn",
            "--token", apiToken, "--login-token", loginToken, "\(Self.iamInstance)?port=\(port)",
        ])
        XCTAssertTrue(TestBed.waitUntil(timeout: 30) {
            !child.isRunning || TestBed.canConnect(host: "127.0.0.1", port: port)
        }, child.output)
        XCTAssertTrue(try Wiring.startupRoundTrip(port: port, user: Self.userEmail),
                      "API with --token, login with --login-token")
        XCTAssertEqual(authTypes(emulator, Self.iamInstance), ["AUTO_IAM"])
        XCTAssertTrue(Wiring.records(child.output).contains { $0.severity == "DEBUG" }, "debug logs are on")
        XCTAssertEqual(child.stop(), 143)
        for token in [apiToken, loginToken] {
            XCTAssertFalse(child.output.contains(token), "a token value reached the output")
        }
    }

    // BR-15 (b): --token with --auto-iam-authn and no --login-token starts, warns once, and
    // sends the --token value for login.
    func testTokenWithAutoIAM_warnsOnceSuggestingLoginToken() throws {
        let emulator = try startEmulator(["\(Self.iamInstance)=127.0.0.117"])
        let scopes = ["cloud-platform", "alloydb.login"].map { "https://www.googleapis.com/auth/" + $0 }
        let token = try Wiring.mintToken(emulator, scope: scopes.joined(separator: " "))
        let port = try TestBed.freePort()
        let child = try startProxy([
            "--alloydbadmin-api-endpoint", emulator.apiEndpoint, "--auto-iam-authn", "--token", token,
            "\(Self.iamInstance)?port=\(port)",
        ])
        XCTAssertTrue(TestBed.waitUntil(timeout: 30) {
            !child.isRunning || TestBed.canConnect(host: "127.0.0.1", port: port)
        }, child.output)
        XCTAssertTrue(try Wiring.startupRoundTrip(port: port, user: Self.userEmail))
        let warnings = Wiring.records(child.output, "WARNING", containing: "--login-token")
        XCTAssertEqual(warnings.count, 1, "\(Wiring.records(child.output).map(\.message))")
        XCTAssertEqual(child.stop(), 143)
        XCTAssertFalse(child.output.contains(token))
    }

    // BR-15: conflicting credential flags exit 1 quickly, the message names both flags, the
    // token value is never echoed. (`--login-token` without IAM authn is not a conflict here:
    // it is ignored with a WARNING, see docs/COMPATIBILITY.md.)
    func testFlagConflicts_exitOneQuickly_namingTheFlags_withoutTheToken() throws {
        let secret = "secret-\(UUID().uuidString)"
        let instance = "\(Self.iamInstance)?port=\(try TestBed.freePort())"
        let cases: [([String], [String])] = [
            (["--token", secret, "--credentials-file", "/nonexistent.json"], ["--token", "--credentials-file"]),
            (["--token", secret, "--gcloud-auth"], ["--token", "--gcloud-auth"]),
            (["--token", secret, "--json-credentials", "{}"], ["--json-credentials", "--token"]),
            (["--login-token", secret, "--gcloud-auth", "--credentials-file", "/k.json"],
             ["--credentials-file", "--gcloud-auth"]),
        ]
        for (index, (flags, named)) in cases.enumerated() {
            let started = Date()
            let child = try startProxy(flags + [instance], name: "conflict-\(index)")
            XCTAssertTrue(child.waitForExit(timeout: 5), "\(flags)")
            XCTAssertEqual(child.terminationStatus, 1, "\(flags): \(child.output)")
            // The scenario asks for 200 ms; the slack absorbs a loaded CI machine.
            XCTAssertLessThan(Date().timeIntervalSince(started), 2)
            let errors = Wiring.records(child.output).filter { $0.severity == "ERROR" }
            XCTAssertEqual(errors.count, 1, "\(flags): \(child.output)")
            for flag in named {
                XCTAssertTrue(errors.first?.message.contains(flag) ?? false, "\(flags): \(child.output)")
            }
            XCTAssertFalse(child.output.contains(secret), "\(flags): the token was echoed")
        }
    }

    // BR-15 (d): --login-token without IAM authn starts, says once that it is ignored, and never
    // prints the value.
    func testLoginTokenWithoutAutoIAM_ignoredWithOneWarning() throws {
        let secret = "secret-\(UUID().uuidString)"
        let port = try TestBed.freePort()
        let child = try startProxy(["--token", "api-\(secret)", "--login-token", secret, "--debug-logs",
                                    "\(Self.nativeInstance)?port=\(port)"])
        XCTAssertTrue(TestBed.waitUntil(timeout: 30) {
            !child.isRunning || TestBed.canConnect(host: "127.0.0.1", port: port)
        }, child.output)
        XCTAssertTrue(child.isRunning, child.output)
        XCTAssertEqual(Wiring.records(child.output, "WARNING", containing: "Ignoring --login-token").count, 1,
                       child.output)
        XCTAssertEqual(child.stop(), 143)
        XCTAssertFalse(child.output.contains(secret))
    }
}
