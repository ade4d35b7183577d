#if canImport(Glibc)
import Glibc
#endif

/// State guarded by a pthread mutex: the one lock type of this package.
///
/// Why not `Synchronization.Mutex`: on Linux its lock is built from atomics in an uninstrumented
/// runtime, so ThreadSanitizer cannot see the synchronisation and reports every guarded access
/// as a race, which would hide real ones. pthread mutexes are intercepted by ThreadSanitizer.
///
/// Any thread. The mutex is not recursive: `body` must not lock the same `Locked` again. Keep
/// `body` short; it runs with the lock held.
public final class Locked<State>: @unchecked Sendable {
    // @unchecked Sendable: `state` is only touched inside `withLock`, under `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    public init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state and returns its result.
    @inlinable
    public func withLock<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        lock()
        defer { unlock() }
        return try body(&stateStorage)
    }

    @usableFromInline
    var stateStorage: State {
        get { state }
        _modify { yield &state }
    }

    @usableFromInline
    func lock() {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
    }

    @usableFromInline
    func unlock() {
        let rc = pthread_mutex_unlock(mutex)
        precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }
}
