@testable import Connector
import FuzzSupport

/// The Admin API `connectionInfo` answer: JSON decoding, the error envelope of non-2xx
/// answers, and the address choice the snapshot builder makes from the decoded fields.
///
/// The first input byte picks the HTTP status (mostly 200, sometimes 4xx/5xx), the rest is the
/// body. Properties: a failure is a `.refresh` error carrying the status; its text is bounded
/// (the body is cut, not echoed whole).
@_cdecl("LLVMFuzzerTestOneInput")
public func connectionInfoTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (control, body) = FuzzInput(data, size).controlAndRest
    let status = FuzzHTTPStatus.from(control)
    let response = HTTPResponse(status: status, body: Array(body))
    switch AdminAPIClient.parse(
        response, as: ConnectionInfoResponse.self, instance: ConnectionInfoFixture.instance,
        call: "failed to get instance metadata")
    {
    case .success(let info):
        FuzzCheck.require(response.isSuccess, "HTTP \(status) decoded as success")
        _ = [info.ipAddress, info.publicIpAddress, info.pscDnsName, info.instanceUid]
    case .failure(let error):
        FuzzCheck.require(error.code == .refresh, "unexpected error code \(error.code)")
        FuzzCheck.require(error.httpStatus == status, "error lost the HTTP status")
        FuzzCheck.require(
            response.isSuccess || error.message.contains("HTTP \(status)"),
            "error text does not name HTTP \(status)")
    }
    return 0
}

enum ConnectionInfoFixture {
    /// A fixed, valid instance (the URI is fuzzed on its own).
    // Cannot fail: a literal valid URI.
    static let instance = try! InstanceURI("projects/p/locations/r/clusters/c/instances/i")
}

@_cdecl("fuzz_connection_info_main")
public func connectionInfoMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, connectionInfoTestOneInput)
}
