import TLS
import XCTest

/// The caller-side ciphertext paths: reading "from the network" straight into the inbound
/// queue and writing "to the network" straight from the outbound queue, with the short reads
/// and short writes real sockets produce.
final class ZeroCopyCiphertextTests: XCTestCase {
    private func establishedPair() throws -> ConnectionPair {
        let pki = try XCTUnwrap(TestPKI.shared)
        let pair = try ConnectionPair(clientContext: pki.clientContext(),
                                      serverContext: pki.serverContext(),
                                      identity: .ipAddress("127.0.0.1"))
        let results = pair.handshake()
        XCTAssertEqual(results.client, .complete)
        XCTAssertEqual(results.server, .complete)
        return pair
    }

    /// 8 MiB in uneven plaintext writes; the "socket" accepts a varying, often tiny, share
    /// of the pending ciphertext per send, and the receiver's "socket" delivers it in varying
    /// read sizes. Every byte arrives once, in order, and both queues end empty.
    func testShortSendsAndShortReadsKeepTheStreamIntact() throws {
        let pair = try establishedPair()
        let sender = pair.client
        let receiver = pair.server
        var generator = SystemRandomNumberGenerator()
        let sentHash = SHA256Hasher()
        let receivedHash = SHA256Hasher()
        var wire: [UInt8] = []
        var plain = [UInt8](repeating: 0, count: 64 * 1024)
        var sent = 0
        var received = 0
        let total = 8 << 20
        var rounds = 0

        while received < total && rounds < 100_000 {
            rounds += 1
            if sent < total && sender.pendingCiphertextCount < 512 * 1024 {
                let size = min(Int.random(in: 1...70_000, using: &generator), total - sent)
                var chunk = [UInt8](repeating: 0, count: size)
                for index in stride(from: 0, to: size, by: 97) {
                    chunk[index] = UInt8.random(in: 0...255, using: &generator)
                }
                sentHash.update(chunk)
                XCTAssertEqual(chunk.withUnsafeBytes { sender.write($0) }, .bytes(size))
                sent += size
            }
            // A send that takes between 1 byte and everything pending.
            sender.withPendingCiphertext { pending in
                let taken = min(pending.count, Int.random(in: 1...300_000, using: &generator))
                wire.append(contentsOf: pending[..<taken])
                return taken
            }
            // A read of whatever size the "socket" offers.
            if !wire.isEmpty {
                let offered = min(wire.count, Int.random(in: 1...262_144, using: &generator))
                let stored = receiver.receiveCiphertext(upTo: 262_144) { space in
                    space.copyBytes(from: wire[..<offered])
                    return offered
                }
                XCTAssertEqual(stored, offered)
                wire.removeFirst(offered)
            }
            while case .bytes(let count) = plain.withUnsafeMutableBytes({ receiver.read(into: $0) }) {
                plain.withUnsafeBytes { receivedHash.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                received += count
            }
        }

        XCTAssertEqual(received, total)
        XCTAssertEqual(sentHash.finalize(), receivedHash.finalize())
        XCTAssertEqual(sender.pendingCiphertextCount, 0)
        XCTAssertEqual(receiver.bufferedCiphertextCount, 0)
    }

    /// A send that fails (throws) consumes nothing: the same bytes are offered again.
    func testFailedSendKeepsThePendingCiphertext() throws {
        let pair = try establishedPair()
        let message = [UInt8](repeating: 0x5A, count: 40_000)
        XCTAssertEqual(message.withUnsafeBytes { pair.client.write($0) }, .bytes(message.count))
        let pending = pair.client.pendingCiphertextCount
        XCTAssertGreaterThan(pending, message.count)

        struct WouldBreak: Error {}
        XCTAssertThrowsError(try pair.client.withPendingCiphertext { _ in throw WouldBreak() })
        XCTAssertEqual(pair.client.pendingCiphertextCount, pending)

        pair.move(from: pair.client, to: pair.server)
        var received: [UInt8] = []
        _ = pair.drain(pair.server) { received.append(contentsOf: $0) }
        XCTAssertEqual(received, message)
    }

    /// The end of the transport after the last record: the reader sees every byte, then
    /// `.endOfStream` (no close_notify), and reading into the queue afterwards stores nothing.
    func testEndOfStreamAfterZeroCopyReads() throws {
        let pair = try establishedPair()
        let message = Array("last words".utf8)
        _ = message.withUnsafeBytes { pair.server.write($0) }
        pair.server.withPendingCiphertext { pending in
            let stored = pair.client.receiveCiphertext(upTo: pending.count) { space in
                space.copyBytes(from: pending)
                return pending.count
            }
            return stored
        }
        pair.client.receiveEndOfStream()
        var received: [UInt8] = []
        let last = pair.drain(pair.client) { received.append(contentsOf: $0) }
        XCTAssertEqual(received, message)
        XCTAssertEqual(last, .endOfStream)
        XCTAssertEqual(pair.client.receiveCiphertext(upTo: 100) { _ in 100 }, 0)
    }
}
