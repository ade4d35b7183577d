import EventLoop

/// The lifecycle of one tunnel, as a value type with no I/O.
///
/// ```
/// accepted ─┬─> waitingForFirstByte ─> waitingForConnectionInfo ─> connecting
///           └───────────────────────────────^                           │
///   tlsHandshaking <────────────────────────────────────────────────────┘
///        │
///   metadataExchange ─> relaying ─> halfClosed(side) ─> closing ─> closed
///        any setup phase ─failure─> explainingFailure ─> closing
///        any state before closing ─error/deadline/shutdown─> closing
/// ```
///
/// The owner feeds events and performs the returned action *after* the state has changed, so a
/// callback can never see a half-updated machine. Setup deadlines live here: the whole dial is
/// bounded by `dialTimeout` from the moment the tunnel starts to dial, the handshake and the
/// metadata exchange additionally by their own bounds; once one direction has ended, the other
/// is bounded by `halfClose` when set, otherwise it may stay open while it carries bytes but
/// closes after `halfCloseIdle` without any (so a peer that never ends its side, e.g. never
/// answers close_notify, cannot hold the tunnel and its sockets forever). The owner arms one timer for `deadline` and sends
/// `.deadlinePassed` when it fires; a stale timer is ignored.
///
/// Loop thread only (it is a value inside a loop-thread object).
struct TunnelStateMachine {
    /// A side of the tunnel.
    enum Side: Equatable {
        case client
        case instance
    }

    enum State: Equatable {
        /// Just accepted. -> waitingForFirstByte, waitingForConnectionInfo, closing.
        case accepted
        /// Dialing waits for the client's first byte, so probes that connect and leave cost
        /// no upstream session. -> waitingForConnectionInfo, closing.
        case waitingForFirstByte
        /// Waiting for the connector's snapshot. -> connecting, explainingFailure, closing.
        case waitingForConnectionInfo
        /// Non-blocking TCP connect in flight. -> tlsHandshaking, explainingFailure, closing.
        case connecting
        /// TLS 1.3 handshake in flight. -> metadataExchange, explainingFailure, closing.
        case tlsHandshaking
        /// MDX request sent, response pending. -> relaying, explainingFailure, closing.
        case metadataExchange
        /// Bytes flow both ways. -> halfClosed, closing.
        case relaying
        /// `side`'s stream has ended and was passed on; the other direction still flows.
        /// -> closing.
        case halfClosed(finished: Side)
        /// A setup failure is being reported to a PostgreSQL client. -> closing.
        case explainingFailure(TunnelTermination)
        /// Tearing down: sockets are being closed. -> closed.
        case closing(TunnelTermination)
        /// Terminal.
        case closed(TunnelTermination)
    }

    enum Event {
        /// The tunnel is registered; `waitForFirstByte` delays the dial until the client speaks.
        case start(waitForFirstByte: Bool)
        /// The client sent bytes; `speaksPostgres` says whether what it sent so far is a
        /// PostgreSQL SSLRequest or StartupMessage, so a setup failure can be explained to it.
        case clientSpoke(speaksPostgres: Bool)
        /// The connector's snapshot is usable.
        case connectionInfoReady
        /// The TCP connection to the instance is established.
        case connected
        /// The TLS handshake finished and the server was verified.
        case handshakeCompleted
        /// The MDX response said OK.
        case metadataExchangeCompleted
        /// `side`'s end of stream was read and passed on after all its bytes.
        case streamEnded(Side)
        /// Something failed; `party` is who caused it.
        case failed(TunnelEndedBy, cause: String)
        /// The timer for `deadline` fired.
        case deadlinePassed
        /// `--max-connections` was reached.
        case refused
        /// The proxy is shutting down and closes the tunnel.
        case shutdown
        /// The explanation was written (or could not be).
        case explained
        /// Sockets and buffers are released.
        case released
    }

