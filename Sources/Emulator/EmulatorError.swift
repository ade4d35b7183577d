/// Every failure the emulator reports: a code naming the domain of the problem plus a sentence
/// with the context (flag, file, instance, phase) so that the message alone explains it.
public struct EmulatorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, coarsely; tests and callers switch on this.
    public enum Code: Equatable, Sendable {
        /// A command-line flag or value is invalid (exit status 2).
        case usage
        /// A request or document is not JSON, or not the JSON shape expected.
        case malformedJSON
        /// A request field is missing or has an invalid value.
        case invalidArgument
        /// A JWT assertion or token is not acceptable.
        case invalidGrant
        /// A file or directory in the state directory could not be written.
        case stateDirectory
        /// The HTTP server could not start.
        case httpServer
        /// A socket or TLS set-up failed.
        case network
        /// A cryptographic operation (key, certificate) failed.
        case crypto
        /// A metadata-exchange message is malformed.
        case metadataExchange
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
