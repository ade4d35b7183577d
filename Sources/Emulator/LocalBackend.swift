import EventLoop

/// The built-in benchmark backends, served on the loop over one end of a socket pair whose
/// other end the tunnel uses exactly like a TCP connection to PostgreSQL:
/// `echo` returns every byte, `sink` discards, `source` sends an endless pattern in which the
/// byte at stream offset n is `sourceByte(at: n)` (`A`...`Z` repeating), so receivers can check
/// every byte.
///
/// Backpressure: echo stops reading while its buffer is full; source writes only when the
/// socket is writable. When its input ends, echo finishes sending what it holds and then
/// shuts down its sending side; sink and source shut down at once. Loop thread only.
final class LocalBackend: IOHandler {
    enum Kind {
        case echo
        case sink
        case source
    }

    private let kind: Kind
    private let socket: Socket
    private unowned let loop: EventLoop
    private var registration: Registration?
    private let buffer = ByteBuffer(capacity: 64 * 1024)
    private var inputEnded = false
    private var outputShut = false

    /// 630 periods of the `source` pattern (16,380 bytes), written from `patternOffset` on so
    /// that short writes continue the stream where they stopped.
    private static let pattern: [UInt8] = (0..<26 * 630).map { sourceByte(at: $0) }
    private var patternOffset = 0

    /// The byte the `source` backend sends at stream offset `offset`.
    static func sourceByte(at offset: Int) -> UInt8 {
        UInt8(0x41 + offset % 26)
    }

    /// Starts serving `socket` (one end of a pair; owned from now on) on `loop`.
    init(kind: Kind, socket: Socket, loop: EventLoop) throws {
        self.kind = kind
        self.socket = socket
        self.loop = loop
        registration = try loop.register(
            fd: socket.fileDescriptor, interest: kind == .source ? .all : .readable, handler: self)
    }

    func handle(_ events: IOEvents) {
        do {
            if events.contains(.writable) || kind == .source { try flush() }
            if registration != nil, !inputEnded { try readInput() }
            try flush()
            updateInterest()
        } catch {
            close()
        }
    }

    private func readInput() throws {
        for _ in 0..<EventLoop.maxReadsPerEvent {
            if kind == .echo {
                _ = buffer.compactIfWorthwhile()
                guard buffer.writableBytes > 0 else { return }
                switch try buffer.read(from: socket) {
                case .processed: continue
                case .wouldBlock: return
                case .eof: inputEnded = true; return
                }
            } else {
                buffer.clear()
                switch try buffer.read(from: socket) {
                case .processed: buffer.clear()
                case .wouldBlock: return
                case .eof: inputEnded = true; return
                }
            }
        }
    }

    private func flush() throws {
        guard !outputShut else { return }
        switch kind {
        case .echo:
            while !buffer.isEmpty {
                guard case .processed = try buffer.write(to: socket) else { break }
            }
        case .source:
            guard !inputEnded else { break }
            for _ in 0..<EventLoop.maxReadsPerEvent {
                let result = try Self.pattern.withUnsafeBytes {
                    try socket.write(UnsafeRawBufferPointer(rebasing: $0[patternOffset...]))
                }
                guard case .processed(let count) = result else { break }
                patternOffset = (patternOffset + count) % 26
            }
        case .sink:
            break
        }
        if inputEnded && (kind != .echo || buffer.isEmpty) {
            outputShut = true
            try socket.shutdownWrite()
        }
    }

    private func updateInterest() {
        guard let registration else { return }
        if inputEnded && outputShut {
            close()
            return
        }
        var interest: Interest = []
        if !inputEnded && (kind != .echo || buffer.writableBytes > 0) { interest.insert(.readable) }
        if (kind == .echo && !buffer.isEmpty) || (kind == .source && !outputShut) {
            interest.insert(.writable)
        }
        loop.setInterest(registration, interest)
    }

    /// Deregisters and closes the socket. Idempotent.
    func close() {
        if let registration { loop.deregister(registration) }
        registration = nil
        socket.close()
    }
}