    enum Action: Equatable {
        case none
        /// Keep the client readable and wait for `.clientSpoke`.
        case awaitFirstByte
        /// Take the snapshot or ask the connector for one.
        case requestConnectionInfo
        case startConnect
        case startHandshake
        case sendMetadataExchange
        /// Start copying in both directions.
        case startRelay
        /// Stop everything and close both sockets, for this reason.
        case tearDown(TunnelTermination)
        /// Answer the client's SSLRequest/StartupMessage with a PostgreSQL error, then report
        /// `.explained`.
        case explain(TunnelTermination)
        /// Emit the summary record and update counters.
        case report(TunnelTermination)
    }

    /// Setup and half-close bounds.
    struct Timeouts: Equatable {
        var dial: Duration = .seconds(30)
        var handshake: Duration = .seconds(10)
        var metadataExchange: Duration = .seconds(10)
        /// Bound on the time an explanation may take to reach the client.
        var explain: Duration = .seconds(5)
        /// Absolute bound on the half-closed phase; zero means none (the idle bound applies).
        var halfClose: Duration = .zero
        /// With no absolute bound: how long the remaining direction may carry no bytes once
        /// the other has ended. Zero means no bound.
        var halfCloseIdle: Duration = .seconds(5)
    }

    private(set) var state: State = .accepted
    let timeouts: Timeouts

    /// When the whole dial must be done (set when dialing starts).
    private var dialDeadline: LoopInstant?
    /// When the current phase must be done.
    private var phaseDeadline: LoopInstant?
    /// Whether the client's bytes so far are PostgreSQL startup traffic.
    private var clientSpeaksPostgres = false
    /// When the remaining direction of a half-closed tunnel last carried bytes (idle bound).
    private var lastActivity: LoopInstant?

    init(timeouts: Timeouts) {
        self.timeouts = timeouts
    }

    /// The earliest pending deadline, or nil; the owner keeps one timer armed for it.
    var deadline: LoopInstant? {
        switch (dialDeadline, phaseDeadline) {
        case (nil, nil): return nil
        case (let dial?, nil): return dial
        case (nil, let phase?): return phase
        case (let dial?, let phase?): return min(dial, phase)
        }
    }

    /// The phase the current state stands for, used in terminations.
    var phase: TunnelPhase {
        switch state {
        case .accepted: return .accept
        case .waitingForFirstByte: return .firstByte
        case .waitingForConnectionInfo: return .connectionInfo
        case .connecting: return .connect
        case .tlsHandshaking: return .handshake
        case .metadataExchange: return .metadataExchange
        case .relaying: return .relay
        case .halfClosed: return .halfClosed
        case .explainingFailure(let termination), .closing(let termination), .closed(let termination):
            return termination.phase
        }
    }

    /// True from `closing` on: the owner must not start new I/O.
    var isEnding: Bool {
        switch state {
        case .closing, .closed: return true
        default: return false
        }
    }

    /// True while bytes are relayed (in one or both directions).
    var isRelaying: Bool {
        switch state {
        case .relaying, .halfClosed: return true
        default: return false
        }
    }

    /// Records that the remaining direction of a half-closed tunnel carried bytes at `now`.
    /// Cheap (no timer change): the idle deadline moves forward when it fires. No-op in other
    /// states.
    mutating func noteActivity(now: LoopInstant) {
        guard case .halfClosed = state, lastActivity != nil else { return }
        lastActivity = now
    }

