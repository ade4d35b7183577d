/// The instance's answer to the metadata exchange (proto3 `MetadataExchangeResponse`).
public struct MetadataExchangeResponse: Sendable, Equatable {
    /// `response_code`: 0 unspecified (a failure), 1 OK, 2 ERROR; other values are kept as sent.
    public let responseCode: UInt64
    /// `error`: the server's explanation, empty when absent.
    public let error: String

    public init(responseCode: UInt64, error: String) {
        self.responseCode = responseCode
        self.error = error
    }

    /// True only for response code OK (1); anything else must close the connection.
    public var isOK: Bool { responseCode == 1 }
}

/// A malformed metadata exchange response. The proxy closes the tunnel on any of these.
public struct MetadataExchangeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong with the bytes.
    public enum Code: Sendable, Equatable {
        /// The length prefix exceeds `MetadataExchangeDecoder.maximumLength`.
        case oversizedLength(UInt32)
        /// A varint ran past the end of the message.
        case truncatedVarint
        /// A varint was longer than 10 bytes or overflowed 64 bits.
        case varintTooLong
        /// A field's value ran past the end of the message.
        case truncatedField(fieldNumber: UInt64)
        /// A wire type other than 0, 1, 2 or 5 (groups are not valid here).
        case unsupportedWireType(UInt8, fieldNumber: UInt64)
        /// A tag with field number 0.
        case invalidFieldNumber
        /// A known field arrived with the wrong wire type.
        case unexpectedWireType(UInt8, fieldNumber: UInt64)
        /// The `error` string is not UTF-8.
        case invalidUTF8
        /// The stream ended before a whole frame arrived.
        case truncatedFrame(received: Int, expected: Int)
        /// Bytes were fed after the response was complete.
        case alreadyComplete
    }

    public let code: Code

    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .oversizedLength(let n):
            return "metadata exchange response length \(n) exceeds the maximum of "
                + "\(MetadataExchangeDecoder.maximumLength) bytes"
        case .truncatedVarint: return "metadata exchange response has a truncated varint"
        case .varintTooLong: return "metadata exchange response has an over-long varint"
        case .truncatedField(let field):
            return "metadata exchange response field \(field) runs past the end of the message"
        case .unsupportedWireType(let type, let field):
            return "metadata exchange response field \(field) has unsupported wire type \(type)"
        case .invalidFieldNumber: return "metadata exchange response has a field number of 0"
        case .unexpectedWireType(let type, let field):
            return "metadata exchange response field \(field) has wrong wire type \(type)"
        case .invalidUTF8: return "metadata exchange response error text is not UTF-8"
        case .truncatedFrame(let received, let expected):
            return "connection closed after \(received) of \(expected) metadata exchange bytes"
        case .alreadyComplete: return "metadata exchange response was already complete"
        }
    }
}

/// An incremental decoder for the length-prefixed metadata exchange response.
///
/// Feed it bytes as they arrive from TLS (any split, including one byte at a time). It checks
/// the 4-byte big-endian length against `maximumLength` before reserving any memory, then
/// collects exactly that many bytes and parses them. A value type with no I/O; owned by the one
/// tunnel that reads the response. Cost: one allocation of at most `maximumLength` bytes.
public struct MetadataExchangeDecoder: Sendable {
    /// The largest response accepted (the reference connector uses a 16 KiB buffer).
    public static let maximumLength = 16 * 1024

    /// The result of feeding bytes.
    public enum Progress: Sendable, Equatable {
        /// More bytes are needed; all the given bytes were consumed.
        case needMore
        /// The response is complete; `consumed` bytes of the last input belonged to it and the
        /// rest (if any) belongs to the stream that follows.
        case complete(MetadataExchangeResponse, consumed: Int)
    }

    private enum State: Sendable {
        case readingLength(header: [UInt8])
        case readingBody(expected: Int, body: [UInt8])
        case done
    }

    private var state: State = .readingLength(header: [])

    public init() {}

