import EventLoop
import TLS

/// The relay: both directions copy independently with bounded buffering.
///
/// client -> instance: client bytes are read into the shared scratch buffer and encrypted at
/// once (TLS consumes all plaintext into full records), so the only queue is the connection's
/// outbound ciphertext, written to the instance straight from TLS's queue in one send per
/// batch. The client is not read while that queue exceeds `maximumBacklog`.
///
/// instance -> client: ciphertext is read straight into TLS's inbound queue, then decrypted
/// into `toClient` (one pooled buffer). The instance is not read while `toClient` holds bytes,
/// so at most one read's worth of ciphertext waits inside TLS: a client that stops reading
/// stops the instance through TCP flow control, and the proxy's memory stays bounded.
///
/// Ends: the client's FIN becomes close_notify to the instance after all its bytes; the
/// instance's close_notify or EOF becomes `shutdown(SHUT_WR)` to the client after all its
/// bytes; the other direction keeps flowing. A full hang-up (both directions of a socket gone)
/// first reads what is left to EOF and forwards it. Resets and errors close both sides at once.
extension Tunnel {
    // MARK: Readiness

    /// Readiness of the client socket.
    func clientReady(_ events: IOEvents) {
        if events.contains(.error) {
            let error = (try? client.pendingError(call: "recv")) ?? nil
            send(.failed(.client, cause: "error reading from client: \(Self.describe(error))"))
            return
        }
        if events.contains(.writable) {
            clientWritable()
        }
        if events.contains(.readable) && !machine.isEnding {
            readFromClient()
        }
        if events.contains(.hangup) && !machine.isEnding {
            clientHungUp()
        }
        // Reads and writes change the queues; interest must follow them, or level-triggered
        // epoll keeps reporting a socket this tunnel cannot serve yet.
        updateInterest()
    }

    /// Readiness of the instance socket.
    func instanceReady(_ events: IOEvents) {
        if machine.state == .connecting {
            finishConnect()
            return
        }
        if events.contains(.error) {
            let error = (try? upstream?.pendingError(call: "recv")) ?? nil
            send(.failed(.instance, cause: "error reading from instance: \(Self.describe(error))"))
            return
        }
        if events.contains(.writable) {
            flushToInstance()
        }
        if events.contains(.readable) && !machine.isEnding {
            readFromInstance()
        }
        if events.contains(.hangup) && !machine.isEnding {
            instanceHungUp()
        }
        updateInterest()
    }

    private func clientWritable() {
        switch machine.state {
        case .relaying, .halfClosed:
            pumpToClient()
        case .explainingFailure:
            progressExplanation()
        default:
            break
        }
    }

    // MARK: Interest

    /// Ciphertext queued towards the instance.
    var instanceBacklog: Int {
        tls?.pendingCiphertextCount ?? 0
    }

    private var wantsClientRead: Bool {
        guard !clientReadEnded, clientRegistration != nil else { return false }
        switch machine.state {
        case .accepted, .closing, .closed:
            return false
        case .waitingForFirstByte, .waitingForConnectionInfo, .connecting, .tlsHandshaking,
            .metadataExchange, .explainingFailure:
            return (fromClient?.readableBytes ?? 0) < settings.maximumEarlyBytes
        case .relaying, .halfClosed:
            return instanceBacklog < settings.maximumBacklog
        }
    }

    private var wantsInstanceRead: Bool {
        guard upstreamRegistration != nil, !instanceTransportEnded else { return false }
        switch machine.state {
        case .tlsHandshaking, .metadataExchange:
            return true
        case .relaying, .halfClosed:
            return !instanceReadEnded && !clientGone && (toClient?.isEmpty ?? true)
        default:
            return false
        }
    }

    /// Sets both sockets' epoll interest to what the state and queues allow; level-triggered
    /// epoll would otherwise spin on a socket we are not ready to serve.
    func updateInterest() {
        guard !machine.isEnding else { return }
        var wanted: Interest = []
        if wantsClientRead { wanted.insert(.readable) }
        if let toClient, !toClient.isEmpty { wanted.insert(.writable) }
        if wanted != clientInterest, let clientRegistration {
            loop.setInterest(clientRegistration, wanted)
            clientInterest = wanted
        }

        wanted = []
        if machine.state == .connecting {
            wanted = .writable
        } else {
            if wantsInstanceRead { wanted.insert(.readable) }
            if instanceWriteBlocked { wanted.insert(.writable) }
        }
        if wanted != upstreamInterest, let upstreamRegistration {
            loop.setInterest(upstreamRegistration, wanted)
            upstreamInterest = wanted
        }
    }

    // MARK: Client to instance

