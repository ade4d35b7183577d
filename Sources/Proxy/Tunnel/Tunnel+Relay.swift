import EventLoop
import TLS

/// The relay: both directions copy independently with bounded buffering.
///
/// client -> instance: client bytes are read into the shared scratch buffer and encrypted at
/// once (TLS consumes all plaintext), so the only queue is ciphertext (`toInstance` plus
/// OpenSSL's output BIO). The client is not read while that queue exceeds `maximumBacklog`.
///
/// instance -> client: ciphertext is read into the scratch buffer and fed to TLS, then
/// decrypted into `toClient` (one pooled buffer). The instance is not read while `toClient`
/// holds bytes, so at most one read's worth of ciphertext waits inside OpenSSL.
///
/// Ends: the client's FIN becomes close_notify to the instance after all its bytes; the
/// instance's close_notify or EOF becomes `shutdown(SHUT_WR)` to the client after all its
/// bytes; the other direction keeps flowing. Resets and errors close both sides at once.
extension Tunnel {
    // MARK: Readiness

    /// Readiness of the client socket.
    func clientReady(_ events: IOEvents) {
        if events.contains(.error) {
            let error = (try? client.pendingError(call: "recv")) ?? nil
            send(.failed(.client, cause: "error reading from client: \(error.map { "\($0)" } ?? "socket error")"))
            return
        }
        if events.contains(.writable) {
            clientWritable()
        }
        if events.contains(.readable) && !machine.isEnding {
            readFromClient()
        }
        if events.contains(.hangup) && !machine.isEnding {
            // Both directions of the client are gone: nothing more can be delivered to it.
            send(.failed(.client, cause: "client hung up"))
        }
    }

    /// Readiness of the instance socket.
    func instanceReady(_ events: IOEvents) {
        if machine.state == .connecting {
            finishConnect()
            return
        }
        if events.contains(.error) {
            let error = (try? upstream?.pendingError(call: "recv")) ?? nil
            send(.failed(.instance, cause: "error reading from instance: \(error.map { "\($0)" } ?? "socket error")"))
            return
        }
        if events.contains(.writable) {
            flushToInstance()
        }
        if events.contains(.readable) && !machine.isEnding {
            readFromInstance()
        }
        if events.contains(.hangup) && !machine.isEnding {
            send(.failed(.instance, cause: "instance hung up"))
        }
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
        (toInstance?.readableBytes ?? 0) + (tls?.pendingCiphertextCount ?? 0)
    }

    private var wantsClientRead: Bool {
        guard !clientReadEnded else { return false }
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
        guard upstream != nil, !instanceTransportEnded else { return false }
        switch machine.state {
        case .tlsHandshaking, .metadataExchange:
            return true
        case .relaying, .halfClosed:
            return !instanceReadEnded && (toClient?.isEmpty ?? true)
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
                send(.failed(.client, cause: "error reading from client: \(error)"))
                return
            }
            if case .processed = result {
                spoke = true
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
        scratch.withUnsafeWritableBytes { _ = writeToInstance(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
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
        case .waitingForFirstByte:
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

    /// Writes queued ciphertext to the instance until done or the socket would block; reports
    /// the client's direction as ended once its close_notify is out.
    func flushToInstance() {
        guard let upstream, let tls, !machine.isEnding else { return }
        for _ in 0..<1024 {
            let buffer: ByteBuffer
            if let queued = toInstance, !queued.isEmpty {
                buffer = queued
            } else {
                guard tls.pendingCiphertextCount > 0 else { break }
                buffer = toInstance ?? context.pool.take()
                toInstance = buffer
                let count = buffer.withUnsafeWritableBytes { tls.sendCiphertext(into: $0) }
                buffer.moveWriterIndex(forwardBy: count)
            }
            do {
                if try buffer.write(to: upstream) == .wouldBlock {
                    instanceWriteBlocked = true
                    break
                }
                instanceWriteBlocked = false
            } catch {
                send(.failed(.instance, cause: "error writing to instance: \(error)"))
                return
            }
        }
        if let queued = toInstance, queued.isEmpty {
            context.pool.recycle(queued)
            toInstance = nil
        }
        if instanceWriteEnded && !clientDirectionReported && instanceBacklog == 0 {
            clientDirectionReported = true
            send(.streamEnded(.client))
        }
    }

    // MARK: Instance to client

    private func readFromInstance() {
        guard let upstream, let tls else { return }
        let scratch = context.scratch
        for _ in 0..<settings.readsPerEvent {
            guard wantsInstanceRead else { break }
            let result: IOResult
            do {
                result = try scratch.withUnsafeWritableBytes { try upstream.read(into: $0) }
            } catch {
                if machine.state == .tlsHandshaking { forceRefresh() }
                send(.failed(.instance, cause: "error reading from instance: \(error)"))
                return
            }
            if case .processed(let count) = result {
                scratch.withUnsafeWritableBytes {
                    tls.receiveCiphertext(UnsafeRawBufferPointer(rebasing: $0[0..<count]))
                }
                // One read's worth at a time in the relay: decrypt it before reading more.
                if machine.isRelaying { break }
                continue
            }
            if result == .eof {
                instanceTransportEnded = true
                tls.receiveEndOfStream()
            }
            break
        }
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
        for _ in 0..<1024 {
            guard !machine.isEnding else { return }
            let wantsMore = decryptIntoClientBuffer(tls)
            guard !machine.isEnding else { return }
            if let buffer = toClient, !buffer.isEmpty {
                do {
                    let before = buffer.readableBytes
                    let result = try buffer.write(to: client)
                    bytesToClient += UInt64(before - buffer.readableBytes)
                    if result == .wouldBlock { break }
                } catch {
                    send(.failed(.client, cause: "error writing to client: \(error)"))
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
            send(.failed(.client, cause: "error writing to client: \(error)"))
            return
        }
        send(.streamEnded(.instance))
    }

    /// Starts relaying: passes on client bytes (and a FIN) that arrived during setup.
    func startRelay() {
        context.counters.established += 1
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
