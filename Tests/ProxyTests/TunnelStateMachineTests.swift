import EventLoop
import XCTest

@testable import Proxy

final class TunnelStateMachineTests: XCTestCase {
    private typealias Machine = TunnelStateMachine
    private var now = LoopInstant(nanoseconds: 1_000_000_000)

    private func makeMachine(halfClose: Duration = .zero) -> Machine {
        var timeouts = Machine.Timeouts()
        timeouts.dial = .seconds(30)
        timeouts.handshake = .seconds(10)
        timeouts.metadataExchange = .seconds(10)
        timeouts.halfClose = halfClose
        return Machine(timeouts: timeouts)
    }

    private func at(_ seconds: Int) -> LoopInstant {
        now.advanced(by: .seconds(seconds))
    }

    /// Drives a machine to `relaying`, checking each action on the way.
    private func relaying(_ machine: inout Machine) {
        XCTAssertEqual(machine.handle(.start(waitForFirstByte: true), now: now), .awaitFirstByte)
        XCTAssertEqual(machine.deadline, at(30), "a silent client is bounded by the dial timeout")
        XCTAssertEqual(machine.handle(.clientSpoke(speaksPostgres: true), now: now), .requestConnectionInfo)
        XCTAssertEqual(machine.deadline, at(30))
        XCTAssertEqual(machine.handle(.connectionInfoReady, now: now), .startConnect)
        XCTAssertEqual(machine.handle(.connected, now: at(1)), .startHandshake)
        XCTAssertEqual(machine.deadline, at(11))
        XCTAssertEqual(machine.handle(.handshakeCompleted, now: at(2)), .sendMetadataExchange)
        XCTAssertEqual(machine.deadline, at(12))
        XCTAssertEqual(machine.handle(.metadataExchangeCompleted, now: at(3)), .startRelay)
        XCTAssertEqual(machine.state, .relaying)
        XCTAssertNil(machine.deadline)
    }

    func testSilentClientIsClosedQuietlyAfterTheDialTimeout() {
        var machine = makeMachine()
        XCTAssertEqual(machine.handle(.start(waitForFirstByte: true), now: now), .awaitFirstByte)
        XCTAssertEqual(machine.handle(.deadlinePassed, now: at(29)), .none, "not yet due")
        guard case .tearDown(let termination) = machine.handle(.deadlinePassed, now: at(30)) else {
            return XCTFail("expected a teardown, state \(machine.state)")
        }
        XCTAssertEqual(termination.endedBy, .timeout)
        XCTAssertEqual(termination.phase, .firstByte)
    }

    func testHappyPathThenHalfCloseFromEachSide() {
        for first in [Machine.Side.client, .instance] {
            var machine = makeMachine()
            relaying(&machine)
            XCTAssertEqual(machine.handle(.streamEnded(first), now: at(4)), .none)
            XCTAssertEqual(machine.state, .halfClosed(finished: first))
            XCTAssertEqual(machine.deadline, at(9), "the idle bound applies by default")
            let other: Machine.Side = first == .client ? .instance : .client
            let expected = TunnelTermination(endedBy: first == .client ? .client : .instance, phase: .halfClosed)
            XCTAssertEqual(machine.handle(.streamEnded(other), now: at(5)), .tearDown(expected))
            XCTAssertEqual(machine.handle(.released, now: at(5)), .report(expected))
            XCTAssertEqual(machine.state, .closed(expected))
        }
    }

    func testDialStartsAtOnceWithoutWaitingForTheFirstByte() {
        var machine = makeMachine()
        XCTAssertEqual(machine.handle(.start(waitForFirstByte: false), now: now), .requestConnectionInfo)
        XCTAssertEqual(machine.state, .waitingForConnectionInfo)
    }

    func testProbeThatLeavesSilentlyNeverDials() {
        var machine = makeMachine()
        _ = machine.handle(.start(waitForFirstByte: true), now: now)
        let expected = TunnelTermination(endedBy: .client, phase: .firstByte)
        XCTAssertEqual(machine.handle(.streamEnded(.client), now: now), .tearDown(expected))
    }

