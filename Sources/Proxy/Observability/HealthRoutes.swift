/// The health-check and metrics server's answers (`--health-check`, `--prometheus`), as the
/// reference defines them; any method.
///
/// * `/startup`: 200 `ok` once started (with `--with-backend-check`: and every instance is
///   reachable), else 503 `error` or the probe's reason.
/// * `/readiness`: 503 `proxy is not started`, `proxy has stopped` (from the first shutdown
///   request on) or `max connections reached (open = N, max = M)` when open >= max; else 200.
///   Never contacts an instance.
/// * `/liveness`: always 200.
/// * `/metrics` with `--prometheus`.
///
/// Runs on libmicrohttpd threads; reads only `ProxyStatus`. Failures are logged at error level
/// with the prefix `[Health Check]`, as in the reference.
struct HealthRoutes: Sendable {
    let status: ProxyStatus
    let logger: ProxyLogger
    let healthCheck: Bool
    let prometheus: Bool
    let namespace: String
    /// Checks every instance; nil when healthy, else the reason. Only with `--with-backend-check`.
    let backendCheck: (@Sendable () -> String?)?
    /// Counts open descriptors at scrape time (any thread).
    let openDescriptors: @Sendable () -> Int?

    func respond(_ request: HTTPEndpoint.Request) -> HTTPEndpoint.Response {
        switch request.path {
        case "/startup" where healthCheck: return startup()
        case "/readiness" where healthCheck: return readiness()
        case "/liveness" where healthCheck: return HTTPEndpoint.Response(status: 200, body: "ok")
        case "/metrics" where prometheus:
            let text = PrometheusText.render(status.snapshot, namespace: namespace,
                                             openDescriptors: openDescriptors())
            return HTTPEndpoint.Response(status: 200, body: text, contentType: PrometheusText.contentType)
        default:
            return HTTPEndpoint.Response(status: 404, body: "404 page not found")
        }
    }

    private func startup() -> HTTPEndpoint.Response {
        guard status.isStarted else {
            return failure("error")
        }
        if let backendCheck, let problem = backendCheck() {
            return failure(problem)
        }
        return HTTPEndpoint.Response(status: 200, body: "ok")
    }

    private func readiness() -> HTTPEndpoint.Response {
        guard status.isStarted else { return failure("proxy is not started") }
        guard !status.isDraining else { return failure("proxy has stopped") }
        let open = status.openTunnels
        let limit = status.maxConnections
        // The reference compares open == max; >= also catches a transiently higher count.
        if limit > 0 && UInt64(max(0, open)) >= limit {
            return failure("max connections reached (open = \(open), max = \(limit))")
        }
        return HTTPEndpoint.Response(status: 200, body: "ok")
    }

    private func failure(_ reason: String) -> HTTPEndpoint.Response {
        logger.error("[Health Check] \(reason)")
        return HTTPEndpoint.Response(status: 503, body: reason)
    }
}
