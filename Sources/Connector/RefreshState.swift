import Foundation

/// The refresh schedule of one instance as a value type: no I/O, time passed in, tested
/// without sockets. Owned by the refresh thread.
///
/// Phases:
/// - `idle` → `refreshing` (a request or the schedule starts a refresh)
/// - `refreshing` → `idle` (the refresh succeeded or failed)
///
/// Outside the phase it tracks the current certificate's expiry, the next scheduled attempt
/// (`nextAttempt`; the owner feeds `.due` once the clock reaches it), the last error, whether
/// background retries are stopped after a terminal error, and the rate limiter (refresh-ahead
/// mode only). The owner performs the returned `Action` after the state has changed.
struct RefreshState: Sendable {
    enum Mode: Sendable {
        /// Refresh in the background ahead of expiry (default).
        case ahead
        /// Refresh only when a request finds the certificate missing or within the buffer.
        case lazy
    }

    enum Phase: Sendable, Equatable {
        case idle
        case refreshing
    }

    enum Event: Sendable {
        /// A caller asked for info; `force` after a failed dial.
        case requested(force: Bool)
        /// `nextAttempt` has been reached.
        case due
        /// A refresh finished with a certificate that expires at `expiration`.
        case succeeded(expiration: Date)
        /// A refresh failed.
        case failed(ConnectorError)
    }

    /// What the caller of a request (or the queued callers after a refresh) receive.
    enum Answer: Sendable, Equatable {
        /// Nothing to answer now.
        case none
        /// The current snapshot.
        case current
        /// The caller waits for the refresh in flight (or about to start).
        case wait
        /// The error, with no valid snapshot to fall back on.
        case error(ConnectorError)
    }

    struct Action: Sendable, Equatable {
        /// Start the refresh now (the phase is already `refreshing`).
        var startRefresh = false
        /// For `.requested`: the answer to that caller. For `.succeeded`/`.failed`: the answer
        /// to every queued caller.
        var answer: Answer = .none
    }

    let mode: Mode
    let buffer: TimeInterval
    private(set) var phase: Phase = .idle
    private(set) var expiration: Date?
    private(set) var nextAttempt: Date?
    private(set) var lastError: ConnectorError?
    private(set) var retriesStopped = false
    private var limiter: RateLimiter

    init(mode: Mode, buffer: TimeInterval = RefreshTiming.refreshBuffer, limiter: RateLimiter = RateLimiter()) {
        self.mode = mode
        self.buffer = buffer
        self.limiter = limiter
    }

    /// Applies `event` at `now` and returns what the owner must do.
    mutating func handle(_ event: Event, now: Date) -> Action {
        switch (phase, event) {
        case (.idle, .requested(let force)):
            return requestedWhileIdle(force: force, now: now)
        case (.refreshing, .requested):
            // A forced request joins the refresh in flight: its result is fresh anyway. Lazy
            // mode only refreshes for callers that need it, so they all wait (like the
            // reference's mutex around a lazy refresh).
            return Action(answer: hasValid(now) && mode == .ahead ? .current : .wait)
        case (.idle, .due):
            nextAttempt = nil
            return tryStart(now: now) ? Action(startRefresh: true) : Action()
        case (.refreshing, .due):
            // A schedule left over from before the refresh started; the outcome reschedules.
            nextAttempt = nil
            return Action()
        case (.refreshing, .succeeded(let newExpiration)):
            return succeeded(expiration: newExpiration, now: now)
        case (.refreshing, .failed(let error)):
            return failed(error, now: now)
        case (.idle, .succeeded), (.idle, .failed):
            // Only a refresh this state started can finish.
            preconditionFailure("refresh outcome without a refresh in flight")
        }
    }

    /// True when a current certificate exists and has not expired.
    func hasValid(_ now: Date) -> Bool {
        guard let expiration else { return false }
        return now < expiration
    }

    private mutating func requestedWhileIdle(force: Bool, now: Date) -> Action {
        let valid = hasValid(now)
        switch mode {
        case .lazy:
            let fresh = expiration.map { now < $0.addingTimeInterval(-buffer) } ?? false
            if fresh && !force { return Action(answer: .current) }
            phase = .refreshing
            return Action(startRefresh: true, answer: .wait)
        case .ahead:
            if valid {
                // A forced refresh keeps serving the current snapshot meanwhile.
                if force { return Action(startRefresh: tryStart(now: now), answer: .current) }
                return Action(answer: .current)
            }
            // Somebody asked again: terminal errors no longer block background retries.
            retriesStopped = false
            if tryStart(now: now) { return Action(startRefresh: true, answer: .wait) }
            if let lastError { return Action(answer: .error(Self.noValidCertificate(lastError))) }
            return Action(answer: .wait)
        }
    }

    /// Starts a refresh if the limiter allows; otherwise schedules the attempt for when it will.
    private mutating func tryStart(now: Date) -> Bool {
        guard phase == .idle, !retriesStopped else { return false }
        if limiter.tryAcquire(now: now) {
            phase = .refreshing
            nextAttempt = nil
            return true
        }
        let when = limiter.nextAvailable(now: now)
        nextAttempt = min(nextAttempt ?? when, when)
        return false
    }

    private mutating func succeeded(expiration newExpiration: Date, now: Date) -> Action {
        phase = .idle
        expiration = newExpiration
        lastError = nil
        retriesStopped = false
        switch mode {
        case .lazy:
            nextAttempt = nil
        case .ahead:
            let delay = RefreshTiming.refreshDelay(now: now, expiration: newExpiration, buffer: buffer)
            nextAttempt = now.addingTimeInterval(delay)
        }
        return Action(answer: .current)
    }

    private mutating func failed(_ error: ConnectorError, now: Date) -> Action {
        phase = .idle
        lastError = error
        if mode == .ahead {
            if error.isTerminal {
                retriesStopped = true
                nextAttempt = nil
            } else {
                // Retry straight away; the limiter spaces attempts after the burst.
                nextAttempt = limiter.nextAvailable(now: now)
            }
        }
        return Action(answer: hasValid(now) ? .current : .error(Self.noValidCertificate(error)))
    }

    static func noValidCertificate(_ cause: ConnectorError) -> ConnectorError {
        ConnectorError(
            cause.code, "no valid client certificate; last refresh error: \(cause.message)",
            instance: cause.instance, httpStatus: cause.httpStatus, apiStatus: cause.apiStatus)
    }
}
