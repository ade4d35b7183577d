import EventLoop

#if canImport(Glibc)
import Glibc
#endif

/// The reactor micro-benchmark: event dispatch cost with many idle registrations and timer
/// schedule+cancel cost with many pending timers. Runs in this process on one loop; every
/// phase is bounded in count and time. Shows that neither cost grows with the count.
struct ReactorBench {
    /// Registered sockets per run; each is one end of a socketpair.
    var socketCounts = [1_000, 9_000]
    /// Socket pairs that exchange bytes; the rest stay idle.
    var activePairs = 8
    /// Events to dispatch per run (bounded also by `timeLimit`).
    var eventTarget = 400_000
    /// Pending timers per run.
    var timerCounts = [10_000, 100_000]
    /// schedule+cancel pairs timed per run.
    var timerOperations = 200_000
    /// Wall-clock bound for any one phase, in seconds.
    var timeLimit = 20.0

    /// One row of the result table.
    struct Row: Codable {
        var measure: String
        var count: Int
        var operations: Int
        var perSecond: Double
        var nanosecondsEach: Double
    }

    /// Runs every phase and returns the rows. Throws when sockets cannot be created.
    func run() throws -> [Row] {
        var rows: [Row] = []
        for count in socketCounts {
            rows.append(try measureEvents(registered: count))
        }
        for count in timerCounts {
            rows.append(try measureTimers(pending: count))
        }
        return rows
    }

    /// Registers `registered` sockets (both ends of `registered / 2` pairs) for reading; the
    /// first `activePairs` pairs bounce one byte back and forth. Each readable event is one
    /// dispatch, one read and one write.
    private func measureEvents(registered: Int) throws -> Row {
        let loop = try EventLoop()
        defer { loop.close() }
        let counter = EventCounter(limit: eventTarget)
        var pairs: [(Socket, Socket)] = []
        var registrations: [Registration] = []
        defer {
            for registration in registrations { loop.deregister(registration) }
            for (left, right) in pairs { left.close(); right.close() }
        }
        for index in 0..<(registered / 2) {
            let (left, right) = try Socket.makePair()
            pairs.append((left, right))
            let active = index < activePairs
            let leftHandler = Bouncer(socket: left, counter: counter, active: active)
            let rightHandler = Bouncer(socket: right, counter: counter, active: active)
            registrations.append(try loop.register(fd: left.fileDescriptor, interest: .readable,
                                                   handler: leftHandler))
            registrations.append(try loop.register(fd: right.fileDescriptor, interest: .readable,
                                                   handler: rightHandler))
        }
        for (left, _) in pairs.prefix(activePairs) {
            var byte: UInt8 = 1
            _ = try withUnsafeBytes(of: &byte) { try left.write($0) }
        }

        let start = BenchClock.nanoseconds()
        let cpuStart = BenchClock.threadCPUNanoseconds()
        while counter.events < counter.limit && BenchClock.seconds(since: start) < timeLimit {
            loop.runOnce(maximumWaitMilliseconds: 100)
        }
        let wall = BenchClock.seconds(since: start)
        let cpu = Double(BenchClock.threadCPUNanoseconds() - cpuStart)
        let events = max(counter.events, 1)
        return Row(measure: "readable event (read+write)", count: registered, operations: events,
                   perSecond: Double(events) / wall, nanosecondsEach: cpu / Double(events))
    }

    /// Schedules `pending` timers far in the future, then times schedule+cancel pairs at
    /// pseudo-random deadlines among them.
    private func measureTimers(pending: Int) throws -> Row {
        let loop = try EventLoop()
        defer { loop.close() }
        var random = SplitMix(seed: 42)
        for _ in 0..<pending {
            loop.schedule(after: .seconds(3_600 + Int64(random.next() % 3_600))) {}
        }
        precondition(loop.pendingTimerCount == pending, "timers were not all scheduled")

        let start = BenchClock.nanoseconds()
        let cpuStart = BenchClock.threadCPUNanoseconds()
        var done = 0
        while done < timerOperations {
            for _ in 0..<1_000 {
                let handle = loop.schedule(after: .seconds(3_600 + Int64(random.next() % 3_600))) {}
                loop.cancel(handle)
            }
            done += 1_000
            if BenchClock.seconds(since: start) > timeLimit { break }
        }
        let wall = BenchClock.seconds(since: start)
        let cpu = Double(BenchClock.threadCPUNanoseconds() - cpuStart)
        return Row(measure: "timer schedule+cancel", count: pending, operations: done,
                   perSecond: Double(done) / wall, nanosecondsEach: cpu / Double(done))
    }

    /// The result as a table.
    static func table(_ rows: [Row]) -> String {
        var table = TextTable(headers: ["measure", "registered/pending", "operations", "per second",
                                        "ns each"])
        for row in rows {
            table.add([row.measure, Format.integer(row.count), Format.integer(row.operations),
                       Format.integer(Int(row.perSecond)), Format.decimal(row.nanosecondsEach, 0)])
        }
        return table.render()
    }
}

/// Counts events across all bouncers and says when to stop.
private final class EventCounter {
    var events = 0
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }
}

/// Reads whatever arrived and, if active, sends one byte back to the pair's other end.
private final class Bouncer: IOHandler {
    private let socket: Socket
    private let counter: EventCounter
    private let active: Bool
    private var scratch = [UInt8](repeating: 0, count: 64)

    init(socket: Socket, counter: EventCounter, active: Bool) {
        self.socket = socket
        self.counter = counter
        self.active = active
    }

    func handle(_ events: IOEvents) {
        counter.events += 1
        let socket = self.socket
        let result = try? scratch.withUnsafeMutableBytes { try socket.read(into: $0) }
        guard active, case .processed = result, counter.events < counter.limit else { return }
        var byte: UInt8 = 1
        // Arrives at the pair's other end and wakes its handler in the next turn.
        _ = try? withUnsafeBytes(of: &byte) { try socket.write($0) }
    }
}

/// A small deterministic pseudo-random generator (SplitMix64), so runs are repeatable.
struct SplitMix {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
