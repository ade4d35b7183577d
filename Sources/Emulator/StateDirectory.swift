import Foundation

/// The directory the emulator publishes its credentials and readiness file in.
///
/// Files are written 0600 through a temporary name and `rename`, so a reader never sees a
/// partial file; `emulator.json` is written last and is the readiness signal.
public struct StateDirectory: Sendable {
    public let path: String

    /// Creates the directory (mode 0700, parents included) if missing and, with
    /// `clearReadiness`, removes a stale `emulator.json` so that readers wait for this run's.
    public init(path: String, clearReadiness: Bool = true) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw EmulatorError(.stateDirectory, "cannot create state directory \(path): \(error)")
        }
        if clearReadiness && unlink(file("emulator.json")) != 0 && errno != ENOENT {
            throw EmulatorError(
                .stateDirectory,
                "cannot remove stale \(file("emulator.json")): \(String(cString: strerror(errno)))")
        }
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    /// Writes `contents` to `name` atomically with mode 0600.
    public func write(_ name: String, _ contents: [UInt8]) throws {
        let target = file(name)
        let temporary = file(".\(name).tmp-\(getpid())")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("create", temporary) }
        var offset = 0
        while offset < contents.count {
            let written = contents[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let error = failure("write", temporary)
                close(fd)
                unlink(temporary)
                throw error
            }
            offset += written
        }
        guard fsync(fd) == 0, close(fd) == 0 else { throw failure("flush", temporary) }
        guard rename(temporary, target) == 0 else {
            let error = failure("rename into place", target)
            unlink(temporary)
            throw error
        }
    }

    /// Writes a JSON document followed by a newline.
    public func write(_ name: String, json: JSONValue) throws {
        try write(name, Array((json.serialized + "\n").utf8))
    }

    private func failure(_ action: String, _ file: String) -> EmulatorError {
        EmulatorError(.stateDirectory, "cannot \(action) \(file): \(String(cString: strerror(errno)))")
    }
}
