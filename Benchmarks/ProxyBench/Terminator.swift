import EventLoop
import Foundation
import TLS

#if canImport(Glibc)
import Glibc
#endif

/// The benchmark's backend process (`proxy-bench terminator --dir DIR`): one loop thread
/// serving sink, source and echo both in plaintext (the "direct" ceiling) and behind TLS 1.3
/// with a required client certificate (what the peers connect to). No session resumption:
/// every TLS connection pays a full handshake.
///
/// Reads `ca.pem`, `server.pem` and `server.key` from DIR; writes `terminator.json`
/// (`{"plain": {"sink": port, ...}, "tls": {...}}`) once listening. Exits when its parent
/// goes away or on SIGTERM.
enum Terminator {
    /// The ports file name inside the directory.
    static let portsFile = "terminator.json"

    /// The listening ports, as written to `terminator.json`.
    struct Ports: Codable {
        var plain: [String: Int]
        var tls: [String: Int]
    }

    /// Serves until killed. Throws only while starting.
    static func serve(directory: String) throws {
        try ProcessResources.raiseDescriptorLimit()
        let url = URL(fileURLWithPath: directory)
        let ca = try Certificate(pem: String(contentsOf: url.appendingPathComponent("ca.pem"), encoding: .utf8))
        let chain = try Certificate.chain(
            fromPEM: String(contentsOf: url.appendingPathComponent("server.pem"), encoding: .utf8))
        let key = try PrivateKey(pem: String(contentsOf: url.appendingPathComponent("server.key"), encoding: .utf8))
        let context = try TLSContext.server(certificateChain: chain, key: key, clientCAs: [ca])

        let loop = try EventLoop()
        let parent = getppid()
        var listeners: [Listener] = []
        var ports = Ports(plain: [:], tls: [:])
        let address = try SocketAddress(ip: "127.0.0.1", port: 0)
        for secure in [false, true] {
            for mode in BackendMode.allCases {
                let socket = try Socket.listen(on: address, backlog: 4096)
                let listener = try Listener(socket: socket, loop: loop, onAccept: { accepted in
                    let tls = secure ? try? TLSConnection(context: context, role: .server) : nil
                    if secure && tls == nil { return }
                    _ = try? TerminatorConnection(socket: accepted, mode: mode, tls: tls, loop: loop)
                }, onError: { error in
                    FileHandle.standardError.write(Data("terminator: accept: \(error)\n".utf8))
                })
                listener.maxAcceptsPerEvent = 256
                listeners.append(listener)
                let port = socket.localAddress?.port ?? 0
                if secure { ports.tls[mode.rawValue] = port } else { ports.plain[mode.rawValue] = port }
            }
        }

        let data = try JSONEncoder().encode(ports)
        let temporary = url.appendingPathComponent(portsFile + ".tmp")
        try data.write(to: temporary)
        _ = rename(temporary.path, url.appendingPathComponent(portsFile).path)

        watchParent(parent, loop: loop)
        loop.run()
        for listener in listeners { listener.close() }
    }

    /// Stops the loop once the parent process is gone, so a crashed benchmark leaves nothing.
    private static func watchParent(_ parent: pid_t, loop: EventLoop) {
        loop.schedule(after: .seconds(1)) {
            if getppid() != parent {
                loop.stop()
                return
            }
            watchParent(parent, loop: loop)
        }
    }
}
