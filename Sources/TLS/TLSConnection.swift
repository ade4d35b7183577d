import COpenSSLShims

/// One TLS connection as an I/O-free engine: ciphertext goes in and out through byte buffers,
/// plaintext through `read` and `write`; it never touches a socket.
///
/// The caller's loop, after any readiness or data event:
/// 1. `receiveCiphertext(_:)` with bytes read from the network (or `receiveEndOfStream()` on
///    EOF);
/// 2. `handshake()` until `.complete`, then `read(into:)` / `write(_:)`;
/// 3. while `pendingCiphertextCount > 0`, `sendCiphertext(into:)` and write those bytes to the
///    network. Do this after every call, reads included: reading may answer a KeyUpdate or
///    send an alert.
///
/// Post-handshake messages (KeyUpdate, NewSessionTicket) are handled inside `read`/`write`;
/// a KeyUpdate that requests an answer is answered during the `read` that receives it, so a
/// side that only reads still keeps its keys in step with the peer.
/// Ciphertext is held in two queues of this object that OpenSSL reads and writes through a
/// custom BIO (one copy each way, no memory BIO). A caller may read the socket straight into
/// the inbound queue (`receiveCiphertext(upTo:from:)`) and write the socket straight from the
/// outbound queue (`withPendingCiphertext(_:)`), so ciphertext is never copied by the caller.
///
/// Not Sendable: owned and used by one thread (OpenSSL's error queue is per thread, too).
/// Memory: about 25 KiB while idle with released buffers; the queues borrow pooled storage
/// only while they hold bytes.
public final class TLSConnection {
    /// The owned `SSL`; owns both BIOs. Freed in deinit.
    private let ssl: OpaquePointer

    /// Ciphertext both ways; the `SSL`'s BIO points at it unretained, so it must outlive `ssl`
    /// (it does: deinit frees `ssl` before stored properties are released).
    private let queues = TransportQueues()

    /// The context, kept for its certificate chain (the `SSL` holds its own reference).
    public let context: TLSContext

    /// The role given at creation.
    public let role: TLSRole

    /// Set once OpenSSL reported a fatal error or end of stream; replayed by later calls.
    private var terminal: Terminal?

    /// True after `receiveEndOfStream()`.
    private var inboundEnded: Bool { queues.inboundEnded }

    /// KeyUpdate counters written by OpenSSL's message callback; freed in deinit after `ssl`.
    private let keyUpdateCounts: UnsafeMutablePointer<COpenSSLShims_KeyUpdateCounts>

    /// A sticky final state.
    fileprivate enum Terminal {
        case endOfStream
        case failed(TLSError)
    }

