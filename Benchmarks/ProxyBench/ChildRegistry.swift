#if canImport(Glibc)
import Glibc
#endif

/// The pids of running children, so that SIGINT or SIGTERM to the benchmark stops them too
/// instead of leaving relays, the emulator or perf behind. Registration happens on the main
/// thread only; the signal handler only reads the slots and calls kill and _exit, which are
/// async-signal-safe.
enum ChildRegistry {
    private static let capacity = 64

    /// Fixed slots, 0 when free. Written only by the main thread; the handler reads aligned
    /// 32-bit values, which cannot tear, so sharing with it needs no lock.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<Int32> = {
        let slots = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        return slots
    }()

    /// Remembers `pid` until `remove` is called (silently ignored when all slots are taken).
    static func add(_ pid: Int32) {
        for index in 0..<capacity where slots[index] == 0 {
            slots[index] = pid
            return
        }
    }

    /// Forgets `pid`.
    static func remove(_ pid: Int32) {
        for index in 0..<capacity where slots[index] == pid {
            slots[index] = 0
        }
    }

    /// Installs the SIGINT/SIGTERM handler: SIGTERM every registered child, then exit 130.
    static func installSignalHandlers() {
        // Initialise the lazy static now; the handler must not run an initialiser.
        _ = slots
        for signal in [SIGINT, SIGTERM] {
            Glibc.signal(signal) { _ in
                for index in 0..<ChildRegistry.capacity {
                    let pid = ChildRegistry.slots[index]
                    if pid > 0 { kill(pid, SIGTERM) }
                }
                _exit(130)
            }
        }
    }
}
