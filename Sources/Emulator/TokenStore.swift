import Foundation
import Locking
import Synchronization

/// The OAuth scope the Admin API requires.
public let cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"
/// The OAuth scope for IAM database login tokens.
public let alloyDBLoginScope = "https://www.googleapis.com/auth/alloydb.login"

/// Access tokens this emulator has issued: opaque random strings mapped to their scopes,
/// principal and expiry. Thread-safe; read by the HTTP threads and the instance endpoints.
public final class TokenStore: Sendable {
    /// What an access token grants.
    public struct Grant: Equatable, Sendable {
        /// The service-account email or the authorized user's email.
        public var principal: String
        public var scopes: Set<String>
        public var expiry: Date
    }

    /// Why a token is not acceptable.
    public enum Rejection: Error, Equatable, Sendable {
        case unknown
        case expired
    }

    /// Issued tokens; under the mutex.
    private let grants = Locked<[String: Grant]>([:])
    /// Lifetime of issued tokens in seconds.
    public let lifetime: Int
    private let clock: @Sendable () -> Date

    public init(lifetime: Int = 3600, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.lifetime = lifetime
        self.clock = clock
    }

    /// Issues a new token (about 150 random characters, so that it needs a multi-byte length
    /// in the metadata exchange, like Google's). Expired grants are pruned here.
    public func issue(principal: String, scopes: Set<String>) -> (token: String, grant: Grant) {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<72).map { _ in
            String(UInt8.random(in: 0...255, using: &generator), radix: 16).leftPadded(to: 2)
        }
        let token = "ya29.emulator." + random.joined()
        let now = clock()
        let grant = Grant(
            principal: principal, scopes: scopes,
            expiry: now.addingTimeInterval(TimeInterval(lifetime)))
        grants.withLock { grants in
            grants = grants.filter { $0.value.expiry > now }
            grants[token] = grant
        }
        return (token, grant)
    }

    /// The grant for `token` if it was issued here and has not expired.
    public func validate(_ token: String) -> Result<Grant, Rejection> {
        guard let grant = grants.withLock({ $0[token] }) else { return .failure(.unknown) }
        guard grant.expiry > clock() else { return .failure(.expired) }
        return .success(grant)
    }
}

extension String {
    /// `self` with leading zeros up to `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
