import Synchronization

/// Successful refreshes per instance, counted on the refresh thread and read on the loop.
final class RefreshTally: Sendable {
    private let counts: Mutex<[Int]>

    init(count: Int) {
        counts = Mutex([Int](repeating: 0, count: count))
    }

    func increment(_ index: Int) {
        counts.withLock { $0[index] += 1 }
    }

    func value(_ index: Int) -> Int {
        counts.withLock { $0[index] }
    }
}
