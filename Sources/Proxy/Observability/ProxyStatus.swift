import Locking
import Synchronization

/// The proxy state the HTTP threads may read: flags and counts written by the loop thread
/// (atomics, relaxed: each value stands alone), refresh outcomes counted by the refresh thread
/// (atomics in `refreshCounters`) and the metrics snapshot a loop timer publishes under a mutex
/// every 250 ms.
///
/// Shared by reference between the loop and refresh threads (writers) and libmicrohttpd's
/// threads (readers).
public final class ProxyStatus: Sendable {
    /// `--max-connections`; 0 for no limit.
    public let maxConnections: UInt64
    /// Refresh outcomes per instance; the connector's event hook writes them.
    public let refreshCounters: RefreshCounters
    private let started = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    private let open = Atomic<Int>(0)
    private let quitRequested = Atomic<Bool>(false)
    private let metrics = Locked(MetricsSnapshot())

    /// - Parameter instances: the served instance URIs, for the refresh counters.
    public init(maxConnections: UInt64, instances: [String] = []) {
        self.maxConnections = maxConnections
        refreshCounters = RefreshCounters(instances: instances)
    }

    /// True once every listener is bound (and the connection test, if any, passed).
    public var isStarted: Bool { started.load(ordering: .relaxed) }

    /// True from the first shutdown request on.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Open tunnels as last published (at each accept and every 250 ms).
    public var openTunnels: Int { open.load(ordering: .relaxed) }

    /// The last published metrics, with the refresh counts as of now.
    public var snapshot: MetricsSnapshot {
        var snapshot = metrics.withLock { $0 }
        for index in snapshot.instances.indices {
            let uri = snapshot.instances[index].uri
            snapshot.instances[index].refreshSuccesses = refreshCounters.successes(of: uri)
            snapshot.instances[index].refreshFailures = refreshCounters.failures(of: uri)
        }
        return snapshot
    }

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
