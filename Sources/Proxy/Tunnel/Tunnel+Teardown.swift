import EventLoop

/// Closing a tunnel and its one summary record.
extension Tunnel {
    /// Stops all I/O, closes both sockets, returns buffers to the pool and drops the snapshot
    /// (on the loop thread, so a retired `SSL_CTX` is freed here). Then reports.
    func tearDown(_ termination: TunnelTermination) {
        cancelTimer()
        if let clientRegistration {
            loop.deregister(clientRegistration)
        }
        if let upstreamRegistration {
            loop.deregister(upstreamRegistration)
        }
        clientRegistration = nil
        upstreamRegistration = nil
        upstream?.close()
        client.close()

        for buffer in [fromClient, toClient].compactMap({ $0 }) {
            context.pool.recycle(buffer)
        }
        fromClient = nil
        toClient = nil
        tls = nil
        snapshot = nil

        // Keep self alive through the release even when the map held the last reference.
        withExtendedLifetime(self) {
            context.tunnels.removeValue(forKey: id)
            send(.released)
        }
    }

    /// Updates the counters and writes the failure line (if any) and the debug summary.
    func report(_ termination: TunnelTermination) {
        context.counters.open -= 1
        context.counters.bytesToInstance += bytesToInstance
        context.counters.bytesToClient += bytesToClient
        let reachedRelay = termination.phase == .relay || termination.phase == .halfClosed
        if reachedRelay {
            context.counters.completed += 1
        } else if termination.endedBy == .limit {
            context.counters.refused += 1
        } else if termination.endedBy != .client && termination.phase != .firstByte {
            context.counters.failedByPhase[termination.phase, default: 0] += 1
        }
        logOutcome(termination, reachedRelay: reachedRelay)

        guard logger.isEnabled(.debug) else { return }
        let duration = startedAt.duration(to: loop.clock.now())
        logger.debug(
            "[\(route.shortName)] tunnel \(id) closed: client \(clientPeer), "
                + "\(bytesToInstance) bytes to instance, \(bytesToClient) bytes to client, "
                + "\(GoDuration.format(duration)), \(termination)"
        )
    }

    private func logOutcome(_ termination: TunnelTermination, reachedRelay: Bool) {
        guard let cause = termination.cause else { return }
        let prefix = "[\(route.shortName)]"
        switch termination.endedBy {
        case .limit, .client:
            logger.debug("\(prefix) connection aborted - \(cause)")
        case .proxy where cause == "proxy shutting down":
            break
        case .instance, .proxy, .timeout:
            if reachedRelay {
                logger.error("\(prefix) connection aborted - \(cause)")
            } else if termination.endedBy == .timeout && !dialAddress.isEmpty {
                // A silent path: say where the proxy was dialling and what to check.
                let port = settings.instancePort
                logger.error("\(prefix) failed to connect to instance: \(cause) "
                    + "(dialling \(dialAddress):\(port); \(Self.reachabilityHint(port: port)))")
            } else {
                logger.error("\(prefix) failed to connect to instance: \(cause)")
            }
        }
    }
}
