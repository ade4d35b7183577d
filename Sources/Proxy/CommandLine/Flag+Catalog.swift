/// The catalogue of flags, grouped as `--help` shows them.
extension Flag {
    /// A titled group of flags for the help text.
    struct Group: Sendable {
        let title: String
        let flags: [Flag]
    }

    private static func string(
        _ name: String,
        _ short: Character? = nil,
        _ help: String,
        _ keyPath: WritableKeyPath<ProxyOptions, String?> & Sendable
    ) -> Flag {
        Flag(name: name, short: short, kind: .string, help: help) { $0[keyPath: keyPath] = $1.string }
    }

    private static func bool(
        _ name: String,
        _ short: Character? = nil,
        _ help: String,
        _ keyPath: WritableKeyPath<ProxyOptions, Bool> & Sendable
    ) -> Flag {
        Flag(name: name, short: short, kind: .bool, help: help) { $0[keyPath: keyPath] = $1.bool }
    }

    private static func duration(
        _ name: String,
        _ help: String,
        _ keyPath: WritableKeyPath<ProxyOptions, Duration> & Sendable
    ) -> Flag {
        Flag(name: name, short: nil, kind: .duration, help: help) { $0[keyPath: keyPath] = $1.duration }
    }

    /// A port given as text (the reference declares these flags as strings): 0-65535.
    private static func port(
        _ name: String,
        _ help: String,
        _ keyPath: WritableKeyPath<ProxyOptions, Int> & Sendable
    ) -> Flag {
        Flag(name: name, short: nil, kind: .string, help: help) {
            guard let port = Int($1.string), (0...65535).contains(port) else {
                throw ConfigError.invalidValue("--\(name)", $1.string, "not a port number (0-65535)")
            }
            $0[keyPath: keyPath] = port
        }
    }

