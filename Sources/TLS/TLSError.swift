import COpenSSLShims

/// An error from the TLS module: a failed handshake, a rejected certificate, unusable PEM input,
/// or an OpenSSL call that failed.
///
/// `code` says what went wrong in a form callers can branch on; `operation` names the OpenSSL
/// call or phase that failed; `details` are the reason strings drained from OpenSSL's error
/// queue (never key material). `description` is one sentence suitable for a log line.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong. New cases may be added; switch with a `default`.
    public enum Code: Sendable, Equatable {
        /// The handshake failed for a reason other than those below (for example an alert
        /// from the peer such as "tlsv1 alert unknown ca").
        case handshakeFailed
        /// The peer's certificate was rejected; the payload is OpenSSL's verify reason, for
        /// example "IP address mismatch" or "unable to get local issuer certificate".
        case verifyFailed(String)
        /// The peer does not speak the required protocol version (TLS 1.3 required).
        case protocolVersion
        /// The transport ended before the handshake completed.
        case unexpectedEOF
        /// A fatal TLS error after the handshake (bad record, alert, protocol violation).
        case connectionFailed
        /// The input is not a PEM object of the expected kind; the payload names that kind.
        case invalidPEM(String)
        /// An argument is unusable (bad IP literal, empty chain, key not matching a
        /// certificate, unsupported key type); the payload says which.
        case invalidArgument(String)
        /// OpenSSL failed where it should not (allocation, internal state, API misuse).
        case `internal`
    }

    /// What went wrong.
    public let code: Code

    /// The OpenSSL call or phase that failed, for example "SSL_do_handshake".
    public let operation: String

    /// Reason strings from OpenSSL's error queue, oldest first (may be empty).
    public let details: [String]

    /// Creates an error; `details` usually come from `OpenSSLErrorQueue.drain()`.
    public init(_ code: Code, operation: String, details: [String] = []) {
        self.code = code
        self.operation = operation
        self.details = details
    }

    /// One sentence naming what failed, where, and OpenSSL's reasons.
    public var description: String {
        let reasons = details.isEmpty ? "" : " (\(details.joined(separator: "; ")))"
        switch code {
        case .handshakeFailed:
            return "TLS handshake failed in \(operation)\(reasons)."
        case .verifyFailed(let reason):
            return "TLS certificate verification failed: \(reason)\(reasons)."
        case .protocolVersion:
            return "TLS 1.3 required: the peer did not agree to TLS 1.3\(reasons)."
        case .unexpectedEOF:
            return "TLS handshake failed: EOF before the handshake completed in \(operation)."
        case .connectionFailed:
            return "TLS connection failed in \(operation)\(reasons)."
        case .invalidPEM(let kind):
            return "Invalid PEM input: expected \(kind) in \(operation)\(reasons)."
        case .invalidArgument(let what):
            return "Invalid argument to \(operation): \(what)\(reasons)."
        case .internal:
            return "OpenSSL call \(operation) failed\(reasons)."
        }
    }
}

/// Access to OpenSSL's thread-local error queue.
///
/// Every OpenSSL call site clears the queue first (`clear()`) so that a failure reports only
/// its own reasons, and drains it afterwards (`drain()`) so stale entries never leak into the
/// next call on the same thread.
enum OpenSSLErrorQueue {
    /// Empties the calling thread's error queue.
    static func clear() {
        ERR_clear_error()
    }

    /// Removes and returns the packed error codes on the calling thread's queue, oldest first.
    static func drainCodes() -> [UInt] {
        var codes: [UInt] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { return codes }
            codes.append(code)
        }
    }

    /// Removes the queued errors and returns their reason strings, oldest first.
    static func drain() -> [String] {
        drainCodes().map(reasonText)
    }

    /// The human-readable reason of one packed error code.
    static func reasonText(_ code: UInt) -> String {
        if let text = ERR_reason_error_string(code) {
            return String(cString: text)
        }
        return "error:\(String(code, radix: 16))"
    }

    /// Builds an error with `code` for a failed `operation`, draining the queue into it.
    static func error(_ code: TLSError.Code, _ operation: String) -> TLSError {
        TLSError(code, operation: operation, details: drain())
    }
}
