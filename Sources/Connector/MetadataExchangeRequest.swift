/// How the instance authenticates the database user, sent in the metadata exchange.
public enum MetadataExchangeAuthType: UInt8, Sendable {
    /// The client authenticates with a database password as usual.
    case dbNative = 1
    /// The instance logs the IAM principal of `oauth2Token` in (automatic IAM authentication).
    case autoIAM = 2
}

/// The client's first message inside the TLS tunnel (proto3 `MetadataExchangeRequest`).
///
/// Wire form, written in one piece before any PostgreSQL byte:
/// 1. a 4-byte big-endian length of the serialized message (not counting these 4 bytes);
/// 2. field 1 `user_agent` (tag 0x0A, length-delimited), omitted when empty;
/// 3. field 2 `auth_type` (tag 0x10, varint);
/// 4. field 3 `oauth2_token` (tag 0x1A, length-delimited), omitted when empty.
public struct MetadataExchangeRequest: Sendable, Equatable {
    /// The connector's user agent, e.g. `alloydb-go-connector/1.18.5`.
    public var userAgent: String
    /// DB_NATIVE or AUTO_IAM.
    public var authType: MetadataExchangeAuthType
    /// The OAuth2 access token; sent for both auth types (it also authorizes the connection).
    public var oauth2Token: String

    public init(userAgent: String, authType: MetadataExchangeAuthType, oauth2Token: String) {
        self.userAgent = userAgent
        self.authType = authType
        self.oauth2Token = oauth2Token
    }

    /// The serialized message without the length prefix.
    public func encodeMessage() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(userAgent.utf8.count + oauth2Token.utf8.count + 16)
        if !userAgent.isEmpty {
            out.append(0x0A)
            ProtoWire.appendVarint(UInt64(userAgent.utf8.count), to: &out)
            out.append(contentsOf: userAgent.utf8)
        }
        out.append(0x10)
        ProtoWire.appendVarint(UInt64(authType.rawValue), to: &out)
        if !oauth2Token.isEmpty {
            out.append(0x1A)
            ProtoWire.appendVarint(UInt64(oauth2Token.utf8.count), to: &out)
            out.append(contentsOf: oauth2Token.utf8)
        }
        return out
    }

    /// The length-prefixed frame to write to the TLS connection.
    public func encodeFrame() -> [UInt8] {
        let message = encodeMessage()
        let length = UInt32(message.count)
        var frame: [UInt8] = [
            UInt8(truncatingIfNeeded: length >> 24), UInt8(truncatingIfNeeded: length >> 16),
            UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
        ]
        frame.append(contentsOf: message)
        return frame
    }
}

/// Protobuf wire-format primitives shared by the metadata exchange encoder and decoder.
enum ProtoWire {
    /// Appends `value` as a base-128 varint.
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }
}
