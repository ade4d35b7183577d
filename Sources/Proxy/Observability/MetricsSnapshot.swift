import Foundation

/// Figures for one served instance, as last published by the loop.
public struct InstanceFigures: Equatable, Sendable {
    /// The full instance URI (the `alloydb_instance` label, as in the Go connector).
    public var uri: String
    /// Tunnels of this instance open at publication.
    public var openTunnels = 0
    /// When the current client certificate expires; nil before the first refresh.
    public var certificateExpiry: Date?
    /// Connection info refreshes that succeeded.
    public var refreshSuccesses = 0
    /// Connection info refreshes that failed, by `ConnectorError.errorCode`; causes never seen
    /// are absent.
    public var refreshFailures: [String: Int] = [:]

    public init(uri: String) {
        self.uri = uri
    }
}

/// Everything `/metrics` shows: a copy of loop-thread state taken by a loop timer, so the HTTP
/// thread never touches the loop's objects. Plain value.
public struct MetricsSnapshot: Equatable, Sendable {
    /// One entry per served instance, in argument order.
    public var instances: [InstanceFigures] = []
    /// The tunnel counters (accepted, refused, failures by phase, dial latency).
    public var counters = ProxyCounters()
    /// Plaintext bytes relayed so far, closed and open tunnels together.
    public var bytesToInstance: UInt64 = 0
    public var bytesToClient: UInt64 = 0
    /// Reactor health.
    public var loopIterations: UInt64 = 0
    public var staleEventsDropped: UInt64 = 0
    public var loopEvents: UInt64 = 0

    public init() {}
}
