#if canImport(Glibc)
import Glibc
#endif

/// The deterministic byte stream every source sends and every verifier expects: the byte at
/// stream offset `o` is `0x41 + o % 26`, as the emulator's `source` backend sends it.
/// Immutable and shared; any thread.
enum Pattern {
    /// The length of the stored block: a multiple of 26, so slicing it at `offset % period`
    /// gives the stream at any offset.
    static let period = 26 * 1024

    /// The longest slice `bytes(at:count:)` can hand out in one piece.
    static let maximumSlice = 64 * 1024

    /// `period + maximumSlice` bytes of the stream from offset 0, so a slice starting at any
    /// offset within one period is contiguous.
    nonisolated(unsafe) private static let block: UnsafeMutableRawBufferPointer = {
        // Written once here and only read afterwards, so sharing it across threads is safe.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: period + maximumSlice, alignment: 64)
        for index in 0..<buffer.count {
            buffer[index] = 0x41 &+ UInt8(index % 26)
        }
        return buffer
    }()

    /// The stream's bytes from `offset`, at most `count` (and at most `maximumSlice`) long.
    static func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        let start = offset % period
        let length = min(count, maximumSlice)
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(block)[start..<(start + length)])
    }

    /// True when `received` equals the stream from `offset` on. Cost: one memcmp per 64 KiB.
    static func matches(_ received: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        var done = 0
        while done < received.count {
            let expected = bytes(at: offset + done, count: received.count - done)
            guard let base = received.baseAddress, let want = expected.baseAddress,
                  memcmp(base + done, want, expected.count) == 0 else { return false }
            done += expected.count
        }
        return true
    }
}
