import Foundation

/// Service account impersonation through the IAM Credentials API.
///
/// Each fetch first obtains a cloud-platform token from `source`, then
/// `POST <url>` (`.../serviceAccounts/<target>:generateAccessToken`) with
/// `{"delegates":[...],"lifetime":"3600s","scope":[...]}` and that token as bearer. The result
/// serves the Admin API and the metadata exchange alike (as in the reference). Immutable; the
/// outer `TokenCache` keeps the impersonated token, so the source token is fetched once per
/// impersonated token.
struct ImpersonatedTokenSource: TokenSource {
    /// The requested lifetime of impersonated tokens.
    static let lifetime = "3600s"

    let source: any TokenSource
    /// The full `generateAccessToken` URL.
    let url: String
    /// Delegates in request order, as e-mails or `projects/-/serviceAccounts/...` names.
    let delegates: [String]
    /// Scopes fixed by a credentials file; nil asks for the caller's scopes.
    let scopes: [String]?
    var quotaProject: String?
    var reusesAPITokenForLogin: Bool { true }

    init(source: any TokenSource, url: String, delegates: [String], scopes: [String]?, quotaProject: String? = nil) {
        self.source = source
        self.url = url
        self.delegates = delegates
        self.scopes = scopes
        self.quotaProject = quotaProject ?? source.quotaProject
    }

    /// The request body; delegates are expanded to resource names and omitted when empty.
    func body(scopes requested: [String]) -> [UInt8] {
        var object: [String: Any] = ["lifetime": Self.lifetime, "scope": scopes ?? requested]
        if !delegates.isEmpty {
            object["delegates"] = delegates.map {
                $0.hasPrefix("projects/") ? $0 : "projects/-/serviceAccounts/\($0)"
            }
        }
        // Cannot fail: the object holds only strings and string arrays.
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        let data = try? JSONSerialization.data(withJSONObject: object, options: options)
        return data.map(Array.init) ?? []
    }

    func fetch(
        scopes requested: [String], now: Date, engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        source.fetch(scopes: [OAuthScope.cloudPlatform], now: now, engine: engine) { [self] sourceResult in
            switch sourceResult {
            case .failure(let error):
                completion(.failure(ConnectorError(
                    .token, "impersonation source credentials failed: \(error.message)",
                    httpStatus: error.httpStatus, apiStatus: error.apiStatus)))
            case .success(let sourceToken):
                let request = HTTPRequest(
                    method: .post, url: url,
                    headers: [("Authorization", "Bearer \(sourceToken.value)"), ("Content-Type", "application/json")],
                    body: body(scopes: requested))
                engine.start(request) { [url] result in
                    completion(result.flatMap { Self.parse($0, url: url) })
                }
            }
        }
    }

    private struct Answer: Decodable {
        var accessToken: String?
        var expireTime: String?
    }

    static func parse(_ response: HTTPResponse, url: String) -> Result<AccessToken, ConnectorError> {
        guard response.isSuccess else {
            let envelope = try? JSONDecoder().decode(GoogleErrorEnvelope.self, from: Data(response.body))
            let detail = envelope.map { [$0.error.status, $0.error.message].compactMap { $0 }.joined(separator: ": ") }
                ?? response.bodyExcerpt(limit: 200)
            var hint = ""
            if response.status == 403 {
                hint = " (the caller needs roles/iam.serviceAccountTokenCreator on the target service account)"
            }
            return .failure(ConnectorError(
                .token, "impersonation via \(url) failed: HTTP \(response.status) \(detail)\(hint)",
                httpStatus: response.status, apiStatus: envelope?.error.status))
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)),
            let token = answer.accessToken, !token.isEmpty
        else {
            return .failure(ConnectorError(.token, "impersonation via \(url) returned no accessToken"))
        }
        guard let text = answer.expireTime, let expiry = RFC3339.parse(text) else {
            return .failure(ConnectorError(.token, "impersonation via \(url) returned no valid expireTime"))
        }
        return .success(AccessToken(value: token, expiry: expiry))
    }
}

/// RFC 3339 timestamps as Google APIs and gcloud write them (`2026-01-02T03:04:05Z`, optional
/// fractional seconds, `Z` or an offset).
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
