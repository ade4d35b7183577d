import EventLoop
import TLS

/// The relay phase: performs `RelayFlow`'s steps on the buffers, OpenSSL and the sockets, and
/// sets the sockets' interests from `RelayFlow.interests`. Loop thread only.
extension Tunnel {
    /// Encrypted bytes not yet on the client socket.
    var ciphertextLevel: Int {
        tls.pendingCiphertextCount + ciphertextOut.readableBytes
    }

    /// The levels `RelayFlow` decides on.
    var levels: RelayFlow.Levels {
        RelayFlow.Levels(
            clientInputPending: tlsHoldsInput, clientDataEnded: clientDataEnded,
            clientTruncated: clientTruncated, clientSocketEnded: clientSocketEnded,
            toBackend: toBackend.readableBytes, toBackendRoom: room(toBackend),
            backendBlocked: backendBlocked, backendDataEnded: backendDataEnded,
            backendWriteShut: backendWriteShut, toClient: toClient.readableBytes,
            toClientRoom: room(toClient), ciphertext: ciphertextLevel,
            clientBlocked: clientBlocked, closeNotifyQueued: closeNotifyQueued,
            clientWriteShut: clientWriteShut)
    }

    /// The room a read into `buffer` can use now: the space behind its bytes, or, when there
    /// is none, the space a cheap compaction (at most a quarter of the buffer) would free.
    /// Zero only while the buffer holds bytes, which `RelayFlow` then drains first.
    func room(_ buffer: ByteBuffer) -> Int {
        if buffer.writableBytes > 0 { return buffer.writableBytes }
        guard buffer.readerIndex > 0, buffer.readableBytes <= buffer.capacity / 4 else { return 0 }
        return buffer.capacity - buffer.readableBytes
    }

    /// Performs the compaction `room` counted on (a copy of at most a quarter buffer).
    func makeRoom(_ buffer: ByteBuffer) {
        if buffer.writableBytes == 0 {
            buffer.compactIfWorthwhile()
        }
    }

    /// Performs steps until none can make progress (bounded, so one busy tunnel cannot hold
    /// the loop), then reports the end of the relay when both directions are done.
    func relay() throws {
        for _ in 0..<256 {
            guard let next = RelayFlow.nextStep(levels) else { break }
            try perform(next)
        }
        if RelayFlow.isFinished(levels) {
            apply(.relayFinished)
        }
    }

    private func perform(_ step: RelayFlow.Step) throws {
        switch step {
        case .decrypt: try decryptToBackend()
        case .writeBackend: try writeBackend()
        case .shutBackend:
            backendWriteShut = true
            try backend?.shutdownWrite()
        case .encrypt: try encryptToClient()
        case .queueCloseNotify:
            closeNotifyQueued = true
            if case .failed(let error) = tls.shutdown() { throw error }
        case .writeClient: try flushClient()
        case .shutClient:
            clientWriteShut = true
            try client.shutdownWrite()
        }
    }

    private func decryptToBackend() throws {
        makeRoom(toBackend)
        let result = toBackend.withUnsafeWritableBytes { tls.read(into: $0) }
        switch result {
        case .bytes(let count):
            toBackend.moveWriterIndex(forwardBy: count)
            bytesIn += count
        case .wantMore:
            tlsHoldsInput = false
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

    private func writeBackend() throws {
        guard let backend else { return }
        if case .wouldBlock = try toBackend.write(to: backend) { backendBlocked = true }
    }

    private func encryptToClient() throws {
        let chunk = min(toClient.readableBytes, 16 * 1024)
        let result = toClient.withUnsafeReadableBytes {
            tls.write(UnsafeRawBufferPointer(rebasing: $0.prefix(chunk)))
        }
        switch result {
        case .bytes(let count): toClient.moveReaderIndex(forwardBy: count)
        // With memory BIOs a finished handshake never waits to write; looping would spin.
        case .wantMore: throw TLSError(.connectionFailed, operation: "SSL_write wants more")
        case .failed(let error): throw error
        }
    }

    /// Moves pending ciphertext to the client socket until it would block. Once the client is
    /// truncated nothing can reach it: pending ciphertext and backend bytes are dropped.
    func flushClient() throws {
        if clientTruncated {
            var discard = [UInt8](repeating: 0, count: 4096)
            while discard.withUnsafeMutableBytes({ tls.sendCiphertext(into: $0) }) > 0 {}
            ciphertextOut.clear()
            toClient.clear()
            return
        }
        while ciphertextLevel > 0 {
            ciphertextOut.compactIfWorthwhile()
            if tls.pendingCiphertextCount > 0 && ciphertextOut.writableBytes > 0 {
                let moved = ciphertextOut.withUnsafeWritableBytes { tls.sendCiphertext(into: $0) }
                ciphertextOut.moveWriterIndex(forwardBy: moved)
            }
            guard case .processed = try ciphertextOut.write(to: client) else {
                clientBlocked = true
                return
            }
        }
    }

    /// Sets both sockets' interests for the current phase.
    func updateInterests() {
        var client = RelayFlow.Interests()
        var backendInterest = RelayFlow.Interests()
        switch machine.state {
        case .relaying:
            client = RelayFlow.interests(levels)
            backendInterest = client
        case .handshaking, .exchangingMetadata, .checkingLogin, .hanging:
            client.clientReadable = !clientSocketEnded && !clientDataEnded && startDelay == nil
            client.clientWritable = ciphertextLevel > 0
        case .connectingBackend:
            client.clientWritable = ciphertextLevel > 0
            backendInterest.backendWritable = true
        case .draining:
            client.clientWritable = ciphertextLevel > 0
        case .closed:
            return
        }
        if let clientRegistration {
            var interest: Interest = []
            if client.clientReadable { interest.insert(.readable) }
            if client.clientWritable { interest.insert(.writable) }
            loop.setInterest(clientRegistration, interest)
        }
        if let backendRegistration {
            var interest: Interest = []
            if backendInterest.backendReadable { interest.insert(.readable) }
            if backendInterest.backendWritable { interest.insert(.writable) }
            loop.setInterest(backendRegistration, interest)
        }
    }
}
