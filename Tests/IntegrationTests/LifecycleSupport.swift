import Foundation

/// Helpers for the lifecycle tests: the proxy binary with its own flags, its log, plain TCP
/// clients and a small HTTP client for the health and admin endpoints. Loopback only.
enum Lifecycle {
    /// An instance URI that is never dialled: the lifecycle tests keep their clients silent, and
    /// a silent client never causes a dial.
    static let instance = "projects/lifecycle/locations/r/clusters/c/instances/i"

    /// Starts the proxy with exactly `arguments` (plus a static token unless told otherwise).
    static func start(
        _ arguments: [String],
        environment: [String: String] = [:],
        name: String,
        in dir: URL,
        token: Bool = true
    ) throws -> ChildProcess {
        try ChildProcess(
            name: name,
            executable: try TestBed.executable("alloydb-auth-proxy"),
            arguments: (token ? ["--token", "lifecycle-test-token"] : []) + arguments,
            environment: environment,
            logDirectory: dir
        )
    }

    /// Waits until the child's output contains `text`; false after `timeout` or if it exited.
    static func waitForLog(_ child: ChildProcess, _ text: String, timeout: TimeInterval = 20) -> Bool {
        TestBed.waitUntil(timeout: timeout) { child.output.contains(text) || !child.isRunning }
            && child.output.contains(text)
    }

    /// The TCP port of the first `Listening on 127.0.0.1:<port>` line.
    static func listeningPort(_ child: ChildProcess) throws -> Int {
        guard waitForLog(child, "Listening on 127.0.0.1:"),
              let range = child.output.range(of: "Listening on 127.0.0.1:") else {
            throw HarnessError("the proxy did not listen:\n\(child.output)")
        }
        let digits = child.output[range.upperBound...].prefix { $0.isNumber }
        guard let port = Int(digits) else { throw HarnessError("no port in:\n\(child.output)") }
        return port
    }

    /// A connected TCP client that sends nothing; closed by `close`.
    static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            Glibc.close(fd)
            return nil
        }
        return fd
    }

    /// One HTTP/1.0 request to 127.0.0.1:`port`; nil when nothing answered.
    static func http(_ method: String, port: Int, path: String) -> (status: Int, body: String)? {
        guard let fd = connect(port: port) else { return nil }
        defer { Glibc.close(fd) }
        var limit = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count
        else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n") else { return nil }
        let statusLine = text[..<headerEnd.lowerBound].split(separator: "\r\n").first ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, let status = Int(fields[1]) else { return nil }
        return (status, String(text[headerEnd.upperBound...]))
    }

    /// Runs the proxy binary as a subcommand to completion.
    static func subcommand(_ arguments: [String], timeout: TimeInterval = 20) throws -> CommandResult {
        try runCommand(try TestBed.executable("alloydb-auth-proxy").path, arguments, timeout: timeout)
    }
}
