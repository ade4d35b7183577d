import CMicroHTTPD
import Glibc
import Synchronization

/// A small HTTP server on libmicrohttpd for the health, metrics and admin endpoints.
///
/// Requests run on libmicrohttpd's own thread(s), never on the loop; `handler` must only read
/// thread-safe state (`ProxyStatus`) or ask the loop through its executor.
final class HTTPEndpoint: Sendable {
    /// One request: method and path (query removed).
    struct Request: Sendable {
        let method: String
        let path: String
    }

    /// One response.
    struct Response: Equatable, Sendable {
        var status: Int
        var body: String
        var contentType = "text/plain; charset=utf-8"
    }

    typealias Handler = @Sendable (Request) -> Response

    /// Written once in `init`; `stop()` is made idempotent by `stopped`, so no data race.
    private nonisolated(unsafe) let server: OpaquePointer
    private let context: Unmanaged<HandlerBox>
    private let stopped = Atomic<Bool>(false)
    /// The bound port.
    let port: Int

    /// Binds `address` (IPv4 literal) and `port` (0: the kernel's choice) and starts serving.
    ///
    /// - Throws: `ProxyRuntimeError` naming what failed to bind.
    init(name: String, address: String, port: Int, threads: Int = 2, handler: @escaping Handler) throws {
        let context = Unmanaged.passRetained(HandlerBox(handler))
        var message = [CChar](repeating: 0, count: 256)
        guard let started = CMHD_start(address, UInt16(port), UInt32(threads), 64 * 1024,
                                       httpEndpointDispatch, context.toOpaque(), &message, message.count)
        else {
            context.release()
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ProxyRuntimeError("unable to start the \(name) server on \(address):\(port): \(text)")
        }
        server = started
        self.context = context
        self.port = Int(CMHD_port(started))
    }

    /// Waits (up to `limit`) until no handler has run for `quietPeriod`, so requests that were
    /// in flight when the proxy decided to exit still get their answer (e.g. two concurrent
    /// `/quitquitquit` calls both see 200). Blocking; not from a handler.
    func settle(quietPeriod: Duration = .milliseconds(100), limit: Duration = .seconds(1)) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        var lastSeen = context.takeUnretainedValue().handled.load(ordering: .relaxed)
        var quietSince = clock.now
        while clock.now < deadline {
            let busy = context.takeUnretainedValue().running.load(ordering: .relaxed) > 0
            let handled = context.takeUnretainedValue().handled.load(ordering: .relaxed)
            if busy || handled != lastSeen {
                lastSeen = handled
                quietSince = clock.now
            } else if quietSince.duration(to: clock.now) >= quietPeriod {
                return
            }
            usleep(10_000)
        }
    }

    /// Stops serving and waits for running handlers. Idempotent; not from a handler.
    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        CMHD_stop(server)
        context.release()
    }

    deinit {
        stop()
    }
}

/// The boxed handler handed to C as its context pointer.
private final class HandlerBox: Sendable {
    let handler: HTTPEndpoint.Handler
    /// Handlers running now and handled so far; read by `settle`.
    let running = Atomic<Int>(0)
    let handled = Atomic<Int>(0)
    init(_ handler: @escaping HTTPEndpoint.Handler) { self.handler = handler }
}

/// The C callback: builds the request, runs the handler, fills the response.
private func httpEndpointDispatch(
    context: UnsafeMutableRawPointer?,
    request: UnsafePointer<CMHD_Request>?,
    response: OpaquePointer?
) {
    guard let context, let request, let response else { return }
    let box = Unmanaged<HandlerBox>.fromOpaque(context).takeUnretainedValue()
    box.running.add(1, ordering: .relaxed)
    defer {
        box.handled.add(1, ordering: .relaxed)
        box.running.subtract(1, ordering: .relaxed)
    }
    let target = String(cString: request.pointee.target)
    let path = String(target.prefix { $0 != "?" })
    let reply = box.handler(HTTPEndpoint.Request(method: String(cString: request.pointee.method), path: path))
    let body = Array(reply.body.utf8)
    let status = body.withUnsafeBufferPointer {
        CMHD_response_set(response, UInt32(reply.status), $0.baseAddress, $0.count)
    }
    guard status == 0 else { return }
    _ = CMHD_response_add_header(response, "Content-Type", reply.contentType)
}
