import Glibc
import Locking
import Synchronization

/// The proxy's logger: Go-style text lines or JSON lines, info and debug to stdout, warnings
/// and errors to stderr.
///
/// * text: `YYYY/MM/DD HH:MM:SS message` in local time, like Go's standard `log` package.
/// * JSON (`--structured-logs`): `{"severity":"INFO","message":"...","timestamp":"<RFC 3339>"}`.
/// * `--quiet` keeps errors only; `--debug-logs` enables debug.
///
/// Thread-safe: the loop thread and the refresh thread both log. Each record is written with
/// one `write(2)` under a lock, so lines never interleave. Messages are built only when their
/// level is enabled (autoclosures), so disabled debug logging costs a comparison. Callers must
/// never pass tokens or keys.
public final class ProxyLogger: Sendable {
    /// Severity, lowest first.
    public enum Level: Int, Comparable, Sendable {
        case debug
        case info
        case warning
        case error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        /// The JSON `severity` value.
        var severity: String {
            switch self {
            case .debug: return "DEBUG"
            case .info: return "INFO"
            case .warning: return "WARNING"
            case .error: return "ERROR"
            }
        }
    }

    /// Where finished lines go; `isError` selects stderr. Injectable for tests.
    public typealias Sink = @Sendable (_ line: String, _ isError: Bool) -> Void

    /// Wall-clock reading as seconds and nanoseconds since the epoch. Injectable for tests.
    public typealias WallClock = @Sendable () -> (seconds: Int, nanoseconds: Int)

    private let structured: Bool
    private let minimum: Level
    private let sink: Sink
    private let clock: WallClock

    /// Creates a logger.
    ///
    /// - Parameters:
    ///   - structured: JSON lines instead of Go text lines.
    ///   - debug: enable debug records.
    ///   - quiet: keep error records only.
    ///   - sink: the output; defaults to stdout/stderr.
    ///   - clock: the time source; defaults to `clock_gettime(CLOCK_REALTIME)`.
    public init(
        structured: Bool = false,
        debug: Bool = false,
        quiet: Bool = false,
        sink: @escaping Sink = ProxyLogger.standardStreams,
        clock: @escaping WallClock = ProxyLogger.systemClock
    ) {
        self.structured = structured
        self.minimum = quiet ? .error : (debug ? .debug : .info)
        self.sink = sink
        self.clock = clock
    }

    /// Whether records of `level` are written; check before building costly metadata.
    @inline(__always)
    public func isEnabled(_ level: Level) -> Bool {
        level >= minimum
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message) }

    public func info(_ message: @autoclosure () -> String) { log(.info, message) }

    public func warning(_ message: @autoclosure () -> String) { log(.warning, message) }

    public func error(_ message: @autoclosure () -> String) { log(.error, message) }

    /// Writes one record when `level` is enabled.
    public func log(_ level: Level, _ message: () -> String) {
        guard isEnabled(level) else { return }
        let now = clock()
        let line: String
        if structured {
            line = "{\"severity\":\"\(level.severity)\",\"message\":\(JSONText.quoted(message()))"
                + ",\"timestamp\":\"\(Self.rfc3339(now))\"}\n"
        } else {
            line = Self.goTimestamp(now.seconds) + " " + Self.singleLine(message()) + "\n"
        }
        sink(line, level >= .warning)
    }

    /// Go's `log` prefix, `2006/01/02 15:04:05`, in local time.
    static func goTimestamp(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        return "\(parts.tm_year + 1900)/\(pad(parts.tm_mon + 1))/\(pad(parts.tm_mday)) "
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))"
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2024-05-01T12:00:00.123Z`.
    static func rfc3339(_ now: (seconds: Int, nanoseconds: Int)) -> String {
        var time = time_t(now.seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let millis = now.nanoseconds / 1_000_000
        let millisText = millis < 10 ? "00\(millis)" : (millis < 100 ? "0\(millis)" : "\(millis)")
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(millisText)Z"
    }

    private static func pad(_ value: Int32) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    /// Text records stay on one line so that a hostile value cannot forge a second record.
    private static func singleLine(_ message: String) -> String {
        guard message.contains(where: { $0 == "\n" || $0 == "\r" }) else { return message }
        return String(message.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }

    /// Writes to fd 1 or 2 with one `write(2)` per line, under a process-wide lock.
    public static let standardStreams: Sink = { line, isError in
        outputLock.withLock { _ in
            var bytes = Array(line.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(isError ? 2 : 1, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                // A closed or full stdout must not take the proxy down; the record is dropped.
                guard written > 0 else { return }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    /// Serialises writers of `standardStreams`.
    private static let outputLock = Locked(())

    /// `CLOCK_REALTIME`.
    public static let systemClock: WallClock = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return (Int(now.tv_sec), Int(now.tv_nsec))
    }
}
