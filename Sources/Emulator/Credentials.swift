import Foundation
import TLS

/// The credentials the emulator hands out in its state directory: one service-account key
/// (accepted by the jwt-bearer grant) and one authorized-user refresh token. Immutable.
public struct Credentials: Sendable {
    public let projectID: String
    public let serviceAccountEmail: String
    public let serviceAccountKey: PrivateKey
    public let privateKeyID: String
    public let clientID: String
    public let clientSecret: String
    public let refreshToken: String
    /// The email of the authorized user the refresh token belongs to (its IAM principal).
    public let userEmail: String
    /// `<api endpoint>/token`.
    public let tokenURI: String

    /// Generates a fresh key and random identifiers for `projectID`.
    public static func generate(projectID: String, tokenURI: String) throws -> Credentials {
        Credentials(
            projectID: projectID,
            serviceAccountEmail: "emulator@\(projectID).iam.gserviceaccount.com",
            serviceAccountKey: try PrivateKey.generateRSA(bits: 2048),
            privateKeyID: randomHex(20),
            clientID: "\(randomDigits(12))-emulator.apps.googleusercontent.com",
            clientSecret: "emu-" + randomHex(12),
            refreshToken: "1//emulator-" + randomHex(32),
            userEmail: "emulator-user@example.com",
            tokenURI: tokenURI
        )
    }

    /// The `service-account.json` document (it contains the private key: write it 0600).
    public var serviceAccountJSON: JSONValue {
        .object([
            ("type", "service_account"),
            ("project_id", .string(projectID)),
            ("private_key_id", .string(privateKeyID)),
            ("private_key", .string(serviceAccountKey.pem())),
            ("client_email", .string(serviceAccountEmail)),
            ("client_id", .string(randomDigitsStable)),
            ("auth_uri", "https://accounts.google.com/o/oauth2/auth"),
            ("token_uri", .string(tokenURI)),
        ])
    }

    /// The `authorized-user.json` document; `token_uri` points at the emulator.
    public var authorizedUserJSON: JSONValue {
        .object([
            ("type", "authorized_user"),
            ("client_id", .string(clientID)),
            ("client_secret", .string(clientSecret)),
            ("refresh_token", .string(refreshToken)),
            ("quota_project_id", .string(projectID)),
            ("token_uri", .string(tokenURI)),
        ])
    }

    /// A numeric id derived from the key id, so the document is stable for one run.
    private var randomDigitsStable: String {
        String(privateKeyID.utf8.reduce(UInt64(7)) { $0 &* 31 &+ UInt64($1) } % 1_000_000_000_000)
    }
}

/// `count` random bytes as lowercase hex.
func randomHex(_ count: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in
        String(UInt8.random(in: 0...255, using: &generator), radix: 16).leftPadded(to: 2)
    }.joined()
}

/// `count` random decimal digits.
func randomDigits(_ count: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
}
