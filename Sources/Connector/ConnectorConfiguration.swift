import Foundation

/// Everything the connector needs from the command line and the environment.
///
/// A value type; the proxy fills it in at startup. Defaults match the reference proxy.
public struct ConnectorConfiguration: Sendable {
    /// The reference connector version whose behaviour this implementation follows; it leads
    /// the User-Agent and is the whole metadata exchange user agent.
    public static let connectorUserAgent = "alloydb-go-connector/1.18.5"

    /// The default Admin API endpoint.
    public static let defaultAPIEndpoint = "https://alloydb.googleapis.com"

    /// The default IAM Credentials API endpoint (service account impersonation).
    public static let defaultIAMCredentialsEndpoint = "https://iamcredentials.googleapis.com"

    /// The Admin API base URL, without a trailing `/` (trimmed on assignment).
    public var apiEndpoint: String {
        didSet { apiEndpoint = Self.trimmed(apiEndpoint) }
    }
    /// Where tokens come from.
    public var credentials: CredentialSource
    /// `--login-token`: a fixed token for the metadata exchange of AUTO_IAM instances.
    public var loginToken: String?
    /// The proxy's version for the User-Agent (`alloy-db-auth-proxy/<version>`).
    public var proxyVersion: String
    /// `--user-agent`: appended to the Admin API User-Agent.
    public var userAgentExtra: String?
    /// `--lazy-refresh`: no background refresh; refresh on demand only.
    public var lazyRefresh: Bool
    /// Default IP type for handles made by `Connector.makeHandle` without an explicit one.
    public var ipType: IPType
    /// Default AUTO_IAM setting for handles made without an explicit one.
    public var autoIAMAuthN: Bool
    /// HTTP timeouts, extra CA file and response size limit for API and token calls.
    public var http: HTTPOptions
    /// The wall clock (injectable for tests).
    public var clock: ConnectorClock
    /// The environment consulted for ADC, `GCE_METADATA_HOST`, `PATH` (to find gcloud) and
    /// `GOOGLE_CLOUD_QUOTA_PROJECT` (injectable).
    public var environment: [String: String]
    /// Receives refresh-cycle debug lines and warnings on the refresh thread; nil drops them.
    public var logHandler: ConnectorLogHandler?
    /// Receives every refresh outcome on the refresh thread (for metrics); nil drops them.
    public var eventHandler: ConnectorEventHandler?
    /// How long before expiry a certificate (or MDX token) is refreshed. Defaults to 4 minutes
    /// or `ALLOYDB_PROXY_TEST_REFRESH_BUFFER`.
    public var refreshBuffer: TimeInterval
    /// Seconds per refresh attempt once the burst of two is spent. Defaults to 30 s or
    /// `ALLOYDB_PROXY_TEST_RATE_INTERVAL`.
    public var rateLimitInterval: TimeInterval
    /// At most one refresh-failure warning per instance per this interval (30 s).
    public var failureWarningInterval: TimeInterval
    /// `--impersonate-service-account a,b,c`: the target first, then the delegation chain in
    /// the order the user wrote it. Empty: no impersonation.
    public var impersonationChain: [String]
    /// Base URL of the IAM Credentials API for impersonation (overridable for tests).
    public var iamCredentialsEndpoint: String {
        didSet { iamCredentialsEndpoint = Self.trimmed(iamCredentialsEndpoint) }
    }
    /// `--static-connection-info FILE`: connection info read once from this file and never
    /// refreshed (development only). Takes precedence over `lazyRefresh`.
    public var staticConnectionInfoPath: String?
    /// Resolves PSC DNS names on a helper thread of the refresh thread (injectable).
    public var hostLookup: HostLookup
    /// Limit for one GCE metadata server request (connect and answer).
    public var metadataServerTimeout: TimeInterval
    /// How long a `gcloud config config-helper` run may take before it is killed.
    public var gcloudTimeout: TimeInterval

