/// Process-wide tunnel counters: cheap integer updates instead of log lines for anomalies.
///
/// Loop thread only (the proxy has one loop); read them from the loop, e.g. for a summary at
/// shutdown or a future metrics endpoint.
public struct ProxyCounters: Equatable, Sendable {
    /// Client connections accepted.
    public var accepted = 0
    /// Client connections refused at `--max-connections`.
    public var refused = 0
    /// Tunnels open right now (a gauge: up at accept, down at close).
    public var open = 0
    /// Tunnels that reached the relay phase.
    public var established = 0
    /// Tunnels closed after relaying.
    public var completed = 0
    /// Dials that failed, by the phase they failed in.
    public var failedByPhase: [TunnelPhase: Int] = [:]
    /// Forced refreshes requested after TCP or TLS failures.
    public var forcedRefreshes = 0
    /// Bytes relayed from clients to instances and back (plaintext).
    public var bytesToInstance: UInt64 = 0
    public var bytesToClient: UInt64 = 0

    public init() {}

    /// Failures in `phase` so far.
    public func failed(in phase: TunnelPhase) -> Int {
        failedByPhase[phase, default: 0]
    }
}
