import CLinuxShims

#if canImport(Glibc)
import Glibc
#endif

/// A single-threaded epoll reactor: descriptor readiness, timers, cross-thread work and signals.
///
/// Thread rule: every method is loop-thread only (the thread that calls `run()`; before that,
/// the thread that created the loop), except `executor`, which any thread may use.
///
/// One loop turn:
///
///     apply batched interest changes ──> epoll_wait (timeout = earliest timer)
///          ^                                     │
///          │                                     v
///     fire expired timers <── dispatch events (error/hangup, writable, readable)
///
/// Descriptor state (per fd slot, `generation == 0` means free):
///
///     free ──register──> live(desired, applied) ──deregister──> free
///     setInterest changes `desired`; `applied` (what the kernel has) catches up before the
///     next wait. An empty interest takes the fd out of the kernel set entirely, so a paused
///     descriptor that hangs up does not make the loop spin.
///
/// Each registration gets a fresh generation, packed with the fd into `epoll_data.u64`; an
/// event whose generation no longer matches its slot belongs to a registration that ended
/// earlier in the same batch (fd closed and perhaps reused) and is dropped and counted.
public final class EventLoop {
    /// The suggested bound on reads a handler performs per readable event, so one busy
    /// connection cannot starve the rest. Handlers enforce it; the loop cannot.
    public static let maxReadsPerEvent = 4

    /// The size the events array starts at; it doubles whenever a wait fills it.
    public static let initialEventCapacity = 64

    /// The events array never grows past this many entries.
    public static let maximumEventCapacity = 16_384

    private struct Slot {
        var generation: UInt32 = 0
        var handler: (any IOHandler)?
        var desired: Interest = []
        var applied: Interest = []
        var isQueued = false
    }

    /// The time source for timers. Loop thread only.
    public let clock: any LoopClock

    /// The cross-thread entry point. Any thread.
    public let executor: LoopExecutor

    /// Counters about this loop. Loop thread only.
    public private(set) var statistics = LoopStatistics()

    /// The epoll descriptor; -1 once closed.
    private var epollFD: Int32

    /// Registrations indexed by fd number, grown on demand.
    private var slots: [Slot] = []

    /// Fds whose desired interest changed since the last wait.
    private var pendingInterest: [Int32] = []

    /// Next generation to hand out; never 0, which marks a free slot.
    private var nextGeneration: UInt32 = 1

    /// Pending timers.
    private var timers = TimerHeap()

    /// The kernel's output buffer for epoll_wait, owned by the loop.
    private var events: UnsafeMutablePointer<epoll_event>
    private var eventCapacity: Int

    private var stopRequested = false
    private var executorRegistration: Registration?

    /// The signal source, created on the first `handleSignals` call.
    var signals: SignalSource?

    /// Creates a loop with its epoll descriptor and wake-up eventfd.
    ///
    /// - Parameter clock: the time source for timers; tests inject a fake one.
    public init(clock: any LoopClock = MonotonicClock()) throws {
        self.clock = clock
        epollFD = try Epoll.create()
        do {
            executor = try LoopExecutor()
        } catch {
            Posix.close(epollFD)
            throw error
        }
        eventCapacity = Self.initialEventCapacity
        events = .allocate(capacity: eventCapacity)
        let wake = ExecutorHandler()
        do {
            executorRegistration = try register(fd: executor.eventFD, interest: .readable, handler: wake)
        } catch {
            events.deallocate()
            executor.close()
            Posix.close(epollFD)
            throw error
        }
        wake.loop = self
    }

    deinit {
        close()
        events.deallocate()
    }

    /// True until `close()`.
    public var isOpen: Bool { epollFD >= 0 }

    // MARK: Running

    /// Runs turns until `stop()` (or `executor.requestStop()`) and returns. May be called again.
    public func run() {
        precondition(isOpen, "run() on a closed EventLoop")
        while !stopRequested {
            turn(maximumWaitMilliseconds: nil)
        }
        stopRequested = false
    }

    /// Makes `run()` return after the current turn. Loop thread only.
    public func stop() {
        stopRequested = true
    }

    /// Runs exactly one turn, waiting at most `maximumWaitMilliseconds` (nil: until the next
    /// timer or event). For embedding the loop and for tests.
    public func runOnce(maximumWaitMilliseconds: Int32? = nil) {
        precondition(isOpen, "runOnce() on a closed EventLoop")
        turn(maximumWaitMilliseconds: maximumWaitMilliseconds)
    }

    private func turn(maximumWaitMilliseconds: Int32?) {
        applyInterestChanges()
        var timeout = stopRequested ? 0 : pollTimeout(now: clock.now())
        if let cap = maximumWaitMilliseconds, timeout < 0 || timeout > cap {
            timeout = cap
        }

        let count: Int
        do {
            count = try Epoll.epollWaitIdle(
                epfd: epollFD,
                events: events,
                capacity: Int32(eventCapacity),
                timeoutMilliseconds: timeout
            )
        } catch {
            // epoll_wait only fails on a bad descriptor or pointer, which Posix already traps.
            preconditionFailure("\(error)")
        }
        statistics.iterations += 1
        statistics.events += UInt64(count)

        for index in 0..<count {
            dispatch(events[index])
        }
        if count == eventCapacity && eventCapacity < Self.maximumEventCapacity {
            growEvents()
        }
        fireTimers()
    }

