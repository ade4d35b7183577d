import EventLoop
import Foundation
import Glibc
import TLS
import XCTest

@testable import Proxy

/// Long streams with TLS 1.3 KeyUpdates through the proxy, and many short tunnels in a row.
/// Sizes are small by default; `ALLOYDB_LONG_TESTS=1` runs 256 MiB each way and 10,000
/// open/close cycles per listener.
final class TunnelLongStreamTests: XCTestCase {
    private let proxyIP = "127.0.0.95"
    private let instanceIP = "127.0.0.96"
    private let long = ProcessInfo.processInfo.environment["ALLOYDB_LONG_TESTS"] == "1"

    /// MiB streamed per direction.
    private var mebibytes: Int { long ? 256 : 16 }

    /// Block `index` of the stream: a fixed random MiB with the index stamped in front, so a
    /// dropped, repeated or reordered block changes the hash.
    private static func block(_ base: [UInt8], _ index: Int) -> [UInt8] {
        var block = base
        withUnsafeBytes(of: UInt64(index).bigEndian) { block.replaceSubrange(0..<8, with: $0) }
        return block
    }

    private static func randomMiB() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in words.indices { words[index] = generator.next() }
        }
        return bytes
    }

    /// The instance streams to a client that never writes, asking for a KeyUpdate after every
    /// MiB; the proxy must answer each one while it only reads, and deliver every byte.
    func testDownloadWithKeyUpdateEveryMiB() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let base = Self.randomMiB()
        let count = mebibytes
        let sentHash = Outcome<[UInt8]>()
        let answers = Outcome<Int>()
        let received = Outcome<(count: Int, hash: [UInt8])>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return answers.set(-1) }
            defer { close(instance.fd) }
            _ = instance.readSome()
            let hasher = SHA256Hasher()
            for index in 0..<count {
                let block = Self.block(base, index)
                hasher.update(block)
                instance.write(block)
                instance.tls.requestKeyUpdate()
                instance.flush()
            }
            sentHash.set(hasher.finalize())
            instance.closeNotify()
            while instance.readSome() != nil {}
            answers.set(instance.tls.keyUpdatesReceived)
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else {
                return received.set((0, []))
            }
            defer { close(fd) }
            BlockingSocket.writeAll(fd, [0x01])
            let hasher = SHA256Hasher()
            var total = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard got > 0 else { break }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                total += got
            }
            shutdown(fd, Int32(SHUT_WR))
            received.set((total, hasher.finalize()))
        }.start()
        XCTAssertTrue(bed.run(for: long ? 600 : 60) { answers.get != nil && bed.server.openTunnels == 0 })

        let result = try XCTUnwrap(received.get)
        XCTAssertEqual(result.count, count << 20)
        XCTAssertEqual(result.hash, sentHash.get)
        XCTAssertEqual(answers.get, count, "one answering KeyUpdate per request")
        XCTAssertEqual(bed.errorLines, [])
    }

    /// The client uploads while the instance only reads and asks for a KeyUpdate after every
    /// MiB it receives; every byte arrives and every request is answered.
    func testUploadWithKeyUpdateEveryMiB() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let base = Self.randomMiB()
        let count = mebibytes
        let received = Outcome<(count: Int, hash: [UInt8], answers: Int, requests: Int)>()
        let sentHash = Outcome<[UInt8]>()

        Thread { [acceptor = bed.acceptor] in
            guard let instance = acceptor.accept() else { return received.set((0, [], 0, 0)) }
            defer { close(instance.fd) }
            let hasher = SHA256Hasher()
            var total = 0
            var requests = 0
            while let bytes = instance.readSome() {
                hasher.update(bytes)
                let before = total >> 20
                total += bytes.count
                if total >> 20 > before {
                    instance.tls.requestKeyUpdate()
                    instance.flush()
                    requests += 1
                }
                if total == count << 20 {
                    // Tells the client everything arrived: its end of stream (and so the
                    // proxy's close_notify) comes after the last request.
                    instance.write([0x6B])
                }
            }
            instance.closeNotify()
            received.set((total, hasher.finalize(), instance.tls.keyUpdatesReceived, requests))
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            guard let fd = try? BlockingSocket.connect(ip: proxyIP, port: port) else { return }
            defer { close(fd) }
            let hasher = SHA256Hasher()
            for index in 0..<count {
                let block = Self.block(base, index)
                hasher.update(block)
                BlockingSocket.writeAll(fd, block)
            }
            sentHash.set(hasher.finalize())
            _ = BlockingSocket.read(fd, count: 1)
            shutdown(fd, Int32(SHUT_WR))
            _ = BlockingSocket.readToEnd(fd)
        }.start()
        XCTAssertTrue(bed.run(for: long ? 600 : 60) { received.get != nil && bed.server.openTunnels == 0 })

        let result = try XCTUnwrap(received.get)
        XCTAssertEqual(result.count, count << 20)
        XCTAssertEqual(result.hash, sentHash.get)
        XCTAssertEqual(result.requests, count)
        XCTAssertEqual(result.answers, result.requests, "one answering KeyUpdate per request")
        XCTAssertEqual(bed.errorLines, [])
    }

    /// Many short tunnels over TCP and over a Unix socket, each fully set up and closed by the
    /// client: the instance sees each end and no tunnel stays open.
    func testOpenCloseCyclesLeaveNoTunnelOpen() throws {
        let bed = try DataPathBed(proxyIP: proxyIP, instanceIP: instanceIP)
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("dp-cycles-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socketPath = try bed.listenUnix(directory: directory)
        let cycles = long ? 10_000 : 200
        let instanceEnds = Outcome<Int>()
        let clientsDone = Outcome<Int>()

        Thread { [acceptor = bed.acceptor] in
            var ended = 0
            for _ in 0..<(2 * cycles) {
                guard let instance = acceptor.accept() else { break }
                while instance.readSome() != nil {}
                close(instance.fd)
                ended += 1
                instanceEnds.set(ended)
            }
        }.start()
        Thread { [proxyIP, port = bed.proxyPort] in
            var done = 0
            for index in 0..<(2 * cycles) {
                let fd = index < cycles
                    ? ((try? BlockingSocket.connect(ip: proxyIP, port: port)) ?? -1)
                    : SocketTricks.connectUnix(socketPath)
                guard fd >= 0 else { break }
                BlockingSocket.writeAll(fd, [0x01])
                close(fd)
                done += 1
                // One cycle at a time: wait until the instance saw this tunnel end.
                let deadline = Date().addingTimeInterval(5)
                while (instanceEnds.get ?? 0) < done && Date() < deadline { usleep(200) }
            }
            clientsDone.set(done)
        }.start()
        bed.run(for: long ? 900 : 60) {
            clientsDone.get != nil && instanceEnds.get == 2 * cycles && bed.server.openTunnels == 0
        }

        XCTAssertEqual(clientsDone.get, 2 * cycles)
        XCTAssertEqual(instanceEnds.get, 2 * cycles, "the instance saw every tunnel end")
        XCTAssertEqual(bed.server.openTunnels, 0)
        XCTAssertEqual(bed.errorLines.count, 0, bed.errorLines.first ?? "")
    }
}
