import FuzzSupport
@testable import Proxy

/// Go duration syntax (`1m30s`, `1.5h`, `500ms`), the value of every duration flag and file key.
///
/// Properties: a parsed duration is printed in a form that parses back to the same value;
/// a leading `-` negates exactly; the magnitude never exceeds Go's limit (Int64 nanoseconds).
@_cdecl("LLVMFuzzerTestOneInput")
public func goDurationTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    guard let duration = GoDuration.parse(text) else { return 0 }

    let printed = GoDuration.format(duration)
    FuzzCheck.require(
        GoDuration.parse(printed) == duration,
        "\(text.debugDescription) parsed to \(duration), printed as \(printed), which reads back differently")
    if let first = text.unicodeScalars.first, first != "-", first != "+" {
        FuzzCheck.require(
            GoDuration.parse("-" + text) == .zero - duration, "negation of \(text.debugDescription)")
    }
    return 0
}

@_cdecl("fuzz_go_duration_main")
public func goDurationMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, goDurationTestOneInput)
}
