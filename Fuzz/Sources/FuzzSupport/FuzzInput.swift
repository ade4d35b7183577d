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

/// Property checks inside a harness: a violated property is a bug as real as a crash, so it
/// stops the run with a message libFuzzer prints next to the saved input.
public enum FuzzCheck {
    /// Traps with `message` when `condition` is false.
    public static func require(
        _ condition: @autoclosure () -> Bool,
        _ message: @autoclosure () -> String,
        file: StaticString = #fileID,
        line: UInt = #line
    ) {
        guard condition() else {
            fatalError("fuzz property violated: \(message())", file: file, line: line)
        }
    }

    /// Traps when `text` holds a C0 control character or DEL: error messages quote untrusted
    /// input and must not let it forge log lines.
    public static func requirePrintable(
        _ text: String,
        _ what: String,
        file: StaticString = #fileID,
        line: UInt = #line
    ) {
        let bad = text.unicodeScalars.first { $0.value < 0x20 || $0.value == 0x7F }
        require(bad == nil, "\(what) holds control character U+\(String(bad?.value ?? 0, radix: 16)): \(text.debugDescription)", file: file, line: line)
    }
}

/// HTTP status codes for harnesses that fuzz a response body under several statuses.
public enum FuzzHTTPStatus {
    private static let unusual = [201, 204, 299, 300, 302, 400, 401, 403, 404, 429, 500, 503, 0, 100, 999]

    /// Mostly 200 (so the fuzzer spends its time on bodies), otherwise one of the unusual ones.
    public static func from(_ control: UInt8) -> Int {
        control < 192 ? 200 : unusual[Int(control - 192) % unusual.count]
    }
}
