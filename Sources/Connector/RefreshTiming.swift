import Foundation

/// The refresh timing constants and the next-refresh rule, declared together.
///
/// Tests may shorten the buffer and the rate interval with two environment variables read once
/// per process (values in seconds, decimals allowed). They exist only for tests and the
/// emulator; production deployments must not set them:
/// - `ALLOYDB_PROXY_TEST_REFRESH_BUFFER` overrides `refreshBuffer`;
/// - `ALLOYDB_PROXY_TEST_RATE_INTERVAL` overrides `rateLimitInterval`.
public enum RefreshTiming {
    /// How long before the client certificate expires it is treated as due for refresh, and the
    /// margin kept before expiry when scheduling (4 minutes).
    public static let defaultRefreshBuffer: TimeInterval = 4 * 60

    /// At or above this remaining lifetime the next refresh happens at half-life (1 hour).
    public static let halfLifeThreshold: TimeInterval = 60 * 60

    /// Attempts allowed back to back before the limiter throttles (bucket starts full).
    public static let rateLimitBurst = 2

    /// One further attempt is allowed per this interval once the burst is spent (30 s).
    public static let defaultRateLimitInterval: TimeInterval = 30

    /// The certificate lifetime requested from the Admin API (a hint; the server may ignore it).
    public static let requestedCertificateDuration = "3600s"

    /// An access token with less than this left is refreshed before use (3 min 45 s).
    public static let tokenRefreshMargin: TimeInterval = 225

    /// A snapshot's MDX token must stay valid this long after the snapshot is built, so that
    /// a refresh scheduled by the certificate rule does not immediately find it stale again.
    public static let snapshotTokenMinimumValidity: TimeInterval = 30 * 60

    /// At most one refresh-failure warning per instance per this interval (30 s).
    public static let failureWarningInterval: TimeInterval = 30

    /// The effective refresh buffer (the default unless the test variable is set).
    public static let refreshBuffer: TimeInterval =
        override("ALLOYDB_PROXY_TEST_REFRESH_BUFFER") ?? defaultRefreshBuffer

    /// The effective rate limiter interval (the default unless the test variable is set).
    public static let rateLimitInterval: TimeInterval =
        override("ALLOYDB_PROXY_TEST_RATE_INTERVAL") ?? defaultRateLimitInterval

    /// How long to wait before the next refresh of a certificate expiring at `expiration`.
    ///
    /// Remaining lifetime at least 1 h: half of it; between the buffer and 1 h: the remaining
    /// time minus the buffer; less than the buffer (or already expired): zero. Pure.
    public static func refreshDelay(
        now: Date,
        expiration: Date,
        buffer: TimeInterval = refreshBuffer
    ) -> TimeInterval {
        let remaining = expiration.timeIntervalSince(now)
        if remaining >= halfLifeThreshold { return remaining / 2 }
        if remaining >= buffer { return remaining - buffer }
        return 0
    }

    private static func override(_ name: String) -> TimeInterval? {
        guard let text = ProcessInfo.processInfo.environment[name],
            let value = TimeInterval(text), value.isFinite, value >= 0
        else { return nil }
        return value
    }
}
