/// A failure while starting or running the proxy (not a configuration mistake); exit 1.
public struct ProxyRuntimeError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