    /// Applies `event` at time `now` and returns what the owner must do next.
    mutating func handle(_ event: Event, now: LoopInstant) -> Action {
        switch event {
        case .start(let waitForFirstByte):
            guard state == .accepted else { illegal(event) }
            if waitForFirstByte {
                state = .waitingForFirstByte
                // A client that never speaks would otherwise hold a descriptor and a slot of
                // --max-connections forever; it gets the whole dial's bound to say something.
                phaseDeadline = now.advanced(by: timeouts.dial)
                return .awaitFirstByte
            }
            return beginDial(now)
        case .clientSpoke(let speaksPostgres):
            return clientSpoke(speaksPostgres, now: now)
        case .connectionInfoReady:
            guard state == .waitingForConnectionInfo else { illegal(event) }
            state = .connecting
            return .startConnect
        case .connected:
            guard state == .connecting else { illegal(event) }
            state = .tlsHandshaking
            phaseDeadline = now.advanced(by: timeouts.handshake)
            return .startHandshake
        case .handshakeCompleted:
            guard state == .tlsHandshaking else { illegal(event) }
            state = .metadataExchange
            phaseDeadline = now.advanced(by: timeouts.metadataExchange)
            return .sendMetadataExchange
        case .metadataExchangeCompleted:
            guard state == .metadataExchange else { illegal(event) }
            state = .relaying
            dialDeadline = nil
            phaseDeadline = nil
            return .startRelay
        case .streamEnded(let side):
            return streamEnded(side, now: now)
        case .failed(let party, let cause):
            return failed(party, cause: cause, now: now)
        case .deadlinePassed:
            return deadlinePassed(now)
        case .refused:
            guard state == .accepted else { illegal(event) }
            return tearDown(TunnelTermination(endedBy: .limit, phase: .accept))
        case .shutdown:
            return shutdown()
        case .explained:
            return explained()
        case .released:
            guard case .closing(let termination) = state else { illegal(event) }
            state = .closed(termination)
            return .report(termination)
        }
    }

    private mutating func clientSpoke(_ speaksPostgres: Bool, now: LoopInstant) -> Action {
        switch state {
        case .waitingForFirstByte:
            clientSpeaksPostgres = speaksPostgres
            return beginDial(now)
        case .waitingForConnectionInfo, .connecting, .tlsHandshaking, .metadataExchange:
            // The client may keep talking while the dial proceeds; its bytes are held.
            clientSpeaksPostgres = speaksPostgres
            return .none
        case .relaying, .halfClosed, .explainingFailure, .closing, .closed:
            return .none
        case .accepted:
            // Nothing is read before the tunnel starts.
            illegal(.clientSpoke(speaksPostgres: speaksPostgres))
        }
    }

    private mutating func streamEnded(_ side: Side, now: LoopInstant) -> Action {
        switch state {
        case .waitingForFirstByte where side == .client:
            // A probe that connected and left without sending anything.
            return tearDown(TunnelTermination(endedBy: .client, phase: .firstByte))
        case .relaying:
            state = .halfClosed(finished: side)
            if timeouts.halfClose > .zero {
                phaseDeadline = now.advanced(by: timeouts.halfClose)
            } else if timeouts.halfCloseIdle > .zero {
                lastActivity = now
                phaseDeadline = now.advanced(by: timeouts.halfCloseIdle)
            }
            return .none
        case .halfClosed(let finished) where finished != side:
            let first: TunnelEndedBy = finished == .client ? .client : .instance
            return tearDown(TunnelTermination(endedBy: first, phase: .halfClosed))
        case .closing, .closed:
            return .none
        case .accepted, .waitingForFirstByte, .waitingForConnectionInfo, .connecting,
            .tlsHandshaking, .metadataExchange, .halfClosed, .explainingFailure:
            // Ends are reported only while relaying, and each side ends once.
            illegal(.streamEnded(side))
        }
    }

    private mutating func failed(_ party: TunnelEndedBy, cause: String, now: LoopInstant) -> Action {
        switch state {
        case .accepted, .waitingForFirstByte, .waitingForConnectionInfo, .connecting,
            .tlsHandshaking, .metadataExchange, .relaying, .halfClosed:
            return fail(party, cause: cause, now: now)
        case .explainingFailure(let termination):
            // Telling the client failed too; close with the original cause.
            return tearDown(termination)
        case .closing, .closed:
            // Late callbacks after teardown started are expected and harmless.
            return .none
        }
    }

