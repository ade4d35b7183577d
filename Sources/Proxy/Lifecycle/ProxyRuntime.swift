import Connector
import EventLoop
import Foundation
import Locking
import Synchronization

/// One serving run of the proxy: connector, listeners, HTTP servers, the metrics timer and the
/// shutdown path, in the reference's startup order (listeners, READY=1, HTTP servers,
/// connection test, then `/startup` turns 200).
///
/// Created and run on the main thread, which becomes the loop thread.
final class ProxyRuntime {
    /// How often loop state is copied for `/metrics` and `/readiness`.
    static let publicationInterval: Duration = .milliseconds(250)
    /// Bound on a backend probe per instance and on loop round trips from HTTP threads.
    static let probeTimeout: Duration = .seconds(2)

    private let options: ProxyOptions
    private let logger: ProxyLogger
    private let loop: EventLoop
    private let connector: Connector
    private let server: ProxyServer
    private let status: ProxyStatus
    private let notifier: SystemdNotifier
    private let instancePort: Int
    private var routes: [InstanceRoute] = []
    private var httpServers: [HTTPEndpoint] = []

    /// Builds the connector and the server; binds nothing yet. The connector's refresh
    /// outcomes are counted into `ProxyStatus` (refresh thread, atomics only).
    ///
    /// - Throws: `ConnectorError` for bad credentials, `SyscallError` when the loop fails.
    init(
        options: ProxyOptions,
        environment: [String: String],
        logger: ProxyLogger,
        connectorConfiguration: ConnectorConfiguration,
        tunnelSettings: TunnelSettings
    ) throws {
        self.options = options
        self.logger = logger
        loop = try EventLoop()
        let status = ProxyStatus(maxConnections: options.maxConnections,
                                 instances: options.instances.map(\.instance.description))
        var configuration = connectorConfiguration
        let earlier = configuration.eventHandler
        configuration.eventHandler = { [counters = status.refreshCounters] event in
            counters.record(event)
            earlier?(event)
        }
        connector = try Connector(configuration: configuration)
        self.status = status
        server = ProxyServer(loop: loop, logger: logger, source: connector, settings: tunnelSettings,
                             maxConnections: options.maxConnections)
        server.status = status
        notifier = SystemdNotifier(environment: environment)
        instancePort = tunnelSettings.instancePort
    }

    deinit {
        for http in httpServers {
            http.stop()
        }
        connector.stop()
    }

    /// Serves until shutdown; returns the exit code.
    func run() -> Int32 {
        do {
            try openListeners()
        } catch {
            server.closeListeners()
            notifier.notify("STOPPING=1")
            logger.error("\(error)")
            return 1
        }
        logger.info("The proxy has started successfully and is ready for new connections!")
        if let problem = notifier.notify("READY=1") {
            logger.warning("could not notify systemd: \(problem)")
        }

        let driver = ShutdownDriver(
            settings: ShutdownStateMachine.Settings(
                minimumDelay: options.minSigtermDelay,
                maximumDelay: options.maxSigtermDelay,
                exitZeroOnTerminate: options.exitZeroSigterm),
            loop: loop, server: server, status: status, notifier: notifier, logger: logger)
        do {
            try startHTTPServers(driver: driver)
            try loop.handleSignals([SIGINT, SIGTERM]) { signal in
                driver.request(signal == SIGINT ? .interrupt : .terminate)
            }
        } catch {
            notifier.notify("STOPPING=1")
            logger.error("\(error)")
            return 1
        }
        if options.runConnectionTest && !connectionTestPassed() {
            notifier.notify("STOPPING=1")
            return 1
        }
        status.markStarted()
        if !httpServers.isEmpty {
            // Only the HTTP threads read the published copies.
            publishMetrics()
        }
        loop.run()

        for http in httpServers {
            http.settle()
            http.stop()
        }
        httpServers.removeAll()
        return driver.exitCode ?? 1
    }

    private func openListeners() throws {
        let endpoints = try ListenerPlan.endpoints(for: options)
        let executor = loop.executor
        for (instance, endpoint) in zip(options.instances, endpoints) {
            let handle = connector.makeHandle(
                for: instance.instance,
                ipType: options.ipType(for: instance),
                autoIAMAuthN: options.autoIAMAuthN(for: instance),
                // Old snapshots die on the loop so their SSL_CTX is freed there.
                retire: { old in executor.execute { withExtendedLifetime(old) {} } }
            )
            let route = InstanceRoute(handle: handle)
            routes.append(route)
            try server.listen(route: route, on: endpoint, socketMode: options.unixSocketMode)
        }
    }

    /// Copies loop state for the HTTP threads now and every `publicationInterval`.
    private func publishMetrics() {
        status.publish(server.metricsSnapshot(routes: routes))
        _ = loop.schedule(after: Self.publicationInterval) { [weak self] in
            self?.publishMetrics()
        }
    }

    private func connectionTestPassed() -> Bool {
        logger.info("Connection test started")
        let probe = BackendProbe(connector: connector, handles: routes.map(\.handle),
                                 instancePort: instancePort, executor: loop.executor,
                                 timeout: options.dialTimeout)
        if let problem = probe.check() {
            logger.error("Connection test failed: \(problem)")
            return false
        }
        logger.info("Connection test passed")
        return true
    }

    private func startHTTPServers(driver: ShutdownDriver) throws {
        if options.healthCheck || options.prometheus {
            var backendCheck: (@Sendable () -> String?)?
            if options.withBackendCheck {
                let probe = BackendProbe(
                    connector: connector, handles: routes.map(\.handle), instancePort: instancePort,
                    executor: loop.executor, timeout: Self.probeTimeout)
                backendCheck = { probe.check() }
            }
            let openDescriptors: @Sendable () -> Int? = { try? ProcessResources.openDescriptorCount() }
            let health = HealthRoutes(
                status: status, logger: logger, healthCheck: options.healthCheck,
                prometheus: options.prometheus, namespace: options.prometheusNamespace,
                backendCheck: backendCheck, openDescriptors: openDescriptors)
            let http = try HTTPEndpoint(name: "health check", address: options.httpBindAddress,
                                        port: options.httpPort, handler: { health.respond($0) })
            httpServers.append(http)
            logger.info("Serving health checks and metrics on \(options.httpBindAddress):\(http.port)")
        }
        if options.quitquitquit || options.debug {
            let executor = loop.executor
            let driverRef = LoopBound(value: driver)
            let serverRef = LoopBound(value: server)
            let admin = AdminRoutes(
                status: status, quitquitquit: options.quitquitquit, debug: options.debug,
                requestShutdown: { executor.execute { driverRef.value.request(.quitquitquit) } },
                listTunnels: { Self.askLoop(executor) { serverRef.value.tunnelListing() } })
            let http = try HTTPEndpoint(name: "admin", address: "127.0.0.1", port: options.adminPort,
                                        handler: { admin.respond($0) })
            httpServers.append(http)
            logger.info("Serving the admin server on 127.0.0.1:\(http.port)")
        }
    }

    /// Runs `work` on the loop and waits for its answer; nil after `probeTimeout`. Any thread
    /// but the loop's.
    private static func askLoop(_ executor: LoopExecutor, _ work: @escaping @Sendable () -> String) -> String? {
        let answer = Locked<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        executor.execute {
            let text = work()
            answer.withLock { $0 = text }
            done.signal()
        }
        guard done.wait(timeout: .now() + 2) == .success else { return nil }
        return answer.withLock { $0 }
    }
}
