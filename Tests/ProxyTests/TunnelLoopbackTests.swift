import Connector
import EventLoop
import Foundation
import Glibc
import TLS
import XCTest

@testable import Proxy

/// Whole tunnels on loopback: a client thread -> the proxy's loop (this thread) -> a fake
/// instance thread speaking TLS 1.3 and the metadata exchange.
final class TunnelLoopbackTests: XCTestCase {
    private let proxyIP = "127.0.0.81"
    private let instanceIP = "127.0.0.82"
    private let token = "test-token-not-secret"

    /// The running pieces of one test.
    private struct Bed {
        let loop: EventLoop
        let server: ProxyServer
        let source: FixedInfoSource
        let proxyPort: Int
        let instanceFD: Int32
    }

    private func makeBed(instancePort: Int, pki: LoopbackPKI, instanceFD: Int32) throws -> Bed {
        let loop = try EventLoop()
        let uri = try InstanceURI("projects/p/locations/r/clusters/c/instances/i")
        let snapshot = InstanceSnapshot(
            instance: uri, tlsContext: pki.clientContext, privateIP: instanceIP, publicIP: nil,
            pscDNSName: nil, dialAddress: instanceIP, ipType: .private,
            expiration: Date().addingTimeInterval(3600), certificateSerial: "01",
            mdxToken: token, mdxTokenExpiry: nil, autoIAMAuthN: false)
        let source = FixedInfoSource(snapshot: snapshot)
        var settings = TunnelSettings()
        settings.instancePort = instancePort
        settings.timeouts.dial = .seconds(10)
        let logger = ProxyLogger(quiet: true, sink: { _, _ in })
        let server = ProxyServer(loop: loop, logger: logger, source: source, settings: settings)
        let bound = try server.listen(
            route: InstanceRoute(handle: InstanceHandle(instance: uri)),
            on: .tcp(host: proxyIP, port: 0))
        let port = try XCTUnwrap(Int(bound.split(separator: ":").last ?? ""))
        return Bed(loop: loop, server: server, source: source, proxyPort: port, instanceFD: instanceFD)
    }

    /// Runs the loop until `done` or 20 s.
    private func run(_ bed: Bed, until done: () -> Bool) {
        let deadline = Date().addingTimeInterval(20)
        while !done() && Date() < deadline {
            bed.loop.runOnce(maximumWaitMilliseconds: 20)
        }
        // Let the last close be processed.
        for _ in 0..<5 { bed.loop.runOnce(maximumWaitMilliseconds: 5) }
    }

    private func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Client uploads 1 MiB and half-closes; the instance reads to close_notify, then echoes
    /// everything and closes; the client reads the echo to EOF.
    func testEchoAfterClientHalfClose() throws {
        let pki = try LoopbackPKI(serverIP: instanceIP)
        let (listenFD, instancePort) = try BlockingSocket.listen(ip: instanceIP)
        defer { close(listenFD) }
        let bed = try makeBed(instancePort: instancePort, pki: pki, instanceFD: listenFD)
        let payload = randomBytes(1 << 20)
        let received = Outcome<(request: [UInt8], bytes: [UInt8])>()
        let echoed = Outcome<[UInt8]>()
        let token = self.token

        Thread {
            let fd = accept(listenFD, nil, nil)
            defer { close(fd) }
            guard let connection = try? FakeInstanceConnection(fd: fd, context: pki.serverContext),
                (try? connection.handshake()) != nil
            else { return received.set(([], [])) }
            let request = connection.readMetadataExchangeRequest()
            connection.write([0, 0, 0, 2, 0x08, 0x01])
            var bytes: [UInt8] = []
            while let more = connection.readSome() { bytes += more }
            received.set((request, bytes))
            connection.write(bytes)
            connection.closeNotify()
        }.start()
        Thread { [port = bed.proxyPort, proxyIP] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return echoed.set([]) }
            defer { close(fd) }
            BlockingSocket.writeAll(fd, payload)
            shutdown(fd, Int32(SHUT_WR))
            echoed.set(BlockingSocket.readToEnd(fd))
        }.start()

        run(bed) { echoed.get != nil && bed.server.openTunnels == 0 }

