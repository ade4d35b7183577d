import Connector
import EventLoop
import Foundation
import Glibc
import TLS
import XCTest

@testable import Proxy

/// A PSC instance: the proxy dials the address the refresh side resolved for the PSC name,
/// without a DNS lookup on the loop, and still verifies the server against the DNS name.
final class TunnelPSCTests: XCTestCase {
    private let proxyIP = "127.0.0.83"
    private let instanceIP = "127.0.0.84"
    /// Not resolvable here (no DNS on these machines): a lookup would fail the dial.
    private let pscName = "inst.x.alloydb-psc.goog"

    func testDialsResolvedAddressAndVerifiesDNSName() throws {
        let root = try CertificateAuthority.create(commonName: "PSC CA", key: PrivateKey.generateECP256())
        let serverKey = try PrivateKey.generateECP256()
        let server = try root.issue(
            publicKey: serverKey.publicKey, commonName: "psc.server.alloydb",
            dnsNames: [pscName], purpose: .server)
        let clientKey = try PrivateKey.generateECP256()
        let client = try root.issue(publicKey: clientKey.publicKey, commonName: "client", purpose: .client)
        let serverContext = try TLSContext.server(
            certificateChain: [server], key: serverKey, clientCAs: [root.certificate])
        let clientContext = try TLSContext.client(
            certificateChain: [client, root.certificate], key: clientKey, trustedRoots: [root.certificate])

        let (listenFD, instancePort) = try BlockingSocket.listen(ip: instanceIP)
        defer { close(listenFD) }
        let loop = try EventLoop()
        let uri = try InstanceURI("projects/p/locations/r/clusters/c/instances/psc")
        let snapshot = InstanceSnapshot(
            instance: uri, tlsContext: clientContext, privateIP: nil, publicIP: nil,
            pscDNSName: pscName, dialAddress: pscName, ipType: .psc,
            expiration: Date().addingTimeInterval(3600), certificateSerial: "01",
            mdxToken: "psc-token", mdxTokenExpiry: nil, autoIAMAuthN: false, resolvedIP: instanceIP)
        var settings = TunnelSettings()
        settings.instancePort = instancePort
        settings.timeouts.dial = .seconds(10)
        let proxy = ProxyServer(
            loop: loop, logger: ProxyLogger(quiet: true, sink: { _, _ in }),
            source: FixedInfoSource(snapshot: snapshot), settings: settings)
        let bound = try proxy.listen(
            route: InstanceRoute(handle: InstanceHandle(instance: uri, ipType: .psc)),
            on: .tcp(host: proxyIP, port: 0))
        let proxyPort = try XCTUnwrap(Int(bound.split(separator: ":").last ?? ""))

        let sniSeen = Outcome<String>()
        let echoed = Outcome<[UInt8]>()
        Thread {
            let fd = accept(listenFD, nil, nil)
            defer { close(fd) }
            guard let connection = try? FakeInstanceConnection(fd: fd, context: serverContext),
                (try? connection.handshake()) != nil
            else { return sniSeen.set("") }
            sniSeen.set(connection.tls.serverName ?? "")
            _ = connection.readMetadataExchangeRequest()
            connection.write([0, 0, 0, 2, 0x08, 0x01])
            var bytes: [UInt8] = []
            while let more = connection.readSome() { bytes += more }
            connection.write(bytes)
            connection.closeNotify()
        }.start()
        Thread { [proxyIP] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: proxyPort) else { return echoed.set([]) }
            defer { close(fd) }
            _ = BlockingSocket.writeAll(fd, Array("through psc".utf8))
            shutdown(fd, Int32(SHUT_WR))
            echoed.set(BlockingSocket.readToEnd(fd))
        }.start()

        let deadline = Date().addingTimeInterval(20)
        while (echoed.get == nil || proxy.openTunnels > 0) && Date() < deadline {
            loop.runOnce(maximumWaitMilliseconds: 20)
        }
        XCTAssertEqual(String(decoding: try XCTUnwrap(echoed.get), as: UTF8.self), "through psc")
        XCTAssertEqual(sniSeen.get, pscName, "SNI carries the PSC name")
    }
}
