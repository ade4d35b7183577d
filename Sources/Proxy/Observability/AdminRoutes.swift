/// The admin server's answers (`--quitquitquit`, `--debug`) on 127.0.0.1:`--admin-port`.
///
/// * `/quitquitquit`: GET or POST -> 200 and one graceful shutdown (exit 0); a repeat still
///   answers 200 but starts nothing; other methods -> 400.
/// * `/debug/tunnels` (`--debug`): the open tunnels, one per line, gathered on the loop.
struct AdminRoutes: Sendable {
    let status: ProxyStatus
    let quitquitquit: Bool
    let debug: Bool
    /// Starts the shutdown (posts to the loop). Any thread.
    let requestShutdown: @Sendable () -> Void
    /// The tunnel listing from the loop, or nil when the loop did not answer in time.
    let listTunnels: @Sendable () -> String?

    func respond(_ request: HTTPEndpoint.Request) -> HTTPEndpoint.Response {
        switch request.path {
        case "/quitquitquit" where quitquitquit:
            guard request.method == "GET" || request.method == "POST" else {
                return HTTPEndpoint.Response(status: 400, body: "400 bad request: use GET or POST")
            }
            if status.claimQuit() {
                requestShutdown()
            }
            return HTTPEndpoint.Response(status: 200, body: "")
        case "/debug/tunnels" where debug:
            guard let listing = listTunnels() else {
                return HTTPEndpoint.Response(status: 503, body: "the proxy's loop did not answer in time")
            }
            return HTTPEndpoint.Response(status: 200, body: listing)
        default:
            return HTTPEndpoint.Response(status: 404, body: "404 page not found")
        }
    }
}