    public init(
        apiEndpoint: String = ConnectorConfiguration.defaultAPIEndpoint,
        credentials: CredentialSource = .applicationDefault,
        loginToken: String? = nil,
        proxyVersion: String = "0.0.0",
        userAgentExtra: String? = nil,
        lazyRefresh: Bool = false,
        ipType: IPType = .private,
        autoIAMAuthN: Bool = false,
        http: HTTPOptions = HTTPOptions(),
        clock: ConnectorClock = .system,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logHandler: ConnectorLogHandler? = nil,
        eventHandler: ConnectorEventHandler? = nil,
        refreshBuffer: TimeInterval = RefreshTiming.refreshBuffer,
        rateLimitInterval: TimeInterval = RefreshTiming.rateLimitInterval,
        failureWarningInterval: TimeInterval = RefreshTiming.failureWarningInterval,
        impersonationChain: [String] = [],
        iamCredentialsEndpoint: String = ConnectorConfiguration.defaultIAMCredentialsEndpoint,
        staticConnectionInfoPath: String? = nil,
        hostLookup: HostLookup = .system,
        metadataServerTimeout: TimeInterval = 5,
        gcloudTimeout: TimeInterval = 30
    ) {
        self.apiEndpoint = Self.trimmed(apiEndpoint)
        self.credentials = credentials
        self.loginToken = loginToken
        self.proxyVersion = proxyVersion
        self.userAgentExtra = userAgentExtra
        self.lazyRefresh = lazyRefresh
        self.ipType = ipType
        self.autoIAMAuthN = autoIAMAuthN
        self.http = http
        self.clock = clock
        self.environment = environment
        self.logHandler = logHandler
        self.eventHandler = eventHandler
        self.refreshBuffer = refreshBuffer
        self.rateLimitInterval = rateLimitInterval
        self.failureWarningInterval = failureWarningInterval
        self.impersonationChain = impersonationChain
        self.iamCredentialsEndpoint = Self.trimmed(iamCredentialsEndpoint)
        self.staticConnectionInfoPath = staticConnectionInfoPath
        self.hostLookup = hostLookup
        self.metadataServerTimeout = metadataServerTimeout
        self.gcloudTimeout = gcloudTimeout
    }

    /// The Admin API User-Agent:
    /// `alloydb-go-connector/1.18.5 alloy-db-auth-proxy/<version>[ <extra>]`.
    public var userAgent: String {
        var parts = [Self.connectorUserAgent, "alloy-db-auth-proxy/\(proxyVersion)"]
        if let extra = userAgentExtra, !extra.isEmpty { parts.append(extra) }
        return parts.joined(separator: " ")
    }

    /// Checks what can be checked without the network; throws a `.config` error.
    func validate() throws(ConnectorError) {
        guard apiEndpoint.hasPrefix("https://") || apiEndpoint.hasPrefix("http://") else {
            throw ConnectorError(
                .config, "the Admin API endpoint \(InstanceURI.quoted(apiEndpoint)) is not an HTTP(S) URL")
        }
        let headerText = userAgent + (loginToken ?? "")
        guard !headerText.contains(where: { $0 == "\r" || $0 == "\n" }) else {
            throw ConnectorError(.config, "the user agent or login token contains a line break")
        }
        guard http.connectTimeout > 0, http.totalTimeout > 0, metadataServerTimeout > 0, gcloudTimeout > 0 else {
            throw ConnectorError(.config, "HTTP, metadata server and gcloud timeouts must be positive")
        }
        guard refreshBuffer >= 0, rateLimitInterval >= 0, failureWarningInterval >= 0 else {
            throw ConnectorError(.config, "the refresh buffer and rate intervals must not be negative")
        }
        guard iamCredentialsEndpoint.hasPrefix("https://") || iamCredentialsEndpoint.hasPrefix("http://") else {
            throw ConnectorError(
                .config,
                "the IAM Credentials endpoint \(InstanceURI.quoted(iamCredentialsEndpoint)) is not an HTTP(S) URL")
        }
        for account in impersonationChain
        where account.isEmpty || account.contains(where: { $0 == "/" || $0.isWhitespace }) {
            throw ConnectorError(.config, "invalid service account \(InstanceURI.quoted(account)) for impersonation")
        }
    }

    private static func trimmed(_ endpoint: String) -> String {
        var text = endpoint
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
