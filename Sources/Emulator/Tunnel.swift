import EventLoop
import Foundation
import TLS

/// The server side of one connection to an instance endpoint: TLS 1.3 handshake with a
/// required client certificate, the metadata exchange, then a relay between the TLS session
/// and the backend socket.
///
/// Phases (each moves only forward):
///
///     handshaking ─> exchangingMetadata ─> connectingBackend ─> relaying ─> closed
///          │                 ├─ (error reply) ─> draining ─> closed
///          └─────────────────┴─ any failure ─> closed
///
/// Relay: plaintext from TLS goes to `toBackend`, backend bytes go to `toClient` and through
/// TLS into `ciphertextOut`. A side is read only while the buffer it fills has room (and, for
/// the client, while OpenSSL holds no unread ciphertext), so memory stays bounded. An end of
/// stream is passed on once the buffer in that direction is drained: client close_notify or
/// FIN becomes `shutdown(SHUT_WR)` to the backend, backend FIN becomes close_notify plus FIN
/// to the client. Loop thread only; owned by its two `IOHandler` registrations.
final class Tunnel {
    enum Phase: Equatable {
        case handshaking
        case exchangingMetadata
        case connectingBackend
        case relaying
        /// Sending a final message (an MDX error) before closing.
        case draining
        /// The MDX fault `hang`: read and discard until the client gives up.
        case hanging
        case closed
    }

    /// What the tunnel needs from its endpoint; all immutable or thread-safe.
    struct Environment {
        let instance: InstanceSpec
        let backend: BackendTarget
        let tokens: TokenStore
        let faults: FaultSwitches
        let events: EventLog
        let onClose: (Tunnel) -> Void
    }

    private static let bufferSize = 64 * 1024
    private static let ciphertextHighWater = 64 * 1024
    private static let handshakeTimeout: Duration = .seconds(30)

    private unowned let loop: EventLoop
    private let environment: Environment
    private let tls: TLSConnection
    private let client: Socket
    private var clientRegistration: Registration?
    private var backend: Socket?
    private var backendRegistration: Registration?
    private var localBackend: LocalBackend?
    private var deadline: TimerHandle?

    private(set) var phase = Phase.handshaking
    private var metadata: [UInt8] = []
    private let toBackend = ByteBuffer(capacity: Tunnel.bufferSize)
    private let toClient = ByteBuffer(capacity: Tunnel.bufferSize)
    private let ciphertextOut = ByteBuffer(capacity: Tunnel.bufferSize)
    private let scratch = ByteBuffer(capacity: 16 * 1024 + 512)

    private var clientSocketEnded = false
    /// OpenSSL may hold received ciphertext not yet decrypted.
    private var tlsHoldsInput = false
    private var clientDataEnded = false
    /// The client's transport ended without close_notify: OpenSSL has failed the session (and
    /// queued an alert we drop), so nothing more can be sent to the client.
    private var clientTruncated = false
    private var backendDataEnded = false
    private var backendWriteShut = false
    private var closeNotifyQueued = false
    private var clientWriteShut = false
    private var mdxLogged = false
    private var dropAfterBytes: Int?

    private(set) var bytesIn = 0
    private(set) var bytesOut = 0

