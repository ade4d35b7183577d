import EventLoop

#if canImport(Glibc)
import Glibc
#endif

/// One plaintext client connection of the load generator, doing one job.
///
/// Loop thread only. `onDone` is called exactly once: when the job finished (for `.hold`,
/// once the tunnel answered its first round trip; the connection then stays open) or failed.
/// A `.hold` connection that is closed later by the far side reports nothing more but counts
/// itself in `dropped`.
final class ClientConnection: IOHandler {
    /// What the connection does after connecting.
    enum Job {
        /// Send this many pattern bytes, half-close, wait for the far side to close.
        case upload(Int)
        /// Send one byte, receive this many, checking them against the pattern, then close.
        case download(Int)
        /// This many 64-byte round trips through an echo, each checked; then close.
        case ping(Int)
        /// One 64-byte round trip, then stay open and idle until `close()`.
        case hold
    }

    /// Bytes per round trip.
    static let pingSize = 64

    /// Read scratch shared by every connection of the (single) load-generator thread.
    nonisolated(unsafe) private static let scratch = UnsafeMutableRawBufferPointer.allocate(
        byteCount: 256 * 1024, alignment: 64)
    // Only the load generator's loop thread touches it.

    private let socket: Socket
    private let job: Job
    private unowned let loop: EventLoop
    private var registration: Registration?
    private var onDone: ((ClientConnection, String?) -> Void)?
    private var connected = false
    private var halfClosed = false

    /// Bytes written and read so far.
    private(set) var sent = 0
    private(set) var received = 0
    /// False once a received byte differed from what was expected.
    private(set) var verified = true
    /// Nanosecond durations of the completed round trips (`.ping` only).
    private(set) var latencies: [UInt64] = []
    /// Set when a held connection was closed by the far side.
    private(set) var dropped = false
    private var pingStarted: UInt64 = 0

    /// Starts connecting to 127.0.0.1:`port`. Throws when no socket can be created (e.g. out
    /// of descriptors) or the connect fails at once.
    init(port: Int, job: Job, loop: EventLoop, onDone: @escaping (ClientConnection, String?) -> Void) throws {
        self.job = job
        self.loop = loop
        self.onDone = onDone
        socket = try Socket(family: .ipv4)
        try socket.setNoDelay()
        if case .ping(let count) = job { latencies.reserveCapacity(count) }
        let result = try socket.connect(to: try SocketAddress(ip: "127.0.0.1", port: port))
        registration = try loop.register(fd: socket.fileDescriptor, interest: .writable, handler: self)
        if result == .connected { try? connectionEstablished() }
    }

    func handle(_ events: IOEvents) {
        do {
            if !connected {
                guard events.contains(.writable) || events.contains(.error) || events.contains(.hangup) else { return }
                try socket.finishConnect()
                try connectionEstablished()
                return
            }
            if events.contains(.writable) { try writeMore() }
            if registration != nil, events.contains(.readable) || events.contains(.hangup) {
                try readMore()
            }
        } catch {
            fail("\(error)")
        }
    }

    private func connectionEstablished() throws {
        connected = true
        switch job {
        case .upload: try writeMore()
        case .download:
            // Relays that dial only once the client speaks (like PostgreSQL clients always do)
            // need a first byte; every source ignores what it reads.
            var request: UInt8 = 0x47
            _ = try withUnsafeBytes(of: &request) { try socket.write($0) }
            sent = 1
            setInterest(.readable)
        case .ping, .hold: try sendPing()
        }
    }

    // MARK: Upload

    private func writeMore() throws {
        guard case .upload(let target) = job, !halfClosed else { return }
        while sent < target {
            let slice = Pattern.bytes(at: sent, count: target - sent)
            guard case .processed(let count) = try socket.write(slice) else {
                setInterest(.all)
                return
            }
            sent += count
        }
        try socket.shutdownWrite()
        halfClosed = true
        setInterest(.readable)
    }

    // MARK: Reading

    private func readMore() throws {
        for _ in 0..<EventLoop.maxReadsPerEvent * 4 {
            let result: IOResult
            do {
                result = try socket.read(into: Self.scratch)
            } catch let error as SyscallError where halfClosed && error.errno == ECONNRESET {
                // The far side had all the upload and closed without reading our FIN.
                finish(nil)
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .eof:
                if case .upload = job, halfClosed { finish(nil) } else if case .hold = job, onDone == nil {
                    dropped = true
                    close()
                } else {
                    fail("closed by the far side after \(received) bytes")
                }
                return
            case .processed(let count):
                let bytes = UnsafeRawBufferPointer(rebasing: Self.scratch[0..<count])
                try consume(bytes)
                if registration == nil { return }
            }
        }
    }

    private func consume(_ bytes: UnsafeRawBufferPointer) throws {
        switch job {
        case .upload:
            received += bytes.count
        case .download(let target):
            let useful = min(bytes.count, target - received)
            if verified && !Pattern.matches(UnsafeRawBufferPointer(rebasing: bytes[0..<useful]), at: received) {
                verified = false
            }
            received += useful
            if received >= target { finish(nil) }
        case .ping(let count):
            try pingBytes(bytes)
            if received == sent {
                latencies.append(BenchClock.nanoseconds() &- pingStarted)
                if latencies.count >= count { finish(nil) } else { try sendPing() }
            }
        case .hold:
            try pingBytes(bytes)
            if received == sent, let done = onDone {
                onDone = nil
                done(self, nil)
            }
        }
    }

    private func pingBytes(_ bytes: UnsafeRawBufferPointer) throws {
        guard received + bytes.count <= sent else {
            throw SetupError("the echo returned \(received + bytes.count - sent) bytes more than sent")
        }
        if !Pattern.matches(bytes, at: received) { verified = false }
        received += bytes.count
    }

    private func sendPing() throws {
        pingStarted = BenchClock.nanoseconds()
        let slice = Pattern.bytes(at: sent, count: Self.pingSize)
        // 64 bytes into an empty socket buffer are never cut short.
        guard case .processed(let count) = try socket.write(slice), count == slice.count else {
            throw SetupError("a 64-byte write was cut short")
        }
        sent += count
        setInterest(.readable)
    }

    // MARK: Ending

    private func setInterest(_ interest: Interest) {
        if let registration { loop.setInterest(registration, interest) }
    }

    private func finish(_ failure: String?) {
        let done = onDone
        onDone = nil
        if case .hold = job, failure == nil {
            done?(self, nil)
            return
        }
        close()
        done?(self, failure)
    }

    private func fail(_ reason: String) {
        if case .hold = job, onDone == nil {
            dropped = true
            close()
            return
        }
        finish(reason)
    }

    /// Deregisters and closes the socket. Idempotent.
    func close() {
        if let registration { loop.deregister(registration) }
        registration = nil
        socket.close()
    }
}
