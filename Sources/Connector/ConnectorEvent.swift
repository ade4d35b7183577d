import Foundation

/// A refresh outcome, reported to `ConnectorConfiguration.eventHandler` so that the owner can
/// count refreshes without parsing log lines.
public enum ConnectorEvent: Sendable, Equatable {
    /// A refresh of `instance` published a snapshot whose client certificate (or MDX token,
    /// whichever ends first) is usable until `certificateExpiry`.
    case refreshSucceeded(instance: InstanceURI, certificateExpiry: Date)
    /// A refresh of `instance` failed with `error`; `certificateValid` tells whether the
    /// previous certificate still serves new connections.
    case refreshFailed(instance: InstanceURI, error: ConnectorError, certificateValid: Bool)

    /// The instance the event concerns.
    public var instance: InstanceURI {
        switch self {
        case .refreshSucceeded(let instance, _), .refreshFailed(let instance, _, _): return instance
        }
    }
}

/// Receives `ConnectorEvent`s on the refresh thread, right after the outcome is applied (the
/// snapshot is already published for a success). Must not block; keep it to counters.
public typealias ConnectorEventHandler = @Sendable (ConnectorEvent) -> Void
