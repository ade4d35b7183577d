import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Counts every system call a process makes during a phase, with `perf stat -e
/// raw_syscalls:sys_enter -p PID` (a kernel counter, no sampling or tracing per call, so the
/// process runs at full speed). /proc/<pid>/io's syscr/syscw only count read-family and
/// write-family calls and miss recv/send/recvmsg/sendmsg and epoll, so this is the number
/// the tables show when perf is available. Main thread only.
final class SyscallCounter {
    private let process: ChildProcess
    private let output: String

    /// Starts counting for `pid`; nil when perf is missing or cannot attach.
    init?(pid: Int32, directory: URL) {
        guard let perf = try? PathLauncher.find("perf") else { return nil }
        output = directory.appendingPathComponent("perf-\(pid)-\(BenchClock.nanoseconds()).txt").path
        let arguments = ["stat", "-e", "raw_syscalls:sys_enter", "-x,", "-o", output, "-p", String(pid)]
        guard let process = try? ChildProcess(name: "perf", executable: perf, arguments: arguments,
                                              logPath: output + ".log") else { return nil }
        self.process = process
        // perf needs a moment to open its counters; calls before that would be missed.
        usleep(150_000)
        guard process.isRunning else { return nil }
    }

    /// Stops counting and returns the number of system calls seen; nil if perf reported none.
    func finish() -> UInt64? {
        process.interrupt()
        guard let text = try? String(contentsOfFile: output, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.contains("raw_syscalls:sys_enter") {
            return UInt64(line.split(separator: ",", omittingEmptySubsequences: false).first ?? "")
        }
        return nil
    }
}
