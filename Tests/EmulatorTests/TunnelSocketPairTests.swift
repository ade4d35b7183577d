@testable import Emulator
import EventLoop
import Foundation
import TLS
import XCTest

/// One `Tunnel` on its own event loop, its client side a socket pair whose send buffer is tiny,
/// so that every few kilobytes the relay pauses on a full client socket and resumes when the
/// reader catches up: the pause/resume path under a microscope.
final class TunnelSocketPairTests: XCTestCase {
    private final class LoopThread: @unchecked Sendable {
        // @unchecked: the loop is handed to its thread at start and only used there afterwards
        // (the test thread only calls `executor`, which is thread-safe).
        let loop: EventLoop
        let done = DispatchSemaphore(value: 0)
        init(loop: EventLoop) { self.loop = loop }
        func start() {
            Thread { [self] in
                loop.run()
                done.signal()
            }.start()
        }
        func stop() {
            loop.executor.requestStop()
            _ = done.wait(timeout: .now() + 5)
        }
    }

    func testSourceDownloadThroughATinyClientSendBuffer() throws {
        let root = try CertificateAuthority.create(commonName: "root")
        let serverKey = try PrivateKey.generateRSA()
        let serverLeaf = try root.issue(
            publicKey: serverKey.publicKey, commonName: "server", ipAddresses: ["127.0.0.1"], purpose: .server)
        let serverContext = try TLSContext.server(
            certificateChain: [serverLeaf, root.certificate], key: serverKey,
            clientCAs: [root.certificate], requireClientCertificate: true)
        let clientKey = try PrivateKey.generateRSA()
        let clientLeaf = try root.issue(publicKey: clientKey.publicKey, commonName: "client", purpose: .client)
        let clientContext = try TLSContext.client(
            certificateChain: [clientLeaf], key: clientKey, trustedRoots: [root.certificate])

        let loop = try EventLoop()
        let (tunnelEnd, testEnd) = try Socket.makePair()
        var small: Int32 = 4096
        setsockopt(tunnelEnd.fileDescriptor, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        let spec = try InstanceSpec(uri: "projects/p/locations/r/clusters/c/instances/i", ipAddress: "127.0.0.1")
        let environment = Tunnel.Environment(
            instance: spec, backend: .local(.source), tokens: TokenStore(),
            faults: FaultSwitches(certificateLifetime: 3600), events: EventLog(),
            usesMetadataExchange: false, onClose: { _ in })
        var tunnel: Tunnel? = try Tunnel(
            client: tunnelEnd, context: serverContext, loop: loop, environment: environment)
        let thread = LoopThread(loop: loop)
        thread.start()
        defer {
            thread.stop()
            tunnel = nil
            loop.close()
        }
        XCTAssertNotNil(tunnel)

        let client = try TLSTestClient(
            socket: BlockingSocket(duplicating: testEnd.fileDescriptor), host: "127.0.0.1", context: clientContext)
        testEnd.close()
        try client.handshake()
        var offset = 0
        let total = 3 << 20
        var round = 0
        while offset < total {
            round += 1
            // Trickle, pause, then gulp: the tunnel sees its client socket block and drain.
            let size = round % 3 == 0 ? 256 * 1024 : 1500
            let bytes = try client.read(count: min(size, total - offset))
            XCTAssertFalse(bytes.isEmpty, "the tunnel stalled at byte \(offset)")
            if bytes.isEmpty { return }
            for (index, byte) in bytes.enumerated() where byte != LocalBackend.sourceByte(at: offset + index) {
                return XCTFail("byte \(offset + index) is \(byte)")
            }
            offset += bytes.count
            if round % 3 == 1 { usleep(2_000) }
        }
    }
}
