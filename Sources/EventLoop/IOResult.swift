/// The outcome of one non-blocking read or write.
public enum IOResult: Equatable, Sendable {
    /// This many bytes were transferred (always more than zero for a read).
    case processed(Int)

    /// The descriptor is not ready; wait for readiness before trying again.
    case wouldBlock

    /// The peer closed its sending side: no more bytes will arrive. Only reads report this.
    case eof
}
