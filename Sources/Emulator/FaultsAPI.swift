/// `POST /emulator/faults` (set) and `GET /emulator/faults` (read) on the fault switches.
///
/// Body members, all optional; a member present replaces the switch, `null` clears it:
/// `apiError` `{"code":503,"status":"UNAVAILABLE","message":"...","count":N}`,
/// `apiDelayMs` N, `mdx` `"ok"|"hang"|"close"|"error: <message>"`, `certLifetimeSeconds` N,
/// `rotateCA` true, `dropAfterBytes` N. The reply is the resulting state.
struct FaultsAPI {
    let faults: FaultSwitches
    /// Called for `rotateCA`; rotates every cluster's hierarchy.
    var rotate: (@Sendable () throws -> Void)? = nil

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch request.method {
        case "GET":
            return .json(200, Self.render(faults.snapshot))
        case "POST":
            do {
                try apply(try JSONValue.parse(request.body))
                return .json(200, Self.render(faults.snapshot))
            } catch {
                return .googleError(400, "INVALID_ARGUMENT", "\(error)")
            }
        default:
            return .googleError(405, "UNIMPLEMENTED", "use GET or POST on /emulator/faults")
        }
    }

    private func apply(_ json: JSONValue) throws {
        guard case .object(let members) = json else {
            throw EmulatorError(.invalidArgument, "the faults body must be a JSON object")
        }
        var state = faults.snapshot
        var rotateRequested = false
        for (name, value) in members {
            switch name {
            case "apiError": try applyAPIError(value, to: &state)
            case "apiDelayMs": state.apiDelayMilliseconds = try Self.count(value, name) ?? 0
            case "mdx": state.metadataExchange = try Self.metadataFault(value)
            case "certLifetimeSeconds":
                guard let seconds = try Self.count(value, name), seconds > 0 else {
                    throw EmulatorError(.invalidArgument, "certLifetimeSeconds must be positive")
                }
                state.certificateLifetime = seconds
            case "rotateCA": rotateRequested = value.boolValue ?? false
            case "dropAfterBytes": state.dropAfterBytes = try Self.count(value, name)
            default:
                throw EmulatorError(.invalidArgument, "unknown fault \"\(name)\"")
            }
        }
        if rotateRequested {
            guard let rotate else {
                throw EmulatorError(.invalidArgument, "CA rotation is not available")
            }
            try rotate()
        }
        let final = state
        faults.update { $0 = final }
    }

    private func applyAPIError(_ value: JSONValue, to state: inout FaultSwitches.State) throws {
        if value == .null {
            state.apiError = nil
            state.apiErrorCount = 0
            return
        }
        guard let code = value["code"]?.numberValue, (400..<600).contains(code) else {
            throw EmulatorError(.invalidArgument, "apiError.code must be an HTTP status 400-599")
        }
        state.apiError = FaultSwitches.APIError(
            code: Int(code),
            status: value["status"]?.stringValue ?? "UNAVAILABLE",
            message: value["message"]?.stringValue ?? "injected failure")
        state.apiErrorCount = try Self.count(value["count"] ?? .number(1), "apiError.count") ?? 0
    }

    private static func count(_ value: JSONValue, _ name: String) throws -> Int? {
        if value == .null { return nil }
        guard let number = value.numberValue, number >= 0, number < 1e12, number.rounded() == number
        else { throw EmulatorError(.invalidArgument, "\(name) must be a non-negative integer") }
        return Int(number)
    }

    private static func metadataFault(_ value: JSONValue) throws -> FaultSwitches.MetadataExchangeFault {
        guard value != .null else { return .none }
        switch value.stringValue {
        case "ok": return .none
        case "hang": return .hang
        case "close": return .close
        case .some(let text) where text.hasPrefix("error:"):
            return .error(String(text.dropFirst("error:".count)).trimmingPrefixSpaces())
        default:
            throw EmulatorError(.invalidArgument, "mdx must be ok, hang, close or \"error: <message>\"")
        }
    }

    static func render(_ state: FaultSwitches.State) -> JSONValue {
        let mdx: String
        switch state.metadataExchange {
        case .none: mdx = "ok"
        case .hang: mdx = "hang"
        case .close: mdx = "close"
        case .error(let message): mdx = "error: \(message)"
        }
        var apiError = JSONValue.null
        if let error = state.apiError {
            apiError = .object([
                ("code", .number(Double(error.code))), ("status", .string(error.status)),
                ("message", .string(error.message)), ("count", .number(Double(state.apiErrorCount))),
            ])
        }
        return .object([
            ("apiError", apiError),
            ("apiDelayMs", .number(Double(state.apiDelayMilliseconds))),
            ("mdx", .string(mdx)),
            ("certLifetimeSeconds", .number(Double(state.certificateLifetime))),
            ("dropAfterBytes", state.dropAfterBytes.map { .number(Double($0)) } ?? .null),
        ])
    }
}

extension String {
    func trimmingPrefixSpaces() -> String {
        String(drop { $0 == " " })
    }
}
