import TLS
import XCTest

/// A client and a server `TLSConnection` wired back to back in memory: ciphertext is moved
/// between them by `shuttle()` instead of sockets.
final class ConnectionPair {
    let client: TLSConnection
    let server: TLSConnection
    private var scratch = [UInt8](repeating: 0, count: 256 * 1024)

    init(client: TLSConnection, server: TLSConnection) {
        self.client = client
        self.server = server
    }

    convenience init(clientContext: TLSContext, serverContext: TLSContext,
                     identity: ServerIdentity) throws {
        try self.init(client: TLSConnection(context: clientContext, role: .client(identity)),
                      server: TLSConnection(context: serverContext, role: .server))
    }

    /// Moves all pending ciphertext from `source` to `destination`; returns the byte count.
    @discardableResult
    func move(from source: TLSConnection, to destination: TLSConnection) -> Int {
        var total = 0
        while source.pendingCiphertextCount > 0 {
            let count = scratch.withUnsafeMutableBytes { source.sendCiphertext(into: $0) }
            if count == 0 { break }
            scratch.withUnsafeBytes {
                destination.receiveCiphertext(UnsafeRawBufferPointer(rebasing: $0[..<count]))
            }
            total += count
        }
        return total
    }

    /// Moves ciphertext both ways once.
    @discardableResult
    func shuttle() -> Int {
        move(from: client, to: server) + move(from: server, to: client)
    }

    /// Runs both handshakes until neither wants more (at most 20 rounds).
    func handshake() -> (client: TLSResult, server: TLSResult) {
        var results: (client: TLSResult, server: TLSResult) = (.wantMore, .wantMore)
        for _ in 0..<20 {
            results.client = client.handshake()
            move(from: client, to: server)
            results.server = server.handshake()
            move(from: server, to: client)
            if results.client != .wantMore && results.server != .wantMore { break }
        }
        return results
    }

    /// Reads everything `connection` can produce now into `sink`; returns the last result
    /// that was not `.bytes` (`.wantMore`, `.closed`, `.endOfStream` or `.failed`).
    func drain(_ connection: TLSConnection, into sink: (UnsafeRawBufferPointer) -> Void = { _ in })
        -> TLSReadResult
    {
        while true {
            let result = scratch.withUnsafeMutableBytes { connection.read(into: $0) }
            guard case .bytes(let count) = result else { return result }
            scratch.withUnsafeBytes { sink(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }
}
