import Foundation

/// A token bucket that paces refresh attempts: `burst` attempts at once, then one per
/// `interval`. A value type; owned by one instance's refresh state on the refresh thread.
public struct RateLimiter: Sendable {
    /// Bucket capacity.
    public let burst: Int
    /// Seconds per replenished token.
    public let interval: TimeInterval

    private var tokens: Double
    private var last: Date?

    /// A full bucket.
    public init(
        burst: Int = RefreshTiming.rateLimitBurst,
        interval: TimeInterval = RefreshTiming.rateLimitInterval
    ) {
        precondition(burst >= 1 && interval >= 0, "rate limiter needs burst >= 1, interval >= 0")
        self.burst = burst
        self.interval = interval
        tokens = Double(burst)
    }

    /// Takes a token if one is available at `now`; returns whether the attempt may proceed.
    public mutating func tryAcquire(now: Date) -> Bool {
        replenish(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// The earliest time at which `tryAcquire` will succeed (`now` if it would succeed now).
    public mutating func nextAvailable(now: Date) -> Date {
        replenish(now: now)
        if tokens >= 1 { return now }
        return now.addingTimeInterval((1 - tokens) * interval)
    }

    private mutating func replenish(now: Date) {
        guard let previous = last, interval > 0 else {
            if interval == 0 { tokens = Double(burst) }
            last = now
            return
        }
        // A clock that steps backwards adds nothing, and the reference point never moves back,
        // so stepping back and forth cannot mint tokens.
        let elapsed = max(0, now.timeIntervalSince(previous))
        tokens = min(Double(burst), tokens + elapsed / interval)
        last = max(previous, now)
    }
}