    /// The epoll timeout for a wait starting at `now`: -1 with no timers, 0 when the earliest
    /// is due, else the time to it rounded up to whole milliseconds so the loop never wakes
    /// just before a deadline and spins.
    func pollTimeout(now: LoopInstant) -> Int32 {
        guard let deadline = timers.earliestDeadline else {
            return -1
        }
        if deadline <= now {
            return 0
        }
        let nanos = deadline.nanoseconds - now.nanoseconds
        let millis = (nanos + 999_999) / 1_000_000
        return Int32(clamping: millis)
    }

    private func growEvents() {
        let capacity = min(eventCapacity * 2, Self.maximumEventCapacity)
        events.deallocate()
        events = .allocate(capacity: capacity)
        eventCapacity = capacity
        statistics.eventArrayGrowths += 1
    }

    // MARK: Dispatch

    private func dispatch(_ event: epoll_event) {
        var event = event
        let data = CLinuxShims_epoll_event_data(&event)
        let kernelEvents = CLinuxShims_epoll_event_events(&event)
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
        let generation = UInt32(truncatingIfNeeded: data >> 32)
        guard isLive(fd, generation), let handler = slots[Int(fd)].handler else {
            statistics.staleEventsDropped += 1
            return
        }
        let ready = Self.ioEvents(kernelEvents)

        let failure = ready.intersection([.error, .hangup])
        if !failure.isEmpty {
            handler.handle(failure)
            guard isLive(fd, generation) else { return }
        }
        if ready.contains(.writable) && slots[Int(fd)].desired.contains(.writable) {
            handler.handle(.writable)
            guard isLive(fd, generation) else { return }
        }
        let input = ready.intersection([.readable, .readHangup])
        if !input.isEmpty && slots[Int(fd)].desired.contains(.readable) {
            handler.handle(input)
        }
    }

    private func isLive(_ fd: Int32, _ generation: UInt32) -> Bool {
        fd >= 0 && Int(fd) < slots.count && slots[Int(fd)].generation == generation
    }

    static func ioEvents(_ kernel: UInt32) -> IOEvents {
        var result: IOEvents = []
        if kernel & Epoll.readable != 0 { result.insert(.readable) }
        if kernel & Epoll.writable != 0 { result.insert(.writable) }
        if kernel & Epoll.readHangup != 0 { result.insert(.readHangup) }
        if kernel & Epoll.hangup != 0 { result.insert(.hangup) }
        if kernel & Epoll.error != 0 { result.insert(.error) }
        return result
    }

    static func kernelEvents(_ interest: Interest) -> UInt32 {
        var result: UInt32 = 0
        if interest.contains(.readable) { result |= Epoll.readable | Epoll.readHangup }
        if interest.contains(.writable) { result |= Epoll.writable }
        return result
    }

    func runExecutorWork() {
        let (work, stop) = executor.drain()
        statistics.wakeups += 1
        if stop {
            stopRequested = true
        }
        for item in work {
            item()
        }
        statistics.tasksRun += UInt64(work.count)
    }

    // MARK: Registrations

    /// Starts watching `fd` for `interest`, delivering readiness to `handler`.
    ///
    /// The loop keeps a strong reference to `handler` until `deregister`. The caller keeps
    /// ownership of the descriptor and must deregister it before closing it.
    /// - Throws: `SyscallError` from epoll_ctl (e.g. ENOSPC at the kernel's watch limit), or
    ///   EEXIST if `fd` is already registered with this loop.
    public func register(fd: Int32, interest: Interest, handler: any IOHandler) throws -> Registration {
        precondition(isOpen, "register on a closed EventLoop")
        precondition(fd >= 0, "register of negative fd \(fd)")
        let index = Int(fd)
        if index >= slots.count {
            slots.append(contentsOf: repeatElement(Slot(), count: max(index + 1 - slots.count, slots.count)))
        }
        guard slots[index].generation == 0 else {
            throw SyscallError(errno: EEXIST, call: "register(fd: \(fd))")
        }

        let registration = Registration(fd: fd, generation: nextGeneration)
        nextGeneration = nextGeneration == .max ? 1 : nextGeneration + 1
        if !interest.isEmpty {
            try Epoll.add(epfd: epollFD, fd: fd, events: Self.kernelEvents(interest), data: registration.packed)
        }
        slots[index] = Slot(generation: registration.generation, handler: handler,
                            desired: interest, applied: interest, isQueued: false)
        return registration
    }

