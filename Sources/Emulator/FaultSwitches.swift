import Foundation
import Locking
import Synchronization

/// Failure injection for tests and demos, set through `POST /emulator/faults` or `--fault`
/// (see `FaultsAPI`). Thread-safe:
/// written by HTTP threads, read by HTTP threads and the instance endpoints' loop.
public final class FaultSwitches: Sendable {
    /// An injected Admin API failure.
    public struct APIError: Equatable, Sendable {
        public var code: Int
        public var status: String
        public var message: String
    }

    /// How the instance endpoint answers the metadata exchange.
    public enum MetadataExchangeFault: Equatable, Sendable {
        case none
        /// Reply ERROR with this message.
        case error(String)
        /// Never reply (the client's deadline must fire).
        case hang
        /// Close the connection instead of replying.
        case close
        /// Reply with a frame no client can decode.
        case garbage
    }

    /// How the instance endpoint treats a new TLS connection.
    public enum HandshakeFault: String, Equatable, Sendable {
        case none = "ok"
        /// Close the connection as soon as it is accepted, before reading anything.
        case refuse
        /// Read the ClientHello, then close without sending a ServerHello.
        case closeBeforeServerHello = "close-before-server-hello"
    }

    /// How a connection is cut by the drop faults.
    public enum CloseMode: String, Equatable, Sendable {
        /// Orderly: FIN.
        case fin
        /// Abortive: RST (SO_LINGER 0), queued bytes are dropped.
        case rst
    }

    /// The full switch state; under the mutex.
    public struct State: Equatable, Sendable {
        public var apiError: APIError?
        /// How many more API calls fail with `apiError`.
        public var apiErrorCount = 0
        /// Delay before answering each API call, in milliseconds.
        public var apiDelayMilliseconds = 0
        public var metadataExchange = MetadataExchangeFault.none
        /// Client certificate lifetime in seconds.
        public var certificateLifetime: Int
        /// Close each new tunnel after relaying this many bytes (sum of both directions).
        public var dropAfterBytes: Int?
        /// How `dropAfterBytes` and `dropNow` cut connections.
        public var dropMode = CloseMode.fin
        /// An injected token-endpoint failure and how many more requests get it.
        public var tokenError: APIError?
        public var tokenErrorCount = 0
        /// Delay before answering each token request, in milliseconds.
        public var tokenDelayMilliseconds = 0
        /// Delay before the instance endpoint starts its TLS handshake, in milliseconds.
        public var handshakeDelayMilliseconds = 0
        public var handshake = HandshakeFault.none
        /// Instance endpoints negotiate at most TLS 1.2 (clients that need 1.3 must refuse).
        public var instanceTLS12Only = false
    }

    private let state: Locked<State>

    public init(certificateLifetime: Int) {
        state = Locked(State(certificateLifetime: certificateLifetime))
    }

    /// A copy of the current switches.
    public var snapshot: State {
        state.withLock { $0 }
    }

    /// Applies `change` atomically.
    public func update(_ change: (inout State) -> Void) {
        state.withLock { change(&$0) }
    }

    /// The injected API error if one is armed, consuming one count.
    public func takeAPIError() -> APIError? {
        state.withLock { state in
            guard let error = state.apiError, state.apiErrorCount > 0 else { return nil }
            state.apiErrorCount -= 1
            return error
        }
    }

    /// The injected token-endpoint error if one is armed, consuming one count.
    public func takeTokenError() -> APIError? {
        state.withLock { state in
            guard let error = state.tokenError, state.tokenErrorCount > 0 else { return nil }
            state.tokenErrorCount -= 1
            return error
        }
    }

    public var certificateLifetime: Int {
        state.withLock { $0.certificateLifetime }
    }

    public var apiDelayMilliseconds: Int {
        state.withLock { $0.apiDelayMilliseconds }
    }

    public var metadataExchange: MetadataExchangeFault {
        state.withLock { $0.metadataExchange }
    }

    public var dropAfterBytes: Int? {
        state.withLock { $0.dropAfterBytes }
    }
}
