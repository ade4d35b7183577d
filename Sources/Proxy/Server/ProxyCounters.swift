/// Process-wide tunnel counters: cheap integer updates instead of log lines for anomalies.
///
/// Loop thread only (the proxy has one loop); a loop timer copies them into the published
/// `MetricsSnapshot` for `/metrics`, so the data path never touches an atomic.
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
    /// Bytes relayed from clients to instances and back (plaintext), of closed tunnels.
    public var bytesToInstance: UInt64 = 0
    public var bytesToClient: UInt64 = 0
    /// Time from accepting a client to the start of relaying, for tunnels that got there.
    public var dialLatency = LatencyHistogram()

    public init() {}

    /// Failures in `phase` so far.
    public func failed(in phase: TunnelPhase) -> Int {
        failedByPhase[phase, default: 0]
    }

    /// All failed dials.
    public var failedDials: Int {
        failedByPhase.values.reduce(0, +)
    }
}
