import TLS
import XCTest

/// Application data through an established pair: bulk transfers across KeyUpdates, and the
/// two ways a stream ends.
final class TransferTests: XCTestCase {
    private static let total = 64 << 20
    private static let chunk = 64 << 10
    private static let keyUpdateInterval = 1 << 20

    /// BR-08 (b): the server streams 64 MiB and asks for a KeyUpdate every MiB; the client
    /// only reads (its answers still flow back).
    func testDownload64MiB_withKeyUpdates() throws {
        let pair = try establishedPair()

        let (sent, received, updates) = stream(from: pair.server, to: pair.client, in: pair)

        XCTAssertEqual(updates, Self.total / Self.keyUpdateInterval)
        XCTAssertEqual(received, sent)
        XCTAssertEqual(pair.client.keyUpdatesReceived, updates)
        XCTAssertEqual(pair.client.keyUpdatesSent, updates, "the reader answered every request")
        XCTAssertEqual(pair.server.keyUpdatesReceived, updates, "the answers arrived")
    }

    /// BR-08 (c): the client uploads 64 MiB while the server asks for a KeyUpdate every MiB.
    func testUpload64MiB_withKeyUpdates() throws {
        let pair = try establishedPair()

        let (sent, received, updates) = stream(from: pair.client, to: pair.server, in: pair,
                                               keyUpdatesFromReceiver: true)

        XCTAssertEqual(received, sent)
        XCTAssertEqual(pair.server.keyUpdatesSent, updates)
        XCTAssertEqual(pair.client.keyUpdatesReceived, updates)
        XCTAssertEqual(pair.client.keyUpdatesSent, updates, "the writer answered every request")
    }

    func testCloseNotify_readsClosed() throws {
        let pair = try establishedPair()
        let message = Array("last words".utf8)

        _ = message.withUnsafeBytes { pair.client.write($0) }
        XCTAssertEqual(pair.client.shutdown(), .complete)
        XCTAssertEqual(pair.client.shutdown(), .complete, "second shutdown is harmless")
        pair.shuttle()

        var received: [UInt8] = []
        XCTAssertEqual(pair.drain(pair.server) { received += $0 }, .closed)
        XCTAssertEqual(received, message)
        XCTAssertEqual(pair.drain(pair.server), .closed, "closed stays closed")
    }

    func testTransportEOF_readsEndOfStream() throws {
        let pair = try establishedPair()
        let message = Array("no goodbye".utf8)

        _ = message.withUnsafeBytes { pair.client.write($0) }
        pair.shuttle()
        pair.server.receiveEndOfStream()

        var received: [UInt8] = []
        XCTAssertEqual(pair.drain(pair.server) { received += $0 }, .endOfStream)
        XCTAssertEqual(received, message, "data before EOF is delivered")
        XCTAssertEqual(pair.drain(pair.server), .endOfStream)
    }

    func testCorruptedRecord_failsConnection() throws {
        let pair = try establishedPair()
        let message = [UInt8](repeating: 7, count: 100)
        _ = message.withUnsafeBytes { pair.client.write($0) }

        var record = [UInt8](repeating: 0, count: 4096)
        let count = record.withUnsafeMutableBytes { pair.client.sendCiphertext(into: $0) }
        record[count - 1] ^= 0xFF
        record.withUnsafeBytes {
            pair.server.receiveCiphertext(UnsafeRawBufferPointer(rebasing: $0[..<count]))
        }

        guard case .failed(let error) = pair.drain(pair.server) else {
            return XCTFail("a tampered record was accepted")
        }
        XCTAssertEqual(error.code, .connectionFailed)
    }

    // MARK: Helpers

    /// Writes all of `bytes`, however many calls that takes (at most one per byte).
    private func writeAll(_ bytes: [UInt8], to connection: TLSConnection) -> Bool {
        var offset = 0
        for _ in 0..<bytes.count where offset < bytes.count {
            let result = bytes.withUnsafeBytes {
                connection.write(UnsafeRawBufferPointer(rebasing: $0[offset...]))
            }
            guard case .bytes(let count) = result, count > 0 else { return false }
            offset += count
        }
        return offset == bytes.count
    }

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

    /// Sends `total` bytes (each chunk stamped with its index) from `sender` to `receiver`
    /// while one side requests a KeyUpdate every MiB; the receiver never writes application
    /// data. Returns the SHA-256 of what was sent and of what arrived, and the KeyUpdates
    /// requested. Bounded by the byte count and by a round limit.
    private func stream(
        from sender: TLSConnection, to receiver: TLSConnection, in pair: ConnectionPair,
        keyUpdatesFromReceiver: Bool = false
    ) -> (sent: [UInt8], received: [UInt8], keyUpdates: Int) {
        let sentHash = SHA256Hasher()
        let receivedHash = SHA256Hasher()
        var block = [UInt8](repeating: 0, count: Self.chunk)
        for index in block.indices { block[index] = UInt8(truncatingIfNeeded: index &* 31) }

        var sent = 0
        var received = 0
        var keyUpdates = 0
        var rounds = 0
        while received < Self.total && rounds < 4 * Self.total / Self.chunk {
            rounds += 1
            if sent < Self.total {
                withUnsafeBytes(of: sent) { stamp in
                    block.withUnsafeMutableBytes { $0.copyMemory(from: stamp) }
                }
                guard writeAll(block, to: sender) else {
                    XCTFail("write failed at \(sent)")
                    break
                }
                block.withUnsafeBytes { sentHash.update($0) }
                sent += Self.chunk
                if sent % Self.keyUpdateInterval == 0 {
                    let updater = keyUpdatesFromReceiver ? receiver : sender
                    XCTAssertEqual(updater.requestKeyUpdate(), .complete)
                    keyUpdates += 1
                }
            }
            pair.shuttle()
            let status = pair.drain(receiver) { bytes in
                receivedHash.update(bytes)
                received += bytes.count
            }
            // The sender reads too, so KeyUpdates and answers addressed to it are processed.
            pair.shuttle()
            let senderStatus = pair.drain(sender)
            guard status == .wantMore, senderStatus == .wantMore else {
                XCTFail("receiver: \(status), sender: \(senderStatus) at \(received)")
                break
            }
        }
        XCTAssertEqual(received, Self.total)
        return (sentHash.finalize(), receivedHash.finalize(), keyUpdates)
    }
}
