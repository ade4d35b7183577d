import Foundation
import XCTest

/// Helpers for the wiring tests: structured log records of the proxy, the emulator's fault
/// switches and token endpoint, `/metrics` samples and PostgreSQL startup packets. Loopback only.
enum Wiring {
    /// One `--structured-logs` record.
    struct Record {
        let severity: String
        let message: String
    }

    /// The JSON records in `output` (other lines are skipped).
    static func records(_ output: String) -> [Record] {
        output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let severity = object["severity"] as? String, let message = object["message"] as? String
            else { return nil }
            return Record(severity: severity, message: message)
        }
    }

    /// Records of `severity` whose message contains `text`.
    static func records(_ output: String, _ severity: String, containing text: String) -> [Record] {
        records(output).filter { $0.severity == severity && $0.message.contains(text) }
    }

    /// Sets emulator fault switches (`POST /emulator/faults`).
    static func setFaults(_ emulator: EmulatorProcess, _ json: String) throws {
        let result = try runCommand(
            "/usr/bin/curl", ["-sS", "-f", "-X", "POST", "-d", json, emulator.apiEndpoint + "/emulator/faults"],
            timeout: 10)
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    /// An access token for the emulator's authorized user, narrowed to `scope`.
    static func mintToken(_ emulator: EmulatorProcess, scope: String) throws -> String {
        let file = emulator.stateDirectory.appendingPathComponent("authorized-user.json")
        let user = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] ?? [:]
        guard let uri = user["token_uri"] as? String, let id = user["client_id"] as? String,
              let secret = user["client_secret"] as? String, let refresh = user["refresh_token"] as? String
        else { throw HarnessError("authorized-user.json lacks a field: \(user.keys)") }
        let result = try runCommand("/usr/bin/curl", [
            "-sS", "-f", "-X", "POST", uri, "--data-urlencode", "grant_type=refresh_token",
            "--data-urlencode", "client_id=\(id)", "--data-urlencode", "client_secret=\(secret)",
            "--data-urlencode", "refresh_token=\(refresh)", "--data-urlencode", "scope=\(scope)",
        ], timeout: 10)
        let answer = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        guard let token = answer?["access_token"] as? String else {
            throw HarnessError("no token from \(uri): \(result.stdout) \(result.stderr)")
        }
        return token
    }

    /// The value of the sample `name{labels}` in `/metrics` on `port`, nil when absent.
    static func metric(port: Int, _ sample: String) -> Double? {
        guard let body = Lifecycle.http("GET", port: port, path: "/metrics")?.body else { return nil }
        for line in body.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }

    /// A PostgreSQL v3 StartupMessage for `user` (the emulator's AUTO_IAM check reads it; its
    /// echo backend sends it back).
    static func startupMessage(user: String) -> [UInt8] {
        var body: [UInt8] = [0, 3, 0, 0]
        for text in ["user", user, "database", "postgres"] { body += Array(text.utf8) + [0] }
        body.append(0)
        let length = UInt32(body.count + 4)
        return withUnsafeBytes(of: length.bigEndian, Array.init) + body
    }

    /// Sends a StartupMessage through a fresh connection to `port`; true when it comes back
    /// unchanged (the tunnel, its metadata exchange and any login check passed).
    static func startupRoundTrip(port: Int, user: String) throws -> Bool {
        let message = startupMessage(user: user)
        // Short ASCII users keep every byte below 0x80, so the text form is the same bytes.
        guard message.allSatisfy({ $0 < 0x80 }) else { throw HarnessError("user name too long: \(user)") }
        let client = try EchoClient(port: port)
        return client.roundTrip(String(decoding: message, as: UTF8.self))
    }
}
