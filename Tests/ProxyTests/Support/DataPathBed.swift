import Connector
import EventLoop
import Foundation
import Glibc
import Locking
import Synchronization
import TLS
import XCTest

@testable import Proxy

/// A proxy on this thread's loop in front of a fake instance listening on `instanceIP`, with
/// every log line kept for assertions.
final class DataPathBed {
    let loop: EventLoop
    let server: ProxyServer
    let proxyPort: Int
    let instanceListenFD: Int32
    let instancePort: Int
    let pki: LoopbackPKI
    let proxyIP: String
    let route: InstanceRoute
    private let lines = LogCollector()

    /// - Parameters:
    ///   - instancePort: port the proxy dials; nil listens on a fresh one.
    ///   - serverContext: the instance's TLS context; nil uses the PKI's TLS 1.3 server.
    ///   - configure: adjusts the settings (timeouts, sizes) before the server starts.
    init(
        proxyIP: String, instanceIP: String, instancePort: Int? = nil,
        configure: (inout TunnelSettings) -> Void = { _ in }
    ) throws {
        self.proxyIP = proxyIP
        pki = try LoopbackPKI(serverIP: instanceIP)
        if let instancePort {
            instanceListenFD = -1
            self.instancePort = instancePort
        } else {
            (instanceListenFD, self.instancePort) = try BlockingSocket.listen(ip: instanceIP)
        }
        loop = try EventLoop()
        let uri = try InstanceURI("projects/p/locations/r/clusters/c/instances/i")
        let snapshot = InstanceSnapshot(
            instance: uri, tlsContext: pki.clientContext, privateIP: instanceIP, publicIP: nil,
            pscDNSName: nil, dialAddress: instanceIP, ipType: .private,
            expiration: Date().addingTimeInterval(3600), certificateSerial: "01",
            mdxToken: "test-token-not-secret", mdxTokenExpiry: nil, autoIAMAuthN: false)
        var settings = TunnelSettings()
        settings.instancePort = self.instancePort
        settings.timeouts.dial = .seconds(10)
        configure(&settings)
        let lines = self.lines
        let logger = ProxyLogger(debug: true, sink: { line, isError in lines.append(line, isError) })
        server = ProxyServer(loop: loop, logger: logger, source: FixedInfoSource(snapshot: snapshot),
                             settings: settings)
        route = InstanceRoute(handle: InstanceHandle(instance: uri))
        let bound = try server.listen(route: route, on: .tcp(host: proxyIP, port: 0))
        proxyPort = try XCTUnwrap(Int(bound.split(separator: ":").last ?? ""))
    }

    deinit {
        server.closeTunnels()
        server.closeListeners()
        if instanceListenFD >= 0 { close(instanceListenFD) }
    }

    /// Log lines so far.
    var log: [String] { lines.all.map(\.text) }

    /// Log lines at WARNING level or above.
    var errorLines: [String] { lines.all.filter(\.isError).map(\.text) }

    /// Runs the loop until `done` or `limit` passes; returns whether `done` became true.
    @discardableResult
    func run(for limit: TimeInterval = 20, until done: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(limit)
        while !done() && Date() < deadline {
            loop.runOnce(maximumWaitMilliseconds: 10)
        }
        let reached = done()
        for _ in 0..<3 { loop.runOnce(maximumWaitMilliseconds: 2) }
        return reached
    }

    /// The instance side, for peer threads.
    var acceptor: InstanceAcceptor {
        InstanceAcceptor(listenFD: instanceListenFD, context: pki.serverContext)
    }

    /// Adds a Unix socket listener in `directory`; returns the socket path.
    func listenUnix(directory: String) throws -> String {
        try server.listen(route: route, on: .unix(directory: directory))
    }

    /// A blocking client connection to the proxy.
    func connectClient() throws -> Int32 {
        try BlockingSocket.connect(ip: proxyIP, port: proxyPort)
    }
}

/// Log lines written from the loop thread, read by the test.
final class LogCollector: Sendable {
    private let lines = Locked<[(text: String, isError: Bool)]>([])

    func append(_ line: String, _ isError: Bool) { lines.withLock { $0.append((line, isError)) } }

    var all: [(text: String, isError: Bool)] { lines.withLock { $0 } }
}

/// The fake instance's listener, usable from a peer thread.
struct InstanceAcceptor: Sendable {
    let listenFD: Int32
    let context: TLSContext

    /// Accepts one connection and completes TLS and an OK metadata exchange; nil if any step
    /// fails.
    func accept() -> FakeInstanceConnection? {
        let fd = Glibc.accept(listenFD, nil, nil)
        guard fd >= 0 else { return nil }
        guard let connection = try? FakeInstanceConnection(fd: fd, context: context),
              (try? connection.handshake()) != nil else {
            close(fd)
            return nil
        }
        _ = connection.readMetadataExchangeRequest()
        connection.write([0, 0, 0, 2, 0x08, 0x01])
        return connection
    }
}

/// Socket tricks the data-path tests need.
enum SocketTricks {
    /// A blocking connection to the Unix socket at `path`; -1 on failure.
    static func connectUnix(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// Closes `fd` with an RST instead of a FIN (SO_LINGER with a zero timeout).
    static func reset(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    /// Sets a receive timeout so a blocking read gives up after `seconds`.
    static func setReadTimeout(_ fd: Int32, seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Resident set size of this process in KiB, from /proc/self/statm.
    static func residentKiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }

    /// Milliseconds since an arbitrary origin (monotonic).
    static func nowMilliseconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1e6
    }
}
