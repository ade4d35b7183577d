import CLinuxShims

#if canImport(Glibc)
import Glibc
#endif

/// A point on a loop clock, in nanoseconds since that clock's (arbitrary) origin.
public struct LoopInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: UInt64

    /// Creates the instant `nanoseconds` after the clock's origin.
    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// The instant `duration` later, saturating instead of overflowing. A negative duration
    /// moves backwards, stopping at the origin.
    public func advanced(by duration: Duration) -> LoopInstant {
        let delta = duration.nanosecondsSaturated
        if delta >= 0 {
            let (sum, overflow) = nanoseconds.addingReportingOverflow(UInt64(delta))
            return LoopInstant(nanoseconds: overflow ? .max : sum)
        }
        let back = delta.magnitude
        return LoopInstant(nanoseconds: nanoseconds > back ? nanoseconds - back : 0)
    }

    /// The time from `self` to `later`; negative when `later` is earlier.
    public func duration(to later: LoopInstant) -> Duration {
        if later.nanoseconds >= nanoseconds {
            return .nanoseconds(Int64(clamping: later.nanoseconds - nanoseconds))
        }
        return .nanoseconds(-Int64(clamping: nanoseconds - later.nanoseconds))
    }

    public static func < (lhs: LoopInstant, rhs: LoopInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public var description: String { "\(nanoseconds)ns" }
}

extension Duration {
    /// This duration in whole nanoseconds, clamped to the `Int64` range.
    var nanosecondsSaturated: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow {
            return seconds < 0 ? .min : .max
        }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 {
            return seconds < 0 ? .min : .max
        }
        return sum
    }
}

/// The time source of an `EventLoop`. Injectable so tests drive timers without sleeping.
///
/// Called on the loop thread only, once per loop turn and once per `schedule(after:)`.
public protocol LoopClock: AnyObject {
    /// The current time. Must never go backwards.
    func now() -> LoopInstant
}

/// CLOCK_MONOTONIC: unaffected by wall-clock changes, and stopped while the machine sleeps.
/// The default clock for loop timers (idle timeouts, back-off, handshake deadlines).
public final class MonotonicClock: LoopClock, Sendable {
    /// Creates the clock; it has no state.
    public init() {}

    public func now() -> LoopInstant {
        LoopInstant(nanoseconds: SystemClocks.read(CLinuxShims_CLOCK_MONOTONIC))
    }
}

/// CLOCK_BOOTTIME: like CLOCK_MONOTONIC but keeps counting while the machine sleeps.
///
/// Use it for deadlines tied to the outside world, such as a certificate's expiry, that must
/// not be pushed back by a suspend; convert with `SystemClocks.monotonicDeadline(forBoottime:)`
/// before scheduling on a loop driven by the monotonic clock.
public final class BoottimeClock: LoopClock, Sendable {
    /// Creates the clock; it has no state.
    public init() {}

    public func now() -> LoopInstant {
        LoopInstant(nanoseconds: SystemClocks.read(CLinuxShims_CLOCK_BOOTTIME))
    }
}

/// Direct readings of the kernel clocks, usable from any thread.
public enum SystemClocks {
    /// The current CLOCK_MONOTONIC reading.
    public static func monotonicNow() -> LoopInstant {
        LoopInstant(nanoseconds: read(CLinuxShims_CLOCK_MONOTONIC))
    }

    /// The current CLOCK_BOOTTIME reading.
    public static func boottimeNow() -> LoopInstant {
        LoopInstant(nanoseconds: read(CLinuxShims_CLOCK_BOOTTIME))
    }

    /// The monotonic instant that corresponds to `deadline` on CLOCK_BOOTTIME, as of now.
    ///
    /// Good until the next suspend; a loop that schedules wall-clock expiries should re-derive
    /// the deadline when the timer fires early or late.
    public static func monotonicDeadline(forBoottime deadline: LoopInstant) -> LoopInstant {
        let remaining = boottimeNow().duration(to: deadline)
        return monotonicNow().advanced(by: remaining)
    }

    static func read(_ clock: Int32) -> UInt64 {
        var spec = timespec()
        let result = clock_gettime(clockid_t(clock), &spec)
        precondition(result == 0, "clock_gettime(\(clock)) failed: errno \(errno)")
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