        let upstream = try XCTUnwrap(received.get, "the instance saw the whole upload")
        XCTAssertTrue(String(decoding: upstream.request, as: UTF8.self).contains(token))
        XCTAssertEqual(SHA256Hasher.hash(upstream.bytes), SHA256Hasher.hash(payload))
        XCTAssertEqual(SHA256Hasher.hash(try XCTUnwrap(echoed.get)), SHA256Hasher.hash(payload))
        XCTAssertEqual(bed.server.openTunnels, 0)
        XCTAssertEqual(bed.server.counters.completed, 1)
        XCTAssertEqual(bed.server.counters.bytesToInstance, UInt64(payload.count))
        XCTAssertEqual(bed.server.counters.bytesToClient, UInt64(payload.count))
    }

    /// The instance sends its reply and close_notify first; the client, still uploading, gets
    /// the reply then EOF, and its upload still reaches the instance in full.
    func testInstanceEndsFirstWhileClientKeepsUploading() throws {
        let pki = try LoopbackPKI(serverIP: instanceIP)
        let (listenFD, instancePort) = try BlockingSocket.listen(ip: instanceIP)
        defer { close(listenFD) }
        let bed = try makeBed(instancePort: instancePort, pki: pki, instanceFD: listenFD)
        let reply = randomBytes(256 << 10)
        let upload = randomBytes(1 << 20)
        let received = Outcome<[UInt8]>()
        let downloaded = Outcome<[UInt8]>()
        let uploaded = Outcome<Bool>()

        Thread {
            let fd = accept(listenFD, nil, nil)
            defer { close(fd) }
            guard let connection = try? FakeInstanceConnection(fd: fd, context: pki.serverContext),
                (try? connection.handshake()) != nil
            else { return received.set([]) }
            _ = connection.readMetadataExchangeRequest()
            connection.write([0, 0, 0, 2, 0x08, 0x01])
            connection.write(reply)
            connection.closeNotify()
            var bytes: [UInt8] = []
            while let more = connection.readSome() { bytes += more }
            received.set(bytes)
        }.start()
        guard let clientFD = try? BlockingSocket.connect(ip: proxyIP, port: bed.proxyPort) else {
            return XCTFail("could not connect to the proxy")
        }
        defer { close(clientFD) }
        Thread {
            uploaded.set(BlockingSocket.writeAll(clientFD, upload))
            shutdown(clientFD, Int32(SHUT_WR))
        }.start()
        Thread { downloaded.set(BlockingSocket.readToEnd(clientFD)) }.start()

        run(bed) { received.get != nil && downloaded.get != nil && bed.server.openTunnels == 0 }

        XCTAssertEqual(uploaded.get, true)
        XCTAssertEqual(SHA256Hasher.hash(try XCTUnwrap(downloaded.get)), SHA256Hasher.hash(reply))
        XCTAssertEqual(SHA256Hasher.hash(try XCTUnwrap(received.get)), SHA256Hasher.hash(upload))
        XCTAssertEqual(bed.server.openTunnels, 0)
    }

    /// A refused metadata exchange reaches a PostgreSQL client as `N` plus an ErrorResponse.
    func testMetadataExchangeErrorIsExplainedToPostgresClients() throws {
        let pki = try LoopbackPKI(serverIP: instanceIP)
        let (listenFD, instancePort) = try BlockingSocket.listen(ip: instanceIP)
        defer { close(listenFD) }
        let bed = try makeBed(instancePort: instancePort, pki: pki, instanceFD: listenFD)
        let denial = Array("principal lacks alloydb.instances.connect".utf8)
        let answer = Outcome<[UInt8]>()

        Thread {
            let fd = accept(listenFD, nil, nil)
            defer { close(fd) }
            guard let connection = try? FakeInstanceConnection(fd: fd, context: pki.serverContext),
                (try? connection.handshake()) != nil
            else { return }
            _ = connection.readMetadataExchangeRequest()
            let body: [UInt8] = [0x08, 0x02, 0x12, UInt8(denial.count)] + denial
            connection.write([0, 0, 0, UInt8(body.count)] + body)
            connection.closeNotify()
        }.start()
        Thread { [port = bed.proxyPort, proxyIP] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return answer.set([]) }
            defer { close(fd) }
            BlockingSocket.writeAll(fd, [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
            let refusal = BlockingSocket.read(fd, count: 1)
            let startup: [UInt8] = [0, 0, 0, 22, 0, 3, 0, 0] + Array("user\0alice\0\0".utf8) + [0, 0]
            BlockingSocket.writeAll(fd, Array(startup.prefix(22)))
            answer.set(refusal + BlockingSocket.readToEnd(fd))
        }.start()

        run(bed) { answer.get != nil && bed.server.openTunnels == 0 }

        let bytes = try XCTUnwrap(answer.get)
        XCTAssertEqual(bytes.first, UInt8(ascii: "N"))
        XCTAssertEqual(bytes.dropFirst().first, UInt8(ascii: "E"))
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("C08006"), text)
        XCTAssertTrue(text.contains("principal lacks alloydb.instances.connect"), text)
        XCTAssertTrue(text.contains("p.r.c.i"), text)
        XCTAssertEqual(bed.server.counters.failed(in: .metadataExchange), 1)
    }

    /// A client that connects and leaves without a byte costs no dial.
    func testSilentProbeNeverDials() throws {
        let pki = try LoopbackPKI(serverIP: instanceIP)
        let (listenFD, instancePort) = try BlockingSocket.listen(ip: instanceIP)
        defer { close(listenFD) }
        let bed = try makeBed(instancePort: instancePort, pki: pki, instanceFD: listenFD)
        for _ in 0..<20 {
            let fd = try BlockingSocket.connect(ip: proxyIP, port: bed.proxyPort)
            close(fd)
        }
        run(bed) { bed.server.counters.accepted == 20 && bed.server.openTunnels == 0 }
        XCTAssertEqual(bed.server.counters.accepted, 20)
        XCTAssertEqual(bed.server.openTunnels, 0)
        XCTAssertTrue(bed.source.requests.withLock { $0.isEmpty }, "no connection info was requested")
    }

    /// A refused TCP connect forces a refresh and closes the client.
    func testConnectFailureForcesRefresh() throws {
        let pki = try LoopbackPKI(serverIP: instanceIP)
        let (listenFD, instancePort) = try BlockingSocket.listen(ip: instanceIP)
        close(listenFD)  // nothing listens on instancePort any more
        let bed = try makeBed(instancePort: instancePort, pki: pki, instanceFD: -1)
        let answer = Outcome<[UInt8]>()
        Thread { [port = bed.proxyPort, proxyIP] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return answer.set([]) }
            defer { close(fd) }
            BlockingSocket.writeAll(fd, Array("hello".utf8))
            answer.set(BlockingSocket.readToEnd(fd))
        }.start()
        run(bed) { answer.get != nil && bed.server.openTunnels == 0 }
        XCTAssertEqual(answer.get, [], "a non-PostgreSQL client is just closed")
        XCTAssertEqual(bed.source.requests.withLock { $0 }, [false, true])
        XCTAssertEqual(bed.server.counters.failed(in: .connect), 1)
    }
}
