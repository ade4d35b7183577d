import COpenSSLShims

/// Moves PEM text between Swift strings and OpenSSL memory BIOs.
///
/// Internal plumbing for the key and certificate types: the BIO exists only for the duration
/// of the closure, so no BIO pointer escapes.
enum PEMBuffer {
    /// Runs `body` with a read-only memory BIO over the UTF-8 bytes of `text`.
    ///
    /// Returns nil when the BIO cannot be created (allocation failure).
    static func reading<T>(_ text: String, _ body: (OpaquePointer) -> T) -> T? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes.append(0) }
        return bytes.withUnsafeBytes { raw -> T? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(clamping: text.utf8.count))
            else { return nil }
            defer { BIO_free(bio) }
            return body(bio)
        }
    }

    /// Runs `body` with a fresh writable memory BIO and returns what it wrote as a string.
    ///
    /// `secure` selects OpenSSL's secure-heap memory BIO, which clears its buffer on free;
    /// use it for private key material. Returns nil if `body` reports failure.
    static func writing(secure: Bool = false, _ body: (OpaquePointer) -> Bool) -> String? {
        guard let bio = BIO_new(secure ? BIO_s_secmem() : BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard body(bio) else { return nil }

        var data: UnsafeMutablePointer<CChar>? = nil
        let count = COpenSSLShims_BIO_get_mem_data(bio, &data)
        guard count >= 0, let data else { return count == 0 ? "" : nil }
        let bytes = UnsafeRawBufferPointer(start: data, count: Int(count))
        return String(decoding: bytes, as: UTF8.self)
    }
}
