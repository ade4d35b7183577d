import Foundation

/// One HTTP request for the Admin API or a token endpoint. Immutable.
struct HTTPRequest: Sendable {
    enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
    }

    var method: Method
    var url: String
    /// Header lines in order; values must not contain CR or LF (checked when sent).
    var headers: [(name: String, value: String)]
    var body: [UInt8]?
    /// A tighter limit than the engine's for this request alone (connect and whole transfer),
    /// e.g. for the metadata server; nil keeps the engine's options.
    var timeout: TimeInterval?

    init(
        method: Method, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: TimeInterval? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A complete HTTP response (any status). Immutable.
struct HTTPResponse: Sendable {
    var status: Int
    var body: [UInt8]

    var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as text for error messages, secrets redacted, cut to `limit` characters with a
    /// visible marker. Redaction runs on the whole body first, so a cut cannot expose the start
    /// of a secret whose end fell outside the excerpt.
    func bodyExcerpt(limit: Int = 512) -> String {
        let text = Self.redactingSecrets(String(decoding: body, as: UTF8.self))
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "... (\(body.count) bytes)"
    }

    /// JSON members and form fields that carry credentials, whatever endpoint echoes them.
    private static let secretPatterns: [NSRegularExpression] = {
        let jsonKeys = "access_token|accessToken|refresh_token|id_token|client_secret|private_key|assertion|token"
        let formKeys = "access_token|refresh_token|client_secret|assertion"
        return [
            #"("(?:"# + jsonKeys + #")"\s*:\s*)"(?:[^"\\]|\\.)*"?"#,
            #"((?:"# + formKeys + #")=)[^&\s]*"#,
        ].map {
            // Constant patterns exercised by the tests; a failure is a programming error.
            try! NSRegularExpression(pattern: $0)
        }
    }()

    /// `text` with every credential value replaced by `<redacted>`. Pure; any thread.
    static func redactingSecrets(_ text: String) -> String {
        var result = text
        for pattern in secretPatterns {
            let range = NSRange(result.startIndex..., in: result)
            result = pattern.stringByReplacingMatches(in: result, range: range, withTemplate: "$1<redacted>")
        }
        return result
    }
}

/// Transport settings shared by every transfer of one engine.
public struct HTTPOptions: Sendable {
    /// Limit for the TCP + TLS connect phase.
    public var connectTimeout: TimeInterval
    /// Limit for a whole transfer, connect included.
    public var totalTimeout: TimeInterval
    /// An extra PEM bundle trusted in addition to the system store (e.g. a corporate proxy CA
    /// or the emulator's CA). The system directory `/etc/ssl/certs` stays in use.
    public var caFile: String?
    /// Responses larger than this fail rather than being cut.
    public var maximumResponseBytes: Int

    public init(
        connectTimeout: TimeInterval = 10,
        totalTimeout: TimeInterval = 30,
        caFile: String? = nil,
        maximumResponseBytes: Int = 1 << 20
    ) {
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.caFile = caFile
        self.maximumResponseBytes = maximumResponseBytes
    }
}
