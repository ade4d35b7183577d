@testable import Emulator
import XCTest

/// The phases of an instance-endpoint connection, driven by events without sockets.
final class TunnelMachineTests: XCTestCase {
    func testDBNativeConnectionReachesTheRelayAndCloses() {
        var machine = TunnelMachine()
        XCTAssertEqual(machine.handle(.handshakeCompleted), [])
        XCTAssertEqual(machine.state, .exchangingMetadata)
        XCTAssertEqual(
            machine.handle(.metadataReceived(.accept(expectedUser: nil))),
            [.sendMetadataOK, .connectBackend])
        XCTAssertEqual(machine.handle(.backendConnected), [.startRelay])
        XCTAssertEqual(machine.handle(.deadlineExpired), [], "the deadline no longer applies")
        XCTAssertEqual(machine.handle(.relayFinished), [.close(.fin, reason: nil)])
        XCTAssertEqual(machine.state, .closed)
        XCTAssertEqual(machine.handle(.failed("late")), [], "closed ignores everything")
    }

    func testAutoIAMChecksTheStartupUserBeforeTheBackend() {
        var machine = TunnelMachine()
        _ = machine.handle(.handshakeCompleted)
        XCTAssertEqual(
            machine.handle(.metadataReceived(.accept(expectedUser: "sa@p.iam"))), [.sendMetadataOK])
        XCTAssertEqual(machine.state, .checkingLogin(expectedUser: "sa@p.iam"))
        XCTAssertEqual(machine.handle(.startupReceived(user: "sa@p.iam")), [.connectBackend])

        var wrong = TunnelMachine()
        _ = wrong.handle(.handshakeCompleted)
        _ = wrong.handle(.metadataReceived(.accept(expectedUser: "sa@p.iam")))
        guard case .sendPostgresError(let message) = wrong.handle(.startupReceived(user: "postgres")).first
        else { return XCTFail("no ErrorResponse") }
        XCTAssertTrue(message.contains("postgres") && message.contains("sa@p.iam"), message)
        XCTAssertEqual(wrong.state, .draining)
        XCTAssertEqual(wrong.handle(.finalMessageSent), [.close(.fin, reason: nil)])
    }

    func testMetadataFaultsAndRefusals() {
        let cases: [(TunnelMachine.MetadataVerdict, TunnelMachine.State, [TunnelMachine.Action])] = [
            (.refuse("no"), .draining, [.sendMetadataError("no")]),
            (.garbage, .draining, [.sendGarbage]),
            (.hang, .hanging, []),
        ]
        for (verdict, state, actions) in cases {
            var machine = TunnelMachine()
            _ = machine.handle(.handshakeCompleted)
            XCTAssertEqual(machine.handle(.metadataReceived(verdict)), actions)
            XCTAssertEqual(machine.state, state)
        }
        var closing = TunnelMachine()
        _ = closing.handle(.handshakeCompleted)
        guard case .close(.fin, _)? = closing.handle(.metadataReceived(.close)).first else {
            return XCTFail("close verdict did not close")
        }
    }

    func testNoMetadataExchangeModeConnectsRightAfterTheHandshake() {
        var machine = TunnelMachine(usesMetadataExchange: false)
        XCTAssertEqual(machine.handle(.handshakeCompleted), [.connectBackend])
        XCTAssertEqual(machine.state, .connectingBackend)
    }

    func testDeadlineFailureAndDropCloseFromAnyOpenPhase() {
        var slow = TunnelMachine()
        guard case .close(.fin, let reason?)? = slow.handle(.deadlineExpired).first else {
            return XCTFail("deadline did not close")
        }
        XCTAssertTrue(reason.contains("30 s"))

        var dropped = TunnelMachine()
        _ = dropped.handle(.handshakeCompleted)
        _ = dropped.handle(.metadataReceived(.accept(expectedUser: nil)))
        _ = dropped.handle(.backendConnected)
        XCTAssertEqual(
            dropped.handle(.dropRequested(.rst, reason: "cmd")), [.close(.rst, reason: "cmd")])

        var failing = TunnelMachine()
        XCTAssertEqual(failing.handle(.failed("x")), [.close(.fin, reason: "x")])
    }
}
