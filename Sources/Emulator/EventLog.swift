import Foundation
import Locking
import Synchronization

/// Appends one JSON object per line to `<state-dir>/events.jsonl`, flushed per line so that a
/// reader tailing the file sees each event as soon as it happened. Thread-safe (one lock around
/// the write); callable from HTTP threads and the event loop alike.
public final class EventLog: Sendable {
    /// The open file; `nil` when logging is disabled. Written under `lock` only.
    private let handle: Locked<FileHandle?>

    public let path: String?

    /// Opens the log at `path`: created with mode 0600, emptied, then appended to.
    public init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw EmulatorError(
                .stateDirectory,
                "cannot open event log \(path): \(String(cString: strerror(errno)))"
            )
        }
        self.handle = Locked(FileHandle(fileDescriptor: fd, closeOnDealloc: true))
        self.path = path
    }

    /// A log that drops every event (for tests that do not look at events).
    public init() {
        self.handle = Locked(nil)
        self.path = nil
    }

    /// Writes `fields` as one JSON object line. Failures to write are ignored: the event log
    /// is diagnostics and must never take the emulator down.
    public func record(_ fields: [(String, JSONValue)]) {
        let line = Data((JSONValue.object(fields).serialized + "\n").utf8)
        handle.withLock { handle in
            try? handle?.write(contentsOf: line)
        }
    }

    /// Closes the file; later events are dropped.
    public func close() {
        handle.withLock { handle in
            try? handle?.close()
            handle = nil
        }
    }
}
