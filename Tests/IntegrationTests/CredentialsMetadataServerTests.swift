import Foundation
import XCTest

/// A blackholed GCE metadata server must not delay the proxy's start, and connections must
/// fail within a bounded time with a message naming the cause.
final class CredentialsMetadataServerTests: XCTestCase {
    static let instance = "projects/it-project/locations/us-central1/clusters/creds/instances/gce"

    func testBlackholedMetadataServer_listensAtOnce_connectionsFailWithTimeoutMessage() throws {
        let dir = try TestBed.temporaryDirectory("metadata")
        defer { try? FileManager.default.removeItem(at: dir) }
        let blackhole = try Blackhole()
        let started = Date()
        // No credentials file, no gcloud ADC file under HOME: the metadata server is the only source.
        let proxy = try ProxyProcess(
            arguments: [Self.instance],
            environment: ["HOME": dir.path, "GCE_METADATA_HOST": "127.0.0.1:\(blackhole.port)"],
            in: dir)
        defer { _ = proxy.stop() }
        try proxy.waitUntilListening()
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "listening within 2 s:\n\(proxy.child.output)")

        let client = try EchoClient(port: proxy.port)
        let dial = Date()
        XCTAssertTrue(client.send("hello"))
        XCTAssertTrue(client.waitForClose(timeout: 15), "the client is closed")
        XCTAssertLessThan(Date().timeIntervalSince(dial), 10, "bounded by the metadata timeout")
        XCTAssertTrue(proxy.child.output.contains("metadata server timeout"), proxy.child.output)
        XCTAssertTrue(proxy.child.isRunning)
    }
}

/// A listener that completes TCP handshakes (the kernel's backlog) and never answers.
final class Blackhole {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw HarnessError("bind/listen failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.fd = fd
    }

    deinit { close(fd) }
}