    private func readFromClient() {
        var spoke = false
        for _ in 0..<settings.readsPerEvent {
            guard wantsClientRead else { break }
            let relaying = machine.isRelaying
            let result: IOResult
            do {
                result = relaying ? try readClientIntoTLS() : try readClientIntoBuffer()
            } catch {
                send(.failed(.client, cause: "error reading from client: \(Self.describe(error))"))
                return
            }
            if case .processed(let count) = result {
                spoke = true
                if case .halfClosed = machine.state { machine.noteActivity(now: loop.clock.now()) }
                // A read that did not fill the buffer drained the socket: skip the read that
                // would only say EAGAIN (level-triggered epoll reports anything new).
                if relaying && count < context.scratch.capacity { break }
                continue
            }
            if result == .eof {
                clientReadEnded = true
                clientEnded()
            }
            break
        }
        guard !machine.isEnding else { return }
        switch machine.state {
        case .relaying, .halfClosed:
            flushToInstance()
        case .explainingFailure:
            progressExplanation()
        case .waitingForFirstByte, .waitingForConnectionInfo, .connecting, .tlsHandshaking,
            .metadataExchange:
            if spoke {
                let speaksPostgres = PostgresStartup.classify(earlyBytes) != .other
                send(.clientSpoke(speaksPostgres: speaksPostgres))
            }
        default:
            break
        }
    }

    /// The client bytes held during setup.
    var earlyBytes: [UInt8] {
        fromClient?.withUnsafeReadableBytes { Array($0) } ?? []
    }

    private func readClientIntoTLS() throws -> IOResult {
        let scratch = context.scratch
        let result = try scratch.withUnsafeWritableBytes { try client.read(into: $0) }
        guard case .processed(let count) = result else { return result }
        scratch.withUnsafeWritableBytes {
            _ = writeToInstance(UnsafeRawBufferPointer(rebasing: $0[0..<count]))
        }
        return result
    }

