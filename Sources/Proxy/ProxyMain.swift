import Connector
import EventLoop
import Foundation
import Glibc

/// The `alloydb-auth-proxy` process: parse, build the connector and listeners, serve until a
/// signal, exit with the reference's codes (1 for configuration or startup errors, 130 after
/// SIGINT, 143 after SIGTERM; a second signal exits at once).
public enum ProxyMain {
    /// Names the environment variable that overrides the instance port (5433) for tests
    /// against a local emulator; production never sets it.
    public static let instancePortVariable = "ALLOYDB_PROXY_TEST_INSTANCE_PORT"

    /// Blocks SIGINT and SIGTERM (delivered later through the loop's signalfd) and ignores
    /// SIGPIPE. Must run first in `main`, before any thread exists, so that every thread
    /// inherits the mask.
    public static func prepareProcess() {
        signal(SIGPIPE, SIG_IGN)
        do {
            try EventLoop.blockSignals([SIGINT, SIGTERM])
        } catch {
            FileHandle.standardError.write(Data("could not block signals: \(error)\n".utf8))
            exit(1)
        }
    }

    /// Runs the proxy and returns the exit code.
    public static func run(arguments: [String], environment: [String: String]) -> Int32 {
        let options: ProxyOptions
        do {
            options = try CommandLineParser.parse(arguments, environment: environment)
        } catch {
            ProxyLogger.standardStreams("Error: \(error)\n", true)
            return 1
        }
        if options.help {
            ProxyLogger.standardStreams(Usage.text, false)
            return 0
        }
        if options.version {
            ProxyLogger.standardStreams(Usage.versionLine + "\n", false)
            return 0
        }
        let logger = ProxyLogger(
            structured: options.structuredLogs, debug: options.debugLogs, quiet: options.quiet)
        _ = try? ProcessResources.raiseDescriptorLimit()

        do {
            return try serve(options, environment: environment, logger: logger)
        } catch {
            logger.error("\(error)")
            return 1
        }
    }

    private static func serve(
        _ options: ProxyOptions,
        environment: [String: String],
        logger: ProxyLogger
    ) throws -> Int32 {
        let loop = try EventLoop()
        let connector = try Connector(configuration: connectorConfiguration(options, environment, logger))
        defer { connector.stop() }

        let server = ProxyServer(
            loop: loop,
            logger: logger,
            source: connector,
            settings: try tunnelSettings(options, environment),
            maxConnections: options.maxConnections
        )
        let executor = loop.executor
        do {
            let endpoints = try ListenerPlan.endpoints(for: options)
            for (instance, endpoint) in zip(options.instances, endpoints) {
                let handle = connector.makeHandle(
                    for: instance.instance,
                    ipType: options.ipType(for: instance),
                    autoIAMAuthN: options.autoIAMAuthN(for: instance),
                    // Old snapshots die on the loop, so their SSL_CTX is freed there.
                    retire: { old in executor.execute { withExtendedLifetime(old) {} } }
                )
                try server.listen(route: InstanceRoute(handle: handle), on: endpoint)
            }
        } catch {
            server.closeListeners()
            throw error
        }
        logger.info("The proxy has started successfully and is ready for new connections!")

        var exitCode: Int32 = 0
        try loop.handleSignals([SIGINT, SIGTERM]) { signal in
            let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
            let code: Int32 = signal == SIGINT ? 130 : 143
            guard exitCode == 0 else {
                logger.info("second signal received, exiting immediately")
                exit(code)
            }
            exitCode = code
            logger.info("\(name) signal received. Shutting down...")
            server.closeListeners()
            loop.stop()
        }
        loop.run()
        return exitCode
    }

    private static func connectorConfiguration(
        _ options: ProxyOptions,
        _ environment: [String: String],
        _ logger: ProxyLogger
    ) -> ConnectorConfiguration {
        let credentials: CredentialSource
        if let token = options.token {
            logger.info("Authorizing with OAuth2 token")
            credentials = .token(token)
        } else if let path = options.credentialsFile {
            logger.info("Authorizing with the credentials file at \(ConfigError.quoted(path))")
            credentials = .credentialsFile(path: path)
        } else if let json = options.jsonCredentials {
            logger.info("Authorizing with JSON credentials environment variable")
            credentials = .credentialsJSON(json)
        } else {
            logger.info("Authorizing with Application Default Credentials")
            credentials = .applicationDefault
        }
        let anyIAM = options.autoIAMAuthN || options.instances.contains { $0.autoIAMAuthN == true }
        if options.explicitlySet.contains("alloydbadmin-api-endpoint") {
            logger.info("Using API Endpoint \(options.adminAPIEndpoint)")
        }
        return ConnectorConfiguration(
            apiEndpoint: options.adminAPIEndpoint,
            credentials: credentials,
            loginToken: anyIAM ? options.loginToken : nil,
            proxyVersion: Usage.version,
            userAgentExtra: options.userAgent,
            lazyRefresh: options.lazyRefresh,
            http: HTTPOptions(caFile: options.adminAPICAFile),
            environment: environment
        )
    }

    private static func tunnelSettings(
        _ options: ProxyOptions,
        _ environment: [String: String]
    ) throws -> TunnelSettings {
        var settings = TunnelSettings()
        settings.apply(options)
        settings.metadataExchangeUserAgent = ConnectorConfiguration.connectorUserAgent
        if let text = environment[instancePortVariable] {
            guard let port = Int(text), (1...65535).contains(port) else {
                throw ConfigError.invalidValue(instancePortVariable, text, "not a port number")
            }
            settings.instancePort = port
        }
        return settings
    }
}

extension Connector: ConnectionInfoSource {
    /// The handle's atomic snapshot; lock-free, loop thread (see `InstanceHandle.current`).
    public func current(for handle: InstanceHandle) -> InstanceSnapshot? {
        handle.current
    }
}
