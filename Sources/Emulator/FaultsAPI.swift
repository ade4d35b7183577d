/// `POST /emulator/faults` (set) and `GET /emulator/faults` (read) on the fault switches; the
/// same members are accepted at start-up through `--fault NAME=VALUE`.
///
/// Body members, all optional; a member present replaces the switch, `null` clears it:
///
/// | member | value |
/// |---|---|
/// | `apiError` | `{"code":503,"status":"UNAVAILABLE","message":"...","count":N}` |
/// | `apiDelayMs` | N: delay before each Admin API answer |
/// | `tokenError` | `{"code":503,"error":"temporarily_unavailable","message":"...","count":N}` |
/// | `tokenDelayMs` | N: delay before each token answer |
/// | `certLifetimeSeconds` | N: lifetime of newly issued client certificates |
/// | `rotateCA` | true: new root and intermediate for every cluster (command) |
/// | `mdx` | `"ok"`, `"hang"`, `"close"`, `"garbage"` or `"error: <message>"` |
/// | `handshake` | `"ok"`, `"refuse"` or `"close-before-server-hello"` |
/// | `handshakeDelayMs` | N: wait before reading the ClientHello |
/// | `instanceTLS` | `"1.2"` caps new instance handshakes at TLS 1.2; `"1.3"` restores |
/// | `dropAfterBytes` | N: close each new tunnel after N relayed bytes |
/// | `dropMode` | `"fin"` or `"rst"`: how dropped tunnels are cut |
/// | `dropNow` | `"fin"` or `"rst"`: cut every open tunnel now (command) |
///
/// The whole body is validated before anything changes. The reply is the resulting state.
struct FaultsAPI {
    /// Actions that are not switches; nil where unavailable (at start-up).
    struct Commands: Sendable {
        /// Rotates every cluster's hierarchy.
        var rotate: @Sendable () throws -> Void
        /// Cuts every open tunnel; returns how many.
        var dropAll: @Sendable (FaultSwitches.CloseMode) -> Int
    }

