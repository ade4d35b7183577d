import Connector
import EventLoop
import Foundation
import Glibc
import TLS

/// The `alloydb-auth-proxy` process: parse, build the connector and listeners, serve until a
/// signal or `/quitquitquit`, exit with the reference's codes (1 for configuration or startup
/// errors, 130 after SIGINT, 143 after SIGTERM, 0 after `/quitquitquit`). Also the `wait` and
/// `shutdown` subcommands.
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

    /// Runs the proxy (or a subcommand) and returns the exit code. Main thread.
    public static func run(arguments: [String], environment: [String: String]) -> Int32 {
        switch arguments.first {
        case "wait":
            return Subcommands.wait(Array(arguments.dropFirst()), environment: environment)
        case "shutdown":
            return Subcommands.shutdown(Array(arguments.dropFirst()), environment: environment)
        default:
            break
        }
        let options: ProxyOptions
        do {
            options = try CommandLineParser.parse(arguments, environment: environment)
        } catch {
            // The options are unknown, so honour a --structured-logs the user clearly asked for.
            let logger = ProxyLogger(structured: wantsStructuredLogs(arguments, environment))
            logger.error("\(error)")
            return 1
        }
        if options.help {
            ProxyLogger.standardStreams(Usage.text, false)
            return 0
        }
        if options.version {
            // The first line is the reference's, which scripts parse; the second names the
            // OpenSSL this binary runs with, which decides its TLS behaviour and fixes.
            ProxyLogger.standardStreams(
                Usage.versionLine + "\nrunning with \(TLSLibrary.versionString)\n", false)
            return 0
        }
        let logger = ProxyLogger(
            structured: options.structuredLogs, debug: options.debugLogs, quiet: options.quiet)
        for warning in options.warnings {
            logger.warning(warning)
        }
        _ = try? ProcessResources.raiseDescriptorLimit()

        do {
            let runtime = try ProxyRuntime(
                options: options,
                environment: environment,
                logger: logger,
                connectorConfiguration: connectorConfiguration(options, environment, logger),
                tunnelSettings: tunnelSettings(options, environment)
            )
            return runtime.run()
        } catch {
            SystemdNotifier(environment: environment).notify("STOPPING=1")
            logger.error("\(error)")
            return 1
        }
    }

    /// `--structured-logs`/`-l` on the command line or `ALLOYDB_PROXY_STRUCTURED_LOGS=true`,
    /// read without the full parser (which just failed).
    static func wantsStructuredLogs(_ arguments: [String], _ environment: [String: String]) -> Bool {
        for argument in arguments {
            if argument == "--" { break }
            if argument == "--structured-logs" || argument == "--structured-logs=true" { return true }
            if argument.hasPrefix("-"), !argument.hasPrefix("--"), argument.dropFirst().allSatisfy(\.isLetter),
               argument.contains("l") {
                return true
            }
        }
        return Flag.parseBool(environment["ALLOYDB_PROXY_STRUCTURED_LOGS"] ?? "") == true
    }

    static func connectorConfiguration(
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
        } else if options.gcloudAuth {
            logger.info("Authorizing with gcloud user credentials")
            credentials = .gcloud
        } else {
            logger.info("Authorizing with Application Default Credentials")
            credentials = .applicationDefault
        }
        let anyIAM = options.autoIAMAuthN || options.instances.contains { $0.autoIAMAuthN == true }
        if options.explicitlySet.contains("alloydbadmin-api-endpoint") {
            logger.info("Using API Endpoint \(options.adminAPIEndpoint)")
        }
        let chain = options.impersonateServiceAccount.map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } ?? []
        if let target = chain.first {
            logger.info("Impersonating service account \(target) with Admin API credentials")
        }
        if let path = options.staticConnectionInfo {
            logger.info("Using static connection info from \(ConfigError.quoted(path)) (development only)")
        }
        return ConnectorConfiguration(
            apiEndpoint: options.adminAPIEndpoint,
            credentials: credentials,
            loginToken: anyIAM ? options.loginToken : nil,
            proxyVersion: Usage.version,
            userAgentExtra: options.userAgent,
            lazyRefresh: options.lazyRefresh,
            http: HTTPOptions(caFile: options.adminAPICAFile),
            environment: environment,
            logHandler: connectorLogHandler(logger),
            impersonationChain: chain,
            staticConnectionInfoPath: options.staticConnectionInfo
        )
    }

    /// Maps connector lines onto the proxy's levels: warnings and errors always pass (unless
    /// `--quiet` keeps errors only); debug lines only with `--debug-logs`. Refresh thread.
    static func connectorLogHandler(_ logger: ProxyLogger) -> ConnectorLogHandler {
        { level, message in
            switch level {
            case .debug: logger.debug(message)
            case .info: logger.info(message)
            case .warning: logger.warning(message)
            case .error: logger.error(message)
            }
        }
    }

    static func tunnelSettings(
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