    private mutating func deadlinePassed(_ now: LoopInstant) -> Action {
        guard isDue(now) else { return .none }
        if case .halfClosed = state, let lastActivity {
            let idleDeadline = lastActivity.advanced(by: timeouts.halfCloseIdle)
            if idleDeadline > now {
                // Bytes flowed since the deadline was set: keep going.
                phaseDeadline = idleDeadline
                return .none
            }
        }
        switch state {
        case .waitingForConnectionInfo, .connecting, .tlsHandshaking, .metadataExchange,
            .halfClosed:
            return fail(.timeout, cause: timeoutCause(), now: now)
        case .explainingFailure(let termination):
            return tearDown(termination)
        case .waitingForFirstByte:
            // A silent client (a probe left open, say): closed quietly, no dial was made.
            return tearDown(TunnelTermination(
                endedBy: .timeout, phase: .firstByte,
                cause: "the client sent nothing for \(timeouts.dial)"))
        case .accepted, .relaying, .closing, .closed:
            // These states clear every deadline, so a due one cannot exist.
            illegal(.deadlinePassed)
        }
    }

    private mutating func shutdown() -> Action {
        switch state {
        case .closing, .closed:
            return .none
        case .explainingFailure(let termination):
            return tearDown(termination)
        case .accepted, .waitingForFirstByte, .waitingForConnectionInfo, .connecting,
            .tlsHandshaking, .metadataExchange, .relaying, .halfClosed:
            return tearDown(TunnelTermination(endedBy: .proxy, phase: phase, cause: "proxy shutting down"))
        }
    }

    private mutating func explained() -> Action {
        switch state {
        case .explainingFailure(let termination):
            return tearDown(termination)
        case .closing, .closed:
            return .none
        case .accepted, .waitingForFirstByte, .waitingForConnectionInfo, .connecting,
            .tlsHandshaking, .metadataExchange, .relaying, .halfClosed:
            // Only an explanation in progress can finish.
            illegal(.explained)
        }
    }

    private mutating func beginDial(_ now: LoopInstant) -> Action {
        state = .waitingForConnectionInfo
        dialDeadline = now.advanced(by: timeouts.dial)
        phaseDeadline = nil
        return .requestConnectionInfo
    }

    /// Setup failures become an explanation when the client speaks PostgreSQL; others tear
    /// down at once.
    private mutating func fail(_ party: TunnelEndedBy, cause: String, now: LoopInstant) -> Action {
        let termination = TunnelTermination(endedBy: party, phase: phase, cause: cause)
        if clientSpeaksPostgres && termination.isSetupFailure && party != .client {
            state = .explainingFailure(termination)
            dialDeadline = nil
            phaseDeadline = now.advanced(by: timeouts.explain)
            return .explain(termination)
        }
        return tearDown(termination)
    }

    private mutating func tearDown(_ termination: TunnelTermination) -> Action {
        state = .closing(termination)
        dialDeadline = nil
        phaseDeadline = nil
        return .tearDown(termination)
    }

    private func isDue(_ now: LoopInstant) -> Bool {
        guard let deadline else { return false }
        return now >= deadline
    }

    /// The log text for a timeout in the current phase.
    private func timeoutCause() -> String {
        switch state {
        case .tlsHandshaking where phaseDeadline == deadline: return "TLS handshake timed out"
        case .metadataExchange where phaseDeadline == deadline: return "metadata exchange timed out"
        case .halfClosed(let finished) where lastActivity != nil:
            let quiet = finished == .client ? "the instance" : "the client"
            let ended = finished == .client ? "the client" : "the instance"
            return "\(quiet) sent nothing for \(GoDuration.format(timeouts.halfCloseIdle)) "
                + "after \(ended) ended its stream"
        case .halfClosed: return "half-closed tunnel timed out"
        default: return "dial timed out after \(GoDuration.format(timeouts.dial))"
        }
    }

    private func illegal(_ event: Event) -> Never {
        preconditionFailure("tunnel state machine: event \(event) is illegal in state \(state)")
    }
}
