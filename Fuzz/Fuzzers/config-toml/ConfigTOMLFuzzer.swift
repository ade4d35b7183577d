import FuzzSupport
@testable import Proxy
import ProxyFuzzSupport

/// A `--config-file` in TOML syntax: `TOMLSubset.parse`, then the values applied as flags. The
/// properties are those of `ConfigFileHarness`.
@_cdecl("LLVMFuzzerTestOneInput")
public func configTOMLTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ConfigFileHarness.run(FuzzInput(data, size).bytes, path: "fuzz.toml", parse: TOMLSubset.parse)
    return 0
}

@_cdecl("fuzz_config_toml_main")
public func configTOMLMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, configTOMLTestOneInput)
}
