import EventLoop
import Locking
import Synchronization
import XCTest

/// A clock tests move by hand, so timer tests never sleep.
final class FakeClock: LoopClock {
    var current = LoopInstant(nanoseconds: 1_000_000_000)

    func now() -> LoopInstant { current }

    func advance(_ duration: Duration) {
        current = current.advanced(by: duration)
    }
}

/// Records every callback for assertions; optionally reacts to it.
final class RecordingHandler: IOHandler {
    var calls: [IOEvents] = []
    var onEvent: ((IOEvents) -> Void)?

    func handle(_ events: IOEvents) {
        calls.append(events)
        onEvent?(events)
    }
}

/// A thread-safe list, for work submitted from other threads.
final class SharedLog: Sendable {
    private let entries = Locked<[Int]>([])

    func append(_ value: Int) {
        entries.withLock { $0.append(value) }
    }

    var values: [Int] { entries.withLock { $0 } }
}

extension EventLoop {
    /// Runs turns until `done()` holds or `limit` of real time passes; returns `done()`.
    /// Each wait is capped at 50 ms so the bound is honoured.
    func drive(for limit: Duration = .seconds(10), until done: () -> Bool) -> Bool {
        let deadline = SystemClocks.monotonicNow().advanced(by: limit)
        while !done() {
            if SystemClocks.monotonicNow() >= deadline {
                return false
            }
            runOnce(maximumWaitMilliseconds: 50)
        }
        return true
    }
}

extension Socket {
    /// Writes all of `bytes` (the tests' messages fit a socket buffer).
    func writeAll(_ bytes: [UInt8]) throws {
        let result = try bytes.withUnsafeBytes { try write($0) }
        XCTAssertEqual(result, .processed(bytes.count))
    }

    /// One read of up to `limit` bytes: the bytes, `[]` for would-block, nil for EOF.
    func readSome(limit: Int = 4096) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: limit)
        let result = try buffer.withUnsafeMutableBytes { try read(into: $0) }
        switch result {
        case .processed(let count): return Array(buffer.prefix(count))
        case .wouldBlock: return []
        case .eof: return nil
        }
    }
}