    init(client: Socket, context: TLSContext, loop: EventLoop, environment: Environment) throws {
        self.client = client
        self.loop = loop
        self.environment = environment
        self.tls = try TLSConnection(context: context, role: .server)
        try? client.setNoDelay()
        clientRegistration = try loop.register(
            fd: client.fileDescriptor, interest: .readable, handler: Side(self, isClient: true))
        deadline = loop.schedule(after: Tunnel.handshakeTimeout) { [weak self] in
            guard let self, self.phase == .handshaking || self.phase == .exchangingMetadata else {
                return
            }
            self.fail("the handshake and metadata exchange took longer than 30 s")
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
        guard phase != .closed else { return }
        do {
            if fromClient {
                if events.contains(.writable) { try flushClient() }
                if !events.isDisjoint(with: [.readable, .readHangup, .hangup, .error]) {
                    try readClient()
                }
            } else {
                if phase == .connectingBackend, !events.isDisjoint(with: [.writable, .error, .hangup]) {
                    try backend?.finishConnect()
                    phase = .relaying
                }
                if !events.isDisjoint(with: [.readable, .readHangup, .hangup, .error]) {
                    try readBackend()
                }
            }
            try pump()
        } catch {
            fail("\(error)")
        }
    }

    private func readClient() throws {
        guard !clientSocketEnded, !tlsHoldsInput || phase != .relaying else { return }
        for _ in 0..<EventLoop.maxReadsPerEvent {
            scratch.clear()
            switch try scratch.read(from: client) {
            case .processed:
                scratch.withUnsafeReadableBytes { tls.receiveCiphertext($0) }
                tlsHoldsInput = true
                if phase == .relaying { return }
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

    private func readBackend() throws {
        guard let backend, phase == .relaying, !backendDataEnded else { return }
        for _ in 0..<EventLoop.maxReadsPerEvent {
            _ = toClient.compactIfWorthwhile()
            guard toClient.writableBytes > 0, !ciphertextFull else { return }
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

    private var ciphertextFull: Bool {
        tls.pendingCiphertextCount + ciphertextOut.readableBytes >= Tunnel.ciphertextHighWater
    }

    // MARK: Progress

    /// Makes every step that is possible now, then sets the sockets' interests.
    private func pump() throws {
        switch phase {
        case .handshaking:
            try handshake()
        case .exchangingMetadata:
            try exchangeMetadata()
        case .relaying:
            try relay()
        case .hanging:
            try discardInput()
        case .connectingBackend, .draining, .closed:
            break
        }
        guard phase != .closed else { return }
        try flushClient()
        if phase == .draining && ciphertextOut.isEmpty && tls.pendingCiphertextCount == 0 {
            close()
            return
        }
        if phase == .relaying && clientDataEnded && backendDataEnded && clientWriteShut
            && backendWriteShut
        {
            close()
            return
        }
        if phase == .relaying && clientTruncated && backendWriteShut {
            close()
            return
        }
        if let limit = dropAfterBytes, bytesIn + bytesOut >= limit {
            fail("dropped after \(limit) bytes by the dropAfterBytes fault")
            return
        }
        updateInterests()
    }

    private func handshake() throws {
        switch tls.handshake() {
        case .complete:
            phase = .exchangingMetadata
            try exchangeMetadata()
        case .wantMore:
            tlsHoldsInput = false
            if clientSocketEnded { fail("the client closed during the TLS handshake") }
        case .failed(let error):
            try? flushClient()
            fail("TLS handshake failed: \(error)")
        }
    }

    private func readPlaintext(into buffer: inout [UInt8], limit: Int) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.count < limit {
            let result = chunk.withUnsafeMutableBytes { tls.read(into: $0) }
            switch result {
            case .bytes(let count): buffer.append(contentsOf: chunk[0..<count])
            case .wantMore:
                tlsHoldsInput = false
                return false
            case .closed, .endOfStream: return true
            case .failed(let error): throw error
            }
        }
        return false
    }

    private func exchangeMetadata() throws {
        let ended = try readPlaintext(
            into: &metadata, limit: 4 + MetadataExchange.maximumMessageLength + 1)
        let length: Int
        do {
            guard case .complete(let found) = try MetadataExchange.frame(in: metadata) else {
                if ended { fail("the client closed before completing the metadata exchange") }
                return
            }
            length = found
        } catch {
            return refuse(request: nil, "\(error)")
        }
        let request: MetadataExchange.Request
        do {
            request = try MetadataExchange.decodeRequest(metadata[4..<4 + length])
        } catch {
            return refuse(request: nil, "\(error)")
        }
        toBackend.append(metadata[(4 + length)...])
        metadata = []
        clientDataEnded = ended
        try answer(request)
    }

    /// Checks the token and applies the MDX fault switch.
    private func answer(_ request: MetadataExchange.Request) throws {
        if case .failure(let rejection) = environment.tokens.validate(request.oauth2Token) {
            let reason = rejection == .expired ? "the OAuth2 token has expired"
                : "the OAuth2 token was not issued by this emulator"
            return refuse(request: request, reason)
        }
        switch environment.faults.metadataExchange {
        case .error(let message):
            return refuse(request: request, message)
        case .hang:
            logTunnel(request, outcome: "error: hang (fault)")
            phase = .hanging
            return
        case .close:
            logTunnel(request, outcome: "error: close (fault)")
            return close()
        case .none:
            break
        }
        logTunnel(request, outcome: "ok")
        try writePlaintext(MetadataExchange.okResponse())
        dropAfterBytes = environment.faults.dropAfterBytes
        if let deadline { loop.cancel(deadline) }
        deadline = nil
        try connectBackend()
    }

    private func refuse(request: MetadataExchange.Request?, _ reason: String) {
        logTunnel(request, outcome: "error: \(reason)")
        do {
            try writePlaintext(MetadataExchange.errorResponse(reason))
            tls.shutdown()
            phase = .draining
        } catch {
            fail("\(error)")
        }
    }

    private func logTunnel(_ request: MetadataExchange.Request?, outcome: String) {
        mdxLogged = true
        environment.events.record([
            ("event", "tunnel"),
            ("instance", .string(environment.instance.uri)),
            ("tlsVersion", .string(tls.negotiatedVersion)),
            ("cipher", .string(tls.cipherName)),
            ("clientCertSerial", .string(tls.peerCertificate?.serialNumberHex ?? "")),
            ("authType", .string(request?.authType.description ?? "")),
            ("userAgent", .string(request?.userAgent ?? "")),
            ("mdx", .string(outcome)),
        ])
    }

    private func connectBackend() throws {
        let socket: Socket
        switch environment.backend {
        case .address(let address):
            socket = try Socket(family: address.family)
            let result = try socket.connect(to: address)
            phase = result == .connected ? .relaying : .connectingBackend
            try? socket.setNoDelay()
        case .local(let kind):
            let (mine, theirs) = try Socket.makePair()
            localBackend = try LocalBackend(kind: kind, socket: theirs, loop: loop)
            socket = mine
            phase = .relaying
        }
        backend = socket
        backendRegistration = try loop.register(
            fd: socket.fileDescriptor, interest: .writable, handler: Side(self, isClient: false))
    }

    private func writePlaintext(_ bytes: [UInt8]) throws {
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

    private func discardInput() throws {
        var sink: [UInt8] = []
        if try readPlaintext(into: &sink, limit: 64 * 1024) { close() }
    }

    // MARK: Relay

    private func relay() throws {
        try decryptToBackend()
        try flushBackend()
        try encryptToClient()
    }

    /// Moves plaintext from TLS into `toBackend` while it has room.
    private func decryptToBackend() throws {
        while !clientDataEnded {
            _ = toBackend.compactIfWorthwhile()
            guard toBackend.writableBytes > 0 else { return }
            let result = toBackend.withUnsafeWritableBytes { tls.read(into: $0) }
            switch result {
            case .bytes(let count):
                toBackend.moveWriterIndex(forwardBy: count)
                bytesIn += count
            case .wantMore:
                tlsHoldsInput = false
                return
            case .closed:
                clientDataEnded = true
                tlsHoldsInput = false
            case .endOfStream:
                clientDataEnded = true
                clientTruncated = true
                tlsHoldsInput = false
            case .failed(let error):
                throw error
            }
        }
    }

    /// Writes `toBackend` to the backend; passes the client's end of stream on once drained.
    private func flushBackend() throws {
        guard let backend, phase == .relaying else { return }
        while !toBackend.isEmpty {
            guard case .processed = try toBackend.write(to: backend) else { break }
        }
        if clientDataEnded && toBackend.isEmpty && !backendWriteShut {
            backendWriteShut = true
            try backend.shutdownWrite()
        }
    }

    /// Encrypts backend bytes; after the backend's end of stream, queues close_notify.
    private func encryptToClient() throws {
        while !toClient.isEmpty && !ciphertextFull {
            let chunk = min(toClient.readableBytes, 16 * 1024)
            let result = toClient.withUnsafeReadableBytes {
                tls.write(UnsafeRawBufferPointer(rebasing: $0.prefix(chunk)))
            }
            switch result {
            case .bytes(let count): toClient.moveReaderIndex(forwardBy: count)
            case .wantMore: return
            case .failed(let error): throw error
            }
        }
        if backendDataEnded && toClient.isEmpty && !closeNotifyQueued {
            closeNotifyQueued = true
            if case .failed(let error) = tls.shutdown() { throw error }
        }
    }

    /// Moves pending ciphertext to the client socket; after close_notify is out, sends FIN.
    private func flushClient() throws {
        if clientTruncated {
            var discard = [UInt8](repeating: 0, count: 4096)
            while discard.withUnsafeMutableBytes({ tls.sendCiphertext(into: $0) }) > 0 {}
            ciphertextOut.clear()
            return
        }
        while true {
            _ = ciphertextOut.compactIfWorthwhile()
            if tls.pendingCiphertextCount > 0 && ciphertextOut.writableBytes > 0 {
                let moved = ciphertextOut.withUnsafeWritableBytes { tls.sendCiphertext(into: $0) }
                ciphertextOut.moveWriterIndex(forwardBy: moved)
            }
            guard !ciphertextOut.isEmpty else { break }
            guard case .processed = try ciphertextOut.write(to: client) else { return }
        }
        if closeNotifyQueued && !clientWriteShut && tls.pendingCiphertextCount == 0 {
            clientWriteShut = true
            try client.shutdownWrite()
        }
    }

    private func updateInterests() {
        if let clientRegistration {
            var interest: Interest = []
            let wantsInput: Bool
            switch phase {
            case .relaying:
                wantsInput = !clientDataEnded && !tlsHoldsInput && toBackend.writableBytes > 0
            case .handshaking, .exchangingMetadata, .hanging:
                wantsInput = true
            case .connectingBackend, .draining, .closed:
                wantsInput = false
            }
            if wantsInput && !clientSocketEnded { interest.insert(.readable) }
            if !ciphertextOut.isEmpty || tls.pendingCiphertextCount > 0 { interest.insert(.writable) }
            loop.setInterest(clientRegistration, interest)
        }
        if let backendRegistration {
            var interest: Interest = []
            if phase == .connectingBackend || !toBackend.isEmpty { interest.insert(.writable) }
            if phase == .relaying && !backendDataEnded && toClient.writableBytes > 0
                && !ciphertextFull
            {
                interest.insert(.readable)
            }
            loop.setInterest(backendRegistration, interest)
        }
    }

    // MARK: Closing

    private func fail(_ reason: String) {
        guard phase != .closed else { return }
        if !mdxLogged {
            environment.events.record([
                ("event", "tunnel-refused"),
                ("instance", .string(environment.instance.uri)),
                ("reason", .string(reason)),
            ])
        }
        close(reason: reason)
    }

    /// Closes both sides and records `tunnel-closed` (after a successful MDX) with the failure
    /// `reason`, if any. Idempotent.
    func close(reason: String? = nil) {
        guard phase != .closed else { return }
        let relayed = mdxLogged
        phase = .closed
        if let deadline { loop.cancel(deadline) }
        deadline = nil
        if let clientRegistration { loop.deregister(clientRegistration) }
        clientRegistration = nil
        client.close()
        if let backendRegistration { loop.deregister(backendRegistration) }
        backendRegistration = nil
        backend?.close()
        localBackend?.close()
        if relayed {
            var fields: [(String, JSONValue)] = [
                ("event", "tunnel-closed"),
                ("instance", .string(environment.instance.uri)),
                ("bytesIn", .number(Double(bytesIn))),
                ("bytesOut", .number(Double(bytesOut))),
            ]
            if let reason { fields.append(("error", .string(reason))) }
            environment.events.record(fields)
        }
        environment.onClose(self)
    }
}
