/// Accepts connections on a listening socket, surviving descriptor exhaustion.
///
/// On EMFILE/ENFILE/ENOBUFS/ENOMEM (or any other accept failure) the listener stops watching
/// the socket, reports the failure once per episode through `onError`, and retries after a
/// back-off that doubles from `initialBackoff` to `maximumBackoff`; the first successful accept
/// ends the episode and resets the back-off. It never exits and never spins: while paused the
/// kernel keeps queuing connections (up to the backlog) and nothing runs.
///
/// Loop thread only. The loop holds the listener (as a handler) until `close()`.
public final class Listener: IOHandler {
    /// The first pause after a failure.
    public static let initialBackoff: Duration = .milliseconds(10)

    /// The longest pause between retries.
    public static let maximumBackoff: Duration = .seconds(1)

    /// Connections accepted per readiness event, so a flood cannot starve established ones.
    public var maxAcceptsPerEvent = 64

    /// The listening socket; owned by the listener and closed by `close()`.
    public let socket: Socket

    private unowned let loop: EventLoop
    private var registration: Registration?
    private let onAccept: (Socket) -> Void
    private let onError: (SyscallError) -> Void
    private var backoff = Listener.initialBackoff
    private var inEpisode = false
    private var retryTimer: TimerHandle?

    /// Total accept failures seen (each paused the listener).
    public private(set) var failures = 0

    /// Starts accepting on `socket` (already listening) on `loop`.
    ///
    /// - Parameters:
    ///   - onAccept: receives each accepted socket, which it then owns.
    ///   - onError: told of the first failure of each episode, for a single log line.
    public init(
        socket: Socket,
        loop: EventLoop,
        onAccept: @escaping (Socket) -> Void,
        onError: @escaping (SyscallError) -> Void
    ) throws {
        self.socket = socket
        self.loop = loop
        self.onAccept = onAccept
        self.onError = onError
        registration = try loop.register(fd: socket.fileDescriptor, interest: .readable, handler: self)
    }

    /// True while accepting is suspended after a failure.
    public var isPaused: Bool { retryTimer != nil }

    public func handle(_ events: IOEvents) {
        for _ in 0..<maxAcceptsPerEvent {
            guard registration != nil else {
                return
            }
            let accepted: Socket?
            do {
                accepted = try socket.accept()
            } catch let error as SyscallError {
                pause(after: error)
                return
            } catch {
                preconditionFailure("accept threw a non-syscall error: \(error)")
            }
            guard let accepted else {
                return
            }
            inEpisode = false
            backoff = Self.initialBackoff
            onAccept(accepted)
        }
    }

    private func pause(after error: SyscallError) {
        guard let registration else {
            return
        }
        failures += 1
        if !inEpisode {
            inEpisode = true
            onError(error)
        }
        loop.setInterest(registration, [])
        retryTimer = loop.schedule(after: backoff) { [weak self] in
            self?.resume()
        }
        backoff = min(backoff * 2, Self.maximumBackoff)
    }

    private func resume() {
        retryTimer = nil
        guard let registration else {
            return
        }
        loop.setInterest(registration, .readable)
    }

    /// Stops accepting, releases the loop's reference and closes the socket. Idempotent.
    public func close() {
        if let retryTimer {
            loop.cancel(retryTimer)
        }
        retryTimer = nil
        if let registration {
            loop.deregister(registration)
        }
        registration = nil
        socket.close()
    }
}
