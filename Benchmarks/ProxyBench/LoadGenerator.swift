import EventLoop

/// The client side of every scenario: plaintext connections to 127.0.0.1 driven by one
/// `EventLoop` on the calling thread. Every method is bounded by a count and by `timeLimit`
/// seconds, and returns what it managed even when it ran out of time.
final class LoadGenerator {
    private let loop: EventLoop

    /// Wall-clock bound for one method call, in seconds.
    let timeLimit: Double

    init(timeLimit: Double) throws {
        loop = try EventLoop()
        self.timeLimit = timeLimit
    }

    deinit {
        loop.close()
    }

    /// The outcome of a bulk transfer.
    struct Bulk {
        var bytes: Int
        var seconds: Double
        /// nil when nothing could be checked (uploads into a sink).
        var verified: Bool?
        var failure: String?
    }

    /// Moves `totalBytes` through `connections` parallel connections to `port`: uploads into
    /// a sink or downloads from a source. Time runs from the first connect to the last
    /// connection's end (for uploads: the far side closing after the half-close).
    func bulk(port: Int, upload: Bool, totalBytes: Int, connections: Int) -> Bulk {
        let share = totalBytes / connections
        var open: [ClientConnection] = []
        var finished = 0
        var failure: String?
        let start = BenchClock.nanoseconds()
        for _ in 0..<connections {
            do {
                open.append(try ClientConnection(port: port, job: upload ? .upload(share) : .download(share),
                                                 loop: loop) { _, error in
                    finished += 1
                    if let error, failure == nil { failure = error }
                })
            } catch {
                failure = "\(error)"
                finished += 1
            }
        }
        drive { finished >= connections }
        let seconds = BenchClock.seconds(since: start)
        let moved = open.reduce(0) { $0 + (upload ? $1.sent : $1.received) }
        let verified = upload ? nil : open.allSatisfy(\.verified)
        if finished < connections && failure == nil {
            failure = "timed out after \(Int(timeLimit)) s with \(moved) of \(share * connections) bytes"
        }
        for connection in open { connection.close() }
        return Bulk(bytes: moved, seconds: seconds, verified: verified, failure: failure)
    }

    /// The outcome of a latency run.
    struct Latency {
        var nanoseconds: [UInt64]
        var verified: Bool
        var failure: String?
    }

    /// `count` sequential 64-byte round trips over one connection to an echo at `port`. The
    /// first trip (which includes connection set-up) is not counted.
    func roundTrips(port: Int, count: Int) -> Latency {
        var done = false
        var failure: String?
        let connection: ClientConnection
        do {
            connection = try ClientConnection(port: port, job: .ping(count + 1), loop: loop) { _, error in
                done = true
                failure = error
            }
        } catch {
            return Latency(nanoseconds: [], verified: false, failure: "\(error)")
        }
        drive { done }
        connection.close()
        if !done { failure = "timed out after \(Int(timeLimit)) s" }
        return Latency(nanoseconds: Array(connection.latencies.dropFirst()), verified: connection.verified,
                       failure: failure)
    }

    /// The outcome of a connection-rate run.
    struct Connect {
        var completed: Int
        var seconds: Double
        var failure: String?
    }

    /// Opens `count` connections to an echo at `port`, `concurrency` at a time; each does one
    /// 64-byte round trip (so the tunnel behind it is fully up) and closes.
    func connectionRate(port: Int, count: Int, concurrency: Int = 16) -> Connect {
        var started = 0
        var completed = 0
        var ended = 0
        var failure: String?
        func startOne() {
            guard started < count, failure == nil else { return }
            started += 1
            do {
                _ = try ClientConnection(port: port, job: .ping(1), loop: loop) { _, error in
                    ended += 1
                    if let error {
                        if failure == nil { failure = "connection \(started) failed: \(error)" }
                    } else {
                        completed += 1
                    }
                    startOne()
                }
            } catch {
                ended += 1
                if failure == nil { failure = "\(error)" }
            }
        }
        let start = BenchClock.nanoseconds()
        for _ in 0..<min(concurrency, count) { startOne() }
        drive { ended >= started && (started >= count || failure != nil) }
        return Connect(completed: completed, seconds: BenchClock.seconds(since: start),
                       failure: failure ?? (completed < count ? "timed out after \(Int(timeLimit)) s" : nil))
    }

    /// The outcome of the idle-tunnel run.
    struct Idle {
        /// Tunnels that answered their round trip and were open at measurement time.
        var established: Int
        var failure: String?
    }

    /// Opens `count` tunnels to an echo at `port`, at most 64 connecting at a time; each does
    /// one round trip and then idles. Once all are up (or the first one fails), calls
    /// `measure` with the number established, then closes them all.
    func idleTunnels(port: Int, count: Int, measure: (Int) -> Void) -> Idle {
        var held: [ClientConnection] = []
        held.reserveCapacity(count)
        var started = 0
        var up = 0
        var pending = 0
        var failure: String?
        func startMore() {
            while failure == nil && started < count && pending < 64 {
                started += 1
                pending += 1
                do {
                    held.append(try ClientConnection(port: port, job: .hold, loop: loop) { _, error in
                        pending -= 1
                        if let error {
                            if failure == nil { failure = "failed at \(up): \(error)" }
                        } else {
                            up += 1
                        }
                        startMore()
                    })
                } catch {
                    pending -= 1
                    failure = "failed at \(up): \(error)"
                }
            }
        }
        startMore()
        drive { (up >= count || failure != nil) && pending == 0 }
        // Let the relay settle (release handshake buffers) before it is measured.
        let settle = BenchClock.nanoseconds()
        drive { BenchClock.seconds(since: settle) > 0.3 }
        let alive = held.filter { !$0.dropped && $0.verified }.count
        if failure == nil && alive < count {
            failure = up < count ? "failed at \(up): timed out" : "failed at \(alive): tunnels dropped"
        }
        measure(alive)
        for connection in held { connection.close() }
        drive(seconds: 0.2) { false }
        return Idle(established: alive, failure: failure)
    }

    /// Runs loop turns until `done()` holds or the time bound passes.
    private func drive(seconds: Double? = nil, _ done: () -> Bool) {
        let start = BenchClock.nanoseconds()
        let bound = seconds ?? timeLimit
        while !done() && BenchClock.seconds(since: start) < bound {
            loop.runOnce(maximumWaitMilliseconds: 20)
        }
    }
}
