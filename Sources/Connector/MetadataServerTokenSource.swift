import Foundation

/// Tokens from the GCE metadata server (GCE, GKE workload identity, Cloud Run).
///
/// `GET http://<host>/computeMetadata/v1/instance/service-accounts/default/token?scopes=...`
/// with `Metadata-Flavor: Google`, bounded by a short per-request timeout so that a slow or
/// blackholed metadata host fails the refresh in seconds instead of hanging it. Immutable.
struct MetadataServerTokenSource: TokenSource {
    /// The link-local address of the metadata server.
    static let defaultHost = "169.254.169.254"

    /// `host[:port]` of the metadata server.
    let host: String
    /// Limit for one token request.
    let timeout: TimeInterval
    var quotaProject: String? { nil }
    var reusesAPITokenForLogin: Bool { false }

    var tokenURL: String { "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token" }

    func fetch(
        scopes: [String], now: Date, engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        let query = scopes.isEmpty ? "" : "?scopes=" + FormEncoding.escape(scopes.joined(separator: ","))
        let request = HTTPRequest(
            method: .get, url: tokenURL + query,
            headers: [("Metadata-Flavor", "Google"), ("User-Agent", ConnectorConfiguration.connectorUserAgent)],
            timeout: timeout)
        engine.start(request) { [host, timeout] result in
            switch result {
            case .failure(let error) where error.message.contains("timed out"):
                completion(.failure(ConnectorError(
                    .token, "metadata server timeout: \(host) did not answer within \(timeout) s")))
            case .failure(let error):
                completion(.failure(ConnectorError(.token, "metadata server \(host) unreachable: \(error.message)")))
            case .success(let response) where response.status == 404:
                completion(.failure(ConnectorError(
                    .token, "metadata server \(host) has no token for the default service account (HTTP 404)",
                    httpStatus: 404)))
            case .success(let response):
                completion(Self.token(from: response, host: host, now: now))
            }
        }
    }

    private static func token(
        from response: HTTPResponse, host: String, now: Date
    ) -> Result<AccessToken, ConnectorError> {
        TokenResponse.parse(response, endpoint: "metadata server \(host)", now: now).flatMap { token in
            // The metadata server always states a lifetime; a token without one is malformed.
            guard token.expiry != nil else {
                return .failure(ConnectorError(.token, "metadata server \(host) returned a token without expires_in"))
            }
            return .success(token)
        }
    }

    /// Where the metadata server is, if this process runs on Google Cloud: `GCE_METADATA_HOST`
    /// when set (no probe), else the default host when the DMI product name says Google or a
    /// probe with a 1 s limit gets a 200 answer to a `Metadata-Flavor: Google` request.
    /// Blocks the caller for at most about a second; called once at connector construction.
    static func detect(environment: [String: String]) -> String? {
        if let host = environment["GCE_METADATA_HOST"], !host.isEmpty { return host }
        let product = (try? String(contentsOfFile: "/sys/class/dmi/id/product_name", encoding: .utf8)) ?? ""
        let trimmed = product.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed == "Google" || trimmed == "Google Compute Engine" { return defaultHost }
        return probe(defaultHost, timeout: 1) ? defaultHost : nil
    }

    /// True when `host` answers a metadata request with HTTP 200 within `timeout` seconds.
    static func probe(_ host: String, timeout: TimeInterval) -> Bool {
        guard let engine = try? HTTPEngine(options: HTTPOptions(connectTimeout: timeout, totalTimeout: timeout)) else {
            return false
        }
        var found = false
        let request = HTTPRequest(
            method: .get, url: "http://\(host)/computeMetadata/v1/instance/id",
            headers: [("Metadata-Flavor", "Google")])
        engine.start(request) { result in
            if case .success(let response) = result, response.status == 200 { found = true }
        }
        engine.runUntilIdle()
        return found
    }
}
