import XCTest

@testable import Connector

final class RefreshTimingTests: XCTestCase {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    func testRefreshDelay_table() {
        let minute: TimeInterval = 60
        let cases: [(remaining: TimeInterval, delay: TimeInterval)] = [
            (24 * 60 * minute, 12 * 60 * minute),
            (60 * minute, 30 * minute),
            (59 * minute, 55 * minute),
            (30 * minute, 26 * minute),
            (4 * minute, 0),
            (4 * minute - 1, 0),
            (10, 0),
            (-60, 0),
        ]
        for (remaining, delay) in cases {
            let got = RefreshTiming.refreshDelay(
                now: now, expiration: now.addingTimeInterval(remaining), buffer: RefreshTiming.defaultRefreshBuffer)
            XCTAssertEqual(got, delay, accuracy: 0.001, "remaining \(remaining)")
        }
    }

    func testRateLimiter_burstOfTwoThenOnePerInterval() {
        var limiter = RateLimiter(burst: 2, interval: 30)
        XCTAssertTrue(limiter.tryAcquire(now: now))
        XCTAssertTrue(limiter.tryAcquire(now: now))
        XCTAssertFalse(limiter.tryAcquire(now: now))
        XCTAssertEqual(limiter.nextAvailable(now: now), now.addingTimeInterval(30))
        XCTAssertFalse(limiter.tryAcquire(now: now.addingTimeInterval(29)))
        XCTAssertTrue(limiter.tryAcquire(now: now.addingTimeInterval(30)))
        XCTAssertFalse(limiter.tryAcquire(now: now.addingTimeInterval(31)))
        // A long pause refills only up to the burst.
        let later = now.addingTimeInterval(3600)
        XCTAssertTrue(limiter.tryAcquire(now: later))
        XCTAssertTrue(limiter.tryAcquire(now: later))
        XCTAssertFalse(limiter.tryAcquire(now: later))
    }

    func testRateLimiter_clockSteppingBack_addsNothing() {
        var limiter = RateLimiter(burst: 1, interval: 30)
        XCTAssertTrue(limiter.tryAcquire(now: now))
        XCTAssertFalse(limiter.tryAcquire(now: now.addingTimeInterval(-100)))
        XCTAssertFalse(limiter.tryAcquire(now: now.addingTimeInterval(-70)))
    }
}

final class RefreshStateTests: XCTestCase {
    private let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    private let failure = ConnectorError(.refresh, "HTTP 503 UNAVAILABLE", instance: "p.r.c.i", httpStatus: 503)
    private let denied = ConnectorError(.refresh, "HTTP 403 PERMISSION_DENIED", instance: "p.r.c.i", httpStatus: 403)

    func testFirstRequest_startsRefresh_andConcurrentOnesWait() {
        var state = RefreshState(mode: .ahead, buffer: 240)
        XCTAssertEqual(state.handle(.requested(force: false), now: t0), .init(startRefresh: true, answer: .wait))
        XCTAssertEqual(state.handle(.requested(force: false), now: t0), .init(startRefresh: false, answer: .wait))
        let action = state.handle(.succeeded(expiration: t0.addingTimeInterval(3600)), now: t0)
        XCTAssertEqual(action.answer, .current)
        XCTAssertEqual(state.nextAttempt, t0.addingTimeInterval(1800))
        XCTAssertEqual(state.handle(.requested(force: false), now: t0), .init(answer: .current))
    }

    func testFailure_keepsValidSnapshot_andRetriesUnderLimiter() {
        var state = RefreshState(mode: .ahead, buffer: 240, limiter: RateLimiter(burst: 2, interval: 30))
        _ = state.handle(.requested(force: false), now: t0)
        _ = state.handle(.succeeded(expiration: t0.addingTimeInterval(3000)), now: t0)
        let due = state.nextAttempt!  // set by the success just above
        XCTAssertEqual(state.handle(.due, now: due).startRefresh, true)
        XCTAssertEqual(state.handle(.failed(failure), now: due).answer, .current)
        XCTAssertEqual(state.nextAttempt, due, "the limiter still has a token, so retry at once")
        XCTAssertEqual(state.handle(.due, now: due).startRefresh, true)
        XCTAssertEqual(state.handle(.failed(failure), now: due).answer, .current)
        XCTAssertEqual(state.handle(.due, now: due).startRefresh, false, "burst of two is spent")
        XCTAssertEqual(state.nextAttempt, due.addingTimeInterval(30))
        XCTAssertEqual(state.handle(.requested(force: false), now: due).answer, .current)
    }

    func testFailure_withoutValidSnapshot_surfacesError() {
        var state = RefreshState(mode: .ahead, buffer: 240)
        _ = state.handle(.requested(force: false), now: t0)
        let action = state.handle(.failed(failure), now: t0)
        guard case .error(let error) = action.answer else { return XCTFail("\(action)") }
        XCTAssertEqual(error.message, "no valid client certificate; last refresh error: HTTP 503 UNAVAILABLE")
        XCTAssertTrue(error.description.contains("[p.r.c.i]"))
    }

    func testTerminalError_stopsRetries_untilAskedAgain() {
        var state = RefreshState(mode: .ahead, buffer: 240)
        _ = state.handle(.requested(force: false), now: t0)
        _ = state.handle(.failed(denied), now: t0)
        XCTAssertTrue(state.retriesStopped)
        XCTAssertNil(state.nextAttempt)
        XCTAssertEqual(state.handle(.requested(force: false), now: t0).startRefresh, true)
    }

    func testForcedRequest_withValidSnapshot_answersCurrentAndRefreshes() {
        var state = RefreshState(mode: .ahead, buffer: 240)
        _ = state.handle(.requested(force: false), now: t0)
        _ = state.handle(.succeeded(expiration: t0.addingTimeInterval(3600)), now: t0)
        XCTAssertEqual(state.handle(.requested(force: true), now: t0), .init(startRefresh: true, answer: .current))
    }

    func testLazyMode_refreshesOnlyWithinBuffer_andHasNoSchedule() {
        var state = RefreshState(mode: .lazy, buffer: 240)
        XCTAssertEqual(state.handle(.requested(force: false), now: t0).startRefresh, true)
        _ = state.handle(.succeeded(expiration: t0.addingTimeInterval(3600)), now: t0)
        XCTAssertNil(state.nextAttempt)
        XCTAssertEqual(
            state.handle(.requested(force: false), now: t0.addingTimeInterval(3000)), .init(answer: .current))
        XCTAssertEqual(state.handle(.requested(force: false), now: t0.addingTimeInterval(3400)).startRefresh, true)
        XCTAssertEqual(
            state.handle(.requested(force: false), now: t0.addingTimeInterval(3400)), .init(answer: .wait),
            "lazy callers join the refresh in flight rather than take the old certificate")
        let action = state.handle(.failed(failure), now: t0.addingTimeInterval(3400))
        XCTAssertEqual(action.answer, .current, "still valid for 200 s")
        XCTAssertNil(state.nextAttempt)
    }
}
