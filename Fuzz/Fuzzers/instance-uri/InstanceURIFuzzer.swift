import Connector
import FuzzSupport

/// `InstanceURI(_:)` on arbitrary text (command-line positionals, environment variables).
///
/// Properties: a parsed URI survives a round trip through `name`; the four values are exactly
/// the segments of the text; a rejection names the input without raw control characters.
@_cdecl("LLVMFuzzerTestOneInput")
public func instanceURITestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = FuzzInput(data, size).text
    do {
        let uri = try InstanceURI(text)
        FuzzCheck.require(uri.name == text, "name \(uri.name.debugDescription) differs from input")
        let again = try InstanceURI(uri.name)
        FuzzCheck.require(again == uri, "round trip changed \(uri)")
        FuzzCheck.require(
            uri.shortName == [uri.project, uri.region, uri.cluster, uri.instance]
                .joined(separator: "."),
            "short name \(uri.shortName.debugDescription) does not join the values")
        FuzzCheck.require(
            uri.clusterName.hasPrefix("projects/") && uri.name.hasPrefix(uri.clusterName + "/"),
            "cluster name \(uri.clusterName.debugDescription) is not the parent of the name")
    } catch {
        FuzzCheck.require(error.code == .config, "unexpected error code \(error.code)")
        FuzzCheck.requirePrintable(error.description, "error text")
    }
    return 0
}

@_cdecl("fuzz_instance_uri_main")
public func instanceURIMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, instanceURITestOneInput)
}
