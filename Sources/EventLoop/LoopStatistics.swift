/// Counters a loop keeps about itself; read them on the loop thread via
/// `EventLoop.statistics`. All only grow.
public struct LoopStatistics: Equatable, Sendable {
    /// Completed loop turns (one `epoll_wait` each).
    public var iterations: UInt64 = 0

    /// Kernel events received, including stale ones.
    public var events: UInt64 = 0

    /// Events dropped because their registration had ended (fd closed or reused) in the
    /// same batch.
    public var staleEventsDropped: UInt64 = 0

    /// Timer callbacks run.
    public var timersFired: UInt64 = 0

    /// Times the loop was woken by `LoopExecutor.execute` or `requestStop`.
    public var wakeups: UInt64 = 0

    /// Cross-thread work items run.
    public var tasksRun: UInt64 = 0

    /// Times the events array was full after a wait and was doubled.
    public var eventArrayGrowths: UInt64 = 0

    /// Interest changes that reached the kernel (epoll_ctl calls after batching).
    public var interestUpdates: UInt64 = 0

    /// Creates zeroed counters.
    public init() {}
}
