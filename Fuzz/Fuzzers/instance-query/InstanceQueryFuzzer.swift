import Connector
import FuzzSupport
import Proxy

/// The per-instance query string of a positional argument (`...instances/i?port=6000&psc`):
/// `InstanceArgument(parsing:)` with a fixed valid URI, so every input exercises the query.
///
/// Properties: the URI part is kept; a port is in range; TCP and Unix keys never both
/// survive; an error is one printable line.
@_cdecl("LLVMFuzzerTestOneInput")
public func instanceQueryTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let argument = InstanceQueryFixture.uri + "?" + FuzzInput(data, size).text
    do {
        let parsed = try InstanceArgument(parsing: argument)
        FuzzCheck.require(parsed.instance.name == InstanceQueryFixture.uri, "the URI changed")
        FuzzCheck.require(parsed.argument == argument, "the argument text changed")
        if let port = parsed.port {
            FuzzCheck.require((0...65535).contains(port), "port \(port) out of range")
        }
        let tcp = parsed.address != nil || parsed.port != nil
        let unix = parsed.unixSocket != nil || parsed.unixSocketPath != nil
        FuzzCheck.require(!(tcp && unix), "TCP and Unix listener keys both accepted")
        FuzzCheck.require(
            !(parsed.unixSocket != nil && parsed.unixSocketPath != nil),
            "unix-socket and unix-socket-path both accepted")
    } catch let error as ConfigError {
        FuzzCheck.requirePrintable(error.description, "error text")
    } catch {
        FuzzCheck.require(false, "untyped error \(error)")
    }
    return 0
}

enum InstanceQueryFixture {
    static let uri = "projects/p/locations/r/clusters/c/instances/i"
}

@_cdecl("fuzz_instance_query_main")
public func instanceQueryMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, instanceQueryTestOneInput)
}
