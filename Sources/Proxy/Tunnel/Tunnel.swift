import Connector
import EventLoop
import TLS

/// One client connection and its TLS tunnel to the instance, driven by the loop.
///
/// Setup: (wait for the client's first byte) -> take the instance's snapshot without a lock, or
/// ask the connector when there is none or its certificate has expired -> non-blocking TCP
/// connect to `<address>:5433` -> TLS 1.3 handshake verifying the dialled address -> metadata
/// exchange with the snapshot's token -> relay. TCP and TLS failures force a refresh.
///
/// The lifecycle lives in `TunnelStateMachine`; this class performs its actions. Relaying is in
/// `Tunnel+Relay.swift`, the PostgreSQL error reply in `Tunnel+Explanation.swift`.
///
/// Loop thread only. Owned by `TunnelContext.tunnels` from `start()` to teardown; loop
/// registrations and timers keep it alive only while they exist.
final class Tunnel {
    let id: UInt64
    let route: InstanceRoute
    /// The server's shared state; it outlives every tunnel.
    unowned let context: TunnelContext
    let client: Socket
    let clientPeer: String
    let startedAt: LoopInstant
    var machine: TunnelStateMachine

    var clientRegistration: Registration?
    var clientInterest: Interest = []
    var upstream: Socket?
    var upstreamRegistration: Registration?
    var upstreamInterest: Interest = []
    var dialAddress = ""

    var snapshot: InstanceSnapshot?
    var tls: TLSConnection?
    var metadataDecoder = MetadataExchangeDecoder()
    private var timer: TimerHandle?
    private var timerDeadline: LoopInstant?

    /// Client bytes held until the relay starts (or for the PostgreSQL error reply).
    var fromClient: ByteBuffer?
    /// Plaintext not yet written to the client.
    var toClient: ByteBuffer?
    /// The last write to the instance would have blocked.
    var instanceWriteBlocked = false

    /// The client's FIN was read.
    var clientReadEnded = false
    /// The instance's close_notify (or EOF) was read.
    var instanceReadEnded = false
    /// The instance's TCP stream reached EOF (possibly before TLS saw it).
    var instanceTransportEnded = false
    /// `.streamEnded(.client)` was sent: close_notify has left for the instance.
    var clientDirectionReported = false
    /// close_notify was queued to the instance.
    var instanceWriteEnded = false
    /// FIN was sent to the client.
    var clientWriteEnded = false
    /// A PostgreSQL error reply is queued; the client's write side closes after it.
    var explanationQueued = false
    /// The client socket hung up in both directions: nothing more can be delivered to it.
    var clientGone = false
    /// The instance socket hung up in both directions: nothing more can be sent to it.
    var instanceGone = false

    var bytesToInstance: UInt64 = 0
    var bytesToClient: UInt64 = 0

    init(id: UInt64, route: InstanceRoute, client: Socket, context: TunnelContext) {
        self.id = id
        self.route = route
        self.client = client
        self.context = context
        clientPeer = client.peerAddress?.description ?? "unix socket"
        startedAt = context.loop.clock.now()
        machine = TunnelStateMachine(timeouts: context.settings.timeouts)
    }

    var loop: EventLoop { context.loop }
    var logger: ProxyLogger { context.logger }
    var settings: TunnelSettings { context.settings }

    // MARK: Driving the state machine

    /// Registers the client socket and starts the lifecycle; `refused` ends it at once.
    func start(refused: Bool) {
        context.tunnels[id] = self
        context.counters.open += 1
        do {
            clientRegistration = try loop.register(
                fd: client.fileDescriptor,
                interest: [],
                handler: TunnelEndpoint(tunnel: self, side: .client)
            )
        } catch {
            send(.failed(.proxy, cause: "could not register client socket: \(error)"))
            return
        }
        send(refused ? .refused : .start(waitForFirstByte: settings.waitForFirstByte))
    }

    /// Feeds `event` to the machine, performs the resulting action, then re-arms the timer and
    /// the socket interests to match the new state.
    func send(_ event: TunnelStateMachine.Event) {
        let action = machine.handle(event, now: loop.clock.now())
        perform(action)
        guard !machine.isEnding else { return }
        syncTimer()
        updateInterest()
    }

