import Foundation
import TLS

/// `POST /token`: the OAuth 2 token endpoint for the emulator's own credentials.
///
/// Supports `urn:ietf:params:oauth:grant-type:jwt-bearer` (service account: RS256 signature,
/// `iss`, `aud`, `exp`; the `scope` claim decides the token's scopes) and `refresh_token`
/// (authorized user: cloud-platform and alloydb.login unless `scope` narrows them).
/// Failures use the OAuth JSON error shape.
/// Thread-safe; runs on HTTP threads.
public struct TokenEndpoint: Sendable {
    public let credentials: Credentials
    public let tokens: TokenStore
    public let events: EventLog
    private let clock: @Sendable () -> Date

    public init(
        credentials: Credentials,
        tokens: TokenStore,
        events: EventLog,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.credentials = credentials
        self.tokens = tokens
        self.events = events
        self.clock = clock
    }

    /// Handles one request to `/token`.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "POST" else {
            return .oauthError(405, "invalid_request", "the token endpoint accepts POST only")
        }
        let form: [String: String]
        do {
            form = try FormCoding.parseForm(request.body)
        } catch {
            return .oauthError(400, "invalid_request", "\(error)")
        }
        switch form["grant_type"] {
        case "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return jwtBearer(form)
        case "refresh_token":
            return refresh(form)
        case nil:
            return .oauthError(400, "invalid_request", "Missing required parameter: grant_type")
        case .some(let other):
            return .oauthError(400, "unsupported_grant_type", "Invalid grant_type: \(other)")
        }
    }

    private func jwtBearer(_ form: [String: String]) -> HTTPResponse {
        guard let assertion = form["assertion"], !assertion.isEmpty else {
            return .oauthError(400, "invalid_request", "Missing required parameter: assertion")
        }
        let scopes: Set<String>
        do {
            let jwt = try JSONWebToken(assertion)
            try jwt.verify(
                key: credentials.serviceAccountKey.publicKey,
                issuer: credentials.serviceAccountEmail,
                audience: credentials.tokenURI,
                now: clock())
            scopes = Set((jwt.claims["scope"]?.stringValue ?? "").split(separator: " ").map(String.init))
        } catch {
            return .oauthError(400, "invalid_grant", "\(error)")
        }
        guard !scopes.isEmpty else {
            return .oauthError(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        }
        return grant(principal: credentials.serviceAccountEmail, scopes: scopes, grantName: "jwt-bearer")
    }

    private func refresh(_ form: [String: String]) -> HTTPResponse {
        guard form["client_id"] == credentials.clientID,
            form["client_secret"] == credentials.clientSecret
        else {
            return .oauthError(401, "invalid_client", "Unauthorized")
        }
        guard form["refresh_token"] == credentials.refreshToken else {
            return .oauthError(400, "invalid_grant", "Token has been expired or revoked.")
        }
        // The emulated user consented to both scopes at "login"; a `scope` parameter narrows.
        let consented: Set<String> = [cloudPlatformScope, alloyDBLoginScope]
        var scopes = consented
        if let requested = form["scope"] {
            scopes = Set(requested.split(separator: " ").map(String.init))
            guard !scopes.isEmpty, scopes.isSubset(of: consented) else {
                return .oauthError(400, "invalid_scope", "The requested scope was not granted at login.")
            }
        }
        return grant(principal: credentials.userEmail, scopes: scopes, grantName: "refresh_token")
    }

    private func grant(principal: String, scopes: Set<String>, grantName: String) -> HTTPResponse {
        let issued = tokens.issue(principal: principal, scopes: scopes)
        let scope = scopes.sorted().joined(separator: " ")
        events.record([
            ("event", "token"), ("grant", .string(grantName)), ("scope", .string(scope)),
            ("principal", .string(principal)),
        ])
        return .json(
            200,
            .object([
                ("access_token", .string(issued.token)),
                ("token_type", "Bearer"),
                ("expires_in", .number(Double(tokens.lifetime))),
                ("scope", .string(scope)),
            ]))
    }
}
