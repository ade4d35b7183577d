import Foundation
import TLS

/// A compact-serialized RS256 JWT assertion (`header.claims.signature`, base64url) as sent in
/// the jwt-bearer grant. Parsing checks structure only; `verify` checks signature and claims.
struct JSONWebToken {
    let header: JSONValue
    let claims: JSONValue
    let signingInput: [UInt8]
    let signature: [UInt8]

    /// Splits and decodes `text`; throws `.invalidGrant` naming the broken part.
    init(_ text: String) throws {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw EmulatorError(.invalidGrant, "the assertion is not a JWT (header.claims.signature)")
        }
        guard let header = Base64URL.decode(parts[0]), let claims = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else { throw EmulatorError(.invalidGrant, "the assertion is not base64url-encoded") }
        do {
            self.header = try JSONValue.parse(header)
            self.claims = try JSONValue.parse(claims)
        } catch {
            throw EmulatorError(.invalidGrant, "the assertion's header or claims are not JSON")
        }
        self.signingInput = Array("\(parts[0]).\(parts[1])".utf8)
        self.signature = signature
    }

    /// Checks alg RS256, the signature against `key`, `iss`, `aud` and the validity window
    /// (`exp` in the future, `iat` not in the future beyond a minute of skew, at most one hour).
    func verify(key: PublicKey, issuer: String, audience: String, now: Date) throws {
        guard header["alg"]?.stringValue == "RS256" else {
            throw EmulatorError(.invalidGrant, "the assertion's alg is not RS256")
        }
        guard key.verifySHA256(signature: signature, data: signingInput) else {
            throw EmulatorError(.invalidGrant, "Invalid JWT Signature.")
        }
        guard claims["iss"]?.stringValue == issuer else {
            throw EmulatorError(.invalidGrant, "Invalid JWT: iss does not name the service account.")
        }
        guard claims["aud"]?.stringValue == audience else {
            throw EmulatorError(.invalidGrant, "Invalid JWT: aud must be \(audience).")
        }
        guard let exp = claims["exp"]?.numberValue, let iat = claims["iat"]?.numberValue else {
            throw EmulatorError(.invalidGrant, "Invalid JWT: exp and iat are required.")
        }
        let seconds = now.timeIntervalSince1970
        guard exp > seconds, iat <= seconds + 60, exp - iat <= 3600 else {
            throw EmulatorError(
                .invalidGrant,
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                    + "timeframe. Check your iat and exp values in the JWT claim."
            )
        }
    }
}

/// Base64url without padding (RFC 7515).
enum Base64URL {
    static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        guard !base64.contains("=") else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map { Array($0) }
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