    private func perform(_ action: TunnelStateMachine.Action) {
        switch action {
        case .none, .awaitFirstByte:
            break
        case .requestConnectionInfo:
            obtainConnectionInfo()
        case .startConnect:
            connect()
        case .startHandshake:
            beginHandshake()
        case .sendMetadataExchange:
            sendMetadataExchange()
        case .startRelay:
            startRelay()
        case .explain:
            progressExplanation()
        case .tearDown(let termination):
            tearDown(termination)
        case .report(let termination):
            report(termination)
        }
    }

    /// Keeps one loop timer armed for the machine's earliest deadline.
    private func syncTimer() {
        let wanted = machine.deadline
        guard wanted != timerDeadline else { return }
        if let timer {
            _ = loop.cancel(timer)
        }
        timer = nil
        timerDeadline = wanted
        if let wanted {
            timer = loop.schedule(at: wanted) { [weak self] in
                guard let self else { return }
                self.timer = nil
                self.timerDeadline = nil
                self.send(.deadlinePassed)
            }
        }
    }

    /// Cancels the pending deadline timer, if any.
    func cancelTimer() {
        if let timer {
            _ = loop.cancel(timer)
        }
        timer = nil
        timerDeadline = nil
    }

    // MARK: Connection info

    /// Uses the current snapshot when it is still valid; otherwise asks the connector and
    /// continues when its answer has been re-posted to the loop.
    private func obtainConnectionInfo() {
        let now = context.wallClock()
        let current = context.source.current(for: route.handle)
        if let current, current.isValid(at: now) {
            snapshot = current
            send(.connectionInfoReady)
            return
        }
        // An expired certificate (e.g. after a laptop sleep) needs a forced refresh.
        requestInfo(forceRefresh: current != nil)
    }

    private func requestInfo(forceRefresh: Bool) {
        let reference = WeakTunnelReference(self)
        let executor = loop.executor
        context.source.requestInfo(for: route.handle, forceRefresh: forceRefresh) { result in
            executor.execute {
                reference.tunnel?.connectionInfoArrived(result)
            }
        }
    }

    private func connectionInfoArrived(_ result: Result<InstanceSnapshot, ConnectorError>) {
        guard machine.state == .waitingForConnectionInfo else { return }
        switch result {
        case .success(let fresh):
            snapshot = fresh
            send(.connectionInfoReady)
        case .failure(let error):
            send(.failed(.proxy, cause: error.description))
        }
    }

    /// Asks the connector for new connection info after a TCP or TLS failure (the cached
    /// address or CA may be stale); the answer is not waited for.
    func forceRefresh() {
        context.counters.forcedRefreshes += 1
        context.source.requestInfo(for: route.handle, forceRefresh: true) { _ in }
    }

    // MARK: TCP

    private func connect() {
        guard let snapshot else { preconditionFailure("connect without a snapshot") }
        dialAddress = snapshot.dialAddress
        if IPAddressText.isLiteral(dialAddress) {
            connect(toIP: dialAddress)
            return
        }
        // A PSC name is resolved on the refresh side; a lookup here is only the fallback for
        // snapshots built without one, so the loop never waits on DNS in the normal case.
        if let resolved = snapshot.resolvedIP, IPAddressText.isLiteral(resolved) {
            connect(toIP: resolved)
            return
        }
        let reference = WeakTunnelReference(self)
        let executor = loop.executor
        HostResolver.resolve(dialAddress) { resolved in
            executor.execute {
                reference.tunnel?.resolved(resolved)
            }
        }
    }

    private func resolved(_ result: Result<String, HostResolver.Failure>) {
        guard machine.state == .connecting else { return }
        switch result {
        case .success(let ip):
            connect(toIP: ip)
        case .failure(let failure):
            forceRefresh()
            send(.failed(.instance, cause: "failed to dial \(dialAddress): \(failure)"))
        }
    }

    private func connect(toIP ip: String) {
        do {
            let address = try SocketAddress(ip: ip, port: settings.instancePort)
            let socket = try Socket(family: address.family)
            try Self.tune(socket)
            upstream = socket
            let result = try socket.connect(to: address)
            upstreamRegistration = try loop.register(
                fd: socket.fileDescriptor,
                interest: [],
                handler: TunnelEndpoint(tunnel: self, side: .instance)
            )
            if result == .connected {
                send(.connected)
            }
        } catch {
            connectFailed(error)
        }
    }

    /// Completes an in-progress connect once the socket is writable.
    func finishConnect() {
        do {
            try upstream?.finishConnect()
            send(.connected)
        } catch {
            connectFailed(error)
        }
    }

