import Foundation
@testable import Connector
import FuzzSupport

/// An OAuth2 token endpoint answer (`access_token`, `expires_in`, or `error`).
///
/// The first input byte picks the HTTP status, the rest is the body. Properties: a token is
/// only accepted from a 2xx answer without `error`, is never empty and never expires in the
/// past, and its description does not reveal it; every failure is a `.token` error.
@_cdecl("LLVMFuzzerTestOneInput")
public func tokenResponseTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (control, body) = FuzzInput(data, size).controlAndRest
    let response = HTTPResponse(status: FuzzHTTPStatus.from(control), body: Array(body))
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    switch TokenResponse.parse(response, endpoint: "https://oauth2.example/token", now: now) {
    case .success(let token):
        FuzzCheck.require(response.isSuccess, "token accepted from HTTP \(response.status)")
        FuzzCheck.require(!token.value.isEmpty, "empty token accepted")
        FuzzCheck.require(token.expiry.map { $0 > now } ?? true, "token already expired")
        // The description may depend on the token's length, never on its text.
        let standIn = AccessToken(
            value: String(repeating: "x", count: token.value.utf8.count), expiry: token.expiry)
        FuzzCheck.require(
            token.description == standIn.description, "the token's description reveals it")
    case .failure(let error):
        FuzzCheck.require(error.code == .token, "unexpected error code \(error.code)")
    }
    return 0
}

@_cdecl("fuzz_token_response_main")
public func tokenResponseMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, tokenResponseTestOneInput)
}
