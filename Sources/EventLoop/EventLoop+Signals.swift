import CLinuxShims

#if canImport(Glibc)
import Glibc
#endif

extension EventLoop {
    /// Blocks `signals` for the calling thread and every thread it creates afterwards, so they
    /// are delivered only through `handleSignals`. Call first thing in `main`, before any
    /// thread exists; a thread started earlier keeps its mask and may take the signal instead.
    public static func blockSignals(_ signals: [Int32]) throws {
        var set = try signalSet(signals)
        let result = pthread_sigmask(SIG_BLOCK, &set, nil)
        if result != 0 {
            throw SyscallError(errno: result, call: "pthread_sigmask(SIG_BLOCK)")
        }
    }

    /// The signals blocked on the calling thread.
    public static func blockedSignals() -> [Int32] {
        var set = sigset_t()
        sigemptyset(&set)
        _ = pthread_sigmask(SIG_BLOCK, nil, &set)
        // 64 is the kernel's highest signal number (NSIG - 1) on Linux.
        return (1...Int32(64)).filter { sigismember(&set, $0) == 1 }
    }

    /// Makes a process started with `attributes` begin with an empty signal mask and default
    /// dispositions for the signals this process blocked, as if it were started from a shell.
    /// Without this a child inherits the loop's blocked set and ignores SIGTERM.
    public static func restoreDefaultSignals(in attributes: inout posix_spawnattr_t) throws {
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = try signalSet(blockedSignals())
        var flags: Int16 = 0
        try check(posix_spawnattr_getflags(&attributes, &flags), "posix_spawnattr_getflags")
        flags |= Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        try check(posix_spawnattr_setflags(&attributes, flags), "posix_spawnattr_setflags")
        try check(posix_spawnattr_setsigmask(&attributes, &empty), "posix_spawnattr_setsigmask")
        try check(posix_spawnattr_setsigdefault(&attributes, &defaults), "posix_spawnattr_setsigdefault")
    }

    /// Delivers `signals` to `handler` on the loop thread, one call per signal received.
    ///
    /// The signals must already be blocked (`blockSignals`) on every thread, or the kernel may
    /// deliver them the default way instead. A later call for the same signal replaces its
    /// handler. Loop thread only.
    public func handleSignals(_ signals: [Int32], _ handler: @escaping (Int32) -> Void) throws {
        if self.signals == nil {
            self.signals = SignalSource()
        }
        // Non-nil: created just above.
        try self.signals!.add(signals, handler, loop: self)
    }

    static func signalSet(_ signals: [Int32]) throws -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals {
            if sigaddset(&set, signal) != 0 {
                throw SyscallError(errno: EINVAL, call: "sigaddset(\(signal))")
            }
        }
        return set
    }

    private static func check(_ result: Int32, _ call: String) throws {
        if result != 0 {
            throw SyscallError(errno: result, call: call)
        }
    }
}

/// One signalfd per loop, its mask widened as handlers are added. Loop thread only.
final class SignalSource: IOHandler {
    private var fd: Int32 = -1
    private var handlers: [Int32: (Int32) -> Void] = [:]
    private var registration: Registration?

    func add(_ signals: [Int32], _ handler: @escaping (Int32) -> Void, loop: EventLoop) throws {
        var set = try EventLoop.signalSet(Array(handlers.keys) + signals)
        let flags = CLinuxShims_SFD_CLOEXEC | CLinuxShims_SFD_NONBLOCK
        let current = fd
        let result = try Posix.retrying("signalfd") { CLinuxShims_signalfd(current, &set, flags) }
        if fd < 0 {
            fd = result
            registration = try loop.register(fd: fd, interest: .readable, handler: self)
        }
        for signal in signals {
            handlers[signal] = handler
        }
    }

    func handle(_ events: IOEvents) {
        // Bounded: a signal storm cannot hold the loop beyond this many records per turn.
        for _ in 0..<64 {
            var signo: UInt32 = 0
            let read = try? Posix.nonBlocking("read(signalfd)") { CLinuxShims_signalfd_read(fd, &signo) }
            guard read != nil else {
                return
            }
            let signal = Int32(bitPattern: signo)
            handlers[signal]?(signal)
        }
    }

    /// Deregisters from `loop` (which is closing) and closes the signalfd.
    func close(loop: EventLoop) {
        if let registration {
            loop.deregister(registration)
        }
        registration = nil
        if fd >= 0 {
            Posix.close(fd)
            fd = -1
        }
    }
}
