import Foundation
import Locking

@testable import Connector

/// A loopback stand-in for Google's token services: the OAuth2 token endpoint (`/token`), the
/// GCE metadata server's token path, and the IAM Credentials `generateAccessToken` method.
/// Tokens are numbered (`<prefix>-<n>`) so tests can tell them apart; behaviour is switchable.
final class FakeTokenEndpoint: Sendable {
    enum Mode: Sendable {
        case healthy
        /// OAuth2 error JSON with HTTP 400 (e.g. `invalid_grant`).
        case oauthError(String)
        /// A bare HTTP status (e.g. 404 from a metadata server that is not ready).
        case status(Int)
        /// Accept the request and never answer.
        case hang
    }

    let server: LoopbackHTTPServer
    private let mode = Locked<Mode>(.healthy)
    private let serial = Locked(0)

    /// `lifetime` is the `expires_in` of OAuth2 and metadata tokens; `now` dates impersonated
    /// tokens' `expireTime`.
    init(prefix: String = "tok", lifetime: Int = 3600, now: @escaping @Sendable () -> Date = { Date() }) throws {
        let mode = self.mode
        let serial = self.serial
        server = try LoopbackHTTPServer { request in
            switch mode.withLock({ $0 }) {
            case .hang: return nil
            case .status(let status): return .init(status: status, body: "not ready")
            case .oauthError(let error):
                return .init(status: 400, body: #"{"error":"\#(error)","error_description":"Bad Request"}"#)
            case .healthy: break
            }
            let number = serial.withLock { value -> Int in
                value += 1
                return value
            }
            if request.path.hasSuffix(":generateAccessToken") {
                let formatter = ISO8601DateFormatter()
                let expiry = formatter.string(from: now().addingTimeInterval(3600))
                return .init(status: 200, body: #"{"accessToken":"IMP-\#(number)","expireTime":"\#(expiry)"}"#)
            }
            if request.path.hasPrefix("/computeMetadata/"), request.headers["metadata-flavor"] != "Google" {
                return .init(status: 403, body: "missing Metadata-Flavor")
            }
            let body = #"{"access_token":"\#(prefix)-\#(number)","expires_in":\#(lifetime),"token_type":"Bearer"}"#
            return .init(status: 200, body: body)
        }
    }

    var baseURL: String { server.baseURL }
    var hostPort: String { "127.0.0.1:\(server.port)" }
    var requests: [LoopbackHTTPServer.Request] { server.requests }

    func setMode(_ newMode: Mode) { mode.withLock { $0 = newMode } }

    func stop() { server.stop() }

    /// An authorized_user credentials JSON whose refreshes go to this endpoint.
    var authorizedUserJSON: String {
        #"{"type":"authorized_user","client_id":"cid","client_secret":"csecret","refresh_token":"rtoken","#
            + #""token_uri":"\#(baseURL)/token"}"#
    }
}
