import EventLoop
import Foundation
import Glibc
import TLS
import XCTest

@testable import Proxy

/// Handshakes and metadata exchanges that stall, end or are refused: each tunnel ends within
/// its bound with a precise message, and no descriptor or CLOSE_WAIT socket is left behind.
final class TunnelSetupFailureTests: XCTestCase {
    private let proxyIP = "127.0.0.93"
    private let instanceIP = "127.0.0.94"
    private let attempts = 20

    /// What the fake instance does with each accepted connection.
    private enum Misbehaviour: Sendable {
        /// Accepts TCP and never sends a byte.
        case silentTCP
        /// Completes TLS, reads the MDX request, never answers.
        case silentMetadataExchange
        /// Reads the ClientHello, then closes (FIN).
        case finDuringHandshake
        /// Reads the ClientHello, then resets.
        case resetDuringHandshake
    }

    private func makeBed() throws -> DataPathBed {
        try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP) {
            $0.timeouts.handshake = .milliseconds(500)
            $0.timeouts.metadataExchange = .milliseconds(500)
        }
    }

    /// Starts a thread that serves `count` connections with `behaviour` and keeps the silent
    /// ones open until `release` is set.
    private func serve(_ acceptor: InstanceAcceptor, count: Int, _ behaviour: Misbehaviour,
                       release: Outcome<Bool>) {
        Thread {
            var held: [Int32] = []
            for _ in 0..<count {
                let fd = accept(acceptor.listenFD, nil, nil)
                guard fd >= 0 else { break }
                switch behaviour {
                case .silentTCP:
                    held.append(fd)
                case .silentMetadataExchange:
                    guard let connection = try? FakeInstanceConnection(fd: fd, context: acceptor.context),
                          (try? connection.handshake()) != nil else {
                        close(fd)
                        continue
                    }
                    _ = connection.readMetadataExchangeRequest()
                    held.append(fd)
                case .finDuringHandshake, .resetDuringHandshake:
                    var hello = [UInt8](repeating: 0, count: 4096)
                    _ = recv(fd, &hello, hello.count, 0)
                    if case .resetDuringHandshake = behaviour {
                        SocketTricks.reset(fd)
                    } else {
                        close(fd)
                    }
                }
            }
            while release.get == nil { usleep(5000) }
            held.forEach { close($0) }
        }.start()
    }

    /// Sockets of this process in CLOSE_WAIT towards `ip` (from /proc/net/tcp).
    private func closeWaitSockets(towards ip: String) -> Int {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return 0 }
        let octets = ip.split(separator: ".").compactMap { UInt8($0) }
        let hex = octets.reversed().map { String(format: "%02X", $0) }.joined()
        return table.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2].hasPrefix(hex + ":") && fields[3] == "08"
        }.count
    }

    /// Opens `attempts` clients at once, each sending one byte; runs the loop until every
    /// tunnel closed. Returns the seconds that took and whether every client saw EOF.
    private func storm(_ bed: DataPathBed) throws -> (seconds: Double, allClosed: Bool) {
        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        for _ in 0..<attempts {
            let fd = try bed.connectClient()
            BlockingSocket.writeAll(fd, [0x01])
            clients.append(fd)
        }
        let start = Date()
        bed.run(for: 10) { bed.server.counters.accepted >= UInt64(attempts) && bed.server.openTunnels == 0 }
        let seconds = Date().timeIntervalSince(start)
        var byte: UInt8 = 0
        let allClosed = clients.allSatisfy { recv($0, &byte, 1, Int32(MSG_DONTWAIT)) == 0 }
        return (seconds, allClosed)
    }

    private func check(_ behaviour: Misbehaviour, message: String, within bounds: ClosedRange<Double>) throws {
        let baseline = try ProcessResources.openDescriptorCount()
        let bed = try makeBed()
        let release = Outcome<Bool>()
        serve(bed.acceptor, count: attempts, behaviour, release: release)
        let (seconds, allClosed) = try storm(bed)
        release.set(true)

        XCTAssertTrue(bounds.contains(seconds), "\(behaviour): tunnels closed after \(seconds) s")
        XCTAssertTrue(allClosed, "\(behaviour): every client was closed")
        XCTAssertEqual(bed.server.openTunnels, 0)
        let errors = bed.errorLines
        XCTAssertEqual(errors.count, attempts, "\(behaviour): one error line per tunnel")
        XCTAssertTrue(errors.allSatisfy { $0.contains(message) }, "\(behaviour): \(errors.first ?? "")")
        XCTAssertFalse(errors.joined().contains("unclean"), errors.joined())
        XCTAssertEqual(closeWaitSockets(towards: instanceIP), 0, "\(behaviour): CLOSE_WAIT left")
        bed.run(for: 0.1) { false }
        let now = try ProcessResources.openDescriptorCount()
        // The bed's own listener and loop descriptors are still open; tunnels hold none.
        XCTAssertLessThanOrEqual(now, baseline + 6, "\(behaviour): descriptors \(baseline) -> \(now)")
    }

    func testSilentInstanceHitsTheHandshakeTimeout() throws {
        try check(.silentTCP, message: "TLS handshake timed out", within: 0.4...1.5)
    }

    func testSilentMetadataExchangeHitsItsTimeout() throws {
        try check(.silentMetadataExchange, message: "metadata exchange timed out", within: 0.4...3)
    }

    func testFinDuringHandshakeEndsAtOnce() throws {
        try check(.finDuringHandshake, message: "handshake failed: EOF", within: 0...0.4)
    }

    func testResetDuringHandshakeEndsAtOnce() throws {
        try check(.resetDuringHandshake, message: "connection reset by peer", within: 0...0.4)
    }

    /// A silent instance's timeout message names the address and the port to check.
    func testHandshakeTimeoutNamesTheAddress() throws {
        let bed = try makeBed()
        let release = Outcome<Bool>()
        serve(bed.acceptor, count: 1, .silentTCP, release: release)
        let fd = try bed.connectClient()
        defer { close(fd) }
        BlockingSocket.writeAll(fd, [0x01])
        bed.run(for: 5) { bed.server.counters.accepted >= 1 && bed.server.openTunnels == 0 }
        release.set(true)
        let line = bed.errorLines.joined()
        XCTAssertTrue(line.contains("[p.r.c.i]") && line.contains("\(instanceIP):\(bed.instancePort)"), line)
        XCTAssertTrue(line.contains("TCP port \(bed.instancePort)"), line)
    }

    /// An instance that only speaks TLS 1.2 is refused quickly with "TLS 1.3 required".
    func testTLS12OnlyInstanceIsRefused() throws {
        let bed = try makeBed()
        let serverKey = try PrivateKey.generateECP256()
        let certificate = try bed.pki.root.issue(
            publicKey: serverKey.publicKey, commonName: "old.server", ipAddresses: [instanceIP],
            purpose: .server)
        let oldContext = try TLSContext.server(
            certificateChain: [certificate], key: serverKey, clientCAs: [bed.pki.root.certificate],
            minimumVersion: .tls12, maximumVersion: .tls12)
        let old = InstanceAcceptor(listenFD: bed.instanceListenFD, context: oldContext)
        Thread { _ = old.accept().map { close($0.fd) } }.start()
        let fd = try bed.connectClient()
        defer { close(fd) }
        BlockingSocket.writeAll(fd, [0x01])
        let start = Date()
        bed.run(for: 5) { bed.server.counters.accepted >= 1 && bed.server.openTunnels == 0 }

        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertTrue(bed.errorLines.joined().contains("TLS 1.3 required"), bed.errorLines.joined())
    }
}
