import Foundation
import TLS

/// Where access tokens come from. Implementations are immutable and Sendable; `fetch` is called
/// on the refresh thread only and must not block (HTTP goes through `engine`).
///
protocol TokenSource: Sendable {
    /// The quota project from the credential, used for `X-Goog-User-Project` when no
    /// environment override exists.
    var quotaProject: String? { get }

    /// True when the metadata exchange reuses the API token instead of asking for an
    /// alloydb.login-scoped one: static tokens, impersonation and gcloud (as the reference).
    var reusesAPITokenForLogin: Bool { get }

    /// Obtains a token for `scopes`; `completion` runs once, on the refresh thread.
    func fetch(
        scopes: [String],
        now: Date,
        engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    )
}

/// A fixed bearer token (`--token`): never refreshed, no expiry known.
struct StaticTokenSource: TokenSource {
    let token: String
    var quotaProject: String? { nil }
    var reusesAPITokenForLogin: Bool { true }

    func fetch(
        scopes: [String], now: Date, engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        completion(.success(AccessToken(value: token, expiry: nil)))
    }
}

/// A service-account key: signs a JWT assertion and exchanges it at `token_uri`.
struct ServiceAccountTokenSource: TokenSource {
    let clientEmail: String
    let privateKeyID: String?
    let privateKey: PrivateKey
    let tokenURI: String
    let quotaProject: String?
    var reusesAPITokenForLogin: Bool { false }

    func fetch(
        scopes: [String], now: Date, engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        let assertion: String
        do {
            assertion = try JSONWebToken.assertion(
                clientEmail: clientEmail, keyID: privateKeyID, audience: tokenURI,
                scopes: scopes, now: now, sign: privateKey.signSHA256)
        } catch {
            completion(.failure(ConnectorError(.token, "could not sign the service account assertion: \(error)")))
            return
        }
        let body = FormEncoding.encode([
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
        ])
        let request = HTTPRequest(
            method: .post, url: tokenURI,
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        engine.start(request) { [tokenURI] result in
            completion(result.flatMap { TokenResponse.parse($0, endpoint: tokenURI, now: now) })
        }
    }
}

/// A gcloud user credential: trades the refresh token for an access token. No scope is sent,
/// so the token carries whatever scopes were granted at login.
struct AuthorizedUserTokenSource: TokenSource {
    static let defaultTokenURI = "https://oauth2.googleapis.com/token"

    let clientID: String
    let clientSecret: String
    let refreshToken: String
    let tokenURI: String
    let quotaProject: String?
    var reusesAPITokenForLogin: Bool { false }

    func fetch(
        scopes: [String], now: Date, engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        let body = FormEncoding.encode([
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken),
            ("client_id", clientID), ("client_secret", clientSecret),
        ])
        let request = HTTPRequest(
            method: .post, url: tokenURI,
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        engine.start(request) { [tokenURI] result in
            completion(result.flatMap { TokenResponse.parse($0, endpoint: tokenURI, now: now) })
        }
    }
}
