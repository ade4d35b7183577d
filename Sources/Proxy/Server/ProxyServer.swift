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

    /// Opens `route`'s listener and logs `[P.R.C.I] Listening on <address>`.
    ///
    /// - Returns: the bound address (`127.0.0.1:5432`, or the socket path).
    /// - Throws: `ProxyStartError`.
    @discardableResult
    public func listen(route: InstanceRoute, on endpoint: ListenerEndpoint) throws -> String {
        let logger = context.logger
        let isTCP = endpoint.socketPath == nil
        let listener = try ProxyListener(
            route: route,
            endpoint: endpoint,
            loop: context.loop,
            onAccept: { [unowned self] socket in self.accepted(socket, route: route, tcp: isTCP) },
            onError: { error in logger.error("[\(route.shortName)] accept failed: \(error)") }
        )
        listeners.append(listener)
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
        let refused = maxConnections > 0 && UInt64(context.tunnels.count) >= maxConnections
        if refused {
            context.logger.info("max connections (\(maxConnections)) exceeded, refusing new connection")
        } else {
            context.logger.debug("[\(route.shortName)] accepted connection from \(tunnel.clientPeer)")
        }
        tunnel.start(refused: refused)
    }
}
