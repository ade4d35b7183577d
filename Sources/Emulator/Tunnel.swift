import EventLoop
import Foundation
import TLS

/// The server side of one connection to an instance endpoint: TLS 1.3 handshake with a
/// required client certificate, the metadata exchange (unless the endpoint runs without it),
/// the AUTO_IAM login check, then a relay between the TLS session and the backend socket.
///
/// The phases live in `TunnelMachine` and the relay's flow control in `RelayFlow`, both pure;
/// this class performs their decisions on the sockets and OpenSSL. Loop thread only; owned by
/// its `IOHandler` registrations and the endpoint's tunnel table.
final class Tunnel {
    /// What the tunnel needs from its endpoint; all immutable or thread-safe.
    struct Environment {
        let instance: InstanceSpec
        let backend: BackendTarget
        let tokens: TokenStore
        let faults: FaultSwitches
        let events: EventLog
        /// False when the instance runs without the metadata exchange (`mdx=off`).
        let usesMetadataExchange: Bool
        let onClose: (Tunnel) -> Void
    }

    static let bufferSize = 64 * 1024
    private static let handshakeTimeout: Duration = .seconds(30)

    unowned let loop: EventLoop
    let environment: Environment
    let tls: TLSConnection
    let client: Socket
    var clientRegistration: Registration?
    var backend: Socket?
    var backendRegistration: Registration?
    var localBackend: LocalBackend?
    var deadline: TimerHandle?
    /// The handshake-delay fault: the client is not read until this fires.
    var startDelay: TimerHandle?

    var machine: TunnelMachine
    /// Plaintext received before the relay starts (MDX request, PostgreSQL startup).
    private var inbound: [UInt8] = []
    let toBackend = ByteBuffer(capacity: Tunnel.bufferSize)
    let toClient = ByteBuffer(capacity: Tunnel.bufferSize)
    let ciphertextOut = ByteBuffer(capacity: Tunnel.bufferSize)
    let scratch = ByteBuffer(capacity: 16 * 1024 + 512)

    var clientSocketEnded = false
    /// OpenSSL may hold received ciphertext not yet decrypted.
    var tlsHoldsInput = false
    var clientDataEnded = false
    /// The client's transport ended without close_notify: OpenSSL has failed the session (and
    /// queued an alert we drop), so nothing more can be sent to the client.
    var clientTruncated = false
    var clientBlocked = false
    var backendBlocked = false
    var backendDataEnded = false
    var backendWriteShut = false
    var closeNotifyQueued = false
    var clientWriteShut = false
    var mdxLogged = false
    /// No-MDX endpoints: whether the connection's first bytes were checked for an SSLRequest.
    private var sslRequestChecked = false
    private var preface: [UInt8] = []
    private var dropAfterBytes: Int?
    private var dropMode = FaultSwitches.CloseMode.fin

    var bytesIn = 0
    var bytesOut = 0

    init(client: Socket, context: TLSContext, loop: EventLoop, environment: Environment) throws {
        self.client = client
        self.loop = loop
        self.environment = environment
        self.machine = TunnelMachine(usesMetadataExchange: environment.usesMetadataExchange)
        self.tls = try TLSConnection(context: context, role: .server)
        try? client.setNoDelay()
        let delay = environment.faults.snapshot.handshakeDelayMilliseconds
        clientRegistration = try loop.register(
            fd: client.fileDescriptor, interest: delay > 0 ? [] : .readable,
            handler: Side(self, isClient: true))
        deadline = loop.schedule(after: Tunnel.handshakeTimeout) { [weak self] in
            self?.apply(.deadlineExpired)
        }
        if delay > 0 {
            startDelay = loop.schedule(after: .milliseconds(delay)) { [weak self] in
                guard let self else { return }
                self.startDelay = nil
                self.progress()
            }
        }
    }

    /// Routes readiness from one of the two sockets to the tunnel.
    final class Side: IOHandler {
        let tunnel: Tunnel
        let isClient: Bool
        init(_ tunnel: Tunnel, isClient: Bool) {
            self.tunnel = tunnel
            self.isClient = isClient
        }
        func handle(_ events: IOEvents) {
            tunnel.handle(events, fromClient: isClient)
        }
    }

    // MARK: Events

    private func handle(_ events: IOEvents, fromClient: Bool) {
        guard machine.state != .closed else { return }
        let input = !events.isDisjoint(with: [.readable, .readHangup, .hangup, .error])
        do {
            if fromClient {
                if events.contains(.writable) { clientBlocked = false }
                if input { try readClient() }
            } else {
                if machine.state == .connectingBackend,
                    !events.isDisjoint(with: [.writable, .error, .hangup])
                {
                    try backend?.finishConnect()
                    apply(.backendConnected)
                }
                if events.contains(.writable) { backendBlocked = false }
                if input { try readBackend() }
            }
        } catch {
            apply(.failed("\(error)"))
        }
        progress()
    }

