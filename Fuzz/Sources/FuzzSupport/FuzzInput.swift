/// The bytes of one fuzz input, with the small splitting helpers the harnesses share.
///
/// A value type over a copy of libFuzzer's buffer (libFuzzer owns the original and frees it
/// after the call). Cost: one copy of the input.
public struct FuzzInput: Sendable {
    /// All bytes of the input.
    public let bytes: [UInt8]

    /// Copies `size` bytes at `data` (nil with size 0 is the empty input).
    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        if let data, size > 0 {
            bytes = Array(UnsafeBufferPointer(start: data, count: size))
        } else {
            bytes = []
        }
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The input as text with invalid UTF-8 repaired (U+FFFD), as a `String` parameter
    /// receives it from a file or the command line.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The first byte (0 for the empty input) and the rest: lets a harness take one control
    /// byte (a split size, a status class) without a separate mutator.
    public var controlAndRest: (UInt8, ArraySlice<UInt8>) {
        guard let first = bytes.first else { return (0, []) }
        return (first, bytes.dropFirst())
    }

    /// Splits on `separator` keeping empty pieces (`a\0\0b` gives `a`, ``, `b`).
    public func split(on separator: UInt8) -> [ArraySlice<UInt8>] {
        bytes.split(separator: separator, omittingEmptySubsequences: false)
    }
}
