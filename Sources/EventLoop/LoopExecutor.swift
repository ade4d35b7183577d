import Locking

#if canImport(Glibc)
import Glibc
#endif

/// Hands work to a loop from any thread. The only part of the loop that is safe off the loop
/// thread.
///
/// Work is queued under a mutex and the loop is woken through an eventfd; it runs on the loop
/// thread in submission order, during the loop turn after the wake-up. Work submitted after the
/// loop was closed is dropped, since nothing would ever run it.
public final class LoopExecutor: Sendable {
    private struct State {
        var queue: [@Sendable () -> Void] = []
        /// True from the first ring until the loop drains; later submitters skip the syscall.
        var wakePending = false
        var stopRequested = false
        var closed = false
    }

    /// The queue and flags; written by any thread under the lock, drained by the loop thread.
    private let state = Locked(State())

    /// The doorbell. Written only under `state`'s lock, so `close()` cannot race a write.
    let eventFD: Int32

    init() throws(SyscallError) {
        eventFD = try EventFD.create()
    }

    /// Queues `work` to run on the loop thread and wakes the loop. Any thread; never blocks
    /// beyond a short lock; costs one eventfd write per loop turn at most.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        state.withLock { state in
            guard !state.closed else {
                return
            }
            state.queue.append(work)
            ringLocked(&state)
        }
    }

    /// Asks the loop to return from `run()` after its current turn. Any thread.
    public func requestStop() {
        state.withLock { state in
            guard !state.closed else {
                return
            }
            state.stopRequested = true
            ringLocked(&state)
        }
    }

    private func ringLocked(_ state: inout State) {
        guard !state.wakePending else {
            return
        }
        state.wakePending = true
        do {
            try EventFD.ring(eventFD)
        } catch {
            // Only a broken eventfd fails here; the work stays queued for the next wake-up.
            assertionFailure("\(error)")
        }
    }

    /// Takes the queued work and the stop request. Loop thread only.
    ///
    /// The eventfd is reset before the queue is taken, so a submission racing with this call
    /// either lands in the returned batch or rings again.
    func drain() -> (work: [@Sendable () -> Void], stop: Bool) {
        _ = try? EventFD.drain(eventFD)
        return state.withLock { state in
            let work = state.queue
            let stop = state.stopRequested
            state.queue = []
            state.stopRequested = false
            state.wakePending = false
            return (work, stop)
        }
    }

    /// Drops pending work and closes the eventfd. Loop thread, once.
    func close() {
        let dropped: [@Sendable () -> Void] = state.withLock { state in
            guard !state.closed else {
                return []
            }
            state.closed = true
            Posix.close(eventFD)
            let queue = state.queue
            state.queue = []
            return queue
        }
        // Release the closures outside the lock: their captures may run arbitrary deinits.
        _ = dropped
    }
}
