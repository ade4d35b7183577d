import Foundation

/// The wall clock the connector reads, injectable so that tests control time.
///
/// Certificate expiry is wall-clock time, so scheduling uses the same clock; a jump of the
/// system clock (e.g. after suspend) therefore brings refreshes forward, which is what we want.
public struct ConnectorClock: Sendable {
    private let read: @Sendable () -> Date

    /// A clock that calls `read` for the current time (any thread).
    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    /// The system wall clock.
    public static let system = ConnectorClock { Date() }

    /// The current time.
    public func now() -> Date { read() }
}
