@testable import Emulator
import XCTest

/// The relay's flow control without sockets: every reachable combination of buffer levels
/// either has a step to take or waits for a readiness that leads to one.
final class RelayFlowTests: XCTestCase {
    private static let high = RelayFlow.ciphertextHighWater

    /// Every combination of flags and of empty / partly full / full buffers that the driver
    /// can produce (a socket that reported EOF has its end of stream pending in OpenSSL or
    /// already decoded).
    private func allLevels() -> [RelayFlow.Levels] {
        var result: [RelayFlow.Levels] = []
        let fills = [(0, 65536), (16384, 0), (16384, 49152), (65536, 0)]  // (count, room)
        let ciphertexts = [0, 1000, Self.high]
        for bits in 0..<(1 << 11) {
            func flag(_ n: Int) -> Bool { bits & (1 << n) != 0 }
            for (toBackend, backendRoom) in fills {
                for (toClient, clientRoom) in fills {
                    for ciphertext in ciphertexts {
                        let levels = RelayFlow.Levels(
                            clientInputPending: flag(0), clientDataEnded: flag(1),
                            clientTruncated: flag(1) && flag(2), clientSocketEnded: flag(3),
                            toBackend: toBackend, toBackendRoom: backendRoom,
                            backendBlocked: flag(4) && toBackend > 0, backendDataEnded: flag(5),
                            backendWriteShut: flag(6) && flag(1) && toBackend == 0,
                            toClient: toClient, toClientRoom: clientRoom,
                            ciphertext: ciphertext, clientBlocked: flag(7) && ciphertext > 0,
                            closeNotifyQueued: flag(8) && flag(5) && toClient == 0,
                            clientWriteShut: flag(9) && flag(8) && flag(5) && toClient == 0
                                && ciphertext == 0)
                        if levels.clientSocketEnded && !levels.clientInputPending
                            && !levels.clientDataEnded
                        {
                            continue
                        }
                        result.append(levels)
                    }
                }
            }
        }
        return result
    }

    func testEveryIdleStateWaitsForAReadinessThatMakesProgress() {
        var checked = 0
        for levels in allLevels() where RelayFlow.nextStep(levels) == nil {
            checked += 1
            guard !RelayFlow.isFinished(levels) else { continue }
            let interests = RelayFlow.interests(levels)
            XCTAssertFalse(interests.isEmpty, "stalls: \(levels)")
            // Readiness must lead somewhere: a readable client feeds `decrypt`, a readable
            // backend fills `toClient`, writability clears a blocked flag.
            if interests.clientReadable {
                var after = levels
                after.clientInputPending = true
                XCTAssertEqual(RelayFlow.nextStep(after), .decrypt, "\(levels)")
            }
            if interests.clientWritable { XCTAssertTrue(levels.clientBlocked, "\(levels)") }
            if interests.backendWritable { XCTAssertTrue(levels.backendBlocked, "\(levels)") }
            if levels.toClient > 0 && !levels.clientTruncated {
                XCTAssertTrue(interests.clientWritable, "unencrypted bytes wait on nothing: \(levels)")
            }
        }
        XCTAssertGreaterThan(checked, 1000)
    }

    /// The benchmark's stall: the encrypt step had stopped at the ciphertext high-water mark
    /// with `toClient` consumed only in part (no room behind it); then the client drained all
    /// ciphertext. The relay must resume encrypting rather than wait for a backend read.
    func testPartlyConsumedBackendBytesAreEncryptedOnceCiphertextDrains() {
        var levels = RelayFlow.Levels()
        levels.toClient = 16384
        levels.toClientRoom = 49152
        levels.ciphertext = 0
        XCTAssertEqual(RelayFlow.nextStep(levels), .encrypt)

        levels.ciphertext = Self.high
        XCTAssertEqual(RelayFlow.nextStep(levels), .writeClient)
        levels.clientBlocked = true
        XCTAssertNil(RelayFlow.nextStep(levels))
        let interests = RelayFlow.interests(levels)
        XCTAssertTrue(interests.clientWritable)
        XCTAssertFalse(interests.backendReadable, "above the high-water mark the backend waits")
    }

    /// The upload twin: OpenSSL still holds client plaintext while `toBackend` has no room.
    func testHeldClientPlaintextIsDecryptedOnceBackendDrains() {
        var levels = RelayFlow.Levels()
        levels.clientInputPending = true
        levels.toBackend = 65536
        levels.toBackendRoom = 0
        levels.backendBlocked = true
        XCTAssertNil(RelayFlow.nextStep(levels))
        XCTAssertTrue(RelayFlow.interests(levels).backendWritable)
        XCTAssertFalse(RelayFlow.interests(levels).clientReadable)

        levels.backendBlocked = false
        levels.toBackend = 0
        levels.toBackendRoom = 65536
        XCTAssertEqual(RelayFlow.nextStep(levels), .decrypt)
    }

    func testEndsOfStreamArePassedOnInOrder() {
        var levels = RelayFlow.Levels()
        levels.clientDataEnded = true
        levels.toBackend = 10
        XCTAssertEqual(RelayFlow.nextStep(levels), .writeBackend)
        levels.toBackend = 0
        XCTAssertEqual(RelayFlow.nextStep(levels), .shutBackend)
        levels.backendWriteShut = true
        levels.backendDataEnded = true
        levels.toClient = 5
        XCTAssertEqual(RelayFlow.nextStep(levels), .encrypt)
        levels.toClient = 0
        XCTAssertEqual(RelayFlow.nextStep(levels), .queueCloseNotify)
        levels.closeNotifyQueued = true
        levels.ciphertext = 24
        XCTAssertEqual(RelayFlow.nextStep(levels), .writeClient)
        levels.ciphertext = 0
        XCTAssertEqual(RelayFlow.nextStep(levels), .shutClient)
        levels.clientWriteShut = true
        XCTAssertNil(RelayFlow.nextStep(levels))
        XCTAssertTrue(RelayFlow.isFinished(levels))
    }
}
