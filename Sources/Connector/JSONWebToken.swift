import Foundation

/// Builds the RS256 JWT assertion of the service-account (two-legged OAuth) grant.
///
/// Header `{"alg":"RS256","typ":"JWT","kid":<private_key_id>}`; claims `iss` (client email),
/// `scope` (space-joined), `aud` (token URI), `iat` = now - 10 s (tolerates clock skew) and
/// `exp` = iat + 3600. Each part is base64url without padding; the signature is
/// RSASSA-PKCS1-v1_5 over SHA-256 of `header.claims`. Pure apart from `sign`.
enum JSONWebToken {
    struct Header: Codable, Equatable {
        var alg = "RS256"
        var typ = "JWT"
        var kid: String?
    }

    struct Claims: Codable, Equatable {
        var iss: String
        var scope: String
        var aud: String
        var iat: Int64
        var exp: Int64
    }

    /// How far back `iat` is set from `now`.
    static let issuedAtSkew: TimeInterval = 10
    /// Lifetime of the assertion.
    static let lifetime: Int64 = 3600

    /// Returns the signed compact JWT. `sign` computes the RS256 signature of its input.
    static func assertion(
        clientEmail: String,
        keyID: String?,
        audience: String,
        scopes: [String],
        now: Date,
        sign: ([UInt8]) throws -> [UInt8]
    ) throws -> String {
        let issuedAt = Int64((now.timeIntervalSince1970 - issuedAtSkew).rounded(.down))
        let claims = Claims(
            iss: clientEmail, scope: scopes.joined(separator: " "), aud: audience,
            iat: issuedAt, exp: issuedAt + lifetime)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = base64URL(Array(try encoder.encode(Header(kid: keyID))))
        let payload = base64URL(Array(try encoder.encode(claims)))
        let signingInput = "\(header).\(payload)"
        let signature = try sign(Array(signingInput.utf8))
        return "\(signingInput).\(base64URL(signature))"
    }

    /// Base64url without padding (RFC 7515 section 2).
    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes base64url with or without padding; nil when malformed.
    static func decodeBase64URL(_ text: Substring) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map(Array.init)
    }
}

/// `application/x-www-form-urlencoded` bodies for token requests.
enum FormEncoding {
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Joins `fields` as `k=v&...` with every reserved character percent-encoded.
    static func encode(_ fields: [(String, String)]) -> [UInt8] {
        let text = fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
        return Array(text.utf8)
    }

    static func escape(_ text: String) -> String {
        // Cannot fail: every character outside the set is percent-encoded as UTF-8.
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }
}