    func testDeadlinesPerSetupPhase() {
        // The handshake bound fires before the whole-dial bound.
        var machine = makeMachine()
        _ = machine.handle(.start(waitForFirstByte: false), now: now)
        _ = machine.handle(.connectionInfoReady, now: now)
        _ = machine.handle(.connected, now: at(1))
        XCTAssertEqual(machine.handle(.deadlinePassed, now: at(10)), .none, "a stale timer is ignored")
        let action = machine.handle(.deadlinePassed, now: at(11))
        XCTAssertEqual(action, .tearDown(TunnelTermination(endedBy: .timeout, phase: .handshake,
                                                           cause: "TLS handshake timed out")))

        // Waiting for connection info is bounded by the dial timeout.
        machine = makeMachine()
        _ = machine.handle(.start(waitForFirstByte: false), now: now)
        guard case .tearDown(let termination) = machine.handle(.deadlinePassed, now: at(30)) else {
            return XCTFail("dial timeout expected")
        }
        XCTAssertEqual(termination.endedBy, .timeout)
        XCTAssertEqual(termination.phase, .connectionInfo)

        // The MDX bound.
        machine = makeMachine()
        _ = machine.handle(.start(waitForFirstByte: false), now: now)
        _ = machine.handle(.connectionInfoReady, now: now)
        _ = machine.handle(.connected, now: now)
        _ = machine.handle(.handshakeCompleted, now: at(1))
        XCTAssertEqual(machine.handle(.deadlinePassed, now: at(11)),
                       .tearDown(TunnelTermination(endedBy: .timeout, phase: .metadataExchange,
                                                   cause: "metadata exchange timed out")))
    }

    func testHalfCloseTimeoutWhenConfigured() {
        var machine = makeMachine(halfClose: .seconds(5))
        relaying(&machine)
        _ = machine.handle(.streamEnded(.client), now: at(4))
        XCTAssertEqual(machine.deadline, at(9))
        guard case .tearDown(let termination) = machine.handle(.deadlinePassed, now: at(9)) else {
            return XCTFail("half-close timeout expected")
        }
        XCTAssertEqual(termination.endedBy, .timeout)
        XCTAssertEqual(termination.phase, .halfClosed)
    }

    /// Without an absolute bound, the remaining direction stays open while it carries bytes
    /// and closes after 5 s of silence (e.g. an instance that never answers close_notify).
    func testHalfClosedTunnelClosesAfterIdleBoundButNotWhileBusy() {
        for first in [Machine.Side.client, .instance] {
            var machine = makeMachine()
            relaying(&machine)
            _ = machine.handle(.streamEnded(first), now: at(4))
            XCTAssertEqual(machine.deadline, at(9))
            machine.noteActivity(now: at(8))
            XCTAssertEqual(machine.handle(.deadlinePassed, now: at(9)), .none, "bytes flowed at 8 s")
            XCTAssertEqual(machine.deadline, at(13))
            guard case .tearDown(let termination) = machine.handle(.deadlinePassed, now: at(13)) else {
                return XCTFail("idle bound expected to close the tunnel")
            }
            XCTAssertEqual(termination.endedBy, .timeout)
            XCTAssertEqual(termination.phase, .halfClosed)
            let quiet = first == .client ? "the instance" : "the client"
            XCTAssertEqual(termination.cause?.hasPrefix("\(quiet) sent nothing for 5s"), true,
                           termination.cause ?? "")
        }
    }

    func testSetupFailureIsExplainedOnlyToPostgresClients() {
        for speaksPostgres in [true, false] {
            var machine = makeMachine()
            _ = machine.handle(.start(waitForFirstByte: true), now: now)
            _ = machine.handle(.clientSpoke(speaksPostgres: speaksPostgres), now: now)
            _ = machine.handle(.connectionInfoReady, now: now)
            _ = machine.handle(.connected, now: now)
            _ = machine.handle(.handshakeCompleted, now: now)
            let termination = TunnelTermination(endedBy: .instance, phase: .metadataExchange, cause: "denied")
            let action = machine.handle(.failed(.instance, cause: "denied"), now: now)
            if speaksPostgres {
                XCTAssertEqual(action, .explain(termination))
                XCTAssertEqual(machine.deadline, now.advanced(by: .seconds(5)))
                XCTAssertEqual(machine.handle(.explained, now: now), .tearDown(termination))
            } else {
                XCTAssertEqual(action, .tearDown(termination))
            }
        }
    }

    func testRelayErrorsCloseAtOnceAndNameTheSide() {
        var machine = makeMachine()
        relaying(&machine)
        let action = machine.handle(.failed(.client, cause: "reset"), now: at(4))
        XCTAssertEqual(action, .tearDown(TunnelTermination(endedBy: .client, phase: .relay, cause: "reset")))
        XCTAssertEqual(machine.handle(.failed(.instance, cause: "late"), now: at(4)), .none)
        XCTAssertEqual(machine.handle(.deadlinePassed, now: at(40)), .none)
    }

    func testLimitAndShutdown() {
        var machine = makeMachine()
        XCTAssertEqual(machine.handle(.refused, now: now),
                       .tearDown(TunnelTermination(endedBy: .limit, phase: .accept)))
        machine = makeMachine()
        relaying(&machine)
        XCTAssertEqual(machine.handle(.shutdown, now: now),
                       .tearDown(TunnelTermination(endedBy: .proxy, phase: .relay, cause: "proxy shutting down")))
    }
}
