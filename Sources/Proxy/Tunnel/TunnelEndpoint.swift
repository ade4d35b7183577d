import EventLoop

/// The loop's handler for one of a tunnel's two sockets.
///
/// Loop thread only. The loop holds it while the socket is registered; it holds the tunnel,
/// so a registered tunnel stays alive. Teardown deregisters both, breaking the cycle.
final class TunnelEndpoint: IOHandler {
    private let tunnel: Tunnel
    private let side: TunnelStateMachine.Side

    init(tunnel: Tunnel, side: TunnelStateMachine.Side) {
        self.tunnel = tunnel
        self.side = side
    }

    func handle(_ events: IOEvents) {
        // A local copy keeps the tunnel alive even if this handler is released mid-call.
        let tunnel = self.tunnel
        switch side {
        case .client: tunnel.clientReady(events)
        case .instance: tunnel.instanceReady(events)
        }
    }
}
