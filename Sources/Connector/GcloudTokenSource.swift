import Foundation

/// The gcloud CLI's user token (`--gcloud-auth`).
///
/// Runs `gcloud config config-helper --format json --min-expiry 1h` on a helper thread (it
/// takes about a second) and reads `credential.access_token` and `credential.token_expiry`.
/// The token serves the Admin API and the metadata exchange; the token cache re-runs gcloud
/// when it nears expiry. Immutable.
struct GcloudTokenSource: TokenSource {
    static let arguments = ["config", "config-helper", "--format", "json", "--min-expiry", "1h"]

    /// The resolved `gcloud` executable.
    let executable: String
    /// The environment gcloud runs with.
    let environment: [String: String]
    /// How long one run may take before it is killed.
    let timeout: TimeInterval
    var quotaProject: String? { nil }
    var reusesAPITokenForLogin: Bool { true }

    /// Finds `gcloud` on the environment's `PATH`; a missing CLI is a startup error.
    init(environment: [String: String], timeout: TimeInterval) throws(ConnectorError) {
        let directories = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let candidates = directories.map { $0 + "/gcloud" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ConnectorError(.config, "--gcloud-auth needs the gcloud CLI, but no gcloud executable is on PATH")
        }
        executable = found
        self.environment = environment
        self.timeout = timeout
    }

    func fetch(
        scopes: [String], now: Date, engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        engine.runBlocking("gcloud-token", { [self] in run() }, completion: completion)
    }

    /// Runs gcloud and parses its answer; blocks up to `timeout`. Helper thread only.
    func run() -> Result<AccessToken, ConnectorError> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Self.arguments
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .failure(ConnectorError(.token, "could not run \(executable): \(error.localizedDescription)"))
        }
        let watchdog = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        if process.terminationReason == .uncaughtSignal {
            return .failure(ConnectorError(.token, "gcloud config config-helper did not finish within \(timeout) s"))
        }
        guard process.terminationStatus == 0 else {
            let excerpt = HTTPResponse(status: 0, body: Array(stderr)).bodyExcerpt(limit: 300)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(ConnectorError(
                .token,
                "gcloud config config-helper failed (exit \(process.terminationStatus)): \(excerpt); "
                    + "run `gcloud auth login` to refresh the gcloud credentials"))
        }
        return Self.parse(Array(stdout))
    }

    private struct Output: Decodable {
        struct Credential: Decodable {
            var access_token: String?
            var token_expiry: String?
        }

        var credential: Credential?
    }

    /// Parses config-helper's JSON; never echoes it (it holds the token).
    static func parse(_ bytes: [UInt8]) -> Result<AccessToken, ConnectorError> {
        guard bytes.count <= 1 << 20,
            let output = try? JSONDecoder().decode(Output.self, from: Data(bytes)),
            let token = output.credential?.access_token, !token.isEmpty
        else {
            return .failure(ConnectorError(.token, "gcloud config config-helper printed no credential.access_token"))
        }
        guard let text = output.credential?.token_expiry, let expiry = RFC3339.parse(text) else {
            return .failure(ConnectorError(
                .token, "gcloud config config-helper printed no valid credential.token_expiry"))
        }
        return .success(AccessToken(value: token, expiry: expiry))
    }
}
