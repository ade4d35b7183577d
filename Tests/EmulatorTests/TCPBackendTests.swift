import Emulator
import Foundation
import TLS
import XCTest

/// A one-connection TCP echo server on a thread: echoes until EOF, then half-closes.
final class ThreadEchoServer: @unchecked Sendable {
    // @unchecked: `listener` is immutable after init; the thread only reads it.
    let listener: Int32
    let port: UInt16

    /// A listening socket on `host` with a kernel-chosen port.
    static func listeningSocket(host: String) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, host, &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound, listen(fd, 4) == 0 else {
            close(fd)
            throw EmulatorError(.network, "test server bind")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    init(host: String) throws {
        let (fd, port) = try Self.listeningSocket(host: host)
        listener = fd
        self.port = port
        Thread {
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                _ = buffer.withUnsafeBytes { send(connection, $0.baseAddress, count, Int32(MSG_NOSIGNAL)) }
            }
            shutdown(connection, Int32(SHUT_WR))
            close(connection)
        }.start()
    }

    deinit { close(listener) }
}

/// The relay to a TCP backend (the `postgres` backend kind), including half-close.
final class TCPBackendTests: XCTestCase {
    func testRelayToTCPBackendWithHalfClose() throws {
        let ip = "127.0.0.63"
        let server = try ThreadEchoServer(host: "127.0.0.1")
        let fixture = try EmulatorFixture(ip: ip, backend: .postgres(host: "127.0.0.1", port: server.port))
        defer { fixture.stop() }
        let client = try connectedClient(fixture, ip: ip, token: try fixture.accessToken())

        let payload = [UInt8](repeating: 0x5A, count: 300_000)
        try client.write(payload)
        XCTAssertEqual(try client.read(count: payload.count), payload)

        // close_notify becomes a FIN to the backend; the backend's FIN comes back as
        // close_notify, and the tunnel then closes.
        client.tls.shutdown()
        try client.flush()
        XCTAssertEqual(try client.read(count: 1), [], events(fixture))
        let deadline = Date().addingTimeInterval(5)
        while !events(fixture).contains("tunnel-closed") && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(events(fixture).contains(#""bytesIn":300000,"bytesOut":300000"#), events(fixture))
    }

    func testTruncatedClientStreamClosesTheTunnelQuietly() throws {
        let ip = "127.0.0.64"
        let server = try ThreadEchoServer(host: "127.0.0.1")
        let fixture = try EmulatorFixture(ip: ip, backend: .postgres(host: "127.0.0.1", port: server.port))
        defer { fixture.stop() }
        let client = try connectedClient(fixture, ip: ip, token: try fixture.accessToken())
        try client.write([1, 2, 3])
        XCTAssertEqual(try client.read(count: 3), [1, 2, 3])

        // A FIN without close_notify: no more TLS is possible, so the tunnel closes (no alert).
        client.socket.shutdownWrite()
        XCTAssertEqual(try client.read(count: 1), [])
    }

    private func connectedClient(_ fixture: EmulatorFixture, ip: String, token: String) throws
        -> TLSTestClient
    {
        let key = try PrivateKey.generateRSA()
        let (_, json) = try fixture.generateClientCertificate(
            publicKeyPEM: key.publicKey.pem(.spki), token: token)
        let chain = try (json["pemCertificateChain"]?.arrayValue ?? []).map {
            try Certificate(pem: $0.stringValue ?? "")
        }
        let root = try Certificate(pem: json["caCert"]?.stringValue ?? "")
        let context = try TLSContext.client(certificateChain: chain, key: key, trustedRoots: [root])
        let client = try TLSTestClient(
            host: ip, port: fixture.emulator.configuration.instancePort, context: context)
        try client.handshake()
        try client.write(MetadataExchange.encodeRequest(
            .init(userAgent: "t", authType: .dbNative, oauth2Token: token)))
        XCTAssertEqual(try client.read(count: 6), MetadataExchange.okResponse())
        return client
    }

    private func events(_ fixture: EmulatorFixture) -> String {
        (try? String(contentsOfFile: fixture.directory + "/events.jsonl", encoding: .utf8)) ?? ""
    }
}
