import Emulator
import FuzzSupport

/// `JSONValue.parse`, the emulator's own JSON reader for every request body it receives.
///
/// Properties: a parsed document serializes to text that parses back to the same value, and
/// serializing that again gives the same text.
@_cdecl("LLVMFuzzerTestOneInput")
public func emulatorJSONTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let value = try? JSONValue.parse(FuzzInput(data, size).bytes) else { return 0 }

    let text = value.serialized
    let again = try? JSONValue.parse(Array(text.utf8))
    FuzzCheck.require(again == value, "\(text) does not parse back to the same value")
    FuzzCheck.require(again?.serialized == text, "serializing is not stable for \(text)")
    return 0
}

@_cdecl("fuzz_emulator_json_main")
public func emulatorJSONMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, emulatorJSONTestOneInput)
}
