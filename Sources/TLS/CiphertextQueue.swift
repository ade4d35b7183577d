import Locking
import Synchronization

/// A FIFO of ciphertext bytes for one direction of one `TLSConnection`.
///
/// Storage is borrowed from a process-wide pool only while the queue holds bytes and is handed
/// back the moment it drains, so an idle connection holds no ciphertext memory. Bytes are
/// appended at the back and consumed from the front; the unread part moves to the start only
/// when the space at the back runs short, so a steady stream costs no copies.
///
/// Not Sendable: owned by one `TLSConnection` and used by its thread only. The pool itself is
/// shared and locked (one uncontended lock per borrow or return).
final class CiphertextQueue {
    /// Size of pooled storage: a 256 KiB batch of full records with room to spare.
    static let standardCapacity = 256 * 1024 + 8 * 1024

    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    private var readerIndex = 0
    private var writerIndex = 0

    init() {}

    deinit {
        release()
    }

    /// Bytes waiting to be consumed.
    var count: Int { writerIndex - readerIndex }

    /// True when nothing is queued.
    var isEmpty: Bool { readerIndex == writerIndex }

    /// Appends `length` bytes from `source`.
    func append(_ source: UnsafeRawPointer, _ length: Int) {
        guard length > 0 else { return }
        reserve(length)
        // `reserve` guarantees storage; the force unwrap cannot fail.
        (storage! + writerIndex).copyMemory(from: source, byteCount: length)
        writerIndex += length
    }

    /// Lets `body` fill up to `maximum` bytes of fresh space at the back and keeps the count it
    /// returns (which must not exceed what it was given).
    func fill(upTo maximum: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        guard maximum > 0 else { return 0 }
        reserve(maximum)
        defer { releaseIfEmpty() }
        // `reserve` guarantees storage; the force unwrap cannot fail.
        let space = UnsafeMutableRawBufferPointer(start: storage! + writerIndex, count: maximum)
        let filled = try body(space)
        precondition(filled >= 0 && filled <= maximum, "filled \(filled) of \(maximum)")
        writerIndex += filled
        return filled
    }

    /// Copies up to `length` bytes from the front into `target` and consumes them.
    func take(into target: UnsafeMutableRawPointer, _ length: Int) -> Int {
        let taken = min(length, count)
        guard taken > 0, let storage else { return 0 }
        target.copyMemory(from: storage + readerIndex, byteCount: taken)
        consume(taken)
        return taken
    }

    /// Calls `body` with the queued bytes; consumes the count it returns.
    func withQueuedBytes(_ body: (UnsafeRawBufferPointer) throws -> Int) rethrows -> Int {
        guard let storage, !isEmpty else { return 0 }
        let used = try body(UnsafeRawBufferPointer(start: storage + readerIndex, count: count))
        precondition(used >= 0 && used <= count, "consumed \(used) of \(count)")
        consume(used)
        return used
    }

    /// Drops `length` bytes from the front; returns the storage to the pool once empty.
    private func consume(_ length: Int) {
        readerIndex += length
        releaseIfEmpty()
    }

    private func releaseIfEmpty() {
        guard readerIndex == writerIndex else { return }
        readerIndex = 0
        writerIndex = 0
        release()
    }

    /// Returns the storage (pooled if standard-sized, freed otherwise).
    private func release() {
        guard let storage else { return }
        self.storage = nil
        if capacity == Self.standardCapacity {
            CiphertextStoragePool.shared.recycle(storage)
        } else {
            storage.deallocate()
        }
        capacity = 0
    }

    /// Ensures `length` bytes of space after `writerIndex`: borrows, compacts, or grows.
    private func reserve(_ length: Int) {
        if storage == nil {
            if length <= Self.standardCapacity {
                storage = CiphertextStoragePool.shared.take()
                capacity = Self.standardCapacity
            } else {
                storage = .allocate(byteCount: length, alignment: 16)
                capacity = length
            }
            return
        }
        guard capacity - writerIndex < length, let old = storage else { return }
        let used = count
        if readerIndex > 0 && capacity - used >= length {
            old.copyMemory(from: old + readerIndex, byteCount: used)
            readerIndex = 0
            writerIndex = used
            return
        }
        var grown = capacity * 2
        while grown - used < length { grown *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
        fresh.copyMemory(from: old + readerIndex, byteCount: used)
        storage = nil
        let oldCapacity = capacity
        capacity = grown
        readerIndex = 0
        writerIndex = used
        if oldCapacity == Self.standardCapacity {
            CiphertextStoragePool.shared.recycle(old)
        } else {
            old.deallocate()
        }
        storage = fresh
    }
}

/// The process-wide stock of idle standard-sized ciphertext storage.
///
/// Sendable: the list is only touched under its mutex; the pointers in it belong to no one
/// until taken.
final class CiphertextStoragePool: Sendable {
    static let shared = CiphertextStoragePool()

    /// Most idle blocks kept (about 4 MiB); more are freed.
    private let maximumIdle = 16

    /// Addresses of idle blocks (as integers, so the list is Sendable).
    private let idle = Locked<[UInt]>([])

    /// A block of `CiphertextQueue.standardCapacity` bytes.
    func take() -> UnsafeMutableRawPointer {
        if let address = idle.withLock({ $0.popLast() }),
           let pointer = UnsafeMutableRawPointer(bitPattern: address) {
            return pointer
        }
        return .allocate(byteCount: CiphertextQueue.standardCapacity, alignment: 16)
    }

    /// Gives a block back; frees it when enough are idle already.
    func recycle(_ block: UnsafeMutableRawPointer) {
        let kept = idle.withLock { list -> Bool in
            guard list.count < maximumIdle else { return false }
            list.append(UInt(bitPattern: block))
            return true
        }
        if !kept {
            block.deallocate()
        }
    }
}
