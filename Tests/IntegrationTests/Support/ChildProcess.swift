import Foundation

/// A process started by a test, with its output captured to a file so that a failing test can
/// show what the process said.
///
/// Started with posix_spawn and reaped with waitpid by this type alone: Foundation's `Process`
/// relies on a SIGCHLD watcher that has been seen to miss exits, which hangs a test forever.
/// Not thread-safe: one test owns it. `stop()` (or deinit) ends the process, so a test never
/// leaks a child into the next one.
final class ChildProcess {
    let name: String
    let pid: pid_t
    let logURL: URL
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`; stdout and stderr go to `<logDirectory>/<name>.log`.
    convenience init(
        name: String,
        executable: URL,
        arguments: [String],
        environment: [String: String]? = nil,
        logDirectory: URL
    ) throws {
        let log = logDirectory.appendingPathComponent("\(name).log")
        try self.init(
            name: name,
            path: executable.path,
            arguments: arguments,
            environment: environment ?? [:],
            stdin: "/dev/null",
            stdout: log.path,
            stderr: log.path
        )
    }

    /// Starts `path` with its standard streams redirected to the given files.
    init(
        name: String,
        path: String,
        arguments: [String],
        environment: [String: String],
        stdin: String,
        stdout: String,
        stderr: String
    ) throws {
        self.name = name
        self.logURL = URL(fileURLWithPath: stdout)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }

        // The child starts with no blocked signals and default handlers, whatever the test
        // runner has set up, so SIGTERM and SIGINT mean what they mean to a user's shell.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw HarnessError("cannot start \(path): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    /// Everything the process wrote so far.
    var output: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// Reaps the child if it has exited; true while it runs.
    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        if rc == pid {
            exitStatus = Self.decode(status)
            return false
        }
        return rc == 0
    }

    /// The exit code (or 128 + signal), once the process has exited.
    var terminationStatus: Int32? {
        _ = isRunning
        return exitStatus
    }

    /// Sends `signal` and waits up to `timeout` seconds for the exit; returns the exit status,
    /// or nil if the process had to be killed.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 10) -> Int32? {
        guard isRunning else { return exitStatus }
        kill(pid, signal)
        if waitForExit(timeout: timeout) { return exitStatus }
        kill(pid, SIGKILL)
        _ = waitForExit(timeout: 10)
        return nil
    }

    /// Waits up to `timeout` seconds for the process to exit on its own.
    func waitForExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { usleep(10_000) }
        return !isRunning
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 10)
        }
    }
}

/// The result of running a command to completion.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a command to completion with a time limit and returns its status and output.
///
/// Output goes through temporary files rather than pipes so that a chatty command can never
/// block on a full pipe while we wait for it.
func runCommand(
    _ executable: String,
    _ arguments: [String],
    input: Data? = nil,
    environment: [String: String] = [:],
    timeout: TimeInterval = 120
) throws -> CommandResult {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("cmd-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out")
    let errURL = dir.appendingPathComponent("err")
    let inURL = dir.appendingPathComponent("in")
    try (input ?? Data()).write(to: inURL)

    let child = try ChildProcess(
        name: URL(fileURLWithPath: executable).lastPathComponent,
        path: executable,
        arguments: arguments,
        environment: environment,
        stdin: inURL.path,
        stdout: outURL.path,
        stderr: errURL.path
    )
    guard child.waitForExit(timeout: timeout) else {
        child.stop(signal: SIGKILL)
        throw HarnessError("\(executable) \(arguments.joined(separator: " ")) timed out")
    }
    return CommandResult(
        status: child.terminationStatus ?? -1,
        stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    )
}

/// A failure of the test harness itself (not of the code under test).
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
