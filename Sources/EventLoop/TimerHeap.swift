/// Identifies one scheduled timer, for `EventLoop.cancel(_:)`.
public struct TimerHandle: Hashable, Sendable {
    let id: UInt64
}

/// A binary min-heap of timers ordered by (deadline, id), with an index from id to heap slot so
/// that cancellation is O(log n) instead of lazy. Loop thread only.
///
/// Ids grow monotonically, so timers with equal deadlines fire in scheduling order.
struct TimerHeap {
    struct Entry {
        var deadline: LoopInstant
        var id: UInt64
        var body: () -> Void

        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : id < other.id
        }
    }

    private var entries: [Entry] = []
    private var slots: [UInt64: Int] = [:]
    private var nextID: UInt64 = 1

    /// Number of pending timers.
    var count: Int { entries.count }

    /// The earliest pending deadline, if any.
    var earliestDeadline: LoopInstant? { entries.first?.deadline }

    /// The id the next insert will get; timers with smaller ids were scheduled before it.
    var upcomingID: UInt64 { nextID }

    /// Adds a timer. O(log n).
    mutating func insert(deadline: LoopInstant, body: @escaping () -> Void) -> TimerHandle {
        let id = nextID
        nextID += 1
        entries.append(Entry(deadline: deadline, id: id, body: body))
        slots[id] = entries.count - 1
        siftUp(entries.count - 1)
        return TimerHandle(id: id)
    }

    /// Removes a pending timer; returns false if it already fired or was cancelled. O(log n).
    mutating func remove(_ handle: TimerHandle) -> Bool {
        guard let slot = slots[handle.id] else {
            return false
        }
        _ = remove(at: slot)
        return true
    }

    /// Removes and returns the earliest timer if its deadline is at or before `now` and it was
    /// scheduled before `idLimit`.
    mutating func popExpired(now: LoopInstant, idLimit: UInt64) -> Entry? {
        guard let first = entries.first, first.deadline <= now, first.id < idLimit else {
            return nil
        }
        return remove(at: 0)
    }

    /// True when `handle` is still pending.
    func contains(_ handle: TimerHandle) -> Bool {
        slots[handle.id] != nil
    }

    private mutating func remove(at slot: Int) -> Entry {
        let removed = entries[slot]
        slots[removed.id] = nil
        let last = entries.removeLast()
        if slot < entries.count {
            entries[slot] = last
            slots[last.id] = slot
            siftDown(slot)
            siftUp(slot)
        }
        return removed
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else {
                return
            }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count, entries[left].precedes(entries[smallest]) {
                smallest = left
            }
            if right < entries.count, entries[right].precedes(entries[smallest]) {
                smallest = right
            }
            if smallest == parent {
                return
            }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        slots[entries[a].id] = a
        slots[entries[b].id] = b
    }

    /// Checks the heap property and the index; O(n), for tests.
    func assertSane() {
        for index in entries.indices {
            assert(slots[entries[index].id] == index, "timer index out of sync at \(index)")
            let parent = (index - 1) / 2
            assert(index == 0 || !entries[index].precedes(entries[parent]), "heap order at \(index)")
        }
        assert(slots.count == entries.count, "timer index has \(slots.count) for \(entries.count)")
    }
}
