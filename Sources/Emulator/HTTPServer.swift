import CMicroHTTPD
import Synchronization

/// An HTTP/1.1 server on libmicrohttpd. Requests are handled on the library's own worker
/// threads (several at once), so `handler` must be thread-safe. Bodies above `maximumBody`
/// bytes are answered 413 by the C layer without reaching the handler.
public final class HTTPServer: Sendable {
    /// A request handler; called concurrently from the server's threads.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    /// The C server; `nonisolated(unsafe)` because it is written once in `init` and
    /// `CMHD_stop` is made idempotent by `stopped`.
    private nonisolated(unsafe) let server: OpaquePointer
    private let context: Unmanaged<HTTPServerContext>
    private let stopped = Atomic<Bool>(false)

    /// The bound port (the kernel's choice when 0 was requested).
    public let port: UInt16
    /// The IPv4 literal the server is bound to.
    public let address: String

    /// PEM certificate chain and private key for HTTPS.
    public struct TLSIdentity: Sendable {
        public var certificateChainPEM: String
        public var keyPEM: String

        public init(certificateChainPEM: String, keyPEM: String) {
            self.certificateChainPEM = certificateChainPEM
            self.keyPEM = keyPEM
        }
    }

    /// True when libmicrohttpd was built with TLS (GnuTLS), so `tls:` can be used.
    public static var supportsTLS: Bool { CMHD_tls_supported() == 1 }

    /// Binds `address:port` and starts serving with `threads` worker threads; HTTPS (TLS
    /// through libmicrohttpd's GnuTLS) when `tls` is given. Throws `.httpServer` when the
    /// address is invalid or cannot be bound, or the library lacks TLS.
    public init(
        address: String,
        port: UInt16,
        threads: Int = 4,
        maximumBody: Int = 1 << 20,
        tls: TLSIdentity? = nil,
        handler: @escaping Handler
    ) throws {
        let context = Unmanaged.passRetained(HTTPServerContext(handler: handler))
        var message = [CChar](repeating: 0, count: 256)
        let workers = UInt32(max(1, threads))
        let started: OpaquePointer?
        if let tls {
            started = CMHD_start_tls(
                address, port, workers, maximumBody, tls.certificateChainPEM, tls.keyPEM,
                httpServerDispatch, context.toOpaque(), &message, message.count)
        } else {
            started = CMHD_start(
                address, port, workers, maximumBody, httpServerDispatch, context.toOpaque(),
                &message, message.count)
        }
        guard let started else {
            context.release()
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                              as: UTF8.self)
            throw EmulatorError(.httpServer, "HTTP server: \(text)")
        }
        self.server = started
        self.context = context
        self.address = address
        self.port = CMHD_port(started)
    }

    /// Stops accepting, waits for running handlers to finish. Idempotent; any thread except a
    /// handler thread.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        CMHD_stop(server)
        context.release()
    }

    deinit {
        stop()
    }
}

/// The C entry point: converts the request, runs the Swift handler, fills the C response.
private func httpServerDispatch(
    context: UnsafeMutableRawPointer?,
    request: UnsafePointer<CMHD_Request>?,
    response: OpaquePointer?
) {
    guard let context, let request, let response else { return }
    let handler = Unmanaged<HTTPServerContext>.fromOpaque(context).takeUnretainedValue().handler
    let raw = request.pointee
    var headers: [(name: String, value: String)] = []
    for index in 0..<raw.header_count {
        guard let header = raw.headers?[index] else { break }
        headers.append((String(cString: header.name), String(cString: header.value)))
    }
    let body = raw.body_length > 0 && raw.body != nil
        ? Array(UnsafeBufferPointer(start: raw.body, count: raw.body_length)) : []
    let swiftRequest = HTTPRequest(
        method: String(cString: raw.method),
        target: String(cString: raw.target),
        headers: headers,
        body: body
    )
    let reply = handler(swiftRequest)
    let status = reply.body.withUnsafeBufferPointer {
        CMHD_response_set(response, UInt32(reply.status), $0.baseAddress, $0.count)
    }
    guard status == 0 else { return }
    for header in reply.headers {
        _ = CMHD_response_add_header(response, header.name, header.value)
    }
}

/// The boxed handler handed to C as the context pointer; retained by the server until `stop()`.
private final class HTTPServerContext: Sendable {
    let handler: HTTPServer.Handler
    init(handler: @escaping HTTPServer.Handler) { self.handler = handler }
}
