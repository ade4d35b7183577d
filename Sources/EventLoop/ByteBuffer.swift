/// A contiguous byte buffer with separate read and write positions, for one direction of one
/// connection. Reference type with a single owner; loop thread only.
///
///     0 ......... readerIndex ......... writerIndex ......... capacity
///     | consumed  |   readable bytes    |   writable space    |
///
/// Invariant (checked by `assertSane()`): 0 <= readerIndex <= writerIndex <= capacity.
/// Socket reads land in the writable space and advance `writerIndex`; writes drain the
/// readable bytes and advance `readerIndex`. When the two meet both reset to 0 for free.
/// Leftover bytes move back to the start (`compactIfWorthwhile`) only when few remain, so the
/// copy stays small.
public final class ByteBuffer {
    /// Bytes of storage; fixed unless `reserveWritable` grows it.
    public private(set) var capacity: Int

    /// Start of the readable bytes.
    public private(set) var readerIndex = 0

    /// End of the readable bytes and start of the writable space.
    public private(set) var writerIndex = 0

    private var storage: UnsafeMutableRawPointer

    /// Allocates `capacity` bytes (uninitialised until written).
    public init(capacity: Int) {
        precondition(capacity > 0, "ByteBuffer capacity \(capacity)")
        self.capacity = capacity
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        storage.deallocate()
    }

    /// Bytes ready to be consumed.
    public var readableBytes: Int { writerIndex - readerIndex }

    /// Room left after `writerIndex`.
    public var writableBytes: Int { capacity - writerIndex }

    /// True when nothing is readable.
    public var isEmpty: Bool { readerIndex == writerIndex }

    /// Calls `body` with the readable bytes; consume them with `moveReaderIndex(forwardBy:)`.
    /// The pointer is valid only inside `body`.
    public func withUnsafeReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage + readerIndex, count: readableBytes))
    }

    /// Calls `body` with the writable space; commit what it filled with
    /// `moveWriterIndex(forwardBy:)`. The pointer is valid only inside `body`.
    public func withUnsafeWritableBytes<R>(
        _ body: (UnsafeMutableRawBufferPointer) throws -> R
    ) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: storage + writerIndex, count: writableBytes))
    }

    /// Marks `count` readable bytes consumed; resets both indices when all are consumed.
    public func moveReaderIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= readableBytes, "consume \(count) of \(readableBytes)")
        readerIndex += count
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
        }
    }

    /// Marks `count` bytes of writable space as filled.
    public func moveWriterIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= writableBytes, "commit \(count) of \(writableBytes)")
        writerIndex += count
    }

    /// Appends `bytes`, growing the storage if needed.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        reserveWritable(bytes.count)
        if let base = bytes.baseAddress {
            (storage + writerIndex).copyMemory(from: base, byteCount: bytes.count)
        }
        writerIndex += bytes.count
    }

    /// Appends `bytes`, growing the storage if needed.
    public func append(_ bytes: some Collection<UInt8>) {
        reserveWritable(bytes.count)
        let target = UnsafeMutableRawBufferPointer(start: storage + writerIndex, count: bytes.count)
        target.copyBytes(from: bytes)
        writerIndex += bytes.count
    }

    /// Copies out and consumes `count` readable bytes; nil (consuming nothing) if fewer are
    /// readable.
    public func readBytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= readableBytes else {
            return nil
        }
        let bytes = withUnsafeReadableBytes { Array($0.prefix(count)) }
        moveReaderIndex(forwardBy: count)
        return bytes
    }

    /// Ensures at least `count` writable bytes: compacts first, then grows to the next power of
    /// two if still short.
    public func reserveWritable(_ count: Int) {
        guard writableBytes < count else {
            return
        }
        compact()
        guard writableBytes < count else {
            return
        }
        var newCapacity = capacity
        while newCapacity - writerIndex < count {
            newCapacity *= 2
        }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: storage, byteCount: writerIndex)
        storage.deallocate()
        storage = grown
        capacity = newCapacity
    }

    /// Moves the readable bytes to the start when at most `threshold` of them remain and some
    /// space was consumed; returns whether it moved anything. Cost: one copy of at most
    /// `threshold` bytes (default a quarter of the capacity).
    @discardableResult
    public func compactIfWorthwhile(threshold: Int? = nil) -> Bool {
        guard readerIndex > 0, readableBytes <= (threshold ?? capacity / 4) else {
            return false
        }
        compact()
        return true
    }

    private func compact() {
        guard readerIndex > 0 else {
            return
        }
        let count = readableBytes
        storage.copyMemory(from: storage + readerIndex, byteCount: count)
        readerIndex = 0
        writerIndex = count
    }

    /// Discards all bytes.
    public func clear() {
        readerIndex = 0
        writerIndex = 0
    }

    /// Traps if the index invariant is broken.
    public func assertSane() {
        precondition(0 <= readerIndex && readerIndex <= writerIndex && writerIndex <= capacity,
                     "ByteBuffer indices reader \(readerIndex) writer \(writerIndex) capacity \(capacity)")
    }

    // MARK: Socket I/O without copies

    /// Reads from `socket` straight into the writable space. A full buffer reads nothing and
    /// returns `.processed(0)`.
    public func read(from socket: Socket) throws -> IOResult {
        let result = try withUnsafeWritableBytes { try socket.read(into: $0) }
        if case .processed(let count) = result {
            moveWriterIndex(forwardBy: count)
        }
        return result
    }

    /// Writes the readable bytes to `socket` and consumes what was sent.
    public func write(to socket: Socket) throws -> IOResult {
        let result = try withUnsafeReadableBytes { try socket.write($0) }
        if case .processed(let count) = result {
            moveReaderIndex(forwardBy: count)
        }
        return result
    }
}
