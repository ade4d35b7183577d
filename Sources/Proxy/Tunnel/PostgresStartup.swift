/// Just enough of the PostgreSQL startup protocol to tell a client why its connection failed.
///
/// The proxy never parses the PostgreSQL stream of a working tunnel. Only when the dial fails
/// does it look at the client's first bytes: an SSLRequest (or GSSENCRequest) is answered `N`,
/// then the StartupMessage is read and an ErrorResponse (FATAL, SQLSTATE 08006) carrying the
/// cause is sent, so `psql` prints the reason instead of "server closed the connection
/// unexpectedly". Pure; no I/O.
enum PostgresStartup {
    /// What a client's first bytes are.
    enum FirstMessage: Equatable {
        /// Fewer bytes than a verdict needs (or a StartupMessage not yet complete).
        case incomplete
        /// SSLRequest or GSSENCRequest: 8 bytes, to be answered with a single `N`.
        case encryptionRequest
        /// A protocol 3 StartupMessage of `length` bytes, length word included.
        case startupMessage(length: Int)
        /// Anything else (including CancelRequest): not something to answer.
        case other
    }

    /// Request codes of the 8-byte negotiation messages.
    static let sslRequestCode: UInt32 = 80_877_103
    static let gssEncryptionRequestCode: UInt32 = 80_877_104
    /// Protocol version 3.0 as sent in a StartupMessage.
    static let protocolVersion3: UInt32 = 196_608
    /// StartupMessages longer than this are not PostgreSQL traffic we will wait for
    /// (the server's own limit is 10 000 bytes).
    static let maximumStartupLength = 10_000

    /// Classifies the first bytes of a client stream.
    static func classify(_ bytes: some Collection<UInt8>) -> FirstMessage {
        guard bytes.count >= 8 else {
            return plausiblePrefix(bytes) ? .incomplete : .other
        }
        let header = Array(bytes.prefix(8))
        let length = Int(word(header, at: 0))
        let code = word(header, at: 4)
        if length == 8 && (code == sslRequestCode || code == gssEncryptionRequestCode) {
            return .encryptionRequest
        }
        guard code == protocolVersion3, length >= 8, length <= maximumStartupLength else {
            return .other
        }
        return bytes.count >= length ? .startupMessage(length: length) : .incomplete
    }

    /// True while `bytes` (< 8) could still begin a message we answer.
    private static func plausiblePrefix(_ bytes: some Collection<UInt8>) -> Bool {
        // Every answered message starts with a length below 65 536: two zero bytes.
        bytes.prefix(2).allSatisfy { $0 == 0 }
    }

    private static func word(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The reply to an SSLRequest or GSSENCRequest: "not supported here, continue in plain".
    static let encryptionRefusal: [UInt8] = [UInt8(ascii: "N")]

    /// A FATAL ErrorResponse with `sqlState` and `message`.
    ///
    /// NUL bytes inside the message would end the field early, so they are replaced.
    static func errorResponse(message: String, sqlState: String = "08006") -> [UInt8] {
        var body: [UInt8] = []
        func field(_ tag: Character, _ value: String) {
            body.append(tag.asciiValue ?? UInt8(ascii: "M"))
            body += value.utf8.map { $0 == 0 ? UInt8(ascii: " ") : $0 }
            body.append(0)
        }
        field("S", "FATAL")
        field("V", "FATAL")
        field("C", sqlState)
        field("M", message)
        body.append(0)

        let length = UInt32(body.count + 4)
        let lengthBytes = (0..<4).map { UInt8(truncatingIfNeeded: length >> (24 - 8 * $0)) }
        return [UInt8(ascii: "E")] + lengthBytes + body
    }
}
