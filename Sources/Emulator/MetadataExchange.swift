/// The metadata exchange that follows the TLS handshake: the client sends
/// `[u32 BE length][MetadataExchangeRequest]`, the server answers
/// `[u32 BE length][MetadataExchangeResponse]`. Protobuf is hand-encoded (proto3, no library).
public enum MetadataExchange {
    /// Largest accepted message body (after the 4-byte length prefix).
    public static let maximumMessageLength = 16 * 1024

    /// The authentication mode the client asks for.
    public enum AuthType: Equatable, Sendable, CustomStringConvertible {
        case unspecified
        case dbNative
        case autoIAM
        case other(UInt64)

        init(wire: UInt64) {
            switch wire {
            case 0: self = .unspecified
            case 1: self = .dbNative
            case 2: self = .autoIAM
            default: self = .other(wire)
            }
        }

        var wireValue: UInt64 {
            switch self {
            case .unspecified: return 0
            case .dbNative: return 1
            case .autoIAM: return 2
            case .other(let value): return value
            }
        }

        /// The enum name as the event log and error texts use it.
        public var description: String {
            switch self {
            case .unspecified: return "AUTH_TYPE_UNSPECIFIED"
            case .dbNative: return "DB_NATIVE"
            case .autoIAM: return "AUTO_IAM"
            case .other(let value): return "AUTH_TYPE_\(value)"
            }
        }
    }

    /// A decoded `MetadataExchangeRequest`.
    public struct Request: Equatable, Sendable {
        public var userAgent: String
        public var authType: AuthType
        public var oauth2Token: String

        public init(userAgent: String, authType: AuthType, oauth2Token: String) {
            self.userAgent = userAgent
            self.authType = authType
            self.oauth2Token = oauth2Token
        }
    }

    /// The outcome of a frame search over received bytes.
    public enum FrameStatus: Equatable, Sendable {
        /// More bytes are needed.
        case incomplete
        /// A whole frame: the body occupies `bytes[4..<4+length]`.
        case complete(length: Int)
    }

    /// Looks for one length-prefixed frame at the start of `bytes`; throws when the declared
    /// length exceeds `maximumMessageLength`.
    public static func frame(in bytes: [UInt8]) throws -> FrameStatus {
        guard bytes.count >= 4 else { return .incomplete }
        let length = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= maximumMessageLength else {
            throw EmulatorError(
                .metadataExchange,
                "metadata exchange request of \(length) bytes exceeds \(maximumMessageLength)"
            )
        }
        return bytes.count >= 4 + length ? .complete(length: length) : .incomplete
    }

    /// Decodes a request body; unknown fields of any valid wire type are skipped.
    public static func decodeRequest(_ body: ArraySlice<UInt8>) throws -> Request {
        var reader = ProtobufReader(bytes: body)
        var request = Request(userAgent: "", authType: .unspecified, oauth2Token: "")
        while let (field, wireType) = try reader.nextTag() {
            switch (field, wireType) {
            case (1, 2): request.userAgent = try reader.readString(field: "user_agent")
            case (2, 0): request.authType = AuthType(wire: try reader.readVarint())
            case (3, 2): request.oauth2Token = try reader.readString(field: "oauth2_token")
            default: try reader.skip(wireType: wireType)
            }
        }
        return request
    }

    /// Encodes a request frame (length prefix included); used by tests and benchmark clients.
    public static func encodeRequest(_ request: Request) -> [UInt8] {
        var body: [UInt8] = []
        appendString(1, request.userAgent, to: &body)
        if request.authType != .unspecified {
            body.append(0x10)
            appendVarint(request.authType.wireValue, to: &body)
        }
        appendString(3, request.oauth2Token, to: &body)
        return prefixed(body)
    }

    /// The OK response frame: `00 00 00 02 08 01`.
    public static func okResponse() -> [UInt8] {
        prefixed([0x08, 0x01])
    }

    /// An ERROR response frame carrying `message`.
    public static func errorResponse(_ message: String) -> [UInt8] {
        var body: [UInt8] = [0x08, 0x02]
        appendString(2, message, to: &body)
        return prefixed(body)
    }

    /// Decodes a response body into (code, error text); code 1 is OK.
    public static func decodeResponse(_ body: ArraySlice<UInt8>) throws -> (code: UInt64, error: String) {
        var reader = ProtobufReader(bytes: body)
        var code: UInt64 = 0
        var error = ""
        while let (field, wireType) = try reader.nextTag() {
            switch (field, wireType) {
            case (1, 0): code = try reader.readVarint()
            case (2, 2): error = try reader.readString(field: "error")
            default: try reader.skip(wireType: wireType)
            }
        }
        return (code, error)
    }

    private static func prefixed(_ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count)
        return [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) } + body
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private static func appendString(_ field: UInt64, _ value: String, to out: inout [UInt8]) {
        guard !value.isEmpty else { return }
        appendVarint(field << 3 | 2, to: &out)
        appendVarint(UInt64(value.utf8.count), to: &out)
        out.append(contentsOf: value.utf8)
    }
}

/// A bounds-checked proto3 reader over one message body.
struct ProtobufReader {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    private func malformed(_ what: String) -> EmulatorError {
        EmulatorError(.metadataExchange, "malformed metadata exchange message: \(what)")
    }

    /// The next (field number, wire type), or nil at the end of the message.
    mutating func nextTag() throws -> (UInt64, UInt64)? {
        guard index < bytes.endIndex else { return nil }
        let tag = try readVarint()
        guard tag >> 3 != 0 else { throw malformed("field number 0") }
        return (tag >> 3, tag & 7)
    }

    mutating func readVarint() throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard index < bytes.endIndex else { throw malformed("truncated varint") }
            let byte = bytes[index]
            index += 1
            guard shift < 64 else { throw malformed("varint longer than 10 bytes") }
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte < 0x80 { return value }
        }
        throw malformed("varint longer than 10 bytes")
    }

    mutating func readBytes() throws -> ArraySlice<UInt8> {
        let length = try readVarint()
        guard length <= UInt64(bytes.endIndex - index) else {
            throw malformed("length \(length) runs past the end")
        }
        let end = index + Int(length)
        defer { index = end }
        return bytes[index..<end]
    }

    mutating func readString(field: String) throws -> String {
        let raw = try readBytes()
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw malformed("\(field) is not UTF-8")
        }
        return text
    }

    mutating func skip(wireType: UInt64) throws {
        switch wireType {
        case 0: _ = try readVarint()
        case 1: try advance(8)
        case 2: _ = try readBytes()
        case 5: try advance(4)
        default: throw malformed("unsupported wire type \(wireType)")
        }
    }

    private mutating func advance(_ count: Int) throws {
        guard bytes.endIndex - index >= count else { throw malformed("truncated fixed field") }
        index += count
    }
}
