import Foundation

/// A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, started through
/// scripts/pg-throwaway.sh (which runs the server as the postgres user when we are root).
final class Postgres {
    let port: Int
    let directory: URL
    private var running = false

    init() throws {
        port = try TestBed.freePort()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("alloydb-it-pg-\(UUID().uuidString.prefix(8))")
        let script = TestBed.packageRoot.appendingPathComponent("scripts/pg-throwaway.sh").path
        let result = try runCommand(script, ["start", directory.path, String(port)], timeout: 90)
        guard result.status == 0 else {
            throw HarnessError("PostgreSQL did not start: \(result.stderr)\(result.stdout)")
        }
        running = true
    }

    func stop() {
        guard running else { return }
        running = false
        let script = TestBed.packageRoot.appendingPathComponent("scripts/pg-throwaway.sh").path
        _ = try? runCommand(script, ["stop", directory.path], timeout: 60)
    }

    deinit { stop() }
}
