import Foundation
import Locking
import XCTest

@testable import Connector

/// A wall clock that moves only when the test says so.
final class ManualClock: Sendable {
    private let time: Locked<Date>

    init(_ start: Date = Date()) { time = Locked(start) }

    var now: Date { time.withLock { $0 } }

    var clock: ConnectorClock { ConnectorClock { [time] in time.withLock { $0 } } }

    func advance(by seconds: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// Collects the connector's log lines.
final class LogRecorder: Sendable {
    private let lines = Locked<[(level: ConnectorLogLevel, message: String)]>([])

    var handler: ConnectorLogHandler { { [lines] level, message in lines.withLock { $0.append((level, message)) } } }

    func messages(_ level: ConnectorLogLevel) -> [String] {
        lines.withLock { $0.filter { $0.level == level }.map(\.message) }
    }

    var all: [String] { lines.withLock { $0.map(\.message) } }
}

/// Request helpers shared by the scenario tests.
enum Scenario {
    /// Sends `count` concurrent requests and waits (at most 20 s) for every answer.
    static func request(
        _ connector: Connector, _ handle: InstanceHandle, count: Int = 1, force: Bool = false
    ) -> [Result<InstanceSnapshot, ConnectorError>] {
        let results = Locked<[Result<InstanceSnapshot, ConnectorError>]>([])
        let done = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: count) { _ in
            done.enter()
            connector.requestInfo(for: handle, forceRefresh: force) { result in
                results.withLock { $0.append(result) }
                done.leave()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "requests unanswered")
        return results.withLock { $0 }
    }

    /// One answer (a failure when none came).
    static func one(
        _ connector: Connector, _ handle: InstanceHandle, force: Bool = false
    ) -> Result<InstanceSnapshot, ConnectorError> {
        request(connector, handle, force: force).first ?? .failure(ConnectorError(.closed, "no answer"))
    }

    /// What a tunnel does before dialling: use the current snapshot if valid at `now`, else
    /// ask (forcing when an expired one exists).
    static func dial(
        _ connector: Connector, _ handle: InstanceHandle, now: Date
    ) -> Result<InstanceSnapshot, ConnectorError> {
        let current = handle.current
        if let current, current.isValid(at: now) { return .success(current) }
        return one(connector, handle, force: current != nil)
    }

    /// Polls `condition` every 5 ms for at most `timeout` seconds.
    @discardableResult
    static func waitUntil(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() >= deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// A configuration against `api` with a static token unless `credentials` says otherwise.
    static func configuration(
        api: FakeAdminAPI,
        clock: ManualClock? = nil,
        log: LogRecorder? = nil,
        credentials: CredentialSource = .token("static-token"),
        lazy: Bool = false,
        buffer: TimeInterval = RefreshTiming.defaultRefreshBuffer,
        rateInterval: TimeInterval = RefreshTiming.defaultRateLimitInterval,
        environment: [String: String] = [:]
    ) -> ConnectorConfiguration {
        ConnectorConfiguration(
            apiEndpoint: api.server.baseURL, credentials: credentials, lazyRefresh: lazy,
            http: HTTPOptions(connectTimeout: 2, totalTimeout: 5), clock: clock?.clock ?? .system,
            environment: environment, logHandler: log?.handler, refreshBuffer: buffer,
            rateLimitInterval: rateInterval)
    }
}
