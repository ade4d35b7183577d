import Connector
import EventLoop
import Foundation
import Glibc
import Locking
import Synchronization
import TLS

@testable import Proxy

/// Blocking loopback sockets for test peers running on their own threads.
enum BlockingSocket {
    /// A listening TCP socket on `ip` with a kernel-chosen port.
    static func listen(ip: String) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = try socketAddress(ip: ip, port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 256) == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A connected TCP socket to `ip:port`.
    static func connect(ip: String, port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = try socketAddress(ip: ip, port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
    }

    private static func socketAddress(ip: String, port: Int) throws -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, ip, &address.sin_addr) == 1 else { throw POSIXError(.EINVAL) }
        return address
    }

    /// Writes every byte; false when the peer is gone.
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        var rest = Array(bytes)[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return false }
            rest = rest.dropFirst(written)
        }
        return true
    }

    /// Reads until EOF (or an error, or `limit` bytes).
    static func readToEnd(_ fd: Int32, limit: Int = 64 << 20) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            result += buffer[0..<count]
        }
        return result
    }

    /// Reads exactly `count` bytes (fewer on EOF).
    static func read(_ fd: Int32, count: Int) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while result.count < count {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - result.count, 0) }
            guard got > 0 else { break }
            result += buffer[0..<got]
        }
        return result
    }
}

/// A fake AlloyDB instance endpoint: a blocking TLS 1.3 server that requires a client
/// certificate, runs the metadata exchange and hands the plaintext stream to a script.
final class FakeInstanceConnection {
    let fd: Int32
    let tls: TLSConnection
    private var buffer = [UInt8](repeating: 0, count: 65536)
    private var transportEnded = false
    /// Plaintext received after the MDX request.
    private var leftover: [UInt8] = []

    init(fd: Int32, context: TLSContext) throws {
        self.fd = fd
        tls = try TLSConnection(context: context, role: .server)
    }

    func flush() {
        while tls.pendingCiphertextCount > 0 {
            let count = buffer.withUnsafeMutableBytes { tls.sendCiphertext(into: $0) }
            BlockingSocket.writeAll(fd, buffer[0..<count])
        }
    }

    private func fill() {
        guard !transportEnded else { return }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 {
            transportEnded = true
            tls.receiveEndOfStream()
        } else {
            buffer.withUnsafeBytes { tls.receiveCiphertext(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    func handshake() throws {
        while true {
            let result = tls.handshake()
            flush()
            switch result {
            case .complete: return
            case .wantMore:
                guard !transportEnded else { throw POSIXError(.ECONNRESET) }
                fill()
            case .failed(let error): throw error
            }
        }
    }

    /// The next plaintext bytes, or nil at the peer's close_notify or EOF.
    func readSome() -> [UInt8]? {
        if !leftover.isEmpty {
            defer { leftover = [] }
            return leftover
        }
        var plain = [UInt8](repeating: 0, count: 65536)
        while true {
            let result = plain.withUnsafeMutableBytes { tls.read(into: $0) }
            flush()
            switch result {
            case .bytes(let count): return Array(plain[0..<count])
            case .wantMore:
                if transportEnded { return nil }
                fill()
            case .closed, .endOfStream, .failed: return nil
            }
        }
    }

    /// Reads the length-prefixed MDX request and returns its body.
    func readMetadataExchangeRequest() -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < 4 || bytes.count < 4 + Int(bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) {
            guard let more = readSome() else { return bytes }
            bytes += more
        }
        let length = 4 + Int(bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        leftover = Array(bytes[length...])
        return Array(bytes[4..<length])
    }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 16384, bytes.count)
            _ = bytes[offset..<end].withUnsafeBytes { tls.write($0) }
            flush()
            offset = end
        }
    }

    func closeNotify() {
        tls.shutdown()
        flush()
    }
}

/// Test certificates: one CA signing the instance's server certificate and the client chain.
struct LoopbackPKI: Sendable {
    let root: CertificateAuthority
    let serverContext: TLSContext
    let clientContext: TLSContext

    init(serverIP: String) throws {
        root = try CertificateAuthority.create(commonName: "Test Cluster CA", key: PrivateKey.generateECP256())
        let serverKey = try PrivateKey.generateECP256()
        let server = try root.issue(
            publicKey: serverKey.publicKey, commonName: "instance.server.alloydb",
            ipAddresses: [serverIP], purpose: .server)
        let clientKey = try PrivateKey.generateECP256()
        let client = try root.issue(publicKey: clientKey.publicKey, commonName: "client", purpose: .client)
        serverContext = try TLSContext.server(
            certificateChain: [server], key: serverKey, clientCAs: [root.certificate])
        clientContext = try TLSContext.client(
            certificateChain: [client, root.certificate], key: clientKey, trustedRoots: [root.certificate])
    }
}

/// A connection-info source that answers at once with a fixed snapshot and counts requests.
final class FixedInfoSource: ConnectionInfoSource, Sendable {
    let snapshot: InstanceSnapshot
    let requests = Locked<[Bool]>([])

    init(snapshot: InstanceSnapshot) {
        self.snapshot = snapshot
    }

    func current(for handle: InstanceHandle) -> InstanceSnapshot? { nil }

    func requestInfo(
        for handle: InstanceHandle,
        forceRefresh: Bool,
        completion: @escaping @Sendable (Result<InstanceSnapshot, ConnectorError>) -> Void
    ) {
        requests.withLock { $0.append(forceRefresh) }
        completion(.success(snapshot))
    }
}

/// A value set once by a peer thread and read by the test.
final class Outcome<Value: Sendable>: Sendable {
    private let value = Locked<Value?>(nil)

    func set(_ newValue: Value) { value.withLock { $0 = newValue } }

    var get: Value? { value.withLock { $0 } }
}
