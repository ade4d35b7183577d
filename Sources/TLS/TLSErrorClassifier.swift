import COpenSSLShims

/// Turns OpenSSL's error queue after a failed TLS call into a `TLSError` code.
///
/// Pure apart from reading OpenSSL's static reason tables, so it can be tested with any codes.
enum TLSErrorClassifier {
    /// What a fatal failure was.
    enum Classification: Equatable {
        /// The transport ended without close_notify after the handshake (not an error).
        case endOfStream
        /// A real failure.
        case failed(TLSError)
    }

    /// OpenSSL reasons meaning the peer would not agree on TLS 1.3.
    static let protocolVersionReasons: Set<Int32> = [
        SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION,
        SSL_R_WRONG_SSL_VERSION, SSL_R_VERSION_TOO_LOW, SSL_R_NO_PROTOCOLS_AVAILABLE,
    ]

    /// Classifies a failure.
    ///
    /// - Parameters:
    ///   - codes: the drained packed error codes, oldest first.
    ///   - verifyResult: `SSL_get_verify_result` (X509_V_OK when verification passed or did
    ///     not run).
    ///   - inHandshake: whether the handshake was still in progress.
    ///   - transportEnded: whether the caller reported transport EOF.
    ///   - operation: the call that failed, for the error.
    static func classify(
        codes: [UInt], verifyResult: Int, inHandshake: Bool, transportEnded: Bool,
        operation: String
    ) -> Classification {
        let details = codes.map(OpenSSLErrorQueue.reasonText)
        let sslReasons = Set(codes.compactMap { code -> Int32? in
            guard COpenSSLShims_ERR_GET_LIB(code) == ERR_LIB_SSL else { return nil }
            return COpenSSLShims_ERR_GET_REASON(code)
        })
        func failure(_ code: TLSError.Code) -> Classification {
            .failed(TLSError(code, operation: operation, details: details))
        }

        if sslReasons.contains(SSL_R_CERTIFICATE_VERIFY_FAILED), verifyResult != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verifyResult))
            return failure(.verifyFailed(reason))
        }
        if !sslReasons.isDisjoint(with: protocolVersionReasons) {
            return failure(.protocolVersion)
        }
        let sawEOF = sslReasons.contains(SSL_R_UNEXPECTED_EOF_WHILE_READING)
            || (codes.isEmpty && transportEnded)
        if sawEOF {
            return inHandshake ? failure(.unexpectedEOF) : .endOfStream
        }
        return failure(inHandshake ? .handshakeFailed : .connectionFailed)
    }
}
