import EventLoop
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One reading of a process's counters from /proc: CPU time, read/write syscalls, resident
/// memory and open descriptors. A value; compare two readings with `-`.
struct ProcessSample: Sendable {
    /// utime + stime of all threads, in seconds.
    var cpuSeconds: Double
    /// syscr + syscw: read-like plus write-like system calls.
    var syscalls: UInt64
    /// VmRSS in KiB.
    var rssKiB: UInt64
}

/// Why a process could not be measured.
struct ProbeError: Error, CustomStringConvertible {
    let pid: Int32
    let file: String

    var description: String { "Could not read /proc/\(pid)/\(file); the process may have exited." }
}

/// Reads the counters of a process under test from /proc. Any thread; each call opens and
/// parses a few small files (tens of microseconds), so call it only between measured phases.
enum ProcessProbe {
    /// Clock ticks per second for /proc/<pid>/stat times.
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// All counters of `pid` at once.
    static func sample(_ pid: Int32) throws -> ProcessSample {
        ProcessSample(cpuSeconds: try cpuSeconds(pid), syscalls: try syscalls(pid), rssKiB: try rssKiB(pid))
    }

    /// utime + stime (fields 14 and 15 of /proc/<pid>/stat), in seconds. The command name
    /// (field 2) may contain spaces, so fields are counted after its closing parenthesis.
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let text = try read(pid, "stat")
        guard let close = text.lastIndex(of: ")") else { throw ProbeError(pid: pid, file: "stat") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ")" field 3 (state) is index 0, so utime (14) is index 11 and stime index 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw ProbeError(pid: pid, file: "stat")
        }
        return (user + system) / ticksPerSecond
    }

    /// syscr + syscw from /proc/<pid>/io (needs the same user or root).
    static func syscalls(_ pid: Int32) throws -> UInt64 {
        let text = try read(pid, "io")
        var total: UInt64 = 0
        for line in text.split(separator: "\n") where line.hasPrefix("syscr:") || line.hasPrefix("syscw:") {
            guard let value = UInt64(line.split(separator: " ").last ?? "") else {
                throw ProbeError(pid: pid, file: "io")
            }
            total += value
        }
        return total
    }

    /// VmRSS from /proc/<pid>/status, in KiB.
    static func rssKiB(_ pid: Int32) throws -> UInt64 {
        let text = try read(pid, "status")
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let value = UInt64(parts[1]) { return value }
        }
        throw ProbeError(pid: pid, file: "status")
    }

    /// Open descriptors of `pid`, counted from /proc/<pid>/fd.
    static func descriptorCount(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    /// The direct children of `pid` (the kernel lists them per thread), e.g. an nginx worker.
    static func children(of pid: Int32) -> [Int32] {
        let path = "/proc/\(pid)/task/\(pid)/children"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: " ").compactMap { Int32($0) }
    }

    /// True while `pid` exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let text = try? read(pid, "stat"), let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    private static func read(_ pid: Int32, _ file: String) throws -> String {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/\(file)", encoding: .utf8) else {
            throw ProbeError(pid: pid, file: file)
        }
        return text
    }
}

/// Time and CPU readings of this process, for the in-process micro-benchmarks.
enum BenchClock {
    /// CLOCK_MONOTONIC in nanoseconds.
    static func nanoseconds() -> UInt64 {
        SystemClocks.monotonicNow().nanoseconds
    }

    /// Seconds since `start` (a `nanoseconds()` reading).
    static func seconds(since start: UInt64) -> Double {
        Double(nanoseconds() &- start) / 1e9
    }

    /// CPU time of the calling thread in nanoseconds.
    static func threadCPUNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
