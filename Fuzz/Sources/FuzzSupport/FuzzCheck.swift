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
        require(
            bad == nil,
            "\(what) holds control character U+\(String(bad?.value ?? 0, radix: 16)): "
                + text.debugDescription,
            file: file, line: line)
    }
}
