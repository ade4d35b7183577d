import Emulator
import TLS
import XCTest

/// A blocking TLS client over `BlockingSocket`, driving `TLSConnection` by hand.
final class TLSTestClient {
    let socket: BlockingSocket
    let tls: TLSConnection
    private var inputEnded = false

    init(host: String, port: UInt16, context: TLSContext, receiveBuffer: Int32? = nil) throws {
        socket = try BlockingSocket(host: host, port: port, receiveBuffer: receiveBuffer)
        tls = try TLSConnection(context: context, role: .client(.ipAddress(host)))
    }

    /// A client over an already connected socket, verifying the server as `host`.
    init(socket: BlockingSocket, host: String, context: TLSContext) throws {
        self.socket = socket
        tls = try TLSConnection(context: context, role: .client(.ipAddress(host)))
    }

    func flush() throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while tls.pendingCiphertextCount > 0 {
            let count = buffer.withUnsafeMutableBytes { tls.sendCiphertext(into: $0) }
            try socket.send(Array(buffer[0..<count]))
        }
    }

    private func receive() throws {
        let bytes = try socket.receive()
        if bytes.isEmpty {
            inputEnded = true
            tls.receiveEndOfStream()
        } else {
            bytes.withUnsafeBytes { tls.receiveCiphertext($0) }
        }
    }

    func handshake() throws {
        for _ in 0..<100 {
            let result = tls.handshake()
            try flush()
            switch result {
            case .complete: return
            case .wantMore:
                guard !inputEnded else { throw TLSError(.connectionFailed, operation: "handshake EOF") }
                try receive()
            case .failed(let error): throw error
            }
        }
        throw TLSError(.connectionFailed, operation: "handshake made no progress")
    }

    func write(_ bytes: [UInt8]) throws {
        let result = bytes.withUnsafeBytes { tls.write($0) }
        guard case .bytes(bytes.count) = result else {
            throw TLSError(.connectionFailed, operation: "write \(result)")
        }
        try flush()
    }

    /// Reads exactly `count` bytes (fewer only at end of stream).
    func read(count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while out.count < count {
            let result = buffer.withUnsafeMutableBytes {
                tls.read(into: UnsafeMutableRawBufferPointer(rebasing: $0.prefix(count - out.count)))
            }
            switch result {
            case .bytes(let n):
                out += buffer[0..<n]
                try flush()
            case .wantMore:
                try flush()
                guard !inputEnded else { return out }
                try receive()
            case .closed, .endOfStream: return out
            case .failed(let error): throw error
            }
        }
        return out
    }
}

/// The server-side endpoint: TLS 1.3 with client certificates, the metadata exchange, relay.
final class InstanceEndpointTests: XCTestCase {
    private var fixture: EmulatorFixture!
    private let ip = "127.0.0.62"

    override func setUpWithError() throws {
        fixture = try EmulatorFixture(ip: ip, backend: .echo)
    }

    override func tearDown() {
        fixture.stop()
    }

    private var port: UInt16 { fixture.emulator.configuration.instancePort }

    /// A client context with a certificate from the emulator's API.
    private func clientContext() throws -> TLSContext {
        let key = try PrivateKey.generateRSA()
        let (status, json) = try fixture.generateClientCertificate(
            publicKeyPEM: key.publicKey.pem(.pkcs1), token: try fixture.accessToken())
        XCTAssertEqual(status, 200)
        let chain = try (json["pemCertificateChain"]?.arrayValue ?? []).map {
            try Certificate(pem: $0.stringValue ?? "")
        }
        let root = try Certificate(pem: json["caCert"]?.stringValue ?? "")
        return try TLSContext.client(certificateChain: chain, key: key, trustedRoots: [root])
    }

    private func exchangeMetadata(_ client: TLSTestClient, token: String) throws -> (UInt64, String) {
        try client.write(MetadataExchange.encodeRequest(.init(
            userAgent: "emulator-tests/1", authType: .dbNative, oauth2Token: token)))
        let head = try client.read(count: 4)
        let length = head.reduce(0) { $0 << 8 | Int($1) }
        let body = try client.read(count: length)
        return try MetadataExchange.decodeResponse(body[...])
    }

    func testHandshakeMetadataExchangeAndEchoRoundTrip() throws {
        let client = try TLSTestClient(host: ip, port: port, context: try clientContext())
        try client.handshake()
        XCTAssertEqual(client.tls.negotiatedVersion, "TLSv1.3")
        let (code, error) = try exchangeMetadata(client, token: try fixture.accessToken())
        XCTAssertEqual(code, 1, error)

        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try client.write(payload)
        XCTAssertEqual(try client.read(count: payload.count), payload)

        // Half-close: close_notify from us comes back as the echo's end of stream.
        client.tls.shutdown()
        try client.flush()
        XCTAssertEqual(try client.read(count: 1), [])

        let events = try waitForEvent("tunnel-closed")
        let tunnel = try XCTUnwrap(events.first { $0["event"]?.stringValue == "tunnel" })
        XCTAssertEqual(tunnel["mdx"]?.stringValue, "ok")
        XCTAssertEqual(tunnel["tlsVersion"]?.stringValue, "TLSv1.3")
        XCTAssertEqual(tunnel["authType"]?.stringValue, "DB_NATIVE")
        XCTAssertEqual(tunnel["userAgent"]?.stringValue, "emulator-tests/1")
        let closed = try XCTUnwrap(events.last)
        XCTAssertEqual(closed["bytesIn"]?.numberValue, Double(payload.count))
        XCTAssertEqual(closed["bytesOut"]?.numberValue, Double(payload.count))
    }

    func testUnknownTokenGetsMetadataExchangeError() throws {
        let client = try TLSTestClient(host: ip, port: port, context: try clientContext())
        try client.handshake()
        let (code, error) = try exchangeMetadata(client, token: "ya29.not-from-here")
        XCTAssertEqual(code, 2)
        XCTAssertTrue(error.contains("not issued"), error)
    }

    func testClientCertificateFromForeignCAIsRefused() throws {
        let foreignCA = try CertificateAuthority.create(commonName: "foreign")
        let key = try PrivateKey.generateRSA()
        let leaf = try foreignCA.issue(publicKey: key.publicKey, commonName: "intruder", purpose: .client)
        let genuine = try clientContext()
        let root = genuine.certificateChain.last!  // the chain ends with the cluster root
        let context = try TLSContext.client(
            certificateChain: [leaf, foreignCA.certificate], key: key, trustedRoots: [root])
        let client = try TLSTestClient(host: ip, port: port, context: context)
        XCTAssertThrowsError(try {
            try client.handshake()
            // TLS 1.3 clients learn of a rejected certificate on their first read.
            _ = try self.exchangeMetadata(client, token: try self.fixture.accessToken())
        }())
        let events = try waitForEvent("tunnel-refused")
        XCTAssertTrue(events.contains { $0["event"]?.stringValue == "tunnel-refused" })
        XCTAssertFalse(events.contains { $0["event"]?.stringValue == "tunnel" })
    }

    /// Reads events.jsonl until an event named `name` appears (bounded: 5 s).
    private func waitForEvent(_ name: String) throws -> [JSONValue] {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: fixture.directory + "/events.jsonl", encoding: .utf8)) ?? ""
            let events = try text.split(separator: "\n").map { try JSONValue.parse(Array($0.utf8)) }
            if events.contains(where: { $0["event"]?.stringValue == name }) { return events }
            usleep(20_000)
        }
        XCTFail("no \(name) event within 5 s")
        return []
    }
}