    /// Every flag by group, in help order.
    static let groups: [Group] = [
        Group(title: "Listeners", flags: [
            Flag(name: "address", short: "a", kind: .string,
                 help: "Address on which to bind listeners (an IP literal). Default 127.0.0.1") {
                $0.address = $1.string
            },
            Flag(name: "port", short: "p", kind: .int,
                 help: "Initial port for listeners; later instances use the next ports. Default 5432") {
                guard (0...65535).contains($1.int) else {
                    throw ConfigError.invalidValue("--port", String($1.int), "not a port number (0-65535)")
                }
                $0.port = $1.int
            },
            string("unix-socket", "u", "Directory in which to create a Unix socket per instance",
                   \.unixSocket),
            Flag(name: "unix-socket-mode", short: nil, kind: .string,
                 help: "Octal permission bits of each Unix socket file. Default 0777") {
                guard let mode = UInt16($1.string, radix: 8), mode <= 0o777 else {
                    throw ConfigError.invalidValue("--unix-socket-mode", $1.string,
                                                   "not an octal file mode (0000-0777)")
                }
                $0.unixSocketMode = mode
            },
            Flag(name: "max-connections", short: nil, kind: .uint,
                 help: "Maximum number of simultaneous client connections; 0 means no limit") {
                guard case .uint(let limit) = $1 else { return }
                $0.maxConnections = limit
            },
        ]),
        Group(title: "Authentication", flags: [
            string("credentials-file", "c", "Path to a service account or ADC JSON key file",
                   \.credentialsFile),
            string("json-credentials", "j", "Service account or ADC JSON key as a string",
                   \.jsonCredentials),
            string("token", "t", "Bearer token used for the Admin API and the metadata exchange", \.token),
            string("login-token", nil, "Bearer token used for IAM database login only (needs "
                   + "--auto-iam-authn)", \.loginToken),
            bool("gcloud-auth", "g", "Use the gcloud CLI's user credentials (legacy; prefer ADC)",
                 \.gcloudAuth),
            string("impersonate-service-account", nil, "Comma-separated service accounts: the target "
                   + "to impersonate, then the delegation chain", \.impersonateServiceAccount),
            bool("auto-iam-authn", "i", "Use automatic IAM database authentication", \.autoIAMAuthN),
        ]),
        Group(title: "Instances and the Admin API", flags: [
            Flag(name: "alloydbadmin-api-endpoint", short: nil, kind: .string,
                 help: "AlloyDB Admin API endpoint; https:// is added to a bare host[:port]. "
                    + "Default https://alloydb.googleapis.com") {
                $0.adminAPIEndpoint = try EndpointURL.normalize($1.string, flag: "--alloydbadmin-api-endpoint")
            },
            string("admin-api-ca-file", nil, "Extra PEM trust anchors for the Admin API (emulators)",
                   \.adminAPICAFile),
            bool("public-ip", nil, "Connect to the instances' public IP addresses", \.publicIP),
            bool("psc", nil, "Connect to the instances' PSC DNS names", \.psc),
            bool("lazy-refresh", nil, "Fetch connection info on demand instead of ahead of expiry",
                 \.lazyRefresh),
            string("user-agent", nil, "Extra space-separated tokens for the User-Agent header",
                   \.userAgent),
            string("static-connection-info", nil, "Development only: JSON file of fixed connection "
                   + "info and key; never refreshed", \.staticConnectionInfo),
            bool("run-connection-test", nil, "Dial every instance once before serving; exit 1 when "
                 + "one fails", \.runConnectionTest),
        ]),
        Group(title: "Timeouts", flags: [
            duration("dial-timeout", "Bound on a whole dial, from connection info to the end of the "
                     + "metadata exchange. Default 30s", \.dialTimeout),
            duration("handshake-timeout", "Bound on the TLS handshake with the instance. Default 10s",
                     \.handshakeTimeout),
            duration("metadata-exchange-timeout", "Bound on the metadata exchange. Default 10s",
                     \.metadataExchangeTimeout),
            duration("half-close-timeout", "After one direction has ended, close the tunnel when the "
                     + "other has not ended within this time. Default 0 (no bound)", \.halfCloseTimeout),
        ]),
        Group(title: "Shutdown", flags: [
            duration("min-sigterm-delay", "After SIGTERM/SIGINT or /quitquitquit, keep accepting new "
                     + "connections for this long (readiness reports 503 at once). Default 0",
                     \.minSigtermDelay),
            duration("max-sigterm-delay", "Then wait up to this long for open connections to close; "
                     + "exit 1 if some remain. Default 0 (exit at once)", \.maxSigtermDelay),
            bool("exit-zero-sigterm", nil, "Exit 0 instead of 143 after SIGTERM", \.exitZeroSigterm),
        ]),
        Group(title: "Health checks and metrics (on --http-address:--http-port)", flags: [
            bool("health-check", nil, "Serve /startup, /liveness and /readiness", \.healthCheck),
            bool("with-backend-check", nil, "/startup also checks that every instance can be "
                 + "reached (connection info and TCP)", \.withBackendCheck),
            bool("prometheus", nil, "Serve Prometheus metrics on /metrics", \.prometheus),
            Flag(name: "prometheus-namespace", short: nil, kind: .string,
                 help: "Prefix of every metric name") {
                $0.prometheusNamespace = $1.string
            },
            Flag(name: "http-address", short: nil, kind: .string,
                 help: "Address of the health check and metrics server (IPv4). Default localhost") {
                $0.httpAddress = $1.string
            },
            port("http-port", "Port of the health check and metrics server. Default 9090", \.httpPort),
        ]),
        Group(title: "Admin server (on localhost:--admin-port)", flags: [
            bool("quitquitquit", nil, "Serve /quitquitquit: GET or POST starts a graceful shutdown "
                 + "(exit 0)", \.quitquitquit),
            bool("debug", nil, "Serve /debug/tunnels: the open tunnels with instance, peer, age "
                 + "and bytes", \.debug),
            port("admin-port", "Port of the admin server. Default 9091", \.adminPort),
        ]),
        Group(title: "Logging", flags: [
            bool("structured-logs", "l", "Write logs as JSON lines", \.structuredLogs),
            bool("debug-logs", nil, "Enable debug logs (per-connection records, refresh cycle)",
                 \.debugLogs),
            bool("quiet", nil, "Log errors only", \.quiet),
        ]),
        Group(title: "Cloud Monitoring telemetry (accepted and ignored: not exported)", flags: [
            string("telemetry-project", nil, "Ignored", \.telemetryProject),
            string("telemetry-prefix", nil, "Ignored", \.telemetryPrefix),
            Flag(name: "telemetry-sample-rate", short: nil, kind: .int, help: "Ignored") {
                $0.telemetrySampleRate = $1.int
            },
            bool("disable-metrics", nil, "Ignored", \.disableMetrics),
            bool("disable-traces", nil, "Ignored", \.disableTraces),
            bool("disable-built-in-telemetry", nil, "Ignored (nothing is ever sent)",
                 \.disableBuiltInTelemetry),
        ]),
        Group(title: "FUSE (not supported)", flags: [
            string("fuse", nil, "Not supported: serve instances through a FUSE directory", \.fuse),
            string("fuse-tmp-dir", nil, "Not supported", \.fuseTmpDir),
        ]),
        Group(title: "General", flags: [
            string("config-file", nil, "TOML (.toml), YAML (.yaml, .yml) or JSON (.json) file whose "
                   + "keys are flag names; flags and ALLOYDB_PROXY_* variables override it",
                   \.configFile),
            bool("version", "v", "Print the version and exit", \.version),
            bool("help", "h", "Print this help and exit", \.help),
        ]),
    ]

    /// All flags, in help order.
    static let all: [Flag] = groups.flatMap(\.flags)

    /// Looks a flag up by long name.
    static func named(_ name: String) -> Flag? {
        all.first { $0.name == name }
    }

    /// Looks a flag up by its one-letter form.
    static func short(_ letter: Character) -> Flag? {
        all.first { $0.short == letter }
    }
}
