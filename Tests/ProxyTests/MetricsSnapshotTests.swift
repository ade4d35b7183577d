import Connector
import EventLoop
import Foundation
import XCTest

@testable import Proxy

/// The figures `/metrics` is rendered from.
final class MetricsSnapshotTests: XCTestCase {
    /// One instance served on two listeners (TCP and a Unix socket) is one series, not two
    /// with identical labels, which Prometheus would reject.
    func testInstanceWithTwoListenersIsOneSeries() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let uri = try InstanceURI("projects/p/locations/r/clusters/c/instances/twice")
        let other = try InstanceURI("projects/p/locations/r/clusters/c/instances/other")
        let server = ProxyServer(
            loop: loop, logger: ProxyLogger(quiet: true, sink: { _, _ in }),
            source: NoInfoSource(), settings: TunnelSettings())
        let routes = [
            InstanceRoute(handle: InstanceHandle(instance: uri)),
            InstanceRoute(handle: InstanceHandle(instance: other)),
            InstanceRoute(handle: InstanceHandle(instance: uri)),
        ]
        let snapshot = server.metricsSnapshot(routes: routes)
        XCTAssertEqual(snapshot.instances.map(\.uri), [uri.description, other.description])
    }
}

/// A source that never has connection info (the snapshot above needs none).
private final class NoInfoSource: ConnectionInfoSource, Sendable {
    func current(for handle: InstanceHandle) -> InstanceSnapshot? { nil }
    func requestInfo(
        for handle: InstanceHandle, forceRefresh: Bool,
        completion: @escaping @Sendable (Result<InstanceSnapshot, ConnectorError>) -> Void
    ) {}
}
