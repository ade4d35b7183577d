import EventLoop
import Foundation
import Locking
import Synchronization
import TLS

/// Where an instance's tunnels send their bytes, resolved once at start-up.
enum BackendTarget {
    case address(SocketAddress)
    case local(LocalBackend.Kind)

    /// Resolves a configured backend; host names go through getaddrinfo (IPv4) once.
    init(_ backend: InstanceSpec.Backend) throws {
        switch backend {
        case .echo: self = .local(.echo)
        case .sink: self = .local(.sink)
        case .source: self = .local(.source)
        case .postgres(let host, let port):
            let ip = IPv4.isLiteral(host) ? host : try BackendTarget.resolve(host)
            do {
                self = .address(try SocketAddress(ip: ip, port: Int(port)))
            } catch {
                throw EmulatorError(.usage, "backend \(host):\(port): \(error)")
            }
        }
    }

    private static func resolve(_ host: String) throws -> String {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
            throw EmulatorError(.usage, "backend host \"\(host)\" does not resolve to an IPv4 address")
        }
        defer { freeaddrinfo(list) }
        var address = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
            $0.pointee.sin_addr
        }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The server-side endpoints of all instances on one event-loop thread: a listener per
/// instance on `<ip>:<instance port>`, and the tunnels they accept.
///
/// `init` binds every listener on the calling thread (so failures are reported at once), then
/// hands the loop to its own thread; `stop()` asks the loop to finish, closes every tunnel and
/// waits for the thread. All loop objects are touched only by the loop thread after `init`.
final class InstanceEndpoints: Sendable {
    /// The loop and everything on it, handed from the creating thread to the loop thread.
    private final class LoopState: @unchecked Sendable {
        // @unchecked: used by the creating thread until the loop thread starts, then by the
        // loop thread only; the hand-over happens-before through Thread start.
        let loop: EventLoop
        var listeners: [Listener] = []
        var tunnels: [ObjectIdentifier: Tunnel] = [:]
        var contexts: [String: (generation: Int, tls12: Bool, context: TLSContext)] = [:]
        init(loop: EventLoop) { self.loop = loop }
    }

    private let state: LoopState
    private let finished = Locked<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)

    init(
        instances: [AdminAPI.Instance],
        configuration: EmulatorConfiguration,
        authorities: [String: ClusterAuthority],
        tokens: TokenStore,
        faults: FaultSwitches,
        events: EventLog
    ) throws {
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            throw EmulatorError(.network, "cannot create the event loop: \(error)")
        }
        let state = LoopState(loop: loop)
        self.state = state
        for instance in instances {
            guard let authority = authorities[instance.spec.clusterName] else { continue }
            let serverKey = try PrivateKey.generateRSA()
            let environment = Tunnel.Environment(
                instance: instance.spec,
                backend: try BackendTarget(configuration.backend(for: instance.spec)),
                tokens: tokens, faults: faults, events: events,
                usesMetadataExchange: instance.spec.metadataExchange,
                onClose: { [unowned state] tunnel in state.tunnels[ObjectIdentifier(tunnel)] = nil })
            let address: SocketAddress
            let socket: Socket
            do {
                address = try SocketAddress(ip: instance.spec.ipAddress, port: Int(configuration.instancePort))
                socket = try Socket.listen(on: address)
            } catch {
                Self.closeAll(state)
                throw EmulatorError(
                    .network,
                    "instance \(instance.spec.uri): cannot listen on "
                        + "\(instance.spec.ipAddress):\(configuration.instancePort): \(error)")
            }
            let listener = try Listener(
                socket: socket, loop: loop,
                onAccept: { [unowned state] accepted in
                    Self.accept(accepted, state: state, instance: instance, authority: authority,
                                key: serverKey, environment: environment)
                },
                onError: { error in
                    FileHandle.standardError.write(Data("alloydb-emulator: accept: \(error)\n".utf8))
                })
            state.listeners.append(listener)
        }
        let thread = Thread { [state, done] in
            state.loop.run()
            Self.closeAll(state)
            state.loop.close()
            done.signal()
        }
        thread.name = "emulator-endpoints"
        thread.start()
    }

    private static func accept(
        _ socket: Socket, state: LoopState, instance: AdminAPI.Instance,
        authority: ClusterAuthority, key: PrivateKey, environment: Tunnel.Environment
    ) {
        if environment.faults.snapshot.handshake == .refuse {
            environment.events.record([
                ("event", "tunnel-refused"), ("instance", .string(instance.spec.uri)),
                ("reason", "refused at accept (fault)"),
            ])
            socket.close()
            return
        }
        do {
            let context = try serverContext(
                state: state, instance: instance, authority: authority, key: key,
                environment: environment)
            let tunnel = try Tunnel(client: socket, context: context, loop: state.loop, environment: environment)
            state.tunnels[ObjectIdentifier(tunnel)] = tunnel
        } catch {
            environment.events.record([
                ("event", "tunnel-refused"), ("instance", .string(instance.spec.uri)),
                ("reason", .string("\(error)")),
            ])
            socket.close()
        }
    }

    /// The instance's TLS context for the cluster's current CA generation, rebuilt (one
    /// signature) after a rotation.
    private static func serverContext(
        state: LoopState, instance: AdminAPI.Instance, authority: ClusterAuthority, key: PrivateKey,
        environment: Tunnel.Environment
    ) throws -> TLSContext {
        let generation = authority.generation
        let tls12 = environment.faults.snapshot.instanceTLS12Only
        if let cached = state.contexts[instance.spec.uri], cached.generation == generation.number,
            cached.tls12 == tls12
        {
            return cached.context
        }
        let chain = try authority.issueServerCertificate(for: instance.spec, uid: instance.uid, key: key)
        let context = try TLSContext.server(
            certificateChain: chain, key: key, clientCAs: [generation.root.certificate],
            requireClientCertificate: true, minimumVersion: tls12 ? .tls12 : .tls13,
            maximumVersion: tls12 ? .tls12 : .tls13)
        state.contexts[instance.spec.uri] = (generation.number, tls12, context)
        return context
    }

    /// Cuts every open tunnel with `mode` (the `dropNow` fault) and returns how many. Blocks
    /// the calling thread (not the loop thread) until the loop has done it.
    func dropAll(mode: FaultSwitches.CloseMode) -> Int {
        guard !stopped.load(ordering: .acquiring) else { return 0 }
        let finished = DispatchSemaphore(value: 0)
        let box = CountBox()
        state.loop.executor.execute { [state] in
            let tunnels = Array(state.tunnels.values)
            for tunnel in tunnels { tunnel.close(mode: mode, reason: "dropped on command (fault)") }
            box.value = tunnels.count
            finished.signal()
        }
        guard finished.wait(timeout: .now() + 10) == .success else { return 0 }
        return box.value
    }

    /// A count handed from the loop thread to the waiting thread.
    private final class CountBox: @unchecked Sendable {
        // @unchecked: written once on the loop thread before the semaphore signal, read after
        // the wait; the semaphore orders the two.
        var value = 0
    }

    private static func closeAll(_ state: LoopState) {
        for tunnel in Array(state.tunnels.values) { tunnel.close() }
        state.tunnels.removeAll()
        for listener in state.listeners { listener.close() }
        state.listeners.removeAll()
    }

    /// Stops the loop, closing listeners and tunnels, and waits for the loop thread. Idempotent.
    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        state.loop.executor.requestStop()
        done.wait()
    }
}