    private func connectFailed(_ error: any Error) {
        forceRefresh()
        let port = settings.instancePort
        send(.failed(.instance, cause: "failed to dial \(dialAddress):\(port): "
            + "\(Self.describe(error)); \(Self.reachabilityHint(port: port))"))
    }

    /// What to check when the instance cannot be reached.
    static func reachabilityHint(port: Int) -> String {
        "check that this machine can reach the instance's IP address on TCP port \(port) "
            + "(private IP needs a network path into the instance's VPC; firewalls must allow "
            + "port \(port))"
    }

    /// TCP_NODELAY and 30 s keepalive, as on the client leg.
    static func tune(_ socket: Socket) throws {
        try socket.setNoDelay()
        try socket.setKeepAlive(idle: .seconds(30), interval: .seconds(30), count: 9)
    }

    // MARK: TLS and metadata exchange

    private func beginHandshake() {
        guard let snapshot else { preconditionFailure("handshake without a snapshot") }
        do {
            tls = try TLSConnection(
                context: snapshot.tlsContext,
                role: .client(ServerIdentity(host: snapshot.dialAddress))
            )
        } catch {
            send(.failed(.proxy, cause: "could not start TLS: \(error)"))
            return
        }
        driveHandshake()
    }

    /// Advances the handshake with whatever ciphertext has arrived.
    func driveHandshake() {
        guard let tls else { return }
        let result = tls.handshake()
        flushToInstance()
        guard !machine.isEnding else { return }
        switch result {
        case .complete:
            send(.handshakeCompleted)
        case .wantMore:
            if instanceTransportEnded {
                forceRefresh()
                send(.failed(.instance, cause: "handshake failed: EOF from \(dialAddress)"))
            }
        case .failed(let error):
            forceRefresh()
            send(.failed(.instance, cause: "handshake with \(dialAddress) failed: \(error)"))
        }
    }

    private func sendMetadataExchange() {
        guard let tls, let snapshot else { preconditionFailure("MDX without TLS") }
        let frame = snapshot.metadataExchangeRequest(
            userAgent: settings.metadataExchangeUserAgent
        ).encodeFrame()
        let written = frame.withUnsafeBytes { tls.write($0) }
        guard written == .bytes(frame.count) else {
            send(.failed(.instance, cause: "could not send the metadata exchange request"))
            return
        }
        flushToInstance()
        guard !machine.isEnding else { return }
        readMetadataExchange()
    }

    /// Decrypts what has arrived and feeds the MDX decoder; on OK, plaintext after the
    /// response (if any) is the start of the PostgreSQL stream.
    func readMetadataExchange() {
        guard let tls else { return }
        let scratch = context.scratch
        while machine.state == .metadataExchange {
            let result = scratch.withUnsafeWritableBytes { tls.read(into: $0) }
            switch result {
            case .bytes(let count):
                let bytes = scratch.withUnsafeWritableBytes {
                    UnsafeRawBufferPointer(rebasing: $0[0..<count])
                }
                metadataBytesArrived(bytes)
            case .wantMore:
                flushToInstance()
                return
            case .closed, .endOfStream:
                send(.failed(.instance, cause: "metadata exchange failed: the instance closed the connection"))
            case .failed(let error):
                send(.failed(.instance, cause: "metadata exchange failed: \(error)"))
            }
        }
    }

    private func metadataBytesArrived(_ bytes: UnsafeRawBufferPointer) {
        let progress: MetadataExchangeDecoder.Progress
        do {
            progress = try metadataDecoder.feed(bytes)
        } catch {
            send(.failed(.instance, cause: "metadata exchange failed: \(error)"))
            return
        }
        guard case .complete(let response, let consumed) = progress else { return }
        guard response.isOK else {
            let text = response.error.isEmpty ? "response code \(response.responseCode)" : response.error
            send(.failed(.instance, cause: "metadata exchange failed: \(text)"))
            return
        }
        if consumed < bytes.count {
            queueToClient(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
        }
        send(.metadataExchangeCompleted)
    }
}

/// Carries a tunnel through another thread and back to the loop without retaining it.
///
/// `@unchecked Sendable`: the weak reference is only dereferenced on the loop thread (inside
/// `executor.execute`); other threads only retain and release the box itself.
final class WeakTunnelReference: @unchecked Sendable {
    weak var tunnel: Tunnel?

    init(_ tunnel: Tunnel) {
        self.tunnel = tunnel
    }
}
