import EventLoop
import Foundation
import TLS

/// The tunnel's event-log records and its closing. Loop thread only.
extension Tunnel {
    // MARK: Events log

    func logTunnel(_ request: MetadataExchange.Request?, outcome: String) {
        mdxLogged = true
        environment.events.record([
            ("event", "tunnel"),
            ("instance", .string(environment.instance.uri)),
            ("tlsVersion", .string(tls.negotiatedVersion)),
            ("cipher", .string(tls.cipherName)),
            ("clientCertSerial", .string(tls.peerCertificate?.serialNumberHex ?? "")),
            ("authType", .string(request?.authType.description ?? "")),
            ("userAgent", .string(request?.userAgent ?? "")),
            ("mdx", .string(outcome)),
        ])
    }

    func logLogin(refused message: String) {
        environment.events.record([
            ("event", "login-refused"),
            ("instance", .string(environment.instance.uri)),
            ("reason", .string(message)),
        ])
    }

    // MARK: Closing

    /// Closes both sides (RST when `mode` is `.rst`), records `tunnel-closed` after a
    /// successful MDX or `tunnel-refused` before, and unregisters. Idempotent.
    func shutDown(mode: FaultSwitches.CloseMode, reason: String?) {
        if let deadline { loop.cancel(deadline) }
        deadline = nil
        if let startDelay { loop.cancel(startDelay) }
        startDelay = nil
        if let clientRegistration { loop.deregister(clientRegistration) }
        clientRegistration = nil
        if mode == .rst { client.abortOnClose() }
        client.close()
        if let backendRegistration { loop.deregister(backendRegistration) }
        backendRegistration = nil
        backend?.close()
        localBackend?.close()
        var fields: [(String, JSONValue)] = [
            ("event", mdxLogged ? "tunnel-closed" : "tunnel-refused"),
            ("instance", .string(environment.instance.uri)),
        ]
        if mdxLogged {
            fields += [("bytesIn", .number(Double(bytesIn))), ("bytesOut", .number(Double(bytesOut)))]
            if let reason { fields.append(("error", .string(reason))) }
        } else {
            fields.append(("reason", .string(reason ?? "closed")))
        }
        environment.events.record(fields)
        environment.onClose(self)
    }

    /// Closes the tunnel from outside (endpoint stop, drop command). Idempotent.
    func close(mode: FaultSwitches.CloseMode = .fin, reason: String? = nil) {
        apply(.dropRequested(mode, reason: reason ?? "closed by the emulator"))
    }
}

extension Socket {
    /// Makes the next `close()` send RST instead of FIN (SO_LINGER with a zero timeout).
    func abortOnClose() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }
}
