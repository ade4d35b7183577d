import Connector

/// Everything the command line configures: global flags plus one `InstanceArgument` per
/// positional instance URI.
///
/// A plain value; produced by `CommandLineParser` and validated by `validate()`. The defaults
/// are those of the reference proxy; the timeout flags are this proxy's own additions.
public struct ProxyOptions: Equatable, Sendable {
    /// Bind address for TCP listeners (`--address`, `-a`); must be an IP literal.
    public var address = "127.0.0.1"
    /// First TCP port (`--port`, `-p`); each instance without its own port takes the next one.
    public var port = 5432
    /// Directory for Unix sockets of all instances (`--unix-socket`, `-u`).
    public var unixSocket: String?

    /// Service-account or ADC JSON file (`--credentials-file`, `-c`).
    public var credentialsFile: String?
    /// The credential JSON itself (`--json-credentials`, `-j`); never logged.
    public var jsonCredentials: String?
    /// Static bearer token for the Admin API and MDX (`--token`, `-t`); never logged.
    public var token: String?
    /// Static bearer token for MDX only, used with IAM authn (`--login-token`); never logged.
    public var loginToken: String?
    /// Admin API base URL (`--alloydbadmin-api-endpoint`).
    public var adminAPIEndpoint = "https://alloydb.googleapis.com"
    /// PEM file of extra trust anchors for the Admin API (`--admin-api-ca-file`); for local
    /// emulators with a private CA.
    public var adminAPICAFile: String?

    /// Send AUTO_IAM in the metadata exchange (`--auto-iam-authn`, `-i`).
    public var autoIAMAuthN = false
    /// Dial the instance's public IP (`--public-ip`).
    public var publicIP = false
    /// Dial the instance's PSC DNS name (`--psc`).
    public var psc = false
    /// Fetch connection info on demand instead of ahead of expiry (`--lazy-refresh`).
    public var lazyRefresh = false

    /// Cap on concurrently open client connections, 0 for none (`--max-connections`).
    public var maxConnections: UInt64 = 0
    /// Extra User-Agent tokens (`--user-agent`).
    public var userAgent: String?

    /// JSON log lines (`--structured-logs`, `-l`).
    public var structuredLogs = false
    /// Debug-level logging (`--debug-logs`).
    public var debugLogs = false
    /// Only errors are printed (`--quiet`).
    public var quiet = false

    /// Bound on a whole dial: connection info, TCP, TLS and MDX (`--dial-timeout`).
    public var dialTimeout: Duration = .seconds(30)
    /// Bound on the TLS handshake (`--handshake-timeout`).
    public var handshakeTimeout: Duration = .seconds(10)
    /// Bound on the metadata exchange (`--metadata-exchange-timeout`).
    public var metadataExchangeTimeout: Duration = .seconds(10)
    /// After one direction has ended, how long the other may stay open; zero means no bound
    /// (`--half-close-timeout`).
    public var halfCloseTimeout: Duration = .zero

    /// Octal mode of each Unix socket file (`--unix-socket-mode`, this proxy's own flag).
    public var unixSocketMode: UInt16 = 0o777

    /// Tokens from the gcloud CLI (`--gcloud-auth`, `-g`).
    public var gcloudAuth = false
    /// Service account impersonation chain, target first (`--impersonate-service-account`).
    public var impersonateServiceAccount: String?
    /// Development-only fixed connection info (`--static-connection-info`).
    public var staticConnectionInfo: String?
    /// Dial every instance before serving (`--run-connection-test`).
    public var runConnectionTest = false

    /// Keep accepting this long after a shutdown request (`--min-sigterm-delay`).
    public var minSigtermDelay: Duration = .zero
    /// Then wait this long for open tunnels to close (`--max-sigterm-delay`).
    public var maxSigtermDelay: Duration = .zero
    /// Exit 0 instead of 143 on SIGTERM (`--exit-zero-sigterm`).
    public var exitZeroSigterm = false

    /// Serve /startup, /liveness, /readiness (`--health-check`).
    public var healthCheck = false
    /// /startup also reaches every instance (`--with-backend-check`).
    public var withBackendCheck = false
    /// Serve /metrics (`--prometheus`).
    public var prometheus = false
    /// Metric name prefix (`--prometheus-namespace`).
    public var prometheusNamespace = ""
    /// Health and metrics server address (`--http-address`); `localhost` means 127.0.0.1.
    public var httpAddress = "localhost"
    /// Health and metrics server port (`--http-port`).
    public var httpPort = 9090

    /// Serve /quitquitquit on the admin server (`--quitquitquit`).
    public var quitquitquit = false
    /// Serve the open-tunnel listing on the admin server (`--debug`).
    public var debug = false
    /// Admin server port on 127.0.0.1 (`--admin-port`).
    public var adminPort = 9091

    /// Accepted and ignored: Cloud Monitoring / Cloud Trace export settings.
    public var telemetryProject: String?
    public var telemetryPrefix: String?
    public var telemetrySampleRate = 10_000
    public var disableMetrics = false
    public var disableTraces = false
    public var disableBuiltInTelemetry = false

    /// Refused: FUSE mode (`--fuse`, `--fuse-tmp-dir`).
    public var fuse: String?
    public var fuseTmpDir: String?

    /// The configuration file (`--config-file`); read only when given on the command line.
    public var configFile: String?

