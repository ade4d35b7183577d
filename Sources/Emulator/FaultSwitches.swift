import Foundation
import Synchronization

/// Failure injection for tests and demos, set through `POST /emulator/faults`. Thread-safe:
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
    }

    private let state: Mutex<State>

    public init(certificateLifetime: Int) {
        state = Mutex(State(certificateLifetime: certificateLifetime))
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
