import FuzzSupport
@testable import Proxy
import ProxyFuzzSupport

/// A `--config-file` in YAML syntax: `YAMLMapping.parse`, then the values applied as flags. The
/// properties are those of `ConfigFileHarness`.
@_cdecl("LLVMFuzzerTestOneInput")
public func configYAMLTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ConfigFileHarness.run(FuzzInput(data, size).bytes, path: "fuzz.yaml", parse: YAMLMapping.parse)
    return 0
}

@_cdecl("fuzz_config_yaml_main")
public func configYAMLMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, configYAMLTestOneInput)
}
