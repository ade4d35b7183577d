import XCTest

@testable import EventLoop

final class TimerTests: XCTestCase {
    func testTimers_fireInDeadlineOrder_notSchedulingOrder() throws {
        let clock = FakeClock()
        let loop = try EventLoop(clock: clock)
        defer { loop.close() }
        var fired: [String] = []
        loop.schedule(after: .milliseconds(30)) { fired.append("30ms") }
        loop.schedule(after: .milliseconds(10)) { fired.append("10ms") }
        loop.schedule(after: .milliseconds(20)) { fired.append("20ms") }
        loop.schedule(after: .milliseconds(10)) { fired.append("10ms-second") }

        clock.advance(.milliseconds(15))
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(fired, ["10ms", "10ms-second"])

        clock.advance(.milliseconds(100))
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(fired, ["10ms", "10ms-second", "20ms", "30ms"])
        XCTAssertEqual(loop.statistics.timersFired, 4)
        XCTAssertEqual(loop.pendingTimerCount, 0)
    }

    func testTimer_doesNotFireBeforeItsDeadline() throws {
        let clock = FakeClock()
        let loop = try EventLoop(clock: clock)
        defer { loop.close() }
        var fired = false
        loop.schedule(after: .seconds(5)) { fired = true }

        clock.advance(.milliseconds(4_999))
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertFalse(fired)

        clock.advance(.milliseconds(1))
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertTrue(fired)
    }

    func testCancel_preventsFiring_andReportsWhetherPending() throws {
        let clock = FakeClock()
        let loop = try EventLoop(clock: clock)
        defer { loop.close() }
        var fired: [Int] = []
        let handles = (0..<5).map { index in
            loop.schedule(after: .milliseconds(index + 1)) { fired.append(index) }
        }
        XCTAssertTrue(loop.cancel(handles[1]))
        XCTAssertTrue(loop.cancel(handles[3]))
        XCTAssertFalse(loop.cancel(handles[3]), "second cancel of the same timer")

        clock.advance(.seconds(1))
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(fired, [0, 2, 4])
        XCTAssertFalse(loop.cancel(handles[0]), "cancel after firing")
    }

    func testTimer_cancelledByEarlierTimerInSameTurn_doesNotFire() throws {
        let clock = FakeClock()
        let loop = try EventLoop(clock: clock)
        defer { loop.close() }
        var secondFired = false
        var second: TimerHandle?
        loop.schedule(after: .milliseconds(1)) { _ = second.map { loop.cancel($0) } }
        second = loop.schedule(after: .milliseconds(2)) { secondFired = true }

        clock.advance(.milliseconds(10))
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertFalse(secondFired)
    }

    func testTimer_scheduledFromTimerForNow_runsNextTurn() throws {
        let clock = FakeClock()
        let loop = try EventLoop(clock: clock)
        defer { loop.close() }
        var runs = 0
        func rearm() {
            loop.schedule(after: .zero) {
                runs += 1
                rearm()
            }
        }
        rearm()
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(runs, 1, "a self-rescheduling timer must not starve the turn")
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(runs, 2)
    }

    func testPollTimeout_derivesFromEarliestDeadline_roundedUp() throws {
        let clock = FakeClock()
        let loop = try EventLoop(clock: clock)
        defer { loop.close() }
        XCTAssertEqual(loop.pollTimeout(now: clock.now()), -1, "no timers: wait forever")

        let late = loop.schedule(after: .seconds(3)) {}
        XCTAssertEqual(loop.pollTimeout(now: clock.now()), 3_000)

        let early = loop.schedule(after: .microseconds(2_500)) {}
        XCTAssertEqual(loop.pollTimeout(now: clock.now()), 3, "2.5 ms rounds up to 3")

        clock.advance(.milliseconds(2))
        XCTAssertEqual(loop.pollTimeout(now: clock.now()), 1)

        loop.cancel(early)
        XCTAssertEqual(loop.pollTimeout(now: clock.now()), 2_998)

        clock.advance(.seconds(10))
        XCTAssertEqual(loop.pollTimeout(now: clock.now()), 0, "overdue: do not block")
        loop.cancel(late)
    }

    func testTimerHeap_randomInsertsAndCancels_popInOrder() {
        var heap = TimerHeap()
        var generator = SystemRandomNumberGenerator()
        var live: [TimerHandle: UInt64] = [:]
        for _ in 0..<500 {
            let deadline = UInt64.random(in: 0..<1_000, using: &generator)
            live[heap.insert(deadline: LoopInstant(nanoseconds: deadline), body: {})] = deadline
        }
        for handle in live.keys.shuffled().prefix(200) {
            XCTAssertTrue(heap.remove(handle))
            live[handle] = nil
        }
        heap.assertSane()

        var popped: [UInt64] = []
        let end = LoopInstant(nanoseconds: .max)
        while let entry = heap.popExpired(now: end, idLimit: .max) {
            popped.append(entry.deadline.nanoseconds)
        }
        XCTAssertEqual(popped, live.values.sorted())
    }
}
