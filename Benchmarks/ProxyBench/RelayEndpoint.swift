/// A started path: where the load generator connects for each backend mode, and the process
/// whose CPU, syscalls, memory and descriptors are measured (none for `direct`).
struct RelayEndpoint {
    let kind: PathKind
    /// Local plaintext port per backend mode.
    let ports: [BackendMode: Int]
    /// The process under test; nil for the direct path.
    let process: ChildProcess?
    /// Descriptors the far end (terminator or emulator) holds per tunnel.
    let backendDescriptorsPerTunnel: Int
    /// The far end's process, for its descriptor count.
    let backendPid: Int32

    /// The measured pid, if any.
    var pid: Int32? { process?.pid }

    /// The port for `mode`; every endpoint has all three.
    func port(_ mode: BackendMode) -> Int {
        // Every launcher fills all three modes before returning an endpoint.
        ports[mode]!
    }
}
