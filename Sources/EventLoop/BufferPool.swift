/// A bounded per-loop stack of equally sized `ByteBuffer`s, so that connections borrow a
/// buffer only while bytes are in flight and idle ones hold no buffer memory.
///
/// Loop thread only. Borrow with `take()`, give back with `recycle(_:)` when the buffer is
/// empty. At most `maximumPooled` buffers are kept; extra ones are freed.
public final class BufferPool {
    /// The capacity of each pooled buffer.
    public let bufferSize: Int

    /// The most idle buffers kept.
    public let maximumPooled: Int

    private var idle: [ByteBuffer] = []

    /// Buffers allocated because the pool was empty.
    public private(set) var allocations = 0

    /// Buffers handed out from the pool without allocating.
    public private(set) var reuses = 0

    /// Creates an empty pool of `bufferSize`-byte buffers holding at most `maximumPooled`.
    public init(bufferSize: Int = 16 * 1024 + 512, maximumPooled: Int = 256) {
        precondition(bufferSize > 0 && maximumPooled >= 0, "BufferPool(\(bufferSize), \(maximumPooled))")
        self.bufferSize = bufferSize
        self.maximumPooled = maximumPooled
    }

    /// Idle buffers held right now.
    public var idleCount: Int { idle.count }

    /// An empty buffer of `bufferSize` bytes. O(1).
    public func take() -> ByteBuffer {
        if let buffer = idle.popLast() {
            reuses += 1
            return buffer
        }
        allocations += 1
        return ByteBuffer(capacity: bufferSize)
    }

    /// Returns a buffer; its contents are discarded. Buffers that grew past `bufferSize` are
    /// freed rather than pooled, so the pool's memory stays bounded. O(1).
    public func recycle(_ buffer: ByteBuffer) {
        buffer.assertSane()
        guard idle.count < maximumPooled, buffer.capacity == bufferSize else {
            return
        }
        buffer.clear()
        idle.append(buffer)
    }
}
