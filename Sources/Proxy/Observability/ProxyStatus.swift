import Synchronization

/// The proxy state the HTTP threads may read: flags and counts written by the loop thread
/// (atomics, relaxed: each value stands alone) and the metrics snapshot a loop timer publishes
/// under a mutex every 250 ms.
///
/// Shared by reference between the loop thread (writer) and libmicrohttpd's threads (readers).
public final class ProxyStatus: Sendable {
    /// `--max-connections`; 0 for no limit.
    public let maxConnections: UInt64
    private let started = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    private let open = Atomic<Int>(0)
    private let quitRequested = Atomic<Bool>(false)
    private let metrics = Mutex(MetricsSnapshot())

    public init(maxConnections: UInt64) {
        self.maxConnections = maxConnections
    }

    /// True once every listener is bound (and the connection test, if any, passed).
    public var isStarted: Bool { started.load(ordering: .relaxed) }

    /// True from the first shutdown request on.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Open tunnels as last published (at each accept and every 250 ms).
    public var openTunnels: Int { open.load(ordering: .relaxed) }

    /// The last published metrics.
    public var snapshot: MetricsSnapshot { metrics.withLock { $0 } }

    func markStarted() { started.store(true, ordering: .relaxed) }

    func markDraining() { draining.store(true, ordering: .relaxed) }

    func publish(openTunnels: Int) { open.store(openTunnels, ordering: .relaxed) }

    func publish(_ snapshot: MetricsSnapshot) {
        metrics.withLock { $0 = snapshot }
        open.store(snapshot.instances.reduce(0) { $0 + $1.openTunnels }, ordering: .relaxed)
    }

    /// True for the first `/quitquitquit` only; later ones must not start a second shutdown.
    func claimQuit() -> Bool {
        !quitRequested.exchange(true, ordering: .relaxed)
    }
}
