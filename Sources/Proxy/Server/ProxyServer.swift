import Connector
import EventLoop
import Foundation

/// The proxy's serving side on one loop: a listener per instance, the tunnels they accept,
/// the connection limit and the counters.
///
/// Loop thread only (create, use and close it on the thread that runs `loop`).
public final class ProxyServer {
    private let context: TunnelContext
    private let maxConnections: UInt64
    private var listeners: [ProxyListener] = []
    /// Where accept-time open counts are published for `/readiness`; nil without HTTP servers.
    public var status: ProxyStatus?

    /// Creates a server; nothing listens until `listen(route:on:)`.
    ///
    /// - Parameters:
    ///   - maxConnections: concurrent client connections allowed; 0 for no limit.
    ///   - wallClock: checks certificate expiry; injectable for tests.
    public init(
        loop: EventLoop,
        logger: ProxyLogger,
        source: any ConnectionInfoSource,
        settings: TunnelSettings,
        maxConnections: UInt64 = 0,
        wallClock: @escaping @Sendable () -> Date = { Date() }
    ) {
        context = TunnelContext(
            loop: loop, logger: logger, source: source, settings: settings, wallClock: wallClock)
        self.maxConnections = maxConnections
    }

    /// Counters since start.
    public var counters: ProxyCounters { context.counters }

    /// Tunnels open right now.
    public var openTunnels: Int { context.tunnels.count }

    /// Opens `route`'s listener and logs `[P.R.C.I] Listening on <address>`; a Unix socket file
    /// gets `socketMode` (a WARN names the path when chmod fails).
    ///
    /// - Returns: the bound address (`127.0.0.1:5432`, or the socket path).
    /// - Throws: `ProxyStartError`.
    @discardableResult
    public func listen(
        route: InstanceRoute,
        on endpoint: ListenerEndpoint,
        socketMode: UInt16 = 0o777
    ) throws -> String {
        let logger = context.logger
        let isTCP = endpoint.socketPath == nil
        let listener = try ProxyListener(
            route: route,
            endpoint: endpoint,
            loop: context.loop,
            socketMode: socketMode,
            onAccept: { [unowned self] socket in self.accepted(socket, route: route, tcp: isTCP) },
            onError: { error in logger.error("[\(route.shortName)] accept failed: \(error)") }
        )
        listeners.append(listener)
        if let problem = listener.chmodProblem {
            logger.warning("[\(route.shortName)] \(problem)")
        }
        logger.info("[\(route.shortName)] Listening on \(listener.boundAddress)")
        return listener.boundAddress
    }

    /// Closes every listener (removing Unix socket files); open tunnels keep running.
    public func closeListeners() {
        for listener in listeners {
            listener.close()
        }
        listeners.removeAll()
    }

    /// Closes every open tunnel at once (both sockets).
    public func closeTunnels() {
        for tunnel in Array(context.tunnels.values) {
            tunnel.send(.shutdown)
        }
    }

    private func accepted(_ socket: Socket, route: InstanceRoute, tcp: Bool) {
        context.counters.accepted += 1
        if tcp {
            // Best effort: a socket already reset by the client fails these, and the
            // tunnel then sees the error on its first read.
            try? Tunnel.tune(socket)
        }
        let tunnel = Tunnel(id: context.nextID(), route: route, client: socket, context: context)
        // One relaxed store per accept; closes are picked up by the 250 ms publication.
        status?.publish(openTunnels: context.tunnels.count + 1)
        let refused = maxConnections > 0 && UInt64(context.tunnels.count) >= maxConnections
        if refused {
            context.logger.info("max connections (\(maxConnections)) exceeded, refusing new connection")
        } else {
            context.logger.debug("[\(route.shortName)] accepted connection from \(tunnel.clientPeer)")
        }
        tunnel.start(refused: refused)
    }
}

extension ProxyServer {
    /// A copy of the counters and per-instance figures for `/metrics`; O(open tunnels).
    ///
    /// - Parameters:
    ///   - routes: the served instances, in argument order.
    public func metricsSnapshot(routes: [InstanceRoute]) -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.counters = context.counters
        snapshot.bytesToInstance = context.counters.bytesToInstance
        snapshot.bytesToClient = context.counters.bytesToClient
        var openByInstance: [String: Int] = [:]
        for tunnel in context.tunnels.values {
            openByInstance[tunnel.route.shortName, default: 0] += 1
            snapshot.bytesToInstance += tunnel.bytesToInstance
            snapshot.bytesToClient += tunnel.bytesToClient
        }
        var seen: Set<String> = []
        for route in routes {
            // One instance may have several listeners (TCP and a Unix socket): one series each,
            // since duplicate label sets are invalid in the exposition format.
            guard seen.insert(route.handle.instance.description).inserted else { continue }
            var figures = InstanceFigures(uri: route.handle.instance.description)
            figures.openTunnels = openByInstance[route.shortName, default: 0]
            figures.certificateExpiry = route.handle.current?.expiration
            snapshot.instances.append(figures)
        }
        let statistics = context.loop.statistics
        snapshot.loopIterations = statistics.iterations
        snapshot.loopEvents = statistics.events
        snapshot.staleEventsDropped = statistics.staleEventsDropped
        return snapshot
    }

    /// The open tunnels, one line each: id, instance, client peer, phase, age and bytes.
    public func tunnelListing() -> String {
        let now = context.loop.clock.now()
        let tunnels = context.tunnels.values.sorted { $0.id < $1.id }
        var lines = ["open tunnels: \(tunnels.count)"]
        for tunnel in tunnels {
            let age = GoDuration.format(tunnel.startedAt.duration(to: now))
            lines.append("tunnel \(tunnel.id) instance=\(tunnel.route.shortName) peer=\(tunnel.clientPeer) "
                + "phase=\(tunnel.machine.phase.rawValue) age=\(age) "
                + "bytes_to_instance=\(tunnel.bytesToInstance) bytes_to_client=\(tunnel.bytesToClient)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