    /// Consumes bytes from `input`; throws on malformed input (the decoder is then unusable).
    public mutating func feed(_ input: UnsafeRawBufferPointer) throws(MetadataExchangeError)
        -> Progress
    {
        var index = 0
        while true {
            switch state {
            case .readingLength(var header):
                while header.count < 4 && index < input.count {
                    header.append(input[index])
                    index += 1
                }
                guard header.count == 4 else {
                    state = .readingLength(header: header)
                    return .needMore
                }
                let length = header.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                guard length <= UInt32(Self.maximumLength) else {
                    state = .done
                    throw MetadataExchangeError(.oversizedLength(length))
                }
                var body: [UInt8] = []
                body.reserveCapacity(Int(length))
                state = .readingBody(expected: Int(length), body: body)
            case .readingBody(let expected, var body):
                let take = min(expected - body.count, input.count - index)
                body.append(contentsOf: input[index..<(index + take)])
                index += take
                guard body.count == expected else {
                    state = .readingBody(expected: expected, body: body)
                    return .needMore
                }
                state = .done
                return .complete(try Self.parse(body), consumed: index)
            case .done:
                throw MetadataExchangeError(.alreadyComplete)
            }
        }
    }

    /// Convenience for tests and callers holding an array.
    public mutating func feed(_ bytes: [UInt8]) throws(MetadataExchangeError) -> Progress {
        var result: Result<Progress, MetadataExchangeError> = .success(.needMore)
        bytes.withUnsafeBytes { raw in
            do throws(MetadataExchangeError) {
                result = .success(try feed(raw))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    /// Call when the peer closed the stream: throws `truncatedFrame` unless the response was
    /// complete.
    public func endOfStream() throws(MetadataExchangeError) {
        switch state {
        case .readingLength(let header):
            throw MetadataExchangeError(.truncatedFrame(received: header.count, expected: 4))
        case .readingBody(let expected, let body):
            throw MetadataExchangeError(.truncatedFrame(received: 4 + body.count, expected: 4 + expected))
        case .done:
            return
        }
    }

    /// Parses a complete serialized response message (without the length prefix).
    static func parse(_ message: [UInt8]) throws(MetadataExchangeError) -> MetadataExchangeResponse {
        var reader = ProtoReader(bytes: message)
        var code: UInt64 = 0
        var errorText = ""
        while !reader.isAtEnd {
            let tag = try reader.readVarint()
            let field = tag >> 3
            let wireType = UInt8(tag & 7)
            guard field != 0 else { throw MetadataExchangeError(.invalidFieldNumber) }
            switch (field, wireType) {
            case (1, 0):
                code = try reader.readVarint()
            case (2, 2):
                let bytes = try reader.readLengthDelimited(field: field)
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw MetadataExchangeError(.invalidUTF8)
                }
                errorText = text
            case (1, _), (2, _):
                throw MetadataExchangeError(.unexpectedWireType(wireType, fieldNumber: field))
            default:
                try reader.skip(wireType: wireType, field: field)
            }
        }
        return MetadataExchangeResponse(responseCode: code, error: errorText)
    }
}

/// A bounds-checked cursor over one protobuf message.
struct ProtoReader {
    let bytes: [UInt8]
    var index = 0

    var isAtEnd: Bool { index >= bytes.count }

    mutating func readVarint() throws(MetadataExchangeError) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            guard index < bytes.count else { throw MetadataExchangeError(.truncatedVarint) }
            let byte = bytes[index]
            index += 1
            // The tenth byte may only contribute the top bit of a 64-bit value.
            guard shift < 63 || byte <= 1 else { throw MetadataExchangeError(.varintTooLong) }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
        }
        throw MetadataExchangeError(.varintTooLong)
    }

    mutating func readLengthDelimited(field: UInt64) throws(MetadataExchangeError) -> ArraySlice<UInt8> {
        let length = try readVarint()
        guard length <= UInt64(bytes.count - index) else {
            throw MetadataExchangeError(.truncatedField(fieldNumber: field))
        }
        let start = index
        index += Int(length)
        return bytes[start..<index]
    }

    mutating func skip(wireType: UInt8, field: UInt64) throws(MetadataExchangeError) {
        switch wireType {
        case 0: _ = try readVarint()
        case 1: try skipFixed(8, field: field)
        case 2: _ = try readLengthDelimited(field: field)
        case 5: try skipFixed(4, field: field)
        default: throw MetadataExchangeError(.unsupportedWireType(wireType, fieldNumber: field))
        }
    }

    private mutating func skipFixed(_ count: Int, field: UInt64) throws(MetadataExchangeError) {
        guard bytes.count - index >= count else {
            throw MetadataExchangeError(.truncatedField(fieldNumber: field))
        }
        index += count
    }
}
