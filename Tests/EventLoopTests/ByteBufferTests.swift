import EventLoop
import XCTest

final class ByteBufferTests: XCTestCase {
    func testIndices_moveAndResetWhenDrained() {
        let buffer = ByteBuffer(capacity: 16)
        buffer.append([1, 2, 3, 4, 5])
        XCTAssertEqual(buffer.readableBytes, 5)
        XCTAssertEqual(buffer.writableBytes, 11)
        XCTAssertEqual(buffer.readBytes(2), [1, 2])
        XCTAssertEqual(buffer.readerIndex, 2)
        XCTAssertNil(buffer.readBytes(4), "only 3 readable")
        XCTAssertEqual(buffer.readBytes(3), [3, 4, 5])
        XCTAssertEqual(buffer.readerIndex, 0, "drained: indices reset")
        XCTAssertEqual(buffer.writerIndex, 0)
        buffer.assertSane()
    }

    func testCompact_onlyWhenLittleRemains() {
        let buffer = ByteBuffer(capacity: 16)
        buffer.append(Array(0..<12))
        _ = buffer.readBytes(2)
        XCTAssertFalse(buffer.compactIfWorthwhile(), "10 of 16 remain: too many to move")
        _ = buffer.readBytes(8)
        XCTAssertTrue(buffer.compactIfWorthwhile())
        XCTAssertEqual(buffer.readerIndex, 0)
        XCTAssertEqual(buffer.readBytes(2), [10, 11])
        buffer.assertSane()
    }

    func testAppend_growsPastCapacity_keepingBytes() {
        let buffer = ByteBuffer(capacity: 4)
        buffer.append([9, 8, 7])
        buffer.append(Array(repeating: UInt8(1), count: 10))
        XCTAssertGreaterThanOrEqual(buffer.capacity, 13)
        XCTAssertEqual(buffer.readBytes(3), [9, 8, 7])
        XCTAssertEqual(buffer.readableBytes, 10)
    }

    func testSocketIO_readsIntoFreeSpace_writesReadableBytes() throws {
        let (a, b) = try Socket.makePair()
        let outbound = ByteBuffer(capacity: 64)
        outbound.append(Array("payload".utf8))
        XCTAssertEqual(try outbound.write(to: a), .processed(7))
        XCTAssertTrue(outbound.isEmpty)

        let inbound = ByteBuffer(capacity: 4)
        XCTAssertEqual(try inbound.read(from: b), .processed(4), "bounded by free space")
        XCTAssertEqual(try inbound.read(from: b), .processed(0), "full buffer reads nothing")
        XCTAssertEqual(inbound.readBytes(4), Array("payl".utf8))
        XCTAssertEqual(try inbound.read(from: b), .processed(3))
        XCTAssertEqual(try inbound.read(from: b), .wouldBlock)
        a.close()
        XCTAssertEqual(try inbound.read(from: b), .eof)
    }

    func testBufferPool_reusesAndStaysBounded() {
        let pool = BufferPool(bufferSize: 128, maximumPooled: 2)
        let buffers = (0..<4).map { _ in pool.take() }
        XCTAssertEqual(pool.allocations, 4)
        buffers[0].append([1, 2, 3])
        buffers.forEach(pool.recycle)
        XCTAssertEqual(pool.idleCount, 2, "extra buffers are freed")

        let reused = pool.take()
        XCTAssertEqual(pool.reuses, 1)
        XCTAssertTrue(reused.isEmpty, "a recycled buffer comes back empty")

        reused.append(Array(repeating: UInt8(0), count: 500))
        pool.recycle(reused)
        XCTAssertEqual(pool.idleCount, 1, "a grown buffer is not pooled")
    }
}
