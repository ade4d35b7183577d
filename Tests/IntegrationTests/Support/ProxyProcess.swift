import Foundation

/// The `alloydb-auth-proxy` executable under test, listening on a free port of 127.0.0.1.
final class ProxyProcess {
    let port: Int
    let child: ChildProcess

    /// Starts the proxy with `arguments` after `--port <free port>`, and waits until it accepts
    /// connections (or exits, which `waitUntilListening` reports with its output).
    init(arguments: [String], environment: [String: String]? = nil, in dir: URL) throws {
        port = try TestBed.freePort()
        child = try ChildProcess(
            name: "proxy",
            executable: try TestBed.executable("alloydb-auth-proxy"),
            arguments: ["--port", String(port)] + arguments,
            environment: environment,
            logDirectory: dir
        )
    }

    /// Waits until the listener accepts connections.
    func waitUntilListening() throws {
        let port = self.port
        let child = self.child
        let ok = TestBed.waitUntil(timeout: 30) {
            !child.isRunning || TestBed.canConnect(host: "127.0.0.1", port: port)
        }
        guard ok, child.isRunning else {
            throw HarnessError("the proxy is not listening on \(port):\n\(child.output)")
        }
    }

    /// A libpq connection string through this proxy.
    var connectionString: String {
        "host=127.0.0.1 port=\(port) user=postgres dbname=postgres sslmode=disable connect_timeout=20"
    }

    func stop() -> Int32? { child.stop() }
}
