import Foundation

/// Caches one token per scope set from one source and coalesces concurrent fetches.
///
/// Refresh-thread only. A token is reused while more than `TokenCache.margin` (225 s) — or the
/// caller's larger minimum — remains; otherwise the caller waits for a fresh one. While a fetch
/// is in flight, further callers join its waiter list instead of starting another.
final class TokenCache {
    static let margin = RefreshTiming.tokenRefreshMargin

    private let source: any TokenSource
    private let scopes: [String]
    private var cached: AccessToken?
    private var waiters: [(Result<AccessToken, ConnectorError>) -> Void] = []

    init(source: any TokenSource, scopes: [String]) {
        self.source = source
        self.scopes = scopes
    }

    /// Delivers a token with at least `minimumValidity` seconds left (if the endpoint issues
    /// such tokens; a shorter-lived fresh token is still delivered rather than refetched).
    func token(
        now: Date,
        minimumValidity: TimeInterval = 0,
        engine: HTTPEngine,
        completion: @escaping (Result<AccessToken, ConnectorError>) -> Void
    ) {
        if let cached, cached.isValid(at: now, margin: max(Self.margin, minimumValidity)) {
            completion(.success(cached))
            return
        }
        waiters.append(completion)
        guard waiters.count == 1 else { return }
        source.fetch(scopes: scopes, now: now, engine: engine) { [self] result in
            if case .success(let token) = result { cached = token }
            let finished = waiters
            waiters = []
            for waiter in finished { waiter(result) }
        }
    }
}
