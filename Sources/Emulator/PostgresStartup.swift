/// The first PostgreSQL message a client sends (protocol 3.0), read by the instance endpoint
/// for AUTO_IAM to learn the database user, plus the FATAL ErrorResponse it answers a refused
/// login with. Untrusted input: lengths are bounded like the server's own limit.
enum PostgresStartup {
    /// PostgreSQL refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH).
    static let maximumLength = 10_000

    static let sslRequestCode: UInt32 = 80_877_103
    static let gssEncryptionRequestCode: UInt32 = 80_877_104
    static let cancelRequestCode: UInt32 = 80_877_102
    static let protocol3: UInt32 = 196_608

    /// What the buffered bytes start with.
    enum Message: Equatable {
        case incomplete
        /// SSLRequest or GSSENCRequest (8 bytes): answered `N`, then the real startup follows.
        case encryptionRequest
        case cancelRequest(length: Int)
        /// A StartupMessage of `length` bytes with its parameters.
        case startup(length: Int, parameters: [String: String])
    }

    /// Parses the message at the start of `bytes`; throws `.invalidArgument` naming the problem.
    static func parse(_ bytes: [UInt8]) throws -> Message {
        guard bytes.count >= 8 else { return .incomplete }
        let length = Int(uint32(bytes, at: 0))
        let code = uint32(bytes, at: 4)
        guard length >= 8, length <= maximumLength else {
            throw EmulatorError(.invalidArgument, "PostgreSQL startup packet length \(length) is invalid")
        }
        switch code {
        case sslRequestCode, gssEncryptionRequestCode:
            guard length == 8 else {
                throw EmulatorError(.invalidArgument, "PostgreSQL SSLRequest has length \(length)")
            }
            return .encryptionRequest
        case cancelRequestCode:
            return bytes.count >= length ? .cancelRequest(length: length) : .incomplete
        case protocol3:
            guard bytes.count >= length else { return .incomplete }
            return .startup(length: length, parameters: try parameters(bytes[8..<length]))
        default:
            throw EmulatorError(
                .invalidArgument, "unsupported PostgreSQL frontend protocol \(code >> 16).\(code & 0xFFFF)")
        }
    }

    /// `name\0value\0...\0` into a dictionary (first occurrence wins).
    private static func parameters(_ body: ArraySlice<UInt8>) throws -> [String: String] {
        var strings: [String] = []
        var current: [UInt8] = []
        for byte in body {
            if byte == 0 {
                guard let text = String(validating: current, as: UTF8.self) else {
                    throw EmulatorError(.invalidArgument, "PostgreSQL startup parameter is not UTF-8")
                }
                strings.append(text)
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(byte)
            }
        }
        guard current.isEmpty, strings.last == "", strings.count % 2 == 1 else {
            throw EmulatorError(.invalidArgument, "PostgreSQL startup parameters are not terminated")
        }
        var result: [String: String] = [:]
        for index in stride(from: 0, to: strings.count - 1, by: 2) where result[strings[index]] == nil {
            result[strings[index]] = strings[index + 1]
        }
        return result
    }

    /// A FATAL ErrorResponse with SQLSTATE 28000 (invalid_authorization_specification).
    static func fatalError(_ message: String) -> [UInt8] {
        var body: [UInt8] = []
        for (field, value) in [("S", "FATAL"), ("V", "FATAL"), ("C", "28000"), ("M", message)] {
            body += Array(field.utf8) + Array(value.utf8) + [0]
        }
        body.append(0)
        let length = UInt32(body.count + 4)
        return [UInt8(ascii: "E")] + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) } + body
    }

    private static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
