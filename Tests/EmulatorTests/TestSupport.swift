import Emulator
import Foundation
import TLS
import XCTest

/// A blocking loopback TCP connection with a 5 s receive timeout, for driving the emulator
/// from tests without the event loop.
final class BlockingSocket {
    let fd: Int32

    /// Connects to `host:port`; a `receiveBuffer` (bytes) is set before connecting so that the
    /// advertised TCP window stays small.
    init(host: String, port: UInt16, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw EmulatorError(.network, "connect \(host):\(port) errno \(errno)")
        }
    }

    /// Takes ownership of a connected descriptor, makes it blocking, sets the 5 s timeout.
    init(adopting descriptor: Int32) {
        fd = descriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw EmulatorError(.network, "send errno \(errno)") }
            offset += sent
        }
    }

    /// Up to 64 KiB; empty at EOF; throws on timeout or error.
    func receive() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw EmulatorError(.network, "recv errno \(errno)") }
        return Array(buffer[0..<count])
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Replaces the 5 s receive timeout.
    func setReceiveTimeout(milliseconds: Int) {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// A minimal HTTP/1.1 client (one request per connection) returning status and body.
func httpRequest(
    _ endpoint: String, method: String, path: String, headers: [String: String] = [:],
    body: [UInt8] = []
) throws -> (status: Int, body: [UInt8]) {
    let hostPort = endpoint.dropFirst("http://".count).split(separator: ":")
    let socket = try BlockingSocket(host: String(hostPort[0]), port: UInt16(hostPort[1])!)
    var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostPort.joined(separator: ":"))\r\n"
    head += "Connection: close\r\nContent-Length: \(body.count)\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    head += "\r\n"
    do {
        try socket.send(Array(head.utf8) + body)
    } catch {
        // A server may answer (413, say) and close before it has read the whole body; the
        // answer is then already waiting in the receive buffer, as with any HTTP client.
        guard errno == EPIPE || errno == ECONNRESET else { throw error }
    }
    var response: [UInt8] = []
    while true {
        let chunk = try socket.receive()
        if chunk.isEmpty { break }
        response += chunk
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ")[1]) else {
        throw EmulatorError(.network, "bad HTTP response: \(text.prefix(200))")
    }
    return (status, Array(text[split.upperBound...].utf8))
}

/// A free TCP port on `host` (bound and released; good enough on loopback in tests).
func freePort(on host: String) -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, host, &address.sin_addr)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// An emulator in a fresh temporary state directory, stopped and removed by `tearDown`.
final class EmulatorFixture {
    static let instanceURI = "projects/test-project/locations/us-central1/clusters/c1/instances/i1"
    static let clusterName = "projects/test-project/locations/us-central1/clusters/c1"

    let emulator: Emulator
    let directory: String

    init(
        ip: String, backend: InstanceSpec.Backend = .echo, lifetime: Int = 3600,
        metadataExchange: Bool = true, faults: JSONValue = .object([]), apiTLS: Bool = false
    ) throws {
        directory = NSTemporaryDirectory() + "emulator-test-\(UUID().uuidString)"
        var configuration = EmulatorConfiguration(stateDirectory: directory)
        var spec = try InstanceSpec(uri: Self.instanceURI, ipAddress: ip, backend: backend)
        spec.metadataExchange = metadataExchange
        configuration.instances = [spec]
        configuration.initialFaults = faults
        configuration.apiTLS = apiTLS
        configuration.instancePort = freePort(on: ip)
        configuration.certificateLifetime = lifetime
        emulator = try Emulator(configuration: configuration)
    }

    func stop() {
        emulator.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var api: String { emulator.apiEndpoint }

    /// A service-account JWT assertion for `scope`, signed with `key` (default: the real one).
    func assertion(scope: String, key: PrivateKey? = nil, audience: String? = nil) throws -> String {
        let credentials = emulator.credentials
        let now = Int(Date().timeIntervalSince1970)
        let header = #"{"alg":"RS256","typ":"JWT","kid":"\#(credentials.privateKeyID)"}"#
        let claims = #"{"iss":"\#(credentials.serviceAccountEmail)","scope":"\#(scope)","#
            + #""aud":"\#(audience ?? credentials.tokenURI)","iat":\#(now - 10),"exp":\#(now + 3590)}"#
        let input = base64URL(Array(header.utf8)) + "." + base64URL(Array(claims.utf8))
        let signature = try (key ?? credentials.serviceAccountKey).signSHA256(Array(input.utf8))
        return input + "." + base64URL(signature)
    }

    /// Exchanges a JWT for an access token; returns (status, parsed body).
    func tokenRequest(assertion: String) throws -> (Int, JSONValue) {
        let body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
            + assertion
        let response = try httpRequest(
            api, method: "POST", path: "/token",
            headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Array(body.utf8))
        return (response.status, try JSONValue.parse(response.body))
    }

    /// A cloud-platform access token.
    func accessToken(scope: String = cloudPlatformScope) throws -> String {
        let (status, json) = try tokenRequest(assertion: try assertion(scope: scope))
        XCTAssertEqual(status, 200)
        return try XCTUnwrap(json["access_token"]?.stringValue)
    }

    /// Calls generateClientCertificate for `publicKeyPEM`.
    func generateClientCertificate(
        publicKeyPEM: String, token: String, useMetadataExchange: Bool = true
    ) throws -> (Int, JSONValue) {
        let body = JSONValue.object([
            ("parent", .string(Self.clusterName)), ("publicKey", .string(publicKeyPEM)),
            ("certDuration", "3600s"), ("useMetadataExchange", .bool(useMetadataExchange)),
        ])
        let response = try httpRequest(
            api, method: "POST",
            path: "/v1alpha/\(Self.clusterName):generateClientCertificate?%24alt=json%3Benum-encoding%3Dint",
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
            body: body.bytes)
        return (response.status, try JSONValue.parse(response.body))
    }
}

func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

extension BlockingSocket {
    /// Wraps a copy of `descriptor` (switched to blocking mode) with the usual 5 s timeout.
    convenience init(duplicating descriptor: Int32) {
        self.init(adopting: dup(descriptor))
    }
}
