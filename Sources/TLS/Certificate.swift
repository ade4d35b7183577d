import COpenSSLShims
import Foundation

/// An X.509 certificate (OpenSSL `X509`).
///
/// Immutable. Read from PEM (Admin API responses, files) or produced by
/// `CertificateAuthority`. The accessors decode on each call; cache the values you use often.
///
/// Sendable: the wrapped `X509` is never modified after init; OpenSSL 3 guards the lazily
/// cached extension data inside `X509` with its own lock, so concurrent reads are safe.
public final class Certificate: @unchecked Sendable, Equatable, CustomStringConvertible {
    /// The owned `X509`; freed in deinit.
    let pointer: OpaquePointer

    /// Takes over one reference to `pointer`.
    init(takingOwnership pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Takes a new reference to `pointer`; the caller keeps its own.
    convenience init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.init(takingOwnership: pointer)
    }

    deinit {
        X509_free(pointer)
    }

    /// Parses the first `CERTIFICATE` block in `pem`.
    ///
    /// Throws `.invalidPEM` when there is none or it does not decode.
    public convenience init(pem: String) throws {
        OpenSSLErrorQueue.clear()
        let parsed = PEMBuffer.reading(pem) { PEM_read_bio_X509($0, nil, nil, nil) }
        guard let certificate = parsed ?? nil else {
            throw OpenSSLErrorQueue.error(.invalidPEM("a CERTIFICATE block"), "PEM_read_bio_X509")
        }
        self.init(takingOwnership: certificate)
        try requireReadablePublicKey()
    }

    /// Refuses a certificate whose subject key OpenSSL cannot decode (an unknown curve, say):
    /// such a certificate parses, but nothing can be verified with it, and `publicKey` relies
    /// on every accepted certificate having a usable key.
    private func requireReadablePublicKey() throws {
        guard X509_get0_pubkey(pointer) != nil else {
            throw OpenSSLErrorQueue.error(
                .invalidPEM("a certificate whose public key can be decoded"), "X509_get0_pubkey")
        }
    }

    /// Parses every `CERTIFICATE` block in `pem`, in order (a chain as the Admin API sends it,
    /// or several PEM strings joined with newlines).
    ///
    /// Throws `.invalidPEM` when there is no certificate or any block fails to decode.
    public static func chain(fromPEM pem: String) throws -> [Certificate] {
        OpenSSLErrorQueue.clear()
        let parsed = PEMBuffer.reading(pem) { bio -> Result<[Certificate], TLSError> in
            var chain: [Certificate] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                chain.append(Certificate(takingOwnership: certificate))
            }
            // The loop ends with "no start line" after the last block; anything else is damage.
            let codes = OpenSSLErrorQueue.drainCodes()
            let endOfInput = codes.count == 1
                && COpenSSLShims_ERR_GET_LIB(codes[0]) == ERR_LIB_PEM
                && COpenSSLShims_ERR_GET_REASON(codes[0]) == PEM_R_NO_START_LINE
            guard endOfInput, !chain.isEmpty else {
                let kind = TLSError.Code.invalidPEM("one or more CERTIFICATE blocks")
                let details = codes.map(OpenSSLErrorQueue.reasonText)
                return .failure(TLSError(kind, operation: "PEM_read_bio_X509", details: details))
            }
            return .success(chain)
        }
        guard let parsed else { throw TLSError(.internal, operation: "BIO_new_mem_buf") }
        let chain = try parsed.get()
        for certificate in chain { try certificate.requireReadablePublicKey() }
        return chain
    }

    /// The certificate as one PEM `CERTIFICATE` block with a trailing newline.
    public var pem: String {
        PEMBlock(label: "CERTIFICATE", der: der).encoded()
    }

    /// The DER encoding.
    public var der: [UInt8] {
        PublicKey.encode { i2d_X509(pointer, $0) }
    }

    /// Start of the validity period.
    public var notBefore: Date {
        Self.date(X509_get0_notBefore(pointer))
    }

    /// End of the validity period (drives certificate refresh).
    public var notAfter: Date {
        Self.date(X509_get0_notAfter(pointer))
    }

    /// The serial number in upper-case hex without leading zeros ("0" for zero).
    public var serialNumberHex: String {
        guard let number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(pointer), nil) else {
            return ""
        }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else { return "" }
        defer { COpenSSLShims_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    /// The subject's first commonName, or nil.
    public var subjectCommonName: String? {
        Self.commonName(X509_get_subject_name(pointer))
    }

    /// The issuer's first commonName, or nil.
    public var issuerCommonName: String? {
        Self.commonName(X509_get_issuer_name(pointer))
    }

    /// IP address subjectAltNames in textual form ("10.0.0.2", "2001:db8::1").
    public var ipAddresses: [String] {
        subjectAltNames(type: GEN_IPADD).compactMap(IPAddress.text(fromBytes:))
    }

    /// DNS subjectAltNames.
    public var dnsNames: [String] {
        subjectAltNames(type: GEN_DNS).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The subject public key.
    public var publicKey: PublicKey {
        // Every Certificate from PEM was checked for a decodable key at parse time, and ours
        // are built from keys we hold, so this cannot fail.
        guard let key = X509_get_pubkey(pointer) else {
            fatalError("X509_get_pubkey failed on a parsed certificate")
        }
        return PublicKey(takingOwnership: key)
    }

    /// True when `issuer`'s subject matches this certificate's issuer (and key identifiers,
    /// when present) and `issuer`'s key verifies this certificate's signature.
    public func isIssued(by issuer: Certificate) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard X509_check_issued(issuer.pointer, pointer) == X509_V_OK else { return false }
        guard let key = X509_get0_pubkey(issuer.pointer) else { return false }
        return X509_verify(pointer, key) == 1
    }

    /// Certificates are equal when their DER encodings are equal.
    public static func == (lhs: Certificate, rhs: Certificate) -> Bool {
        X509_cmp(lhs.pointer, rhs.pointer) == 0
    }

    /// Subject CN, serial and expiry; safe to log.
    public var description: String {
        let name = subjectCommonName ?? "?"
        return "Certificate(CN=\(name), serial=\(serialNumberHex), notAfter=\(notAfter))"
    }

    /// The raw values of the subjectAltNames of one GENERAL_NAME type.
    private func subjectAltNames(type wanted: Int32) -> [[UInt8]] {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else {
            return []
        }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }

        var values: [[UInt8]] = []
        for index in 0..<COpenSSLShims_sk_GENERAL_NAME_num(names) {
            var type: Int32 = 0
            var data: UnsafePointer<UInt8>? = nil
            var length: Int32 = 0
            let name = COpenSSLShims_sk_GENERAL_NAME_value(names, index)
            guard COpenSSLShims_GENERAL_NAME_get_string(name, &type, &data, &length) == 1,
                  type == wanted, let data, length >= 0 else { continue }
            values.append(Array(UnsafeBufferPointer(start: data, count: Int(length))))
        }
        return values
    }

    /// Converts an ASN1_TIME to a Date (the Unix epoch if it does not parse).
    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else {
            return Date(timeIntervalSince1970: 0)
        }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    /// The first commonName entry of an X509_NAME as UTF-8.
    private static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0,
              let entry = X509_NAME_get_entry(name, index),
              let value = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, value)
        guard length >= 0, let utf8 else { return nil }
        defer { COpenSSLShims_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }
}