    /// Creates a connection from `context`. A client verifies the server certificate against
    /// the identity in `role` (IP or DNS subjectAltName) and sends SNI for DNS names only.
    ///
    /// Cost: one `SSL_new` plus one BIO (a few KiB). Throws `.invalidArgument` for an
    /// identity that is not a usable IP literal or DNS name.
    public init(context: TLSContext, role: TLSRole) throws {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw OpenSSLErrorQueue.error(.internal, "SSL_new")
        }
        guard let bio = TransportBIO.make(queues) else {
            SSL_free(ssl)
            throw OpenSSLErrorQueue.error(.internal, "BIO_new")
        }
        // One BIO both ways: SSL_set_bio takes the single reference.
        SSL_set_bio(ssl, bio, bio)
        self.ssl = ssl
        self.context = context
        self.role = role
        keyUpdateCounts = .allocate(capacity: 1)
        keyUpdateCounts.initialize(to: COpenSSLShims_KeyUpdateCounts(sent: 0, received: 0))
        COpenSSLShims_SSL_count_key_updates(ssl, keyUpdateCounts)

        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client(let identity):
            SSL_set_connect_state(ssl)
            try expect(identity)
        }
    }

    deinit {
        SSL_free(ssl)
        keyUpdateCounts.deallocate()
    }

    // MARK: Ciphertext in and out

    /// Appends ciphertext read from the network; OpenSSL consumes it in later calls.
    ///
    /// Bytes received after `receiveEndOfStream()` are a caller bug and fail the connection.
    public func receiveCiphertext(_ bytes: UnsafeRawBufferPointer) {
        guard terminal == nil, let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard !inboundEnded else {
            terminal = .failed(TLSError(.internal, operation: "receiveCiphertext after EOF"))
            return
        }
        queues.inbound.append(base, bytes.count)
    }

    /// Lets `body` read up to `maximum` ciphertext bytes from the network straight into the
    /// inbound queue (no intermediate copy); `body` returns how many it stored, and that count
    /// is returned. Whatever `body` throws is rethrown with nothing stored.
    public func receiveCiphertext(
        upTo maximum: Int, from body: (UnsafeMutableRawBufferPointer) throws -> Int
    ) rethrows -> Int {
        guard terminal == nil, !inboundEnded else { return 0 }
        return try queues.inbound.fill(upTo: maximum, body)
    }

    /// Ciphertext received but not yet consumed by OpenSSL.
    public var bufferedCiphertextCount: Int {
        queues.inbound.count
    }

    /// Records that the transport reached end of file: once the buffered ciphertext is used
    /// up, reads report `.endOfStream` (or `.closed` if close_notify came first) and a
    /// handshake in progress fails with `.unexpectedEOF`.
    public func receiveEndOfStream() {
        queues.inboundEnded = true
    }

    /// Number of ciphertext bytes waiting to be sent to the peer.
    public var pendingCiphertextCount: Int {
        queues.outbound.count
    }

    /// Moves up to `buffer.count` pending ciphertext bytes into `buffer` and returns how many;
    /// the caller must write exactly those to the network, in order.
    public func sendCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
        return queues.outbound.take(into: base, buffer.count)
    }

    /// Calls `body` with all pending ciphertext (one contiguous span, none when nothing is
    /// pending) and drops the count `body` returns from the front: the bytes it wrote to the
    /// network. Returns that count; rethrows with nothing dropped.
    @discardableResult
    public func withPendingCiphertext(
        _ body: (UnsafeRawBufferPointer) throws -> Int
    ) rethrows -> Int {
        try queues.outbound.withQueuedBytes(body)
    }

    // MARK: TLS operations

    /// Drives the handshake. Returns `.complete` once done (and on every later call),
    /// `.wantMore` when it needs the peer's next flight, `.failed` otherwise. Send pending
    /// ciphertext after every call.
    public func handshake() -> TLSResult {
        if let terminal { return terminal.result }
        if SSL_is_init_finished(ssl) == 1 { return .complete }
        OpenSSLErrorQueue.clear()
        let status = SSL_do_handshake(ssl)
        if status == 1 { return .complete }
        return outcome(status, "SSL_do_handshake", established: false).result
    }

    /// True once the handshake has completed.
    public var isHandshakeComplete: Bool {
        SSL_is_init_finished(ssl) == 1
    }

    /// Decrypts available plaintext into `buffer` (at most one TLS record's worth per call;
    /// loop until `.wantMore`). Continues an unfinished handshake first. An empty buffer
    /// returns `.bytes(0)` without doing anything.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSReadResult {
        if let terminal { return terminal.readResult }
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .bytes(0) }
        OpenSSLErrorQueue.clear()
        let established = isHandshakeComplete
        var count = 0
        let result: TLSReadResult
        if SSL_read_ex(ssl, base, buffer.count, &count) == 1 {
            result = .bytes(count)
        } else {
            // Classify before anything else: SSL_get_error reflects only the latest call.
            switch outcome(0, "SSL_read_ex", established: established) {
            case .wantMore: result = .wantMore
            case .closeNotify: result = .closed
            case .endOfStream: return .endOfStream
            case .failed(let error): return .failed(error)
            }
        }
        if let failure = answerKeyUpdate() { return .failed(failure) }
        return result
    }

    /// Encrypts plaintext from `bytes` and returns how many bytes were consumed (with memory
    /// BIOs, all of them once the handshake is done). Continues an unfinished handshake
    /// first. An empty buffer returns `.bytes(0)`.
    public func write(_ bytes: UnsafeRawBufferPointer) -> TLSWriteResult {
        if let terminal { return terminal.writeResult }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .bytes(0) }
        OpenSSLErrorQueue.clear()
        let established = isHandshakeComplete
        var count = 0
        if SSL_write_ex(ssl, base, bytes.count, &count) == 1 {
            return .bytes(count)
        }
        switch outcome(0, "SSL_write_ex", established: established) {
        case .wantMore: return .wantMore
        case .closeNotify, .endOfStream:
            return .failed(TLSError(.connectionFailed, operation: "SSL_write_ex"))
        case .failed(let error): return .failed(error)
        }
    }

    /// Queues close_notify (our side's orderly end); does not wait for the peer's. Calling it
    /// again is harmless. Send pending ciphertext afterwards.
    @discardableResult
    public func shutdown() -> TLSResult {
        if let terminal { return terminal.result }
        guard isHandshakeComplete else {
            return .failed(TLSError(.internal, operation: "SSL_shutdown before handshake"))
        }
        if SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN != 0 { return .complete }
        OpenSSLErrorQueue.clear()
        let status = SSL_shutdown(ssl)
        if status >= 0 { return .complete }
        return outcome(status, "SSL_shutdown", established: true).result
    }

    /// Queues a TLS 1.3 KeyUpdate that also asks the peer to update its keys, and flushes it
    /// to the pending ciphertext at once. Only valid after the handshake.
    @discardableResult
    public func requestKeyUpdate() -> TLSResult {
        if let terminal {
            guard case .failed(let error) = terminal else {
                return .failed(TLSError(.connectionFailed, operation: "SSL_key_update after EOF"))
            }
            return .failed(error)
        }
        guard isHandshakeComplete else {
            return .failed(TLSError(.internal, operation: "SSL_key_update before handshake"))
        }
        OpenSSLErrorQueue.clear()
        guard SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1 else {
            return .failed(OpenSSLErrorQueue.error(.internal, "SSL_key_update"))
        }
        let status = SSL_do_handshake(ssl)
        if status == 1 { return .complete }
        return outcome(status, "SSL_do_handshake", established: true).result
    }

    // MARK: Negotiated parameters

    /// KeyUpdate messages this side has sent (requested or in answer to the peer's request).
    public var keyUpdatesSent: Int {
        Int(keyUpdateCounts.pointee.sent)
    }

    /// KeyUpdate messages received from the peer.
    public var keyUpdatesReceived: Int {
        Int(keyUpdateCounts.pointee.received)
    }

    /// The negotiated protocol, e.g. "TLSv1.3" (meaningful after the handshake).
    public var negotiatedVersion: String {
        String(cString: SSL_get_version(ssl))
    }

    /// The negotiated cipher suite, e.g. "TLS_AES_256_GCM_SHA384", or "" before the handshake.
    public var cipherName: String {
        guard let cipher = SSL_get_current_cipher(ssl),
              let name = SSL_CIPHER_get_name(cipher) else { return "" }
        return String(cString: name)
    }

    /// The SNI name: on a server, what the client sent; on a client, what it sends.
    public var serverName: String? {
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return nil }
        return String(cString: name)
    }

    /// The peer's leaf certificate, if it sent one.
    public var peerCertificate: Certificate? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        return Certificate(takingOwnership: certificate)
    }

    /// The certificates the peer sent, leaf first, as sent (not the verified path).
    public var peerCertificateChain: [Certificate] {
        var chain: [Certificate] = []
        if let stack = SSL_get_peer_cert_chain(ssl) {
            for index in 0..<COpenSSLShims_sk_X509_num(stack) {
                guard let certificate = COpenSSLShims_sk_X509_value(stack, index) else { continue }
                chain.append(Certificate(retaining: certificate))
            }
        }
        // On a server OpenSSL's list leaves out the client's leaf; put it back in front.
        if case .server = role, let leaf = peerCertificate, chain.first != leaf {
            chain.insert(leaf, at: 0)
        }
        return chain
    }

    // MARK: Internals

    /// Sends the KeyUpdate the peer asked for, now.
    ///
    /// OpenSSL records a received update_requested but only answers on the next write; a side
    /// that only reads (a download) would never answer, and the peer would keep using the old
    /// keys for what it receives. Re-requesting a not-requested update reuses the same pending
    /// slot, so exactly one KeyUpdate goes out. Returns an error only if sending failed.
    private func answerKeyUpdate() -> TLSError? {
        guard SSL_get_key_update_type(ssl) != SSL_KEY_UPDATE_NONE, isHandshakeComplete else {
            return nil
        }
        OpenSSLErrorQueue.clear()
        guard SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1 else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        let status = SSL_do_handshake(ssl)
        guard status != 1, case .failed(let error) = outcome(status, "SSL_do_handshake",
                                                              established: true) else {
            return nil
        }
        return error
    }

    /// Configures the server-name checks of a client connection.
    private func expect(_ identity: ServerIdentity) throws {
        let name = identity.verificationName
        let operation = "TLSConnection(role: .client(\(identity)))"
        guard let parameters = SSL_get0_param(ssl) else {
            throw TLSError(.internal, operation: "SSL_get0_param")
        }
        switch identity {
        case .ipAddress:
            guard X509_VERIFY_PARAM_set1_ip_asc(parameters, name) == 1 else {
                throw OpenSSLErrorQueue.error(.invalidArgument("\"\(name)\" is not an IP address"),
                                              operation)
            }
        case .dnsName:
            guard !name.isEmpty, !IPAddress.isLiteral(name),
                  X509_VERIFY_PARAM_set1_host(parameters, name, 0) == 1,
                  COpenSSLShims_SSL_set_tlsext_host_name(ssl, name) == 1 else {
                throw OpenSSLErrorQueue.error(.invalidArgument("\"\(name)\" is not a DNS name"),
                                              operation)
            }
            let flags = UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
            X509_VERIFY_PARAM_set_hostflags(parameters, flags)
        }
    }

    /// What a failed OpenSSL call means.
    private enum Outcome {
        case wantMore
        case closeNotify
        case endOfStream
        case failed(TLSError)

        /// The outcome as a handshake/shutdown result.
        var result: TLSResult {
            switch self {
            case .wantMore: return .wantMore
            case .closeNotify, .endOfStream: return .complete
            case .failed(let error): return .failed(error)
            }
        }
    }

    /// Classifies a failed call via SSL_get_error and records fatal outcomes as terminal.
    ///
    /// `established` is whether the handshake had completed before the call (OpenSSL puts a
    /// failed connection back "in init", so it cannot be read afterwards).
    private func outcome(_ status: Int32, _ operation: String, established: Bool) -> Outcome {
        let kind = SSL_get_error(ssl, status)
        switch kind {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            OpenSSLErrorQueue.clear()
            return .wantMore
        case SSL_ERROR_ZERO_RETURN:
            return .closeNotify
        default:
            let codes = OpenSSLErrorQueue.drainCodes()
            let classified = TLSErrorClassifier.classify(
                codes: codes, verifyResult: SSL_get_verify_result(ssl),
                inHandshake: !established, transportEnded: inboundEnded,
                operation: operation)
            switch classified {
            case .endOfStream:
                terminal = .endOfStream
                return .endOfStream
            case .failed(let error):
                terminal = .failed(error)
                return .failed(error)
            }
        }
    }
}

extension TLSConnection.Terminal {
    /// The terminal state as a handshake/shutdown result: after end of stream there is
    /// nothing left to do, so `.complete`.
    fileprivate var result: TLSResult {
        switch self {
        case .endOfStream: return .complete
        case .failed(let error): return .failed(error)
        }
    }

    /// The terminal state as a read result.
    fileprivate var readResult: TLSReadResult {
        switch self {
        case .endOfStream: return .endOfStream
        case .failed(let error): return .failed(error)
        }
    }

    /// The terminal state as a write result.
    fileprivate var writeResult: TLSWriteResult {
        switch self {
        case .endOfStream:
            return .failed(TLSError(.connectionFailed, operation: "write after end of stream"))
        case .failed(let error): return .failed(error)
        }
    }
}
