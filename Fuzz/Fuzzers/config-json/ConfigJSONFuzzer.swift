import FuzzSupport
@testable import Proxy
import ProxyFuzzSupport

/// A `--config-file` in JSON syntax: `ConfigFile.parseJSON`, then the values applied as flags. The
/// properties are those of `ConfigFileHarness`.
@_cdecl("LLVMFuzzerTestOneInput")
public func configJSONTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ConfigFileHarness.run(FuzzInput(data, size).bytes, path: "fuzz.json", parse: ConfigFile.parseJSON)
    return 0
}

@_cdecl("fuzz_config_json_main")
public func configJSONMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, configJSONTestOneInput)
}