    /// Print the usage text and exit (`--help`, `-h`).
    public var help = false
    /// Print the version and exit (`--version`, `-v`).
    public var version = false

    /// The instances to serve, in argument order.
    public var instances: [InstanceArgument] = []

    /// Long names of the flags that were given explicitly (defaults are not in here).
    public var explicitlySet: Set<String> = []

    /// Problems that do not stop the proxy (unknown config keys, ignored flags); logged as
    /// warnings once the logger exists.
    public var warnings: [String] = []

    /// The IPv4 literal the health and metrics server binds to.
    public var httpBindAddress: String {
        httpAddress == "localhost" ? "127.0.0.1" : httpAddress
    }

    public init() {}

    /// Cross-flag checks of the reference proxy; run after every source has been applied.
    ///
    /// - Throws: `ConfigError` describing the first problem found.
    public func validate() throws {
        if help || version { return }
        try validateUnsupported()
        guard !instances.isEmpty else {
            throw ConfigError(
                .missingInstance,
                "missing instance uri (e.g., projects/$PROJECT/locations/$LOCATION/clusters/"
                    + "$CLUSTER/instances/$INSTANCE)"
            )
        }
        if unixSocket != nil, explicitlySet.contains("address") || explicitlySet.contains("port") {
            throw ConfigError.conflicting("cannot specify --unix-socket and --address or --port together")
        }
        guard IPAddressText.isLiteral(address) else {
            throw ConfigError.invalidValue("--address", address, "not a valid IP address")
        }
        try validateCredentials()
        guard adminAPIEndpoint.hasPrefix("https://") || adminAPIEndpoint.hasPrefix("http://") else {
            throw ConfigError.invalidValue(
                "--alloydbadmin-api-endpoint",
                adminAPIEndpoint,
                "must be an http:// or https:// URL"
            )
        }
    }

    /// Flags whose feature this proxy lacks: refused, so nobody believes they took effect.
    private func validateUnsupported() throws {
        if fuse != nil || fuseTmpDir != nil {
            let flag = fuse != nil ? "--fuse" : "--fuse-tmp-dir"
            throw ConfigError(.unsupported, "\(flag) is not supported by this proxy: FUSE mode")
        }
        guard IPAddressText.isIPv4(httpBindAddress) else {
            throw ConfigError.invalidValue("--http-address", httpAddress,
                                           "not localhost or an IPv4 address")
        }
    }

    /// Notices about flags that are accepted but have no effect.
    func notices() -> [String] {
        var notices: [String] = []
        let telemetry = ["telemetry-project", "telemetry-prefix", "telemetry-sample-rate",
                         "disable-metrics", "disable-traces", "disable-built-in-telemetry"]
        let given = telemetry.filter { explicitlySet.contains($0) }
        if !given.isEmpty {
            notices.append("Cloud Monitoring and Cloud Trace export is not implemented; ignoring "
                + given.map { "--\($0)" }.joined(separator: ", ") + " (no telemetry is ever sent)")
        }
        let anyIAM = autoIAMAuthN || instances.contains { $0.autoIAMAuthN == true }
        if loginToken != nil && !anyIAM {
            notices.append("Ignoring --login-token because --auto-iam-authn is not enabled")
        }
        if token != nil && anyIAM && loginToken == nil {
            notices.append("--auto-iam-authn with --token sends the --token value for database login too; "
                + "pass --login-token with a token that has the alloydb.login scope")
        }
        if explicitlySet.contains("http-port") && !healthCheck && !prometheus {
            notices.append("Ignoring --http-port because neither --health-check nor --prometheus is set")
        }
        if withBackendCheck && !healthCheck {
            notices.append("Ignoring --with-backend-check because --health-check is not set")
        }
        return notices
    }

    private func validateCredentials() throws {
        if token != nil && credentialsFile != nil {
            throw ConfigError.conflicting("cannot specify --token and --credentials-file flags at the same time")
        }
        if gcloudAuth && token != nil {
            throw ConfigError.conflicting("cannot specify --token and --gcloud-auth flags at the same time")
        }
        if gcloudAuth && credentialsFile != nil {
            throw ConfigError.conflicting("cannot specify --credentials-file and --gcloud-auth flags at the same time")
        }
        if gcloudAuth && jsonCredentials != nil {
            throw ConfigError.conflicting("cannot specify --json-credentials and --gcloud-auth flags at the same time")
        }
        if let chain = impersonateServiceAccount,
           chain.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.isEmpty }) {
            throw ConfigError.invalidValue("--impersonate-service-account", chain,
                                           "a comma-separated list of service account emails without empty items")
        }
        if jsonCredentials != nil && (token != nil || credentialsFile != nil) {
            throw ConfigError.conflicting(
                "cannot specify --json-credentials with --token or --credentials-file flags"
            )
        }
    }

    /// Whether instance `index` sends AUTO_IAM: its own query value when given, else the flag.
    public func autoIAMAuthN(for instance: InstanceArgument) -> Bool {
        instance.autoIAMAuthN ?? autoIAMAuthN
    }

    /// Which address of the instance to dial; PSC wins when both PSC and public IP are on.
    public func ipType(for instance: InstanceArgument) -> IPType {
        if instance.psc ?? psc { return .psc }
        if instance.publicIP ?? publicIP { return .public }
        return .private
    }
}
