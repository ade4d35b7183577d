import Foundation
import Locking
import Synchronization

/// Dispatches HTTP requests to the token endpoint, the Admin API and the fault switches, and
/// records one `api` event per Admin API call. Installed into the HTTP server before its
/// routes exist (the token URI needs the bound port), so it answers 503 until `install`.
/// Thread-safe; runs on HTTP threads.
final class APIRouter: Sendable {
    /// The handlers once the emulator is assembled.
    struct Routes: Sendable {
        var admin: AdminAPI
        var token: TokenEndpoint
        var faults: FaultSwitches
        var events: EventLog
        /// The fault commands (`rotateCA`, `dropNow`).
        var commands: FaultsAPI.Commands
    }

    private let routes = Locked<Routes?>(nil)

    func install(_ installed: Routes) {
        routes.withLock { $0 = installed }
    }

    /// Handles one request.
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard let routes = routes.withLock({ $0 }) else {
            return .googleError(503, "UNAVAILABLE", "The emulator is starting.")
        }
        guard let path = request.path else {
            return .googleError(400, "INVALID_ARGUMENT", "The request path has a bad %-escape.")
        }
        switch path {
        case "/token":
            let delay = routes.faults.snapshot.tokenDelayMilliseconds
            if delay > 0 { usleep(UInt32(min(delay, 60_000)) * 1000) }
            if let injected = routes.faults.takeTokenError() {
                return .oauthError(injected.code, injected.status, injected.message)
            }
            return routes.token.handle(request)
        case "/emulator/faults":
            return FaultsAPI(faults: routes.faults, commands: routes.commands).handle(request)
        default:
            guard AdminAPI.owns(path: path) else {
                return .googleError(404, "NOT_FOUND", "The requested URL \(path) was not found.")
            }
            let delay = routes.faults.apiDelayMilliseconds
            if delay > 0 { usleep(UInt32(min(delay, 60_000)) * 1000) }
            let response = routes.admin.handle(request, path: path)
            routes.events.record([
                ("event", "api"),
                ("method", .string(request.method)),
                ("path", .string(path)),
                ("userAgent", .string(request.header("User-Agent") ?? "")),
                ("status", .number(Double(response.status))),
            ])
            return response
        }
    }
}
