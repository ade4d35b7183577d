import Foundation
import Glibc

/// A tiny blocking HTTP/1.0 client for the subcommands: one request, the status line and body.
///
/// Main thread; each call opens and closes its own socket, with a 5 s bound on every send and
/// receive. Only for the proxy's own plain-HTTP endpoints.
enum LoopbackHTTP {
    struct Response: Equatable {
        let status: Int
        let body: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Largest response read; the endpoints answer a few bytes.
    static let maximumResponse = 1 << 20

    static func request(_ method: String, host: String, port: Int, path: String) -> Result<Response, Failure> {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            return .failure(Failure(description: "\(host) is not an IPv4 address"))
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(Failure(description: "socket: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var limit = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            return .failure(Failure(description: "connect \(host):\(port): \(String(cString: strerror(errno)))"))
        }
        let request = Array("\(method) \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\nContent-Length: 0\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else {
                return .failure(Failure(description: "send: \(String(cString: strerror(errno)))"))
            }
            sent += written
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= maximumResponse {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else {
                return .failure(Failure(description: "receive: \(String(cString: strerror(errno)))"))
            }
            bytes += chunk[..<count]
        }
        return parse(bytes)
    }

    /// `HTTP/1.x NNN reason\r\n...\r\n\r\nbody`.
    static func parse(_ bytes: [UInt8]) -> Result<Response, Failure> {
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let statusLine = parts.first?.split(separator: "\r\n").first ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let status = Int(fields[1]) else {
            return .failure(Failure(description: "not an HTTP response"))
        }
        return .success(Response(status: status, body: parts.dropFirst().joined(separator: "\r\n\r\n")))
    }
}
