/// Every failure the connector reports: configuration, Admin API refresh, tokens, certificate
/// material and metadata exchange.
///
/// A struct around an extensible `Code` (new codes can be added without breaking callers) that
/// carries the context a user needs: the instance short name, the HTTP status and Google status
/// string for API failures, and the cause. `description` is a sentence naming the instance.
public struct ConnectorError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The failure class. Compare with the static members; new ones may appear later.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String

        /// The user's configuration or input is wrong (instance URI, flags, credentials file).
        public static let config = Code(rawValue: "config error")
        /// An Admin API call failed (transport, HTTP status, malformed response).
        public static let refresh = Code(rawValue: "refresh error")
        /// An OAuth2 token could not be obtained.
        public static let token = Code(rawValue: "token error")
        /// Certificate or key material from the API could not be used.
        public static let certificate = Code(rawValue: "certificate error")
        /// The metadata exchange with the instance failed or was malformed.
        public static let metadataExchange = Code(rawValue: "metadata exchange error")
        /// Connecting to the instance failed (used by the proxy's dialer).
        public static let dial = Code(rawValue: "dial error")
        /// The connector was stopped before the request could be served.
        public static let closed = Code(rawValue: "connector closed")

        public var description: String { rawValue }
    }

    /// The failure class.
    public let code: Code
    /// What went wrong, without the instance prefix.
    public let message: String
    /// The instance short name (`P.R.C.I`) when the failure concerns one instance.
    public let instance: String?
    /// The HTTP status of a failed API or token call, if any.
    public let httpStatus: Int?
    /// Google's status string from the error envelope (e.g. `PERMISSION_DENIED`), if any.
    public let apiStatus: String?

    public init(
        _ code: Code,
        _ message: String,
        instance: String? = nil,
        httpStatus: Int? = nil,
        apiStatus: String? = nil
    ) {
        self.code = code
        self.message = message
        self.instance = instance
        self.httpStatus = httpStatus
        self.apiStatus = apiStatus
    }

    /// The same error attributed to `instance` (kept if already set).
    public func naming(_ instance: InstanceURI) -> ConnectorError {
        ConnectorError(
            code,
            message,
            instance: self.instance ?? instance.shortName,
            httpStatus: httpStatus,
            apiStatus: apiStatus
        )
    }

    /// True when retrying in the background cannot help until the user changes something:
    /// the instance or cluster does not exist (404), access is denied (403), the request is
    /// invalid (400), or the configuration is wrong (e.g. the requested IP type is missing).
    public var isTerminal: Bool {
        if code == .config { return true }
        guard let httpStatus else { return false }
        return httpStatus == 400 || httpStatus == 403 || httpStatus == 404
    }

    /// Every value `errorCode` can take, so that counters keyed by it stay bounded.
    public static let errorCodes: [String] = [
        "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "ABORTED",
        "RESOURCE_EXHAUSTED", "CANCELLED", "INTERNAL", "UNIMPLEMENTED", "UNAVAILABLE",
        "DEADLINE_EXCEEDED", "FAILED_PRECONDITION", "OUT_OF_RANGE", "ALREADY_EXISTS", "DATA_LOSS",
        "UNKNOWN", "TOKEN_ERROR", "CERTIFICATE_ERROR", "CONFIG_ERROR", "TRANSPORT_ERROR",
    ]

    /// A short, bounded cause for metrics labels (`alloydb_error_code`): Google's status
    /// string when the API sent a known one, `TOKEN_ERROR` for token failures, else the status
    /// an HTTP code stands for, else the failure class (`TOKEN_ERROR`, `CERTIFICATE_ERROR`,
    /// `CONFIG_ERROR`, `TRANSPORT_ERROR`).
    /// Always one of `errorCodes`.
    public var errorCode: String {
        if let apiStatus, Self.errorCodes.contains(apiStatus) { return apiStatus }
        // A token endpoint's 400 (invalid_grant) is about credentials, not the request.
        if code == .token { return "TOKEN_ERROR" }
        if let httpStatus {
            switch httpStatus {
            case 400: return "INVALID_ARGUMENT"
            case 401: return "UNAUTHENTICATED"
            case 403: return "PERMISSION_DENIED"
            case 404: return "NOT_FOUND"
            case 409: return "ABORTED"
            case 429: return "RESOURCE_EXHAUSTED"
            case 499: return "CANCELLED"
            case 501: return "UNIMPLEMENTED"
            case 503: return "UNAVAILABLE"
            case 504: return "DEADLINE_EXCEEDED"
            case 500...599: return "INTERNAL"
            default: break
            }
        }
        switch code {
        case .token: return "TOKEN_ERROR"
        case .certificate: return "CERTIFICATE_ERROR"
        case .config: return "CONFIG_ERROR"
        case .refresh: return "TRANSPORT_ERROR"
        default: return "UNKNOWN"
        }
    }

    public var description: String {
        let prefix = instance.map { "[\($0)] " } ?? ""
        return "\(prefix)\(code): \(message)"
    }
}
