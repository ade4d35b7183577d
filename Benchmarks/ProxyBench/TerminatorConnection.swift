import EventLoop
import TLS

/// What a benchmark backend does with a connection.
enum BackendMode: String, CaseIterable, Codable {
    /// Reads and discards everything; closes when the client's input ends.
    case sink
    /// Sends `Pattern` forever; closes when the client goes away.
    case source
    /// Returns every byte.
    case echo
}

/// One server-side connection of the terminator: optional TLS (server role, client
/// certificate required) over a socket, then sink, source or echo.
///
/// Loop thread only. Backpressure: echo stops reading and source stops producing while more
/// than `outboundLimit` bytes wait for the socket. The shared scratch buffers are per loop
/// thread (one terminator loop per process), so idle connections hold no buffer memory.
final class TerminatorConnection: IOHandler {
    /// Bytes waiting for the socket above which no new output is produced.
    static let outboundLimit = 256 * 1024

    /// Read scratch shared by every connection on the loop.
    nonisolated(unsafe) private static let scratch = UnsafeMutableRawBufferPointer.allocate(
        byteCount: 256 * 1024, alignment: 64)
    /// Decrypted plaintext scratch shared by every connection on the loop.
    nonisolated(unsafe) private static let plain = UnsafeMutableRawBufferPointer.allocate(
        byteCount: 64 * 1024, alignment: 64)
    // Both are only touched on the terminator's single loop thread.

    private let socket: Socket
    private let mode: BackendMode
    private let tls: TLSConnection?
    private unowned let loop: EventLoop
    private var registration: Registration?
    private var outbound: ByteBuffer?
    private var sourceOffset = 0
    private var inputEnded = false

    /// Starts serving `socket` (owned from now on).
    init(socket: Socket, mode: BackendMode, tls: TLSConnection?, loop: EventLoop) throws {
        self.socket = socket
        self.mode = mode
        self.tls = tls
        self.loop = loop
        try? socket.setNoDelay()
        let interest: Interest = tls == nil && mode == .source ? .all : .readable
        registration = try loop.register(fd: socket.fileDescriptor, interest: interest, handler: self)
    }

    private var isEstablished: Bool { tls?.isHandshakeComplete ?? true }

    private var pendingBytes: Int { outbound?.readableBytes ?? 0 }

    func handle(_ events: IOEvents) {
        do {
            try flush()
            if !inputEnded && (mode != .echo || pendingBytes < Self.outboundLimit) {
                try readInput()
            }
            if mode == .source { try produce() }
            try flush()
        } catch {
            close()
            return
        }
        guard let registration else { return }
        if inputEnded && pendingBytes == 0 {
            close()
            return
        }
        var interest: Interest = []
        if !inputEnded && (mode != .echo || pendingBytes < Self.outboundLimit) { interest.insert(.readable) }
        if pendingBytes > 0 || (mode == .source && isEstablished && !inputEnded) { interest.insert(.writable) }
        loop.setInterest(registration, interest)
    }

    /// Up to `maxReadsPerEvent` reads; each feeds TLS or goes straight to the mode.
    private func readInput() throws {
        for _ in 0..<EventLoop.maxReadsPerEvent {
            let scratch = Self.scratch
            switch try socket.read(into: scratch) {
            case .wouldBlock:
                return
            case .eof:
                inputEnded = true
                tls?.receiveEndOfStream()
                if tls != nil { try decrypt() }
                return
            case .processed(let count):
                if let tls {
                    tls.receiveCiphertext(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                    try decrypt()
                } else if mode == .echo {
                    append(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                    try flush()
                }
                if mode == .echo && pendingBytes >= Self.outboundLimit { return }
            }
        }
    }

    /// Advances the handshake, then consumes all available plaintext.
    private func decrypt() throws {
        guard let tls else { return }
        if !tls.isHandshakeComplete {
            switch tls.handshake() {
            case .failed(let error): throw error
            case .wantMore: collectCiphertext(); return
            case .complete: break
            }
        }
        while true {
            switch tls.read(into: Self.plain) {
            case .bytes(let count):
                if mode == .echo {
                    if case .failed(let error) = tls.write(UnsafeRawBufferPointer(rebasing: Self.plain[0..<count])) {
                        throw error
                    }
                }
            case .wantMore:
                collectCiphertext()
                return
            case .closed, .endOfStream:
                inputEnded = true
                collectCiphertext()
                return
            case .failed(let error):
                throw error
            }
        }
    }

    /// Keeps up to `outboundLimit` bytes of the pattern queued for the socket.
    private func produce() throws {
        guard isEstablished, !inputEnded else { return }
        if let tls {
            while pendingBytes < Self.outboundLimit {
                let slice = Pattern.bytes(at: sourceOffset, count: 16 * 1024)
                if case .failed(let error) = tls.write(slice) { throw error }
                sourceOffset += slice.count
                collectCiphertext()
            }
            return
        }
        for _ in 0..<EventLoop.maxReadsPerEvent where pendingBytes == 0 {
            let slice = Pattern.bytes(at: sourceOffset, count: Pattern.maximumSlice)
            guard case .processed(let count) = try socket.write(slice) else { return }
            sourceOffset += count
        }
    }

    /// Moves TLS output into the outbound buffer.
    private func collectCiphertext() {
        guard let tls else { return }
        while tls.pendingCiphertextCount > 0 {
            let buffer = outboundBuffer()
            buffer.reserveWritable(tls.pendingCiphertextCount)
            let moved = buffer.withUnsafeWritableBytes { tls.sendCiphertext(into: $0) }
            buffer.moveWriterIndex(forwardBy: moved)
            if moved == 0 { return }
        }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        outboundBuffer().append(bytes)
    }

    private func outboundBuffer() -> ByteBuffer {
        if let outbound { return outbound }
        let buffer = ByteBuffer(capacity: 64 * 1024)
        outbound = buffer
        return buffer
    }

    /// Writes queued output until the socket pushes back; frees the buffer once empty.
    private func flush() throws {
        while let buffer = outbound, !buffer.isEmpty {
            guard case .processed = try buffer.write(to: socket) else { return }
        }
        outbound = nil
    }

    /// Deregisters and closes. Idempotent.
    func close() {
        if let registration { loop.deregister(registration) }
        registration = nil
        socket.close()
    }
}
