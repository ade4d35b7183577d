/// The phases of one instance-endpoint connection as a value type: events in, actions out,
/// no sockets. `Tunnel` feeds it what its I/O observed and performs the actions it returns.
///
///     handshaking ─> (no-MDX mode) ─> connectingBackend
///     handshaking ─> exchangingMetadata ─┬─> connectingBackend ─> relaying ─> closed
///                                        ├─> checkingLogin (AUTO_IAM) ─┬─> connectingBackend
///                                        │                             └─> draining
///                                        ├─> draining (MDX error reply) ─> closed
///                                        └─> hanging (MDX fault) ─> closed
///     any phase ── failure, deadline, drop ──> closed
///
/// Every (state, event) pair is handled explicitly; a pair that cannot happen when the driver
/// is correct ends in `illegal`, which stops the process (a programming error, not bad input).
struct TunnelMachine: Equatable {
    enum State: Equatable {
        case handshaking
        case exchangingMetadata
        /// AUTO_IAM: reading the PostgreSQL StartupMessage to compare its user with the token.
        case checkingLogin(expectedUser: String)
        case connectingBackend
        case relaying
        /// Sending a final message (an MDX error or PostgreSQL ErrorResponse) before closing.
        case draining
        /// The MDX fault `hang`: read and discard until the client gives up.
        case hanging
        case closed
    }

    /// How the server answers a complete metadata-exchange request; decided by the driver from
    /// the token and the fault switches.
    enum MetadataVerdict: Equatable {
        /// Reply OK; for AUTO_IAM, `expectedUser` is the database user the token may log in as.
        case accept(expectedUser: String?)
        case refuse(String)
        case hang
        case close
        /// Reply with bytes that are not a valid response frame.
        case garbage
    }

    /// How a connection is cut when the tunnel closes: FIN or RST.
    typealias CloseMode = FaultSwitches.CloseMode

    enum Event: Equatable {
        case handshakeCompleted
        case metadataReceived(MetadataVerdict)
        /// AUTO_IAM: the StartupMessage named `user` (nil for a CancelRequest).
        case startupReceived(user: String?)
        case backendConnected
        /// Both directions ended and were passed on.
        case relayFinished
        /// The final message of `draining` has been written.
        case finalMessageSent
        /// The handshake and metadata exchange did not finish in time.
        case deadlineExpired
        /// An I/O or protocol failure, with the reason for the event log.
        case failed(String)
        /// The drop fault: after N bytes or on command.
        case dropRequested(CloseMode, reason: String)
    }

    enum Action: Equatable {
        case sendMetadataOK
        case sendMetadataError(String)
        case sendGarbage
        case connectBackend
        case startRelay
        case sendPostgresError(String)
        case close(CloseMode, reason: String?)
    }

    private(set) var state = State.handshaking
    /// False for endpoints in no-MDX mode: PostgreSQL bytes follow the handshake directly.
    let usesMetadataExchange: Bool

    init(usesMetadataExchange: Bool = true) {
        self.usesMetadataExchange = usesMetadataExchange
    }

    /// Applies `event` and returns what the driver must do, in order.
    mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.closed, _):
            return []
        case (_, .failed(let reason)):
            state = .closed
            return [.close(.fin, reason: reason)]
        case (_, .dropRequested(let mode, let reason)):
            state = .closed
            return [.close(mode, reason: reason)]
        case (.handshaking, .deadlineExpired), (.exchangingMetadata, .deadlineExpired),
            (.checkingLogin, .deadlineExpired):
            state = .closed
            return [.close(.fin, reason: "the handshake and metadata exchange took longer than 30 s")]
        case (_, .deadlineExpired):
            return []
        case (.handshaking, .handshakeCompleted):
            guard usesMetadataExchange else {
                state = .connectingBackend
                return [.connectBackend]
            }
            state = .exchangingMetadata
            return []
        case (.exchangingMetadata, .metadataReceived(let verdict)):
            return answer(verdict)
        case (.checkingLogin(let expected), .startupReceived(let user)):
            guard let user, user != expected else {
                state = .connectingBackend
                return [.connectBackend]
            }
            state = .draining
            return [.sendPostgresError(
                "IAM authentication failed for user \"\(user)\": the token belongs to \"\(expected)\"")]
        case (.connectingBackend, .backendConnected):
            state = .relaying
            return [.startRelay]
        case (.relaying, .relayFinished):
            state = .closed
            return [.close(.fin, reason: nil)]
        case (.draining, .finalMessageSent), (.hanging, .relayFinished):
            state = .closed
            return [.close(.fin, reason: nil)]
        case (.handshaking, _), (.exchangingMetadata, _), (.checkingLogin, _),
            (.connectingBackend, _), (.relaying, _), (.draining, _), (.hanging, _):
            illegal(event)
        }
    }

    private mutating func answer(_ verdict: MetadataVerdict) -> [Action] {
        switch verdict {
        case .accept(let expectedUser?):
            state = .checkingLogin(expectedUser: expectedUser)
            return [.sendMetadataOK]
        case .accept(nil):
            state = .connectingBackend
            return [.sendMetadataOK, .connectBackend]
        case .refuse(let reason):
            state = .draining
            return [.sendMetadataError(reason)]
        case .hang:
            state = .hanging
            return []
        case .close:
            state = .closed
            return [.close(.fin, reason: "closed instead of answering the metadata exchange (fault)")]
        case .garbage:
            state = .draining
            return [.sendGarbage]
        }
    }

    /// A pair the driver never produces; continuing would corrupt the connection's state.
    private func illegal(_ event: Event) -> Never {
        fatalError("tunnel: event \(event) is not valid in state \(state)")
    }
}
