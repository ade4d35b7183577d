import Foundation
import TLS

/// A minimal blocking HTTP/1.1 client for talking to a running emulator's own API from the
/// command line (`mint-client-cert`): one request per connection, `Connection: close`, the body
/// read to end of stream. `http://`, or `https://` verified against `trustedCA` (the emulator's
/// API CA), on IPv4 literals only; 10 s send/receive timeouts; replies above 1 MiB are
/// refused. Any thread.
enum LoopbackHTTPClient {
    static let maximumReply = 1 << 20

    /// Sends one request to `url` and returns the status and body; throws `.network` naming the
    /// step that failed.
    static func request(
        _ url: String, method: String, headers: [String: String] = [:], body: [UInt8] = [],
        trustedCA: Certificate? = nil
    ) throws -> (status: Int, body: [UInt8]) {
        let secure = url.hasPrefix("https://")
        guard secure || url.hasPrefix("http://") else {
            throw EmulatorError(.network, "\(url): only http:// and https:// endpoints can be used")
        }
        let rest = url.dropFirst(secure ? "https://".count : "http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        let endpoint = try HostPort(authority, flag: "API endpoint")
        guard IPv4.isLiteral(endpoint.host) else {
            throw EmulatorError(.network, "\(url): the API host must be an IPv4 literal")
        }
        let fd = try connect(endpoint)
        defer { close(fd) }

        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\n"
        head += "Content-Length: \(body.count)\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        guard secure else {
            try send(fd, request, url: url)
            return try parse(try receiveAll(fd, url: url), url: url)
        }
        guard let trustedCA else {
            throw EmulatorError(.network, "\(url): HTTPS needs the API CA (apiCAFile)")
        }
        let tls = try TLSConnection(
            context: try clientContext(trusting: trustedCA), role: .client(.ipAddress(endpoint.host)))
        return try parse(try exchange(fd, tls: tls, request: request, url: url), url: url)
    }

    /// A TLS 1.3 client context trusting only `ca`. The engine always carries a client
    /// identity; a throwaway one is made because the API never asks for it.
    private static func clientContext(trusting ca: Certificate) throws -> TLSContext {
        let unused = try CertificateAuthority.create(commonName: "unused")
        let key = try PrivateKey.generateRSA()
        let leaf = try unused.issue(publicKey: key.publicKey, commonName: "client", purpose: .client)
        return try TLSContext.client(certificateChain: [leaf], key: key, trustedRoots: [ca])
    }

    /// Handshake, request and reply over `tls` on the blocking socket `fd`.
    private static func exchange(_ fd: Int32, tls: TLSConnection, request: [UInt8], url: String)
        throws -> [UInt8]
    {
        var buffer = [UInt8](repeating: 0, count: 16384)
        func flush() throws {
            while tls.pendingCiphertextCount > 0 {
                let count = buffer.withUnsafeMutableBytes { tls.sendCiphertext(into: $0) }
                try send(fd, Array(buffer[0..<count]), url: url)
            }
        }
        func receive() throws -> Bool {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else {
                throw EmulatorError(.network, "\(url): receive failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 {
                tls.receiveEndOfStream()
            } else {
                buffer.withUnsafeBytes { tls.receiveCiphertext(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
            }
            return count > 0
        }
        for _ in 0..<100 {
            let step = tls.handshake()
            try flush()
            if case .complete = step { break }
            if case .failed(let error) = step { throw EmulatorError(.network, "\(url): TLS: \(error)") }
            guard try receive() else { throw EmulatorError(.network, "\(url): closed during TLS") }
        }
        guard case .bytes = request.withUnsafeBytes({ tls.write($0) }) else {
            throw EmulatorError(.network, "\(url): TLS write failed")
        }
        try flush()
        var reply: [UInt8] = []
        var plaintext = [UInt8](repeating: 0, count: 16384)
        while reply.count <= maximumReply + 16384 {
            switch plaintext.withUnsafeMutableBytes({ tls.read(into: $0) }) {
            case .bytes(let count): reply += plaintext[0..<count]
            case .wantMore:
                try flush()
                if try !receive() { return reply }
            case .closed, .endOfStream: return reply
            case .failed(let error): throw EmulatorError(.network, "\(url): TLS: \(error)")
            }
        }
        throw EmulatorError(.network, "\(url): the reply exceeds \(maximumReply) bytes")
    }

    private static func connect(_ endpoint: HostPort) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EmulatorError(.network, "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            setsockopt(fd, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = endpoint.port.bigEndian
        inet_pton(AF_INET, endpoint.host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = String(cString: strerror(errno))
            close(fd)
            throw EmulatorError(.network, "cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        return fd
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8], url: String) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else {
                throw EmulatorError(.network, "\(url): send failed: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    private static func receiveAll(_ fd: Int32, url: String) throws -> [UInt8] {
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw EmulatorError(.network, "\(url): receive failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return reply }
            reply += buffer[0..<count]
            guard reply.count <= maximumReply + 16384 else {
                throw EmulatorError(.network, "\(url): the reply exceeds \(maximumReply) bytes")
            }
        }
    }

    private static func parse(_ reply: [UInt8], url: String) throws -> (status: Int, body: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, reply.count - 3)).first(where: { Array(reply[$0..<$0 + 4]) == separator })
        else { throw EmulatorError(.network, "\(url): the reply has no complete header") }
        let head = String(decoding: reply[..<end], as: UTF8.self)
        let fields = head.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), let status = Int(fields[1]) else {
            throw EmulatorError(.network, "\(url): the reply has no HTTP status line")
        }
        if head.lowercased().contains("transfer-encoding: chunked") {
            throw EmulatorError(.network, "\(url): chunked replies are not supported")
        }
        return (status, Array(reply[(end + 4)...]))
    }
}
