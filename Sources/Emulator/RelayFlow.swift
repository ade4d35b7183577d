/// The flow-control rules of a tunnel's relay, as pure functions of the buffer levels: which
/// step can make progress now, and which socket readiness can wake the relay when none can.
///
/// Two directions share one rule set:
///
///     client ─TLS ciphertext─> OpenSSL ─decrypt─> toBackend ─write─> backend
///     client <─ciphertext out─ OpenSSL <─encrypt─ toClient  <─read── backend
///
/// The driver repeats `nextStep` until it returns nil, then sets the sockets' interests from
/// `interests`. Liveness (checked exhaustively by the tests): whenever `nextStep` is nil and
/// the relay is not finished, at least one interest is set whose readiness leads to a step.
/// A relay that forgets to watch a socket after a backpressure pause would stall silently.
struct RelayFlow: Equatable {
    /// Encrypted bytes waiting for the client (OpenSSL's output plus the socket buffer) above
    /// which the backend is no longer read and no more plaintext is encrypted.
    static let ciphertextHighWater = 64 * 1024

    /// What the driver reports about its buffers and sockets.
    struct Levels: Equatable {
        /// OpenSSL may hold received ciphertext not yet decrypted.
        var clientInputPending = false
        /// The client's data ended (close_notify or a bare FIN).
        var clientDataEnded = false
        /// The client's transport ended without close_notify: nothing more can be sent to it.
        var clientTruncated = false
        /// The client socket reported end of stream (no more reads are possible).
        var clientSocketEnded = false
        /// Plaintext waiting for the backend, and the free room behind it after compaction.
        var toBackend = 0
        var toBackendRoom = 1
        /// The last backend write would block; cleared by backend writability.
        var backendBlocked = false
        var backendDataEnded = false
        var backendWriteShut = false
        /// Backend bytes waiting for encryption, and the free room behind them after compaction.
        var toClient = 0
        var toClientRoom = 1
        /// Ciphertext not yet written to the client socket.
        var ciphertext = 0
        /// The last client write would block; cleared by client writability.
        var clientBlocked = false
        var closeNotifyQueued = false
        var clientWriteShut = false
    }

    /// One action that makes progress.
    enum Step: Equatable {
        /// Decrypt client plaintext into `toBackend`.
        case decrypt
        /// Write `toBackend` to the backend socket.
        case writeBackend
        /// Pass the client's end of stream on: `shutdown(SHUT_WR)` to the backend.
        case shutBackend
        /// Encrypt `toClient` into ciphertext.
        case encrypt
        /// After the backend's end of stream: queue close_notify.
        case queueCloseNotify
        /// Write ciphertext to the client socket (or drop it once the client is truncated).
        case writeClient
        /// After close_notify is out: `shutdown(SHUT_WR)` to the client.
        case shutClient
    }

    /// Which readiness the relay waits for.
    struct Interests: Equatable {
        var clientReadable = false
        var clientWritable = false
        var backendReadable = false
        var backendWritable = false

        var isEmpty: Bool {
            !(clientReadable || clientWritable || backendReadable || backendWritable)
        }
    }

    /// True once both directions have ended and been passed on; the tunnel then closes.
    static func isFinished(_ levels: Levels) -> Bool {
        if levels.clientTruncated {
            return levels.backendWriteShut
        }
        return levels.clientDataEnded && levels.backendDataEnded && levels.clientWriteShut
            && levels.backendWriteShut
    }

    /// The next step that can make progress with what is buffered now, else nil.
    static func nextStep(_ levels: Levels) -> Step? {
        if levels.clientInputPending && !levels.clientDataEnded && levels.toBackendRoom > 0 {
            return .decrypt
        }
        if levels.toBackend > 0 && !levels.backendBlocked {
            return .writeBackend
        }
        if levels.clientDataEnded && levels.toBackend == 0 && !levels.backendWriteShut {
            return .shutBackend
        }
        if levels.clientTruncated {
            return levels.ciphertext > 0 || levels.toClient > 0 ? .writeClient : nil
        }
        if levels.toClient > 0 && levels.ciphertext < ciphertextHighWater {
            return .encrypt
        }
        if levels.backendDataEnded && levels.toClient == 0 && !levels.closeNotifyQueued {
            return .queueCloseNotify
        }
        if levels.ciphertext > 0 && !levels.clientBlocked {
            return .writeClient
        }
        if levels.closeNotifyQueued && levels.ciphertext == 0 && !levels.clientWriteShut {
            return .shutClient
        }
        return nil
    }

    /// The readiness to wait for once `nextStep` is nil.
    static func interests(_ levels: Levels) -> Interests {
        var interests = Interests()
        interests.clientReadable = !levels.clientDataEnded && !levels.clientSocketEnded
            && !levels.clientInputPending && levels.toBackendRoom > 0
        interests.clientWritable = levels.ciphertext > 0 && !levels.clientTruncated
        interests.backendReadable = !levels.backendDataEnded && levels.toClientRoom > 0
            && levels.ciphertext < ciphertextHighWater
        interests.backendWritable = levels.toBackend > 0
        return interests
    }
}
