import COpenSSLShims

/// Facts about the linked OpenSSL library.
public enum TLSLibrary {
    /// OpenSSL's version line, e.g. "OpenSSL 3.0.19 27 Jan 2026" (for --version output).
    public static var versionString: String {
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }
}
