import EventLoop
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ReactorTests: XCTestCase {
    func testReadableAndWritable_deliveredForSocketpair() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let (near, far) = try Socket.makePair()
        let handler = RecordingHandler()
        let registration = try loop.register(fd: near.fileDescriptor, interest: .all, handler: handler)

        XCTAssertTrue(loop.drive { handler.calls.contains(.writable) })
        XCTAssertFalse(handler.calls.contains { $0.contains(.readable) }, "nothing was sent yet")

        loop.setInterest(registration, .readable)
        try far.writeAll(Array("ping".utf8))
        handler.calls = []
        XCTAssertTrue(loop.drive { handler.calls.contains { $0.contains(.readable) } })
        XCTAssertFalse(handler.calls.contains(.writable), "writable interest was dropped")
        XCTAssertEqual(try near.readSome(), Array("ping".utf8))
        loop.deregister(registration)
    }

    func testPeerClose_deliversHangupBeforeReadable_thenEOF() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let (near, far) = try Socket.makePair()
        let handler = RecordingHandler()
        let registration = try loop.register(fd: near.fileDescriptor, interest: .readable, handler: handler)
        try far.writeAll([1, 2, 3])
        far.close()

        XCTAssertTrue(loop.drive { handler.calls.contains { $0.contains(.readable) } })
        let hangupIndex = try XCTUnwrap(handler.calls.firstIndex { $0.contains(.hangup) })
        let readIndex = try XCTUnwrap(handler.calls.firstIndex { $0.contains(.readable) })
        XCTAssertLessThan(hangupIndex, readIndex, "error/hangup is dispatched before readable")
        XCTAssertTrue(handler.calls[readIndex].contains(.readHangup))

        XCTAssertEqual(try near.readSome(), [1, 2, 3], "bytes sent before the close survive")
        XCTAssertNil(try near.readSome(), "then EOF")
        loop.deregister(registration)
    }

    func testDeregisterInsideCallback_skipsLaterCallbacksForThatEvent() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let (near, far) = try Socket.makePair()
        let handler = RecordingHandler()
        let registration = try loop.register(fd: near.fileDescriptor, interest: .all, handler: handler)
        handler.onEvent = { _ in loop.deregister(registration) }
        try far.writeAll([7])

        XCTAssertTrue(loop.drive { !handler.calls.isEmpty })
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(handler.calls, [.writable], "readable must not follow a deregistration")
        XCTAssertNil(loop.interest(of: registration))
    }

    func testClosedAndReusedFdInOneBatch_staleEventDropped() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let (a, aPeer) = try Socket.makePair()
        let (b, bPeer) = try Socket.makePair()
        let first = RecordingHandler()
        let second = RecordingHandler()
        let replacement = RecordingHandler()
        var registrations: [ObjectIdentifier: Registration] = [:]
        registrations[ObjectIdentifier(a)] = try loop.register(
            fd: a.fileDescriptor, interest: .readable, handler: first)
        registrations[ObjectIdentifier(b)] = try loop.register(
            fd: b.fileDescriptor, interest: .readable, handler: second)
        try aPeer.writeAll([1])
        try bPeer.writeAll([2])
        var reusedFd: Int32 = -1
        var replacementPeer: Socket?

        // Whichever handler runs first closes the other socket and reuses its fd number for
        // a fresh, readable registration, all inside one batch.
        func killOther(_ victim: Socket) {
            guard reusedFd < 0, let old = registrations[ObjectIdentifier(victim)] else { return }
            reusedFd = victim.fileDescriptor
            // Made before the close so that the new pair cannot take the victim's number.
            let (fresh, freshPeer) = try! Socket.makePair()  // Test setup; failure is fatal anyway.
            loop.deregister(old)
            victim.close()
            XCTAssertEqual(dup2(fresh.fileDescriptor, reusedFd), reusedFd)
            fresh.close()
            _ = try! loop.register(fd: reusedFd, interest: .readable, handler: replacement)
            try! freshPeer.writeAll([3])
            replacementPeer = freshPeer
        }
        first.onEvent = { _ in killOther(b) }
        second.onEvent = { _ in killOther(a) }

        let before = loop.statistics.staleEventsDropped
        loop.runOnce(maximumWaitMilliseconds: 1_000)
        XCTAssertEqual(first.calls.count + second.calls.count, 1, "the closed one got no callback")
        XCTAssertEqual(loop.statistics.staleEventsDropped, before + 1)
        XCTAssertTrue(replacement.calls.isEmpty, "the old fd's event is not the new one's")

        XCTAssertTrue(loop.drive { !replacement.calls.isEmpty })
        XCTAssertEqual(replacement.calls.first, .readable)
        Glibc.close(reusedFd)
        _ = replacementPeer
    }

    func testSetInterest_batchedAndNoOpSkipped() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let (near, _) = try Socket.makePair()
        let registration = try loop.register(fd: near.fileDescriptor, interest: .readable, handler: RecordingHandler())
        let before = loop.statistics.interestUpdates
        loop.setInterest(registration, .all)
        loop.setInterest(registration, [])
        loop.setInterest(registration, .readable)
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(loop.statistics.interestUpdates, before, "net change is none")

        loop.setInterest(registration, .writable)
        loop.setInterest(registration, .all)
        loop.runOnce(maximumWaitMilliseconds: 0)
        XCTAssertEqual(loop.statistics.interestUpdates, before + 1, "two changes, one epoll_ctl")
        loop.deregister(registration)
    }

    func testRegisterSameFdTwice_throwsEEXIST() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let (near, _) = try Socket.makePair()
        let registration = try loop.register(fd: near.fileDescriptor, interest: .readable, handler: RecordingHandler())
        let again = { try loop.register(fd: near.fileDescriptor, interest: .readable, handler: RecordingHandler()) }
        XCTAssertThrowsError(try again()) {
            XCTAssertEqual(($0 as? SyscallError)?.errno, EEXIST)
        }
        loop.deregister(registration)
    }

    func testManyReadyDescriptors_growEventsArray_allDelivered() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let count = EventLoop.initialEventCapacity * 3
        let handler = RecordingHandler()
        var pairs: [(Socket, Socket)] = []
        var registrations: [Registration] = []
        for _ in 0..<count {
            let pair = try Socket.makePair()
            try pair.1.writeAll([0])
            registrations.append(try loop.register(fd: pair.0.fileDescriptor, interest: .readable, handler: handler))
            pairs.append(pair)
        }
        loop.runOnce(maximumWaitMilliseconds: 1_000)
        XCTAssertEqual(loop.statistics.eventArrayGrowths, 1)
        XCTAssertTrue(loop.drive { handler.calls.count >= count * 2 })
        XCTAssertGreaterThanOrEqual(loop.statistics.eventArrayGrowths, 2)
        registrations.forEach(loop.deregister)
    }

    func testExecute_fromAnotherThread_wakesLoop_inOrder() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let executor = loop.executor
        let log = SharedLog()
        let thread = Thread {
            for value in 0..<100 {
                executor.execute { log.append(value) }
            }
            executor.requestStop()
        }
        let guardTimer = loop.schedule(after: .seconds(20)) {
            XCTFail("the loop was never woken")
            loop.stop()
        }
        thread.start()
        loop.run()
        loop.cancel(guardTimer)
        XCTAssertTrue(loop.drive { log.values.count == 100 })
        XCTAssertEqual(log.values, Array(0..<100))
        XCTAssertGreaterThanOrEqual(loop.statistics.wakeups, 1)
    }

    func testSignal_blockedAndRaised_runsHandlerOnLoop() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        try EventLoop.blockSignals([SIGUSR1])
        XCTAssertTrue(EventLoop.blockedSignals().contains(SIGUSR1))
        var received: [Int32] = []
        try loop.handleSignals([SIGUSR1]) { received.append($0) }
        raise(SIGUSR1)
        XCTAssertTrue(loop.drive { !received.isEmpty })
        XCTAssertEqual(received, [SIGUSR1])
    }

    func testClose_releasesLoopDescriptors() throws {
        let baseline = try ProcessResources.openDescriptorCount()
        let loop = try EventLoop()
        defer { loop.close() }
        try loop.handleSignals([SIGUSR2]) { _ in }
        XCTAssertEqual(try ProcessResources.openDescriptorCount(), baseline + 3)
        loop.close()
        loop.close()
        XCTAssertEqual(try ProcessResources.openDescriptorCount(), baseline)
    }
}
