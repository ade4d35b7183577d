import Foundation
@testable import Connector
import FuzzSupport

/// A credentials JSON file (`--credentials-file`, `--json-credentials`, ADC): the
/// `service_account` and `authorized_user` shapes, including the service account's PEM key.
///
/// Properties: every failure is a `.config` error; no error text repeats a secret of the input
/// (`private_key`, `client_secret`, `refresh_token`), since error texts reach the log.
@_cdecl("LLVMFuzzerTestOneInput")
public func credentialsTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = FuzzInput(data, size).bytes
    do {
        let source = try CredentialResolver.parse(bytes, origin: "credentials file \"fuzz.json\"")
        _ = source.quotaProject
    } catch {
        FuzzCheck.require(error.code == .config, "unexpected error code \(error.code)")
        for secret in CredentialSecrets.in(bytes) where secret.count >= 8 {
            FuzzCheck.require(!error.description.contains(secret), "an error text reveals a secret")
        }
    }
    return 0
}

/// The secret fields as `JSONDecoder` reads them (whatever the resolver saw).
struct CredentialSecrets: Decodable {
    var private_key: String?
    var client_secret: String?
    var refresh_token: String?

    static func `in`(_ bytes: [UInt8]) -> [String] {
        guard let fields = try? JSONDecoder().decode(Self.self, from: Data(bytes)) else { return [] }
        return [fields.private_key, fields.client_secret, fields.refresh_token].compactMap { $0 }
    }
}

@_cdecl("fuzz_credentials_main")
public func credentialsMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    FuzzDriver.run(argc: argc, argv: argv, credentialsTestOneInput)
}
