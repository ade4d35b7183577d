import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process the benchmark started (terminator, emulator, proxy or a peer), with its output
/// in a log file. Main thread only. `stop()` sends SIGTERM, waits up to three seconds, then
/// sends SIGKILL; `deinit` stops a process still running so none outlives the run.
final class ChildProcess {
    let name: String
    let logPath: String
    private let process: Process

    /// Starts `executable` with `arguments`, output appended to `logPath`.
    init(name: String, executable: String, arguments: [String], logPath: String,
         workingDirectory: String? = nil, environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw SetupError("\(name): \(executable) is not an executable file")
        }
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw SetupError("\(name): could not open \(logPath)")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let workingDirectory {
            process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        }
        do {
            try process.run()
        } catch {
            throw SetupError("\(name): could not start \(executable): \(error)")
        }
        ChildRegistry.add(process.processIdentifier)
    }

    deinit {
        stop()
    }

    /// The process id.
    var pid: Int32 { process.processIdentifier }

    /// True until the process exits.
    var isRunning: Bool { process.isRunning }

    /// The last `lines` lines of the log, for error messages.
    func logTail(_ lines: Int = 5) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(lines).joined(separator: " | ")
    }

    /// Terminates the process (SIGTERM, then SIGKILL after three seconds). Idempotent.
    func stop() {
        defer { ChildRegistry.remove(pid) }
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline {
            usleep(20_000)
        }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Sends SIGINT (perf prints its counts on it) and waits up to three seconds for the exit,
    /// then stops the process the hard way.
    func interrupt() {
        guard process.isRunning else { return }
        kill(pid, SIGINT)
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline {
            usleep(10_000)
        }
        stop()
    }

    /// Waits until `condition` holds, polling every 20 ms for at most `seconds`; fails early,
    /// naming the log, when the process exits.
    func wait(seconds: Double, for what: String, until condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return }
            guard process.isRunning else {
                if condition() { return }
                throw SetupError("\(name) exited before \(what): \(logTail())")
            }
            usleep(20_000)
        }
        throw SetupError("\(name) did not reach \(what) within \(Int(seconds)) s: \(logTail())")
    }
}