    let faults: FaultSwitches
    var commands: Commands?

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch request.method {
        case "GET":
            return .json(200, Self.render(faults.snapshot))
        case "POST":
            let json: JSONValue
            do {
                json = try JSONValue.parse(request.body)
            } catch {
                return .googleError(400, "INVALID_ARGUMENT", "\(error)")
            }
            do {
                try apply(json)
                return .json(200, Self.render(faults.snapshot))
            } catch {
                return .googleError(400, "INVALID_ARGUMENT", "\(error)")
            }
        default:
            return .googleError(405, "UNIMPLEMENTED", "use GET or POST on /emulator/faults")
        }
    }

    /// Validates and applies a faults object; throws `.invalidArgument` naming the member.
    func apply(_ json: JSONValue) throws {
        guard case .object(let members) = json else {
            throw EmulatorError(.invalidArgument, "the faults body must be a JSON object")
        }
        var state = faults.snapshot
        var rotateRequested = false
        var dropNow: FaultSwitches.CloseMode?
        for (name, value) in members {
            switch name {
            case "apiError":
                state.apiError = try Self.injectedError(value, name, defaults: Self.rpcStatus)
                state.apiErrorCount = try Self.errorCount(value, name)
            case "tokenError":
                state.tokenError = try Self.injectedError(value, name, defaults: Self.oauthError)
                state.tokenErrorCount = try Self.errorCount(value, name)
            case "apiDelayMs": state.apiDelayMilliseconds = try Self.delay(value, name)
            case "tokenDelayMs": state.tokenDelayMilliseconds = try Self.delay(value, name)
            case "handshakeDelayMs": state.handshakeDelayMilliseconds = try Self.delay(value, name)
            case "mdx": state.metadataExchange = try Self.metadataFault(value)
            case "handshake":
                state.handshake = try Self.choice(value, name, default: .none)
            case "instanceTLS":
                switch value {
                case .null, "1.3": state.instanceTLS12Only = false
                case "1.2": state.instanceTLS12Only = true
                default: throw EmulatorError(.invalidArgument, "instanceTLS must be \"1.2\" or \"1.3\"")
                }
            case "certLifetimeSeconds":
                guard let seconds = try Self.count(value, name), seconds > 0 else {
                    throw EmulatorError(.invalidArgument, "certLifetimeSeconds must be positive")
                }
                state.certificateLifetime = seconds
            case "rotateCA":
                guard let flag = value.boolValue else {
                    throw EmulatorError(.invalidArgument, "rotateCA must be true or false")
                }
                rotateRequested = flag
            case "dropAfterBytes": state.dropAfterBytes = try Self.count(value, name)
            case "dropMode": state.dropMode = try Self.choice(value, name, default: .fin)
            case "dropNow": dropNow = try Self.choice(value, name, default: .fin)
            default:
                throw EmulatorError(.invalidArgument, "unknown fault \"\(name)\"")
            }
        }
        if (rotateRequested || dropNow != nil) && commands == nil {
            throw EmulatorError(.invalidArgument, "rotateCA and dropNow work only while running")
        }
        if rotateRequested { try commands?.rotate() }
        let final = state
        faults.update { $0 = final }
        if let dropNow { _ = commands?.dropAll(dropNow) }
    }

    /// Parses a `--fault NAME=VALUE` flag into a one-member object; VALUE is JSON, or else a
    /// plain string (`--fault mdx=hang`).
    static func member(fromFlag text: String) throws -> (String, JSONValue) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw EmulatorError(.usage, "--fault \"\(text)\" is not NAME=VALUE")
        }
        let value = (try? JSONValue.parse(Array(parts[1].utf8))) ?? .string(parts[1])
        return (parts[0], value)
    }

    // MARK: Values

    private static let rpcStatus: [Int: String] = [
        400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
        404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
        501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
    ]

    private static let oauthError: [Int: String] = [
        400: "invalid_grant", 401: "invalid_client", 403: "access_denied",
        429: "rate_limit_exceeded", 500: "internal_failure", 503: "temporarily_unavailable",
    ]

    private static func injectedError(_ value: JSONValue, _ name: String, defaults: [Int: String])
        throws -> FaultSwitches.APIError?
    {
        if value == .null { return nil }
        guard case .object = value, let code = value["code"]?.numberValue,
            (400..<600).contains(code), code.rounded() == code
        else {
            throw EmulatorError(.invalidArgument, "\(name).code must be an HTTP status 400-599")
        }
        let status = value["status"]?.stringValue ?? value["error"]?.stringValue
        return FaultSwitches.APIError(
            code: Int(code), status: status ?? defaults[Int(code)] ?? "UNKNOWN",
            message: value["message"]?.stringValue ?? "injected failure")
    }

    private static func errorCount(_ value: JSONValue, _ name: String) throws -> Int {
        if value == .null { return 0 }
        return try count(value["count"] ?? .number(1), "\(name).count") ?? 0
    }

    private static func count(_ value: JSONValue, _ name: String) throws -> Int? {
        if value == .null { return nil }
        guard let number = value.numberValue, number >= 0, number < 1e12, number.rounded() == number
        else { throw EmulatorError(.invalidArgument, "\(name) must be a non-negative integer") }
        return Int(number)
    }

    /// A delay in milliseconds, at most one minute.
    private static func delay(_ value: JSONValue, _ name: String) throws -> Int {
        let milliseconds = try count(value, name) ?? 0
        guard milliseconds <= 60_000 else {
            throw EmulatorError(.invalidArgument, "\(name) must be at most 60000")
        }
        return milliseconds
    }

    private static func choice<T: RawRepresentable<String>>(
        _ value: JSONValue, _ name: String, default fallback: T
    ) throws -> T {
        if value == .null { return fallback }
        guard let text = value.stringValue, let parsed = T(rawValue: text) else {
            throw EmulatorError(.invalidArgument, "\(name) has an unknown value \(value.serialized)")
        }
        return parsed
    }

    private static func metadataFault(_ value: JSONValue) throws -> FaultSwitches.MetadataExchangeFault {
        guard value != .null else { return .none }
        switch value.stringValue {
        case "ok": return .none
        case "hang": return .hang
        case "close": return .close
        case "garbage": return .garbage
        case .some(let text) where text.hasPrefix("error:"):
            return .error(String(text.dropFirst("error:".count).drop { $0 == " " }))
        default:
            throw EmulatorError(
                .invalidArgument, "mdx must be ok, hang, close, garbage or \"error: <message>\"")
        }
    }

    /// The switches as the GET reply shows them (the same names POST accepts).
    static func render(_ state: FaultSwitches.State) -> JSONValue {
        let mdx: String
        switch state.metadataExchange {
        case .none: mdx = "ok"
        case .hang: mdx = "hang"
        case .close: mdx = "close"
        case .garbage: mdx = "garbage"
        case .error(let message): mdx = "error: \(message)"
        }
        func error(_ error: FaultSwitches.APIError?, count: Int) -> JSONValue {
            guard let error else { return .null }
            return .object([
                ("code", .number(Double(error.code))), ("status", .string(error.status)),
                ("message", .string(error.message)), ("count", .number(Double(count))),
            ])
        }
        return .object([
            ("apiError", error(state.apiError, count: state.apiErrorCount)),
            ("apiDelayMs", .number(Double(state.apiDelayMilliseconds))),
            ("tokenError", error(state.tokenError, count: state.tokenErrorCount)),
            ("tokenDelayMs", .number(Double(state.tokenDelayMilliseconds))),
            ("certLifetimeSeconds", .number(Double(state.certificateLifetime))),
            ("mdx", .string(mdx)),
            ("handshake", .string(state.handshake.rawValue)),
            ("handshakeDelayMs", .number(Double(state.handshakeDelayMilliseconds))),
            ("instanceTLS", .string(state.instanceTLS12Only ? "1.2" : "1.3")),
            ("dropAfterBytes", state.dropAfterBytes.map { .number(Double($0)) } ?? .null),
            ("dropMode", .string(state.dropMode.rawValue)),
        ])
    }
}
