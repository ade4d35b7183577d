/// How important a connector log line is. The proxy maps these onto its own levels.
public enum ConnectorLogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    /// Refresh-cycle details (shown with `--debug-logs`).
    case debug
    /// Normal events worth one line.
    case info
    /// Something failed or is misconfigured but connections may still work.
    case warning
    /// New connections to an instance fail until something changes (no valid certificate).
    case error

    public static func < (lhs: ConnectorLogLevel, rhs: ConnectorLogLevel) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String {
        switch self {
        case .debug: return "DEBUG"
        case .info: return "INFO"
        case .warning: return "WARN"
        case .error: return "ERROR"
        }
    }
}

/// Receives connector log lines. Called on the refresh thread (never on the loop); must not
/// block for long. Messages never contain tokens or keys.
public typealias ConnectorLogHandler = @Sendable (ConnectorLogLevel, String) -> Void
