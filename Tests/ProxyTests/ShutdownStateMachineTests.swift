import EventLoop
import XCTest

@testable import Proxy

/// The shutdown path without sockets: exit codes, delays, the drain poll and second signals.
final class ShutdownStateMachineTests: XCTestCase {
    private let start = LoopInstant(nanoseconds: 1_000_000_000)

    private func at(_ milliseconds: Int) -> LoopInstant {
        start.advanced(by: .milliseconds(milliseconds))
    }

    private func machine(min: Duration = .zero, max: Duration = .zero, exitZero: Bool = false)
        -> ShutdownStateMachine {
        ShutdownStateMachine(settings: .init(minimumDelay: min, maximumDelay: max, exitZeroOnTerminate: exitZero))
    }

    func testExitCodesWithoutDelays() {
        let cases: [(ShutdownStateMachine.Reason, Bool, Int32, String)] = [
            (.interrupt, false, 130, "SIGINT signal received. Shutting down..."),
            (.terminate, false, 143, "SIGTERM signal received. Shutting down..."),
            (.terminate, true, 0, "SIGTERM signal received. Shutting down..."),
            (.interrupt, true, 130, "SIGINT signal received. Shutting down..."),
            (.quitquitquit, false, 0, "/quitquitquit received request. Shutting down..."),
        ]
        for (reason, exitZero, code, line) in cases {
            var sut = machine(exitZero: exitZero)
            // Open tunnels do not hold the exit without --max-sigterm-delay.
            let actions = sut.handle(.requested(reason, openTunnels: 3), now: start)
            XCTAssertEqual(actions, [.logInfo(line), .markDraining, .closeListeners, .exit(code)], "\(reason)")
            XCTAssertEqual(sut.state, .exited(code: code))
        }
    }

    func testMinimumDelayKeepsListenersOpenButReadinessDropsAtOnce() {
        var sut = machine(min: .seconds(2), max: .seconds(5))
        XCTAssertEqual(sut.handle(.requested(.terminate, openTunnels: 1), now: start),
                       [.logInfo("SIGTERM signal received. Shutting down..."), .markDraining,
                        .scheduleMinimumDelay(.seconds(2))])
        XCTAssertEqual(sut.handle(.minimumDelayElapsed(openTunnels: 1), now: at(2000)),
                       [.closeListeners, .startPolling])
        XCTAssertEqual(sut.handle(.poll(openTunnels: 1), now: at(2100)), [])
        XCTAssertEqual(sut.handle(.poll(openTunnels: 0), now: at(3000)), [.exit(143)])
    }

    func testTunnelsStillOpenAfterTheMaximumDelayExitOne() {
        var sut = machine(max: .seconds(5))
        XCTAssertEqual(sut.handle(.requested(.interrupt, openTunnels: 2), now: start).suffix(2),
                       [.closeListeners, .startPolling])
        XCTAssertEqual(sut.handle(.poll(openTunnels: 2), now: at(4999)), [])
        XCTAssertEqual(sut.handle(.poll(openTunnels: 1), now: at(5000)),
                       [.logError("1 connection(s) still open after waiting 5s"), .exit(1)])
        XCTAssertEqual(sut.state, .exited(code: 1))
        XCTAssertEqual(sut.handle(.poll(openTunnels: 0), now: at(5100)), [])
    }

    func testNoOpenTunnelsMeansNoWait() {
        var sut = machine(max: .seconds(60))
        XCTAssertEqual(sut.handle(.requested(.terminate, openTunnels: 0), now: start).suffix(2),
                       [.closeListeners, .exit(143)])
    }

    func testSecondSignalExitsAtOnceWithItsCode() {
        for (first, second, code) in [(ShutdownStateMachine.Reason.interrupt, ShutdownStateMachine.Reason.interrupt,
                                       Int32(130)),
                                      (.quitquitquit, .terminate, 143), (.terminate, .interrupt, 130)] {
            var draining = machine(max: .seconds(60))
            _ = draining.handle(.requested(first, openTunnels: 1), now: start)
            XCTAssertEqual(draining.handle(.requested(second, openTunnels: 1), now: at(500)),
                           [.logInfo("second signal received, exiting immediately"), .exit(code)])

            var delaying = machine(min: .seconds(10))
            _ = delaying.handle(.requested(first, openTunnels: 0), now: start)
            XCTAssertEqual(delaying.handle(.requested(second, openTunnels: 0), now: at(500)).last, .exit(code))
        }
    }

    func testRepeatedQuitquitquitStartsNothing() {
        var sut = machine(min: .seconds(1))
        _ = sut.handle(.requested(.quitquitquit, openTunnels: 0), now: start)
        XCTAssertEqual(sut.handle(.requested(.quitquitquit, openTunnels: 0), now: at(10)), [])
        XCTAssertEqual(sut.handle(.minimumDelayElapsed(openTunnels: 0), now: at(1000)), [.closeListeners, .exit(0)])
    }
}
