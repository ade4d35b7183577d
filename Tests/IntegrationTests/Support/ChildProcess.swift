import Foundation

/// A process started by a test, with its output captured to a file so that a failing test can
/// show what the process said.
///
/// Not thread-safe: one test owns it. `stop()` (or deinit) terminates the process; the test
/// never leaks a child into the next test.
final class ChildProcess {
    let name: String
    let process = Process()
    let logURL: URL

    /// Starts `executable` with `arguments`; stdout and stderr both go to `logURL`.
    init(
        name: String,
        executable: URL,
        arguments: [String],
        environment: [String: String]? = nil,
        logDirectory: URL
    ) throws {
        self.name = name
        self.logURL = logDirectory.appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.executableURL = executable
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Everything the process wrote so far.
    var output: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    var isRunning: Bool { process.isRunning }

    /// Sends `signal` and waits up to `timeout` seconds for the exit; returns the exit status,
    /// or nil if the process had to be killed.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 10) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        if waitForExit(timeout: timeout) { return process.terminationStatus }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return nil
    }

    /// Waits up to `timeout` seconds for the process to exit on its own.
    func waitForExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
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
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    FileManager.default.createFile(atPath: inURL.path, contents: input ?? Data())

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = try FileHandle(forReadingFrom: inURL)
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw HarnessError("\(executable) \(arguments.joined(separator: " ")) timed out")
    }
    return CommandResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    )
}

/// A failure of the test harness itself (not of the code under test).
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
