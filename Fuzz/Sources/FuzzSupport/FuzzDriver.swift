import CFuzzerDriver

/// Starts libFuzzer from a fuzz executable's entry point.
///
/// SwiftPM links every executable with `main` aliased to `<module>_main`, so libFuzzer's own
/// `main` never runs. Each fuzzer therefore exports `<module>_main` with `@_cdecl` and calls
/// `FuzzDriver.run`, which hands the command line and the fuzzer's `LLVMFuzzerTestOneInput` to
/// libFuzzer's driver. Runs on the main thread; returns libFuzzer's exit status.
public enum FuzzDriver {
    /// The signature of `LLVMFuzzerTestOneInput`.
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Hands `argc`/`argv` (libFuzzer's flags and corpus directories) and the harness to
    /// libFuzzer; returns when the run ends (time limit, crash or `-runs`).
    public static func run(
        argc: CInt,
        argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        _ testOneInput: TestOneInput
    ) -> CInt {
        var count = argc
        var vector = argv
        return LLVMFuzzerRunDriver(&count, &vector, testOneInput)
    }
}
