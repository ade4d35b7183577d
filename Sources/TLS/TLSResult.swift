/// The outcome of a TLS step that transfers no application bytes (handshake, shutdown,
/// key update).
public enum TLSResult: Sendable, Equatable {
    /// The step is done.
    case complete
    /// The step needs more ciphertext from the peer: feed it, then call again.
    case wantMore
    /// The connection failed; it stays failed (later calls return the same error).
    case failed(TLSError)
}

/// The outcome of `TLSConnection.read(into:)`.
public enum TLSReadResult: Sendable, Equatable {
    /// This many plaintext bytes were written to the front of the buffer (never zero).
    case bytes(Int)
    /// No plaintext is available yet: feed more ciphertext, then read again.
    case wantMore
    /// The peer sent close_notify: an orderly end of its data.
    case closed
    /// The transport ended without close_notify. For Postgres traffic (self-framed) this is an
    /// ordinary end, not an attack on truncation, so it is not an error.
    case endOfStream
    /// The connection failed; it stays failed.
    case failed(TLSError)
}

/// The outcome of `TLSConnection.write(_:)`.
public enum TLSWriteResult: Sendable, Equatable {
    /// This many plaintext bytes were consumed (encrypted into pending ciphertext).
    case bytes(Int)
    /// Nothing was consumed; the handshake needs more ciphertext from the peer first.
    case wantMore
    /// The connection failed; it stays failed.
    case failed(TLSError)
}

/// Which side of the handshake a `TLSConnection` plays.
public enum TLSRole: Sendable, Equatable {
    /// The client, verifying that the server's certificate names this identity.
    case client(ServerIdentity)
    /// The server.
    case server
}
