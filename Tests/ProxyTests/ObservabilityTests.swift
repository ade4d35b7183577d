import Foundation
import Glibc
import Locking
import Synchronization
import XCTest

@testable import Proxy

/// Metrics text, health and admin answers, the HTTP server on loopback and systemd notify.
final class ObservabilityTests: XCTestCase {
    private func sampleSnapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        var first = InstanceFigures(uri: "projects/p/locations/r/clusters/c/instances/a")
        first.openTunnels = 2
        first.certificateExpiry = Date(timeIntervalSince1970: 1_800_000_000.7)
        first.refreshSuccesses = 3
        snapshot.instances = [first, InstanceFigures(uri: "projects/p/locations/r/clusters/c/instances/\"b\\")]
        snapshot.counters.accepted = 10
        snapshot.counters.refused = 1
        snapshot.counters.failedByPhase = [.handshake: 2, .metadataExchange: 1]
        for milliseconds in [0, 3, 30, 40_000] {
            snapshot.counters.dialLatency.record(.milliseconds(milliseconds))
        }
        snapshot.bytesToInstance = 100
        snapshot.bytesToClient = 2_000
        snapshot.loopIterations = 77
        return snapshot
    }

    func testPrometheusTextIsWellFormedAndCarriesTheFigures() throws {
        let text = PrometheusText.render(sampleSnapshot(), namespace: "my-proxy", openDescriptors: 12)
        let samples = try PrometheusFormat.validate(text)
        XCTAssertEqual(samples["my_proxy_alloydbconn_open_connections{alloydb_instance=\"projects/p/locations/r/"
                               + "clusters/c/instances/a\"}"], 2)
        XCTAssertEqual(samples["my_proxy_alloydbconn_open_connections{alloydb_instance=\"projects/p/locations/r/"
                               + "clusters/c/instances/\\\"b\\\\\"}"], 0)
        XCTAssertEqual(samples["my_proxy_alloydbconn_dial_latency_bucket{le=\"0\"}"], 1)
        XCTAssertEqual(samples["my_proxy_alloydbconn_dial_latency_bucket{le=\"5\"}"], 2)
        XCTAssertEqual(samples["my_proxy_alloydbconn_dial_latency_bucket{le=\"30000\"}"], 3)
        XCTAssertEqual(samples["my_proxy_alloydbconn_dial_latency_bucket{le=\"+Inf\"}"], 4)
        XCTAssertEqual(samples["my_proxy_alloydbconn_dial_latency_sum"], 40_033)
        XCTAssertEqual(samples["my_proxy_alloydbconn_dial_failure_count"], 3)
        XCTAssertEqual(samples["my_proxy_alloydbproxy_tunnels_failed_total{phase=\"handshake\"}"], 2)
        XCTAssertEqual(samples["my_proxy_alloydbproxy_tunnels_refused_total"], 1)
        XCTAssertEqual(samples["my_proxy_alloydbconn_bytes_sent"], 100)
        XCTAssertEqual(samples["my_proxy_alloydbconn_bytes_received"], 2_000)
        XCTAssertEqual(samples["my_proxy_alloydbconn_refresh_success_count{alloydb_instance=\"projects/p/"
                               + "locations/r/clusters/c/instances/a\"}"], 3)
        XCTAssertEqual(samples["my_proxy_alloydbproxy_certificate_expiry_timestamp_seconds{alloydb_instance="
                               + "\"projects/p/locations/r/clusters/c/instances/a\"}"], 1_800_000_000)
        XCTAssertEqual(samples["my_proxy_alloydbproxy_loop_iterations_total"], 77)
        XCTAssertEqual(samples["my_proxy_alloydbproxy_open_file_descriptors"], 12)

        let bare = try PrometheusFormat.validate(PrometheusText.render(MetricsSnapshot(), namespace: "",
                                                                       openDescriptors: nil))
        XCTAssertEqual(bare["alloydbconn_dial_latency_count"], 0)
        XCTAssertNil(bare["alloydbproxy_open_file_descriptors"])
    }

    func testReadinessFollowsStartDrainAndTheConnectionLimit() {
        let status = ProxyStatus(maxConnections: 2)
        let routes = HealthRoutes(status: status, logger: ProxyLogger(sink: { _, _ in }), healthCheck: true,
                                  prometheus: false, namespace: "", backendCheck: nil, openDescriptors: { nil })
        func ask(_ path: String) -> HTTPEndpoint.Response {
            routes.respond(HTTPEndpoint.Request(method: "GET", path: path))
        }
        XCTAssertEqual(ask("/startup"), HTTPEndpoint.Response(status: 503, body: "error"))
        XCTAssertEqual(ask("/readiness"), HTTPEndpoint.Response(status: 503, body: "proxy is not started"))
        XCTAssertEqual(ask("/liveness").status, 200)
        status.markStarted()
        XCTAssertEqual(ask("/startup"), HTTPEndpoint.Response(status: 200, body: "ok"))
        XCTAssertEqual(ask("/readiness"), HTTPEndpoint.Response(status: 200, body: "ok"))
        status.publish(openTunnels: 2)
        XCTAssertEqual(ask("/readiness"),
                       HTTPEndpoint.Response(status: 503, body: "max connections reached (open = 2, max = 2)"))
        status.publish(openTunnels: 3)
        XCTAssertEqual(ask("/readiness").status, 503, "over the limit is not ready either")
        status.publish(openTunnels: 1)
        XCTAssertEqual(ask("/readiness").status, 200)
        status.markDraining()
        XCTAssertEqual(ask("/readiness"), HTTPEndpoint.Response(status: 503, body: "proxy has stopped"))
        XCTAssertEqual(ask("/liveness").status, 200)
        XCTAssertEqual(ask("/metrics").status, 404, "metrics only with --prometheus")
    }

    func testBackendCheckReasonReachesStartup() {
        let status = ProxyStatus(maxConnections: 0)
        status.markStarted()
        let routes = HealthRoutes(status: status, logger: ProxyLogger(sink: { _, _ in }), healthCheck: true,
                                  prometheus: false, namespace: "",
                                  backendCheck: { "[p.r.c.i] dial tcp 10.0.0.1:5433: timed out" },
                                  openDescriptors: { nil })
        XCTAssertEqual(routes.respond(HTTPEndpoint.Request(method: "GET", path: "/startup")),
                       HTTPEndpoint.Response(status: 503, body: "[p.r.c.i] dial tcp 10.0.0.1:5433: timed out"))
    }

    func testQuitquitquitStartsOneShutdown() {
        let calls = Counter()
        let routes = AdminRoutes(status: ProxyStatus(maxConnections: 0), quitquitquit: true, debug: false,
                                 requestShutdown: { calls.increment() }, listTunnels: { "" })
        XCTAssertEqual(routes.respond(.init(method: "PUT", path: "/quitquitquit")).status, 400)
        XCTAssertEqual(calls.value, 0)
        XCTAssertEqual(routes.respond(.init(method: "POST", path: "/quitquitquit")).status, 200)
        XCTAssertEqual(routes.respond(.init(method: "GET", path: "/quitquitquit")).status, 200)
        XCTAssertEqual(calls.value, 1)
        XCTAssertEqual(routes.respond(.init(method: "GET", path: "/debug/tunnels")).status, 404)
    }

    func testHTTPEndpointServesOnLoopback() throws {
        let server = try HTTPEndpoint(name: "test", address: "127.0.0.1", port: 0) { request in
            HTTPEndpoint.Response(status: request.method == "POST" ? 201 : 200, body: "path=\(request.path)")
        }
        defer { server.stop() }
        let get = LoopbackHTTP.request("GET", host: "127.0.0.1", port: server.port, path: "/startup?x=1")
        XCTAssertEqual(try get.get(), LoopbackHTTP.Response(status: 200, body: "path=/startup"))
        let post = LoopbackHTTP.request("POST", host: "127.0.0.1", port: server.port, path: "/q")
        XCTAssertEqual(try post.get().status, 201)
        XCTAssertThrowsError(try HTTPEndpoint(name: "second", address: "127.0.0.1", port: server.port) { _ in
            HTTPEndpoint.Response(status: 200, body: "")
        }) { error in
            XCTAssertTrue("\(error)".contains("unable to start the second server on 127.0.0.1:\(server.port)"))
        }
    }

    func testSystemdNotifyReachesPathAndAbstractSockets() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("n-\(getpid()).sock").path
        for name in [path, "@alloydb-test-\(getpid())"] {
            let receiver = try DatagramReceiver(name)
            XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": name]).notify("READY=1"))
            XCTAssertEqual(receiver.receive(), "READY=1")
        }
        XCTAssertNil(SystemdNotifier(environment: [:]).notify("READY=1"), "no socket: nothing to do")
        XCTAssertNotNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]).notify("READY=1"))
        XCTAssertNotNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/x"]).notify("READY=1"))
    }

    func testHistogramBucketsUseTheConnectorBounds() {
        var histogram = LatencyHistogram()
        histogram.record(.microseconds(5_000))
        histogram.record(.microseconds(5_001))
        histogram.record(.seconds(31))
        XCTAssertEqual(histogram.cumulativeCounts, [0, 1, 2, 2, 2, 2, 2, 2, 2, 2])
        XCTAssertEqual(histogram.count, 3)
    }
}

/// A thread-safe call counter.
private final class Counter: Sendable {
    private let storage = Locked(0)
    func increment() { storage.withLock { $0 += 1 } }
    var value: Int { storage.withLock { $0 } }
}

/// A bound Unix datagram socket standing in for systemd's notify socket.
private final class DatagramReceiver {
    private let fd: Int32
    private let path: String?

    init(_ name: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        path = name.hasPrefix("/") ? name : nil
        if let path { unlink(path) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (path == nil ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
        var limit = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }
}