    private func readClientIntoBuffer() throws -> IOResult {
        let buffer = fromClient ?? context.pool.take()
        fromClient = buffer
        let room = min(buffer.writableBytes, settings.maximumEarlyBytes - buffer.readableBytes)
        let result = try buffer.withUnsafeWritableBytes {
            try client.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<room]))
        }
        if case .processed(let count) = result {
            buffer.moveWriterIndex(forwardBy: count)
        }
        return result
    }

    /// Encrypts client bytes; TLS over memory BIOs takes all of them.
    @discardableResult
    func writeToInstance(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let tls else { preconditionFailure("relay without TLS") }
        switch tls.write(bytes) {
        case .bytes(let count) where count == bytes.count:
            bytesToInstance += UInt64(count)
            return true
        case .failed(let error):
            send(.failed(.instance, cause: "error writing to instance: \(error)"))
        default:
            send(.failed(.proxy, cause: "TLS accepted only part of the client's bytes"))
        }
        return false
    }

    /// The client sent FIN.
    private func clientEnded() {
        switch machine.state {
        case .waitingForFirstByte where fromClient?.isEmpty ?? true:
            // A probe that connected and left without a byte: no dial happened.
            send(.streamEnded(.client))
        case .relaying, .halfClosed:
            endInstanceWrite()
        case .explainingFailure:
            send(.explained)
        default:
            // During setup the FIN is remembered and passed on once the relay starts.
            break
        }
    }

    /// Queues close_notify after every client byte already encrypted.
    private func endInstanceWrite() {
        guard let tls, !instanceWriteEnded else { return }
        instanceWriteEnded = true
        if case .failed(let error) = tls.shutdown() {
            send(.failed(.instance, cause: "error writing to instance: \(error)"))
            return
        }
        flushToInstance()
    }

    /// Writes queued ciphertext to the instance straight from TLS's queue (one send for the
    /// whole batch) until done or the socket would block; reports the client's direction as
    /// ended once its close_notify is out.
    func flushToInstance() {
        guard let upstream, let tls, !machine.isEnding else { return }
        if instanceGone {
            // Nobody can receive it any more; the tunnel is closing once the client is told.
            tls.withPendingCiphertext { $0.count }
        }
        while tls.pendingCiphertextCount > 0 {
            var blocked = false
            do {
                try tls.withPendingCiphertext { bytes in
                    let result = try upstream.write(bytes)
                    guard case .processed(let count) = result else {
                        blocked = true
                        return 0
                    }
                    // A short write means the socket is full; the next one would say EAGAIN.
                    blocked = count < bytes.count
                    return count
                }
            } catch {
                send(.failed(.instance, cause: "error writing to instance: \(Self.describe(error))"))
                return
            }
            if blocked { break }
        }
        instanceWriteBlocked = tls.pendingCiphertextCount > 0
        if instanceWriteEnded && !clientDirectionReported && instanceBacklog == 0 {
            clientDirectionReported = true
            send(.streamEnded(.client))
            if clientGone && !machine.isEnding && !clientWriteEnded {
                // The client can receive nothing more: its direction was the last one.
                clientWriteEnded = true
                send(.streamEnded(.instance))
            }
        }
    }

    // MARK: Instance to client

    /// Reads ciphertext straight into TLS's inbound queue and advances whatever the phase
    /// needs (handshake, MDX or relay) after each read, up to `readsPerEvent` reads.
    private func readFromInstance() {
        guard let upstream, let tls else { return }
        for _ in 0..<settings.readsPerEvent {
            guard wantsInstanceRead else { break }
            var result = IOResult.wouldBlock
            do {
                _ = try tls.receiveCiphertext(upTo: settings.readSize) { space in
                    result = try upstream.read(into: space)
                    guard case .processed(let count) = result else { return 0 }
                    return count
                }
            } catch {
                if machine.state == .tlsHandshaking { forceRefresh() }
                send(.failed(.instance, cause: "error reading from instance: \(Self.describe(error))"))
                return
            }
            var drained = true
            switch result {
            case .processed(let count):
                if case .halfClosed = machine.state { machine.noteActivity(now: loop.clock.now()) }
                // A short read drained the socket; another would only say EAGAIN.
                drained = count < settings.readSize
            case .eof:
                instanceTransportEnded = true
                tls.receiveEndOfStream()
            default:
                break
            }
            advanceInstanceStream()
            guard !machine.isEnding, !drained else { return }
        }
    }

    /// Lets the current phase consume the ciphertext that has arrived.
    private func advanceInstanceStream() {
        switch machine.state {
        case .tlsHandshaking:
            driveHandshake()
        case .metadataExchange:
            readMetadataExchange()
        case .relaying, .halfClosed:
            pumpToClient()
        default:
            break
        }
    }

    // MARK: Hang-ups

    /// Both directions of the client are gone (EPOLLHUP without an error; a Unix socket
    /// reports this whenever its peer closes). Bytes it sent before leaving may still be
    /// unread: read them to EOF and pass them on like a FIN, then stop watching the socket (a
    /// hang-up is reported on every wait) and finish without it.
    private func clientHungUp() {
        clientGone = true
        if machine.isRelaying {
            drainClientToEnd()
        } else {
            drainClientDuringSetup()
        }
        guard !machine.isEnding else { return }
        if let clientRegistration {
            loop.deregister(clientRegistration)
        }
        clientRegistration = nil
        clientInterest = []
        guard machine.isRelaying else { return }
        if let buffer = toClient {
            // Undeliverable: the client cannot receive any more.
            context.pool.recycle(buffer)
            toClient = nil
        }
        flushToInstance()
    }

    /// Reads a departed client's last bytes into the early-bytes buffer (held for the relay)
    /// and lets the setup go on with them; a client that sent nothing is a probe.
    private func drainClientDuringSetup() {
        for _ in 0..<64 where !clientReadEnded {
            guard (fromClient?.readableBytes ?? 0) < settings.maximumEarlyBytes else {
                let limit = settings.maximumEarlyBytes
                send(.failed(.client, cause: "client hung up with more than \(limit) bytes during setup"))
                return
            }
            let result: IOResult
            do {
                result = try readClientIntoBuffer()
            } catch {
                send(.failed(.client, cause: "error reading from client: \(Self.describe(error))"))
                return
            }
            if case .processed = result { continue }
            clientReadEnded = true
        }
        let spoke = !(fromClient?.isEmpty ?? true)
        switch machine.state {
        case .waitingForFirstByte where !spoke:
            send(.streamEnded(.client))
        case .explainingFailure:
            send(.explained)
        case .waitingForFirstByte, .waitingForConnectionInfo, .connecting, .tlsHandshaking,
            .metadataExchange:
            send(.clientSpoke(speaksPostgres: PostgresStartup.classify(earlyBytes) != .other))
        default:
            break
        }
    }

    /// Reads the client to EOF (bounded by what its socket still holds), encrypting every byte.
    private func drainClientToEnd() {
        // The kernel's receive buffer bounds this; the count bound keeps it finite regardless.
        for _ in 0..<4096 where !clientReadEnded {
            let result: IOResult
            do {
                result = try readClientIntoTLS()
            } catch {
                send(.failed(.client, cause: "error reading from client: \(Self.describe(error))"))
                return
            }
            guard !machine.isEnding else { return }
            switch result {
            case .processed:
                continue
            case .eof:
                clientReadEnded = true
                endInstanceWrite()
            case .wouldBlock:
                // A hang-up with nothing left to read means the stream ended.
                clientReadEnded = true
                endInstanceWrite()
            }
        }
    }

    /// Both directions of the instance socket are gone without an error: read what it still
    /// holds into TLS, mark its end, stop watching it and deliver the rest to the client.
    private func instanceHungUp() {
        guard machine.isRelaying, let upstream, let tls else {
            let cause = machine.state == .tlsHandshaking
                ? "handshake failed: EOF from \(dialAddress)" : "instance hung up"
            if machine.state == .tlsHandshaking { forceRefresh() }
            send(.failed(.instance, cause: cause))
            return
        }
        instanceGone = true
        for _ in 0..<4096 where !instanceTransportEnded {
            var result = IOResult.wouldBlock
            do {
                _ = try tls.receiveCiphertext(upTo: settings.readSize) { space in
                    result = try upstream.read(into: space)
                    guard case .processed(let count) = result else { return 0 }
                    return count
                }
            } catch {
                send(.failed(.instance, cause: "error reading from instance: \(Self.describe(error))"))
                return
            }
            if case .processed = result { continue }
            instanceTransportEnded = true
            tls.receiveEndOfStream()
        }
        if let upstreamRegistration {
            loop.deregister(upstreamRegistration)
        }
        upstreamRegistration = nil
        upstreamInterest = []
        pumpToClient()
    }

    /// A socket error as a short lowercase phrase with its errno, e.g. "connection reset by
    /// peer (recv, errno 104)".
    static func describe(_ error: (any Error)?) -> String {
        guard let error else { return "socket error" }
        guard let syscall = error as? SyscallError else { return "\(error)" }
        return "\(syscall.message.lowercased()) (\(syscall.call), errno \(syscall.errno))"
    }

    /// Appends plaintext for the client (bytes that followed the MDX response).
    func queueToClient(_ bytes: UnsafeRawBufferPointer) {
        let buffer = toClient ?? context.pool.take()
        toClient = buffer
        buffer.append(bytes)
    }

    /// Decrypts into `toClient` and writes it to the client, until TLS needs more ciphertext
    /// or the client would block; after the instance's end, sends FIN once all is written.
    func pumpToClient() {
        guard let tls else { return }
        guard !clientGone else {
            flushToInstance()
            return
        }
        for _ in 0..<1024 {
            guard !machine.isEnding else { return }
            let wantsMore = decryptIntoClientBuffer(tls)
            guard !machine.isEnding else { return }
            if let buffer = toClient, !buffer.isEmpty {
                do {
                    let before = buffer.readableBytes
                    let result = try buffer.write(to: client)
                    bytesToClient += UInt64(before - buffer.readableBytes)
                    // A short write means the socket is full: wait for writability rather
                    // than ask again and be told EAGAIN.
                    if result == .wouldBlock || !buffer.isEmpty { break }
                } catch {
                    send(.failed(.client, cause: "error writing to client: \(Self.describe(error))"))
                    return
                }
                continue
            }
            if instanceReadEnded {
                endClientWrite()
                break
            }
            if wantsMore { break }
        }
        if let buffer = toClient, buffer.isEmpty {
            context.pool.recycle(buffer)
            toClient = nil
        }
        // Reading may have produced TLS output (a KeyUpdate answer, an alert).
        flushToInstance()
    }

    /// Fills `toClient` from TLS; returns true when TLS needs more ciphertext.
    private func decryptIntoClientBuffer(_ tls: TLSConnection) -> Bool {
        while !instanceReadEnded {
            let buffer = toClient ?? context.pool.take()
            toClient = buffer
            guard buffer.writableBytes > 0 else { return false }
            switch buffer.withUnsafeWritableBytes({ tls.read(into: $0) }) {
            case .bytes(let count):
                buffer.moveWriterIndex(forwardBy: count)
            case .wantMore:
                return true
            case .closed, .endOfStream:
                instanceReadEnded = true
            case .failed(let error):
                send(.failed(.instance, cause: "error reading from instance: \(error)"))
                return true
            }
        }
        return false
    }

    /// Sends FIN to the client after the instance's last byte.
    private func endClientWrite() {
        guard !clientWriteEnded else { return }
        clientWriteEnded = true
        do {
            try client.shutdownWrite()
        } catch {
            send(.failed(.client, cause: "error writing to client: \(Self.describe(error))"))
            return
        }
        send(.streamEnded(.instance))
        if instanceGone && !machine.isEnding && !clientDirectionReported {
            // The instance can receive nothing more: its direction was the last one.
            clientDirectionReported = true
            instanceWriteEnded = true
            send(.streamEnded(.client))
        }
    }

    /// Starts relaying: passes on client bytes (and a FIN) that arrived during setup.
    func startRelay() {
        context.counters.established += 1
        context.counters.dialLatency.record(startedAt.duration(to: loop.clock.now()))
        if let early = fromClient {
            fromClient = nil
            let delivered = early.withUnsafeReadableBytes { writeToInstance($0) }
            context.pool.recycle(early)
            guard delivered else { return }
        }
        if clientReadEnded {
            endInstanceWrite()
        }
        flushToInstance()
        guard !machine.isEnding else { return }
        pumpToClient()
    }
}
