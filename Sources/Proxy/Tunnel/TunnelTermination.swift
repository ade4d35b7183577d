/// Who ended a tunnel: the five causes of the per-tunnel summary record.
public enum TunnelEndedBy: String, Equatable, Sendable {
    /// The local client closed or reset its connection first.
    case client
    /// The instance (or the path to it) closed, reset or failed first.
    case instance
    /// The proxy itself: connection info unavailable, internal error or shutdown.
    case proxy
    /// A setup deadline or the half-close bound passed.
    case timeout
    /// `--max-connections` was reached when the client connected.
    case limit
}

/// The phase a tunnel was in when it ended.
public enum TunnelPhase: String, Equatable, Sendable {
    case accept
    case firstByte = "first-byte"
    case connectionInfo = "connection-info"
    case connect
    case handshake
    case metadataExchange = "metadata-exchange"
    case relay
    case halfClosed = "half-closed"
}

/// Why and when a tunnel ended; part of the summary record and the failure counters.
public struct TunnelTermination: Equatable, Sendable, CustomStringConvertible {
    /// Who ended it.
    public var endedBy: TunnelEndedBy
    /// The phase it was in.
    public var phase: TunnelPhase
    /// The error text for abnormal ends (resets, dial failures, timeouts); nil for a clean close.
    public var cause: String?

    public init(endedBy: TunnelEndedBy, phase: TunnelPhase, cause: String? = nil) {
        self.endedBy = endedBy
        self.phase = phase
        self.cause = cause
    }

    /// True when the tunnel never reached the relay phase: a failed dial or a refusal.
    public var isSetupFailure: Bool {
        phase != .relay && phase != .halfClosed && phase != .firstByte
    }

    public var description: String {
        let base = "ended by \(endedBy.rawValue) during \(phase.rawValue)"
        return cause.map { "\(base): \($0)" } ?? base
    }
}