    /// Changes what `registration` is watched for. Applied once, before the next wait, and only
    /// if it differs from what the kernel already has, so toggling is cheap. An empty interest
    /// stops all events, including hangup and error, until interest is set again.
    /// Does nothing for a registration that has ended.
    public func setInterest(_ registration: Registration, _ interest: Interest) {
        guard isLive(registration.fd, registration.generation) else {
            return
        }
        let index = Int(registration.fd)
        slots[index].desired = interest
        if !slots[index].isQueued {
            slots[index].isQueued = true
            pendingInterest.append(registration.fd)
        }
    }

    /// The interest currently requested for `registration` (nil once it ended).
    public func interest(of registration: Registration) -> Interest? {
        isLive(registration.fd, registration.generation) ? slots[Int(registration.fd)].desired : nil
    }

    /// Stops watching the descriptor and releases the handler. Any events for it still in the
    /// current batch are dropped. Call before closing the descriptor. Does nothing for a
    /// registration that already ended.
    public func deregister(_ registration: Registration) {
        guard isLive(registration.fd, registration.generation) else {
            return
        }
        let index = Int(registration.fd)
        if !slots[index].applied.isEmpty {
            let result = CLinuxShims_epoll_ctl(epollFD, CLinuxShims_EPOLL_CTL_DEL, registration.fd, 0, 0)
            // ENOENT/EBADF: the descriptor was closed first and the kernel already dropped it.
            assert(result == 0 || errno == ENOENT || errno == EBADF, "epoll_ctl(DEL) errno \(errno)")
        }
        slots[index] = Slot()
    }

    /// Number of live registrations, including the loop's own wake-up and signal descriptors.
    public var registrationCount: Int {
        slots.reduce(0) { $0 + ($1.generation != 0 ? 1 : 0) }
    }

    private func applyInterestChanges() {
        guard !pendingInterest.isEmpty else {
            return
        }
        let queued = pendingInterest
        pendingInterest.removeAll(keepingCapacity: true)
        for fd in queued {
            apply(fd)
        }
    }

    private func apply(_ fd: Int32) {
        let index = Int(fd)
        slots[index].isQueued = false
        let slot = slots[index]
        guard slot.generation != 0, slot.desired != slot.applied else {
            return
        }
        let data = Registration(fd: fd, generation: slot.generation).packed
        let events = Self.kernelEvents(slot.desired)
        do {
            if slot.applied.isEmpty {
                try Epoll.add(epfd: epollFD, fd: fd, events: events, data: data)
            } else if slot.desired.isEmpty {
                try Epoll.delete(epfd: epollFD, fd: fd)
            } else {
                try Epoll.modify(epfd: epollFD, fd: fd, events: events, data: data)
            }
            slots[index].applied = slot.desired
            statistics.interestUpdates += 1
        } catch {
            // The kernel refused to watch the fd (ENOMEM/ENOSPC): tell the owner, which will
            // find it cannot make progress and close it.
            slot.handler?.handle(.error)
        }
    }

    // MARK: Timers

    /// Runs `body` on the loop thread once `duration` has passed on the loop's clock.
    /// O(log n). Timers due at the same instant run in scheduling order.
    @discardableResult
    public func schedule(after duration: Duration, _ body: @escaping () -> Void) -> TimerHandle {
        schedule(at: clock.now().advanced(by: duration), body)
    }

    /// Runs `body` on the loop thread once the loop's clock reaches `deadline`. A deadline in
    /// the past runs in the next turn. O(log n).
    @discardableResult
    public func schedule(at deadline: LoopInstant, _ body: @escaping () -> Void) -> TimerHandle {
        timers.insert(deadline: deadline, body: body)
    }

    /// Cancels a pending timer; returns false if it already ran or was cancelled. O(log n).
    @discardableResult
    public func cancel(_ timer: TimerHandle) -> Bool {
        timers.remove(timer)
    }

    /// Number of pending timers.
    public var pendingTimerCount: Int { timers.count }

    /// Runs timers due by now that existed when this turn began; timers they schedule for
    /// "now" wait for the next turn, so a timer rescheduling itself cannot starve I/O.
    private func fireTimers() {
        guard timers.earliestDeadline != nil else {
            return
        }
        let now = clock.now()
        let limit = timers.upcomingID
        while let timer = timers.popExpired(now: now, idLimit: limit) {
            statistics.timersFired += 1
            timer.body()
        }
    }

    // MARK: Shutdown

    /// Releases the epoll descriptor, the wake-up eventfd, the signal descriptor, all handlers
    /// and timers. Descriptors registered by users are not closed: their owners close them.
    /// Idempotent. Loop thread only.
    public func close() {
        guard isOpen else {
            return
        }
        signals?.close(loop: self)
        signals = nil
        slots.removeAll()
        pendingInterest.removeAll()
        timers = TimerHeap()
        executor.close()
        Posix.close(epollFD)
        epollFD = -1
    }
}

/// Runs cross-thread work when the executor's eventfd becomes readable.
private final class ExecutorHandler: IOHandler {
    weak var loop: EventLoop?

    func handle(_ events: IOEvents) {
        loop?.runExecutorWork()
    }
}
