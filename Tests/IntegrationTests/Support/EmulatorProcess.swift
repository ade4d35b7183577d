import Foundation

/// The `alloydb-emulator` executable serving one or more instances for a test.
///
/// It is ready once it has written `emulator.json` into its state directory; that file names
/// the Admin API endpoint. `events()` reads the emulator's event log.
final class EmulatorProcess {
    let stateDirectory: URL
    let apiEndpoint: String
    let child: ChildProcess

    /// Starts the emulator with `instances` given as `URI=IP[,options]` arguments.
    init(instances: [String], postgresPort: Int?, extraArguments: [String] = [], in dir: URL) throws {
        stateDirectory = dir.appendingPathComponent("emulator")
        var arguments = ["serve", "--state-dir", stateDirectory.path]
        for instance in instances { arguments += ["--instance", instance] }
        if let postgresPort { arguments += ["--postgres", "127.0.0.1:\(postgresPort)"] }
        arguments += extraArguments
        child = try ChildProcess(
            name: "emulator",
            executable: try TestBed.executable("alloydb-emulator"),
            arguments: arguments,
            logDirectory: dir
        )
        let ready = stateDirectory.appendingPathComponent("emulator.json")
        let child = self.child
        guard TestBed.waitUntil(timeout: 30, { FileManager.default.fileExists(atPath: ready.path) })
        else {
            throw HarnessError("the emulator did not become ready:\n\(child.output)")
        }
        let data = try Data(contentsOf: ready)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let endpoint = object?["apiEndpoint"] as? String else {
            throw HarnessError("emulator.json has no apiEndpoint: \(String(decoding: data, as: UTF8.self))")
        }
        apiEndpoint = endpoint
    }

    var serviceAccountFile: String {
        stateDirectory.appendingPathComponent("service-account.json").path
    }

    /// Every event the emulator logged so far, one dictionary per JSON line.
    func events() -> [[String: Any]] {
        let url = stateDirectory.appendingPathComponent("events.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func events(named name: String) -> [[String: Any]] {
        events().filter { $0["event"] as? String == name }
    }

    func stop() { child.stop() }
}
