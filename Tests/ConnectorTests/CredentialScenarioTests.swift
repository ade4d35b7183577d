import Foundation
import TLS
import XCTest

@testable import Connector

/// Token and credential scenarios (BR-13 to BR-17) and the credential types: GCE metadata
/// server, impersonation (flag and file) and gcloud, against loopback stand-ins.
final class CredentialScenarioTests: XCTestCase {
    private let instance = Fixture.instance

    // MARK: BR-13 fresh MDX tokens

    func testMDXToken_isFreshAtEveryDial_andRenewedAboutEvery90s() throws {
        let clock = ManualClock()
        let tokens = try FakeTokenEndpoint(prefix: "login", lifetime: 120)
        defer { tokens.stop() }
        let api = try FakeAdminAPI(now: { clock.now })
        defer { api.stop() }
        let key = try PrivateKey.generateRSA(bits: 2048)
        let json: [String: String] = [
            "type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key": key.pem(),
            "token_uri": tokens.baseURL + "/token",
        ]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        let connector = try Connector(configuration: Scenario.configuration(
            api: api, clock: clock, credentials: .credentialsJSON(text), buffer: 30, rateInterval: 30))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance, autoIAMAuthN: true)

        var sent: Set<String> = []
        for step in 0...120 {
            if step > 0 {
                clock.advance(by: 5)
                connector.wakeForTesting()
                Scenario.waitUntil(timeout: 3) {
                    (handle.current?.mdxTokenExpiry).map { $0.timeIntervalSince(clock.now) >= 30 } ?? false
                }
            }
            let snapshot = try Scenario.dial(connector, handle, now: clock.now).get()
            let request = snapshot.metadataExchangeRequest(userAgent: ConnectorConfiguration.connectorUserAgent)
            XCTAssertEqual(request.authType, .autoIAM)
            let left = try XCTUnwrap(snapshot.mdxTokenExpiry).timeIntervalSince(clock.now)
            XCTAssertGreaterThanOrEqual(left, 30, "step \(step): the MDX token has \(left) s left")
            sent.insert(request.oauth2Token)
        }
        let calls = tokens.requests.count
        // 600 s of 120 s tokens renewed 30 s before expiry: about 7 renewals, one token per scope each.
        XCTAssertGreaterThanOrEqual(sent.count, 6, "the MDX token is renewed")
        XCTAssertLessThanOrEqual(calls, 2 * 9, "not once per connection (121 dials): \(calls) token calls")
        XCTAssertGreaterThanOrEqual(calls, 6, "about one renewal per 90 s")
        let scopes = tokens.requests.compactMap { request -> String? in
            let form = String(decoding: request.body, as: UTF8.self)
            guard let jwt = form.split(separator: "=").last,
                let payload = JSONWebToken.decodeBase64URL(jwt.split(separator: ".")[1])
            else { return nil }
            return try? JSONDecoder().decode(JSONWebToken.Claims.self, from: Data(payload)).scope
        }
        XCTAssertEqual(api.callCounts.certificate, 1, "renewing the token keeps the hour-long certificate")
        _ = Scenario.one(connector, handle, force: true)
        XCTAssertTrue(
            Scenario.waitUntil { api.callCounts.certificate == 2 }, "a failed dial still forces a new certificate")
        XCTAssertTrue(scopes.contains(OAuthScope.alloyDBLogin))
        XCTAssertTrue(scopes.contains(OAuthScope.cloudPlatform))
    }

    // MARK: BR-14 impersonation

    func testImpersonation_flag_usesImpersonatedTokenForAPIAndMDX_withDelegates() throws {
        let base = try FakeTokenEndpoint(prefix: "BASE")
        defer { base.stop() }
        let iam = try FakeTokenEndpoint(prefix: "unused")
        defer { iam.stop() }
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let path = NSTemporaryDirectory() + "adc-\(UUID().uuidString).json"
        try base.authorizedUserJSON.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = Scenario.configuration(
            api: api, credentials: .applicationDefault, environment: ["GOOGLE_APPLICATION_CREDENTIALS": path])
        configuration.impersonationChain = ["sa@p.iam.gserviceaccount.com", "d1@p.iam.gserviceaccount.com", "d2@p"]
        configuration.iamCredentialsEndpoint = iam.baseURL + "/"
        let connector = try Connector(configuration: configuration)
        defer { connector.stop() }

        let a = try Scenario.one(connector, connector.makeHandle(for: instance, autoIAMAuthN: true)).get()
        let b = try Scenario.one(connector, connector.makeHandle(for: instance, autoIAMAuthN: false)).get()
        let mdxA = a.metadataExchangeRequest(userAgent: "ua")
        let mdxB = b.metadataExchangeRequest(userAgent: "ua")
        XCTAssertEqual(mdxA.authType, .autoIAM)
        XCTAssertTrue(mdxA.oauth2Token.hasPrefix("IMP-"), "AUTO_IAM logs in as the impersonated account")
        XCTAssertEqual(mdxB.authType, .dbNative)
        XCTAssertTrue(mdxB.oauth2Token.hasPrefix("IMP-"))
        XCTAssertTrue(api.bearerTokens.allSatisfy { $0.hasPrefix("IMP-") }, "\(api.bearerTokens)")

        let request = try XCTUnwrap(iam.requests.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken")
        XCTAssertTrue(request.headers["authorization"]?.hasPrefix("Bearer BASE-") ?? false)
        let body = try XCTUnwrap(request.bodyJSON)
        XCTAssertEqual(body["delegates"] as? [String], [
            "projects/-/serviceAccounts/d2@p", "projects/-/serviceAccounts/d1@p.iam.gserviceaccount.com",
        ])
        XCTAssertEqual(body["lifetime"] as? String, "3600s")
        XCTAssertEqual(body["scope"] as? [String], [OAuthScope.cloudPlatform])
        XCTAssertEqual(iam.requests.count, 1, "the impersonated token is cached and shared")
    }

    func testImpersonatedServiceAccountFile_andRefusal() throws {
        let tokens = try FakeTokenEndpoint(prefix: "SRC")
        defer { tokens.stop() }
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let file = """
            {"type":"impersonated_service_account","delegates":["d@p.iam.gserviceaccount.com"],
             "service_account_impersonation_url":
               "\(tokens.baseURL)/v1/projects/-/serviceAccounts/t@p:generateAccessToken",
             "source_credentials":\(tokens.authorizedUserJSON)}
            """
        let connector = try Connector(
            configuration: Scenario.configuration(api: api, credentials: .credentialsJSON(file)))
        defer { connector.stop() }
        let snapshot = try Scenario.one(connector, connector.makeHandle(for: instance)).get()
        XCTAssertTrue(snapshot.mdxToken.hasPrefix("IMP-"))
        XCTAssertTrue(api.bearerTokens.allSatisfy { $0.hasPrefix("IMP-") })
        let impersonation = try XCTUnwrap(tokens.requests.first { $0.path.hasSuffix(":generateAccessToken") })
        let delegates = impersonation.bodyJSON?["delegates"] as? [String]
        XCTAssertEqual(delegates, ["projects/-/serviceAccounts/d@p.iam.gserviceaccount.com"])

        XCTAssertThrowsError(try Connector(configuration: Scenario.configuration(
            api: api, credentials: .credentialsJSON(#"{"type":"impersonated_service_account"}"#)))) { error in
            XCTAssertTrue("\(error)".contains("service_account_impersonation_url"), "\(error)")
        }
    }

    // MARK: BR-15 login token

    func testLoginToken_onlyInMDXOfIAMInstances_neverLogged() throws {
        let log = LogRecorder()
        let api = try FakeAdminAPI()
        defer { api.stop() }
        var configuration = Scenario.configuration(api: api, log: log, credentials: .token("API-TOKEN-AAAA"))
        configuration.loginToken = "LOGIN-TOKEN-BBBB"
        let connector = try Connector(configuration: configuration)
        defer { connector.stop() }
        let iam = try Scenario.one(connector, connector.makeHandle(for: instance, autoIAMAuthN: true)).get()
        let native = try Scenario.one(connector, connector.makeHandle(for: instance, autoIAMAuthN: false)).get()
        XCTAssertEqual(iam.mdxToken, "LOGIN-TOKEN-BBBB")
        XCTAssertEqual(native.mdxToken, "API-TOKEN-AAAA")
        XCTAssertEqual(Set(api.bearerTokens), ["API-TOKEN-AAAA"], "the Admin API never sees the login token")

        api.setMode(.failing(status: 401, envelope: Fixture.envelope(401, "UNAUTHENTICATED", "bad token")))
        let failing = connector.makeHandle(for: try InstanceURI("projects/p/locations/r/clusters/c/instances/j"))
        guard case .failure(let error) = Scenario.one(connector, failing) else { return XCTFail("succeeded") }
        XCTAssertFalse(log.all.isEmpty, "debug lines were produced")
        for text in log.all + ["\(error)"] {
            XCTAssertFalse(text.contains("TOKEN-AAAA") || text.contains("TOKEN-BBBB"), "secret in: \(text)")
        }
    }

    // MARK: BR-16 credential refresh failure

    func testInvalidGrant_surfacesWithHint_noTightLoop_recovers() throws {
        let clock = ManualClock()
        let tokens = try FakeTokenEndpoint(prefix: "user", lifetime: 30)
        defer { tokens.stop() }
        let api = try FakeAdminAPI(now: { clock.now })
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(
            api: api, clock: clock, credentials: .credentialsJSON(tokens.authorizedUserJSON), buffer: 10,
            rateInterval: 10))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)
        _ = try Scenario.one(connector, handle).get()
        tokens.setMode(.oauthError("invalid_grant"))

        for _ in 0..<8 {
            clock.advance(by: 5)
            connector.wakeForTesting()
            usleep(20_000)
        }
        let started = Date()
        let before = tokens.requests.count
        guard case .failure(let error) = Scenario.dial(connector, handle, now: clock.now) else {
            return XCTFail("an expired token must not be used")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
        XCTAssertTrue(error.message.contains("invalid_grant"), "\(error)")
        XCTAssertTrue(error.message.contains("gcloud auth application-default login"), "\(error)")
        XCTAssertTrue(error.message.contains("clock"), "\(error)")
        XCTAssertLessThanOrEqual(tokens.requests.count - before, 1, "at most one token call per client attempt")

        let quiet = tokens.requests.count
        for _ in 0..<10 {
            clock.advance(by: 10)
            connector.wakeForTesting()
            usleep(10_000)
        }
        XCTAssertEqual(tokens.requests.count, quiet, "no background retry loop after invalid_grant")

        tokens.setMode(.healthy)
        XCTAssertNoThrow(try Scenario.dial(connector, handle, now: clock.now).get(), "recovers without restart")
    }

    // MARK: BR-17 metadata server

    func testMetadataServerBlackhole_doesNotBlockStartup_failsWithinTimeout() throws {
        let metadata = try FakeTokenEndpoint(prefix: "gce")
        defer { metadata.stop() }
        metadata.setMode(.hang)
        let api = try FakeAdminAPI()
        defer { api.stop() }
        var configuration = Scenario.configuration(
            api: api, credentials: .applicationDefault,
            environment: ["HOME": "/nonexistent", "GCE_METADATA_HOST": metadata.hostPort])
        configuration.metadataServerTimeout = 1
        let started = Date()
        let connector = try Connector(configuration: configuration)
        defer { connector.stop() }
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.5, "startup does not wait for the metadata server")

        let dialStart = Date()
        guard case .failure(let error) = Scenario.one(connector, connector.makeHandle(for: instance)) else {
            return XCTFail("succeeded")
        }
        XCTAssertLessThan(Date().timeIntervalSince(dialStart), 3)
        XCTAssertTrue(error.message.contains("metadata server timeout"), "\(error)")
    }

    func testMetadataServerNotReady_thenServes_recoversWithoutRestart() throws {
        let metadata = try FakeTokenEndpoint(prefix: "gce")
        defer { metadata.stop() }
        metadata.setMode(.status(404))
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(
            api: api, credentials: .applicationDefault, rateInterval: 0.1,
            environment: ["HOME": "/nonexistent", "GCE_METADATA_HOST": metadata.hostPort]))
        defer { connector.stop() }
        let handle = connector.makeHandle(for: instance)
        guard case .failure(let error) = Scenario.one(connector, handle) else { return XCTFail("succeeded") }
        XCTAssertTrue(error.message.contains("HTTP 404"), "\(error)")

        metadata.setMode(.healthy)
        usleep(150_000)
        let snapshot = try Scenario.one(connector, handle).get()
        XCTAssertTrue(snapshot.mdxToken.hasPrefix("gce-"))
        XCTAssertTrue(api.bearerTokens.allSatisfy { $0.hasPrefix("gce-") })
        let tokenRequests = metadata.requests.filter { $0.path.contains("/service-accounts/default/token") }
        XCTAssertTrue(tokenRequests.allSatisfy { $0.headers["metadata-flavor"] == "Google" })
        let paths = tokenRequests.map(\.path).joined(separator: " ")
        XCTAssertTrue(paths.contains("scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform"), paths)
        XCTAssertTrue(paths.contains("scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Falloydb.login"), paths)
    }

    func testNoCredentialsAnywhere_failsFastWithClearMessage() {
        let started = Date()
        XCTAssertThrowsError(try Connector(configuration: ConnectorConfiguration(
            credentials: .applicationDefault, environment: ["HOME": "/nonexistent"]))) { error in
            XCTAssertTrue("\(error)".contains("could not find default credentials"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    // MARK: gcloud

    private func fakeGcloud(_ script: String) throws -> (directory: String, argumentsFile: String) {
        let directory = NSTemporaryDirectory() + "gcloud-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let argumentsFile = directory + "/arguments"
        let path = directory + "/gcloud"
        let text = "#!/bin/sh\necho \"$@\" >> '\(argumentsFile)'\n" + script
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return (directory, argumentsFile)
    }

    func testGcloudAuth_runsConfigHelper_tokenForAPIAndMDX() throws {
        let expiry = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let gcloud = try fakeGcloud("""
            printf '{"configuration":{},"credential":{"access_token":"GCLOUD-1","token_expiry":"\(expiry)"}}'
            """)
        defer { try? FileManager.default.removeItem(atPath: gcloud.directory) }
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(
            api: api, credentials: .gcloud, environment: ["PATH": gcloud.directory + ":/usr/bin:/bin"]))
        defer { connector.stop() }
        let snapshot = try Scenario.one(connector, connector.makeHandle(for: instance, autoIAMAuthN: true)).get()
        XCTAssertEqual(snapshot.mdxToken, "GCLOUD-1")
        XCTAssertEqual(Set(api.bearerTokens), ["GCLOUD-1"])
        let arguments = try String(contentsOfFile: gcloud.argumentsFile, encoding: .utf8)
        XCTAssertEqual(arguments, "config config-helper --format json --min-expiry 1h\n", "run once, with these flags")
    }

    func testGcloudAuth_failureAndMissingCLI_areClear() throws {
        let gcloud = try fakeGcloud("""
            echo 'ERROR: (gcloud.config.config-helper) Reauthentication required.' >&2
            exit 1
            """)
        defer { try? FileManager.default.removeItem(atPath: gcloud.directory) }
        let api = try FakeAdminAPI()
        defer { api.stop() }
        let connector = try Connector(configuration: Scenario.configuration(
            api: api, credentials: .gcloud, environment: ["PATH": gcloud.directory]))
        defer { connector.stop() }
        guard case .failure(let error) = Scenario.one(connector, connector.makeHandle(for: instance)) else {
            return XCTFail("succeeded")
        }
        XCTAssertTrue(error.message.contains("Reauthentication required"), "\(error)")
        XCTAssertTrue(error.message.contains("gcloud auth login"), "\(error)")

        XCTAssertThrowsError(try Connector(configuration: Scenario.configuration(
            api: api, credentials: .gcloud, environment: ["PATH": "/nonexistent"]))) { error in
            XCTAssertTrue("\(error)".contains("no gcloud executable is on PATH"), "\(error)")
        }
    }
}
