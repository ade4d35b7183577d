import Foundation

/// An OAuth2 access token and when it stops working. The value is a secret: never log it.
public struct AccessToken: Sendable, Equatable, CustomStringConvertible {
    /// The bearer token.
    public let value: String
    /// Expiry as wall-clock time; nil for tokens that never expire as far as we know (`--token`).
    public let expiry: Date?

    public init(value: String, expiry: Date?) {
        self.value = value
        self.expiry = expiry
    }

    /// True when the token has at least `margin` seconds left at `now` (or no expiry).
    public func isValid(at now: Date, margin: TimeInterval = 0) -> Bool {
        guard let expiry else { return true }
        return expiry.timeIntervalSince(now) > margin
    }

    /// Describes the token without revealing it.
    public var description: String {
        "AccessToken(\(value.utf8.count) bytes, expiry: \(expiry.map { "\($0)" } ?? "none"))"
    }
}

/// OAuth2 scopes used by the connector.
public enum OAuthScope {
    /// Admin API calls.
    public static let cloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
    /// The token sent in the metadata exchange (IAM database login and connect permission).
    public static let alloyDBLogin = "https://www.googleapis.com/auth/alloydb.login"
}

/// Parses the JSON answer of an OAuth2 token endpoint (`access_token`, `expires_in`, or
/// `error` / `error_description`, which Google may send even with HTTP 200).
enum TokenResponse {
    private struct Body: Decodable {
        var access_token: String?
        var expires_in: Double?
        var error: String?
        var error_description: String?
    }

    static func parse(_ response: HTTPResponse, endpoint: String, now: Date) -> Result<AccessToken, ConnectorError> {
        let body = try? JSONDecoder().decode(Body.self, from: Data(response.body))
        if let error = body?.error {
            let detail = body?.error_description.map { ": \($0)" } ?? ""
            let hint = error == "invalid_grant"
                ? " (the credentials were revoked or expired, or the system clock is wrong: re-run "
                    + "`gcloud auth application-default login` or check the clock)"
                : ""
            return .failure(ConnectorError(
                .token, "token endpoint \(endpoint) refused the request: \(error)\(detail)\(hint)",
                httpStatus: response.status))
        }
        guard response.isSuccess else {
            return .failure(ConnectorError(
                .token, "token endpoint \(endpoint) returned HTTP \(response.status): \(response.bodyExcerpt())",
                httpStatus: response.status))
        }
        guard let body, let token = body.access_token, !token.isEmpty else {
            return .failure(ConnectorError(.token, "token endpoint \(endpoint) returned no access_token"))
        }
        let expiry = body.expires_in.flatMap { $0 > 0 ? now.addingTimeInterval($0) : nil }
        return .success(AccessToken(value: token, expiry: expiry))
    }
}
