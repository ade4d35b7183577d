@testable import Emulator
import Foundation
import TLS
import XCTest

/// Pause and resume under backpressure, through real sockets: a peer that reads slowly, stops,
/// then reads fast must receive every byte, in order, in both directions and for every backend.
final class RelayBackpressureTests: XCTestCase {
    /// Reads `total` bytes with a slow start, a pause and a fast finish; checks each byte.
    private func readSlowThenFast(
        _ client: TLSTestClient, total: Int, expected: (Int) -> UInt8
    ) throws {
        var offset = 0
        func take(_ count: Int) throws {
            let bytes = try client.read(count: min(count, total - offset))
            XCTAssertFalse(bytes.isEmpty, "stream ended at \(offset) of \(total)")
            for (index, byte) in bytes.enumerated() where byte != expected(offset + index) {
                XCTFail("byte \(offset + index) is \(byte), expected \(expected(offset + index))")
                throw EmulatorError(.network, "pattern mismatch")
            }
            offset += bytes.count
        }
        usleep(200_000)  // every buffer on the way fills up
        // Alternate slow trickles and fast bursts so that the relay is paused and resumed at
        // many different buffer levels.
        while offset < total {
            for _ in 0..<8 where offset < total {
                try take(2000)
                usleep(1_000)
            }
            for _ in 0..<8 where offset < total { try take(32 * 1024) }
        }
    }

    func testSourceDownloadResumesAfterSlowReader() throws {
        let ip = "127.0.0.141"
        let fixture = try EmulatorFixture(ip: ip, backend: .source)
        defer { fixture.stop() }
        let client = try fixture.connectedClient(
            ip: ip, token: try fixture.accessToken(), receiveBuffer: 32 * 1024)
        try readSlowThenFast(client, total: 4 << 20, expected: LocalBackend.sourceByte(at:))
    }

    func testEchoBothDirectionsResumeAfterSlowReader() throws {
        let ip = "127.0.0.142"
        let fixture = try EmulatorFixture(ip: ip, backend: .echo)
        defer { fixture.stop() }
        let client = try fixture.connectedClient(ip: ip, token: try fixture.accessToken())
        let pattern: (Int) -> UInt8 = { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let block = 256 * 1024
        for index in 0..<4 {
            let base = index * block
            try client.write((base..<base + block).map(pattern))
            try readSlowThenFast(client, total: block, expected: { pattern(base + $0) })
        }
    }

    func testTCPBackendUploadResumesAfterSlowBackend() throws {
        let ip = "127.0.0.143"
        let total = 8 << 20
        let server = try SlowReadingServer(host: "127.0.0.1", expectedBytes: total)
        let fixture = try EmulatorFixture(ip: ip, backend: .postgres(host: "127.0.0.1", port: server.port))
        defer { fixture.stop() }
        let client = try fixture.connectedClient(ip: ip, token: try fixture.accessToken())
        var offset = 0
        while offset < total {
            let chunk = (offset..<min(offset + 64 * 1024, total)).map { UInt8(truncatingIfNeeded: $0 / 7) }
            try client.write(chunk)
            offset += chunk.count
        }
        XCTAssertEqual(server.waitForResult(), "ok")
    }
}

/// Accepts one connection, reads slowly, pauses, then reads fast, checking byte n == n / 7;
/// reports "ok" or the first problem.
final class SlowReadingServer: @unchecked Sendable {
    // @unchecked: `result` is written by the server thread before `done` is signalled and read
    // after the wait.
    let port: UInt16
    private var result = "timeout"
    private let done = DispatchSemaphore(value: 0)

    init(host: String, expectedBytes: Int) throws {
        let listener = try ThreadEchoServer.listeningSocket(host: host)
        port = listener.port
        Thread { [self] in
            defer { close(listener.fd); done.signal() }
            let connection = accept(listener.fd, nil, nil)
            guard connection >= 0 else { result = "accept failed"; return }
            defer { close(connection) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var offset = 0
            var reads = 0
            usleep(300_000)
            while offset < expectedBytes {
                reads += 1
                let want = reads < 30 ? 3000 : buffer.count
                if reads == 30 { usleep(200_000) }
                let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, want, 0) }
                guard count > 0 else { result = "ended at \(offset)"; return }
                for index in 0..<count where buffer[index] != UInt8(truncatingIfNeeded: (offset + index) / 7) {
                    result = "mismatch at \(offset + index)"
                    return
                }
                offset += count
                if reads < 30 { usleep(5_000) }
            }
            result = "ok"
        }.start()
    }

    func waitForResult() -> String {
        _ = done.wait(timeout: .now() + 30)
        return result
    }
}