    /// Feeds `event` to the machine and performs the resulting actions.
    func apply(_ event: TunnelMachine.Event) {
        for action in machine.handle(event) {
            do {
                try perform(action)
            } catch {
                apply(.failed("\(error)"))
                return
            }
        }
    }

    private func perform(_ action: TunnelMachine.Action) throws {
        switch action {
        case .sendMetadataOK:
            try writePlaintext(MetadataExchange.okResponse())
        case .sendMetadataError(let message):
            try writePlaintext(MetadataExchange.errorResponse(message))
            tls.shutdown()
        case .sendGarbage:
            // A frame whose body is a truncated varint: no client can decode it.
            try writePlaintext([0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
            tls.shutdown()
        case .sendPostgresError(let message):
            logLogin(refused: message)
            try writePlaintext(PostgresStartup.fatalError(message))
            tls.shutdown()
        case .connectBackend:
            try connectBackend()
        case .startRelay:
            if let deadline { loop.cancel(deadline) }
            deadline = nil
            toBackend.append(inbound)
            inbound = []
            let faults = environment.faults.snapshot
            dropAfterBytes = faults.dropAfterBytes
            dropMode = faults.dropMode
            if !environment.usesMetadataExchange { logTunnel(nil, outcome: "off") }
        case .close(let mode, let reason):
            shutDown(mode: mode, reason: reason)
        }
    }

    /// Makes every step possible now (following phase changes), then sets the interests.
    func progress() {
        var previous: TunnelMachine.State?
        while machine.state != previous && machine.state != .closed {
            previous = machine.state
            do {
                try step()
            } catch {
                apply(.failed("\(error)"))
            }
        }
        guard machine.state != .closed else { return }
        updateInterests()
    }

    private func step() throws {
        switch machine.state {
        case .handshaking:
            try handshake()
        case .exchangingMetadata:
            try exchangeMetadata()
        case .checkingLogin:
            try checkLogin()
        case .relaying:
            try relay()
            if let limit = dropAfterBytes, bytesIn + bytesOut >= limit {
                apply(.dropRequested(dropMode, reason: "dropped after \(limit) bytes (fault)"))
            }
            return
        case .hanging:
            var sink: [UInt8] = []
            if try readPlaintext(into: &sink, limit: 64 * 1024) { apply(.relayFinished) }
        case .connectingBackend, .draining, .closed:
            break
        }
        guard machine.state != .closed else { return }
        try flushClient()
        if machine.state == .draining && ciphertextLevel == 0 {
            apply(.finalMessageSent)
        }
    }

    // MARK: Reading

    private func readClient() throws {
        guard !clientSocketEnded, startDelay == nil else { return }
        guard !tlsHoldsInput || machine.state != .relaying else { return }
        for _ in 0..<EventLoop.maxReadsPerEvent {
            scratch.clear()
            switch try scratch.read(from: client) {
            case .processed:
                if machine.state == .handshaking
                    && environment.faults.snapshot.handshake == .closeBeforeServerHello
                {
                    return apply(.dropRequested(.fin, reason: "closed before ServerHello (fault)"))
                }
                if !sslRequestChecked && !environment.usesMetadataExchange {
                    guard try answerSSLRequest() else { continue }
                }
                scratch.withUnsafeReadableBytes { tls.receiveCiphertext($0) }
                tlsHoldsInput = true
                if machine.state == .relaying { return }
            case .wouldBlock:
                return
            case .eof:
                clientSocketEnded = true
                tls.receiveEndOfStream()
                tlsHoldsInput = true
                return
            }
        }
    }

    /// No-MDX endpoints act like a PostgreSQL server for libpq's usual preface: a plaintext
    /// SSLRequest is answered `S` and TLS follows. Collects up to 8 bytes in `preface`; returns
    /// true when `scratch` holds bytes for TLS (the preface was not an SSLRequest, or the rest
    /// after it), false when more bytes are needed first.
    private func answerSSLRequest() throws -> Bool {
        let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
        preface += scratch.readBytes(scratch.readableBytes) ?? []
        let compared = min(preface.count, 8)
        if Array(preface.prefix(compared)) == Array(sslRequest.prefix(compared)) {
            guard preface.count >= 8 else { return false }
            preface.removeFirst(8)
            let reply: [UInt8] = [UInt8(ascii: "S")]
            // The first byte on a fresh socket: its send buffer is empty, so it cannot block.
            guard case .processed(1) = try reply.withUnsafeBytes({ try client.write($0) }) else {
                throw EmulatorError(.network, "cannot answer the SSLRequest")
            }
        }
        sslRequestChecked = true
        scratch.clear()
        scratch.append(preface)
        preface = []
        return true
    }

    private func readBackend() throws {
        guard let backend, machine.state == .relaying, !backendDataEnded else { return }
        for _ in 0..<EventLoop.maxReadsPerEvent {
            makeRoom(toClient)
            guard toClient.writableBytes > 0, ciphertextLevel < RelayFlow.ciphertextHighWater else {
                return
            }
            switch try toClient.read(from: backend) {
            case .processed(let count):
                bytesOut += count
            case .wouldBlock:
                return
            case .eof:
                backendDataEnded = true
                return
            }
        }
    }

    /// Decrypts into `buffer` up to `limit` bytes; true when the client's data has ended.
    func readPlaintext(into buffer: inout [UInt8], limit: Int) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.count < limit {
            let result = chunk.withUnsafeMutableBytes { tls.read(into: $0) }
            switch result {
            case .bytes(let count): buffer.append(contentsOf: chunk[0..<count])
            case .wantMore:
                tlsHoldsInput = false
                return clientSocketEnded
            case .closed, .endOfStream: return true
            case .failed(let error): throw error
            }
        }
        return false
    }

    // MARK: Handshake, metadata exchange, login

    private func handshake() throws {
        switch tls.handshake() {
        case .complete:
            apply(.handshakeCompleted)
        case .wantMore:
            tlsHoldsInput = false
            if clientSocketEnded { apply(.failed("the client closed during the TLS handshake")) }
        case .failed(let error):
            try? flushClient()
            apply(.failed("TLS handshake failed: \(error)"))
        }
    }

    private func exchangeMetadata() throws {
        let ended = try readPlaintext(
            into: &inbound, limit: 4 + MetadataExchange.maximumMessageLength + 1)
        let length: Int
        let request: MetadataExchange.Request
        do {
            guard case .complete(let found) = try MetadataExchange.frame(in: inbound) else {
                if ended { apply(.failed("the client closed before completing the metadata exchange")) }
                return
            }
            length = found
            request = try MetadataExchange.decodeRequest(inbound[4..<4 + length])
        } catch {
            logTunnel(nil, outcome: "error: \(error)")
            return apply(.metadataReceived(.refuse("\(error)")))
        }
        inbound.removeFirst(4 + length)
        clientDataEnded = ended
        let verdict = MetadataPolicy(tokens: environment.tokens, faults: environment.faults)
            .verdict(for: request)
        logTunnel(request, outcome: MetadataPolicy.outcome(verdict))
        apply(.metadataReceived(verdict))
    }

    /// AUTO_IAM: reads the PostgreSQL startup packet (answering SSLRequest with `N`).
    private func checkLogin() throws {
        let ended = try readPlaintext(into: &inbound, limit: PostgresStartup.maximumLength + 8)
        while case .checkingLogin = machine.state {
            switch try PostgresStartup.parse(inbound) {
            case .incomplete:
                if ended { apply(.failed("the client closed before sending its startup packet")) }
                return
            case .encryptionRequest:
                inbound.removeFirst(8)
                try writePlaintext([UInt8(ascii: "N")])
            case .cancelRequest:
                clientDataEnded = ended
                apply(.startupReceived(user: nil))
            case .startup(_, let parameters):
                clientDataEnded = ended
                apply(.startupReceived(user: parameters["user"] ?? ""))
            }
        }
    }

    private func connectBackend() throws {
        let socket: Socket
        var connected = true
        switch environment.backend {
        case .address(let address):
            socket = try Socket(family: address.family)
            connected = try socket.connect(to: address) == .connected
            try? socket.setNoDelay()
        case .local(let kind):
            let (mine, theirs) = try Socket.makePair()
            localBackend = try LocalBackend(kind: kind, socket: theirs, loop: loop)
            socket = mine
        }
        backend = socket
        backendRegistration = try loop.register(
            fd: socket.fileDescriptor, interest: .writable, handler: Side(self, isClient: false))
        if connected { apply(.backendConnected) }
    }

    func writePlaintext(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let result = bytes[offset...].withUnsafeBytes { tls.write($0) }
            switch result {
            case .bytes(let count): offset += count
            case .wantMore: throw TLSError(.connectionFailed, operation: "write during handshake")
            case .failed(let error): throw error
            }
        }
    }
}
