import COpenSSLShims

/// One PEM block: a label ("CERTIFICATE", "PUBLIC KEY", ...) and its DER payload.
///
/// Used where the label itself decides how to parse (public keys) and to write DER with
/// OpenSSL's standard 64-column Base64 lines.
struct PEMBlock {
    /// The word(s) after "BEGIN ", e.g. "RSA PUBLIC KEY".
    let label: String
    /// The decoded payload.
    let der: [UInt8]

    /// The first well-formed PEM block in `text`, or nil when there is none.
    ///
    /// Leaves the reasons for a failure on OpenSSL's error queue.
    static func first(in text: String) -> PEMBlock? {
        let parsed = PEMBuffer.reading(text) { bio -> PEMBlock? in
            var name: UnsafeMutablePointer<CChar>? = nil
            var header: UnsafeMutablePointer<CChar>? = nil
            var data: UnsafeMutablePointer<UInt8>? = nil
            var length = 0
            guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else { return nil }
            defer {
                COpenSSLShims_OPENSSL_free(name)
                COpenSSLShims_OPENSSL_free(header)
                COpenSSLShims_OPENSSL_free(data)
            }
            guard let name else { return nil }
            let der = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
            return PEMBlock(label: String(cString: name), der: der)
        }
        return parsed ?? nil
    }

    /// The block as PEM text with 64-character lines and a trailing newline.
    func encoded() -> String {
        let text = PEMBuffer.writing { bio in
            der.withUnsafeBufferPointer { buffer in
                PEM_write_bio(bio, label, "", buffer.baseAddress, buffer.count) > 0
            }
        }
        // Writing to a memory BIO fails only when allocation fails.
        guard let text else { fatalError("PEM_write_bio failed (out of memory)") }
        return text
    }
}
