import EventLoop

/// Telling a PostgreSQL client why its connection failed, before closing it.
///
/// Steps, driven by client readability and writability until the state machine's explain
/// deadline:
/// 1. an SSLRequest or GSSENCRequest among the held client bytes is answered `N`;
/// 2. once the whole StartupMessage has arrived, a FATAL ErrorResponse (SQLSTATE 08006)
///    naming the instance and the cause is queued;
/// 3. when it is written, FIN is sent and the tunnel closes.
/// Anything that is not PostgreSQL startup traffic ends the explanation at once.
extension Tunnel {
    /// Advances the explanation as far as the bytes at hand allow.
    func progressExplanation() {
        guard case .explainingFailure(let termination) = machine.state else { return }
        while !explanationQueued {
            let held = earlyBytes
            switch PostgresStartup.classify(held) {
            case .encryptionRequest:
                fromClient?.moveReaderIndex(forwardBy: 8)
                PostgresStartup.encryptionRefusal.withUnsafeBytes { queueToClient($0) }
            case .startupMessage(let length):
                fromClient?.moveReaderIndex(forwardBy: length)
                let message = "AlloyDB Auth Proxy could not connect to instance \(route.shortName): "
                    + (termination.cause ?? "connection failed")
                PostgresStartup.errorResponse(message: message).withUnsafeBytes { queueToClient($0) }
                explanationQueued = true
            case .incomplete:
                if clientReadEnded {
                    send(.explained)
                    return
                }
                return writeExplanation()
            case .other:
                send(.explained)
                return
            }
        }
        writeExplanation()
    }

    /// Writes what is queued for the client; closes its write side after the error reply.
    private func writeExplanation() {
        if let buffer = toClient, !buffer.isEmpty {
            do {
                if try buffer.write(to: client) == .wouldBlock || !buffer.isEmpty {
                    updateInterest()
                    return
                }
            } catch {
                send(.explained)
                return
            }
        }
        guard explanationQueued else {
            updateInterest()
            return
        }
        // The client may already be gone; the tunnel closes either way.
        try? client.shutdownWrite()
        send(.explained)
    }
}
