import COpenSSLShims
import Foundation

/// Assembles one X.509 v3 certificate: subject, key, validity, serial, extensions, signature.
///
/// Internal to `CertificateAuthority`. Owns the `X509` under construction until `sign` hands
/// it to a `Certificate`. Single use, single thread.
final class CertificateBuilder {
    /// The certificate under construction; freed in deinit unless `sign` succeeded.
    private var pointer: OpaquePointer?

    /// The certificate that issues this one, kept alive for `addExtension` (nil: self-signed).
    private var issuer: Certificate?

    /// Starts a certificate for `subjectKey` with subject CN `commonName`, valid from
    /// `notBefore` for `lifetime` seconds, with a random positive 128-bit serial.
    init(subjectKey: PublicKey, commonName: String, notBefore: Date, lifetime: TimeInterval)
        throws
    {
        let operation = "CertificateBuilder"
        guard (1...64).contains(commonName.utf8.count) else {
            throw TLSError(.invalidArgument("common name must be 1 to 64 bytes"),
                           operation: operation)
        }
        guard lifetime.isFinite, lifetime > 0, notBefore.timeIntervalSince1970.isFinite else {
            throw TLSError(.invalidArgument("lifetime must be positive"), operation: operation)
        }
        OpenSSLErrorQueue.clear()
        guard let x509 = X509_new() else { throw OpenSSLErrorQueue.error(.internal, "X509_new") }
        pointer = x509

        let start = time_t(notBefore.timeIntervalSince1970.rounded(.down))
        let end = time_t((notBefore.timeIntervalSince1970 + lifetime).rounded(.down))
        guard X509_set_version(x509, Int(X509_VERSION_3)) == 1,
              ASN1_TIME_set(X509_getm_notBefore(x509), start) != nil,
              ASN1_TIME_set(X509_getm_notAfter(x509), end) != nil,
              X509_set_pubkey(x509, subjectKey.pointer) == 1,
              Self.setCommonName(commonName, of: X509_get_subject_name(x509)),
              Self.setRandomSerial(x509)
        else {
            throw OpenSSLErrorQueue.error(.internal, "X509_set_*")
        }
    }

    deinit {
        if let pointer { X509_free(pointer) }
    }

    /// Sets the issuer name from `issuer`'s subject, or from the certificate's own subject when
    /// nil (self-signed).
    func setIssuer(_ issuer: Certificate?) throws {
        guard let pointer else { throw TLSError(.internal, operation: "setIssuer") }
        self.issuer = issuer
        let name = X509_get_subject_name(issuer?.pointer ?? pointer)
        guard X509_set_issuer_name(pointer, name) == 1 else {
            throw OpenSSLErrorQueue.error(.internal, "X509_set_issuer_name")
        }
    }

    /// Adds one extension in OpenSSL config syntax (callers pass validated values only).
    func addExtension(_ nid: Int32, _ value: String) throws {
        guard let pointer else { throw TLSError(.internal, operation: "addExtension") }
        OpenSSLErrorQueue.clear()
        let issuerPointer = issuer?.pointer ?? pointer
        guard COpenSSLShims_add_extension(issuerPointer, pointer, nid, value) == 1 else {
            let name = String(cString: OBJ_nid2sn(nid))
            throw OpenSSLErrorQueue.error(.internal, "X509V3_EXT_conf_nid(\(name))")
        }
    }

    /// Signs with `key` (SHA-256) and hands the finished certificate over.
    func sign(with key: PrivateKey) throws -> Certificate {
        guard let x509 = pointer else { throw TLSError(.internal, operation: "X509_sign") }
        OpenSSLErrorQueue.clear()
        guard X509_sign(x509, key.pointer, EVP_sha256()) > 0 else {
            throw OpenSSLErrorQueue.error(.internal, "X509_sign")
        }
        pointer = nil
        return Certificate(takingOwnership: x509)
    }

    /// Adds CN=`commonName` (UTF-8) to an X509_NAME.
    private static func setCommonName(_ commonName: String, of name: OpaquePointer?) -> Bool {
        guard let name else { return false }
        return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0) == 1
    }

    /// Sets a random serial of exactly 128 bits (top bit set, so always positive and non-zero).
    private static func setRandomSerial(_ x509: OpaquePointer) -> Bool {
        guard let number = BN_new() else { return false }
        defer { BN_free(number) }
        guard BN_rand(number, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1,
              let serial = BN_to_ASN1_INTEGER(number, nil) else { return false }
        defer { ASN1_INTEGER_free(serial) }
        return X509_set_serialNumber(x509, serial) == 1
    }
}
