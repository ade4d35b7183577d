import COpenSSLShims
import Foundation

/// What an issued certificate is for; decides its basicConstraints, keyUsage and
/// extendedKeyUsage.
public enum CertificatePurpose: Sendable {
    /// A TLS client leaf: CA:FALSE, digitalSignature, EKU clientAuth.
    case client
    /// A TLS server leaf: CA:FALSE, digitalSignature + keyEncipherment, EKU serverAuth.
    case server
    /// An intermediate CA: CA:TRUE with pathlen 0, keyCertSign + cRLSign.
    case intermediateCA
}

/// A certificate authority: a CA certificate and its private key, able to issue certificates.
///
/// Used by the emulator (the AlloyDB cluster CA and client-certificate chain) and by tests.
/// Issuing is CPU work (one signature, plus key generation for `issueIntermediate`); do it off
/// the event loop. Immutable and Sendable: both members are immutable Sendable objects.
public final class CertificateAuthority: Sendable {
    /// The CA's certificate (self-signed for a root, issued by its parent otherwise).
    public let certificate: Certificate

    /// The CA's signing key. A secret.
    public let key: PrivateKey

    /// Wraps an existing CA certificate and key (e.g. loaded from files).
    ///
    /// Throws `.invalidArgument` when `key` is not the certificate's key.
    public init(certificate: Certificate, key: PrivateKey) throws {
        guard certificate.publicKey == key.publicKey else {
            throw TLSError(.invalidArgument("the private key does not match the CA certificate"),
                           operation: "CertificateAuthority(certificate:key:)")
        }
        self.certificate = certificate
        self.key = key
    }

    /// Creates a root CA: a fresh key (RSA 2048 unless `key` is given) and a self-signed
    /// certificate with basicConstraints CA:TRUE and keyUsage keyCertSign + cRLSign.
    public static func create(
        commonName: String,
        lifetime: TimeInterval = 10 * 365 * 86_400,
        notBefore: Date = Date(),
        key: PrivateKey? = nil
    ) throws -> CertificateAuthority {
        let signingKey = try key ?? PrivateKey.generateRSA()
        let builder = try CertificateBuilder(
            subjectKey: signingKey.publicKey, commonName: commonName,
            notBefore: notBefore, lifetime: lifetime
        )
        try builder.setIssuer(nil)
        try builder.addExtension(NID_basic_constraints, "critical,CA:TRUE")
        try builder.addExtension(NID_key_usage, "critical,keyCertSign,cRLSign")
        try builder.addExtension(NID_subject_key_identifier, "hash")
        let certificate = try builder.sign(with: signingKey)
        return try CertificateAuthority(certificate: certificate, key: signingKey)
    }

    /// Issues a certificate for `publicKey`, signed by this CA with SHA-256.
    ///
    /// - Parameters:
    ///   - commonName: the subject CN (1 to 64 characters).
    ///   - ipAddresses: IPv4 or IPv6 literals to put in subjectAltName.
    ///   - dnsNames: DNS names to put in subjectAltName (letters, digits, '-', '.', '*', '_').
    ///   - lifetime: seconds from `notBefore` to notAfter (must be positive).
    ///   - notBefore: start of validity (the injectable clock).
    ///   - purpose: decides the constraints and extended key usage.
    /// - Throws: `.invalidArgument` naming the bad input, `.internal` if OpenSSL fails.
    public func issue(
        publicKey: PublicKey,
        commonName: String,
        ipAddresses: [String] = [],
        dnsNames: [String] = [],
        lifetime: TimeInterval = 3600,
        notBefore: Date = Date(),
        purpose: CertificatePurpose
    ) throws -> Certificate {
        let builder = try CertificateBuilder(
            subjectKey: publicKey, commonName: commonName,
            notBefore: notBefore, lifetime: lifetime
        )
        try builder.setIssuer(certificate)
        for (nid, value) in Self.extensions(for: purpose) {
            try builder.addExtension(nid, value)
        }
        try builder.addExtension(NID_subject_key_identifier, "hash")
        try builder.addExtension(NID_authority_key_identifier, "keyid:always")
        if let names = try Self.subjectAltName(ipAddresses: ipAddresses, dnsNames: dnsNames) {
            try builder.addExtension(NID_subject_alt_name, names)
        }
        return try builder.sign(with: key)
    }

    /// Creates an intermediate CA under this one: a fresh key (RSA 2048 unless `key` is
    /// given) and a certificate issued with purpose `.intermediateCA`.
    public func issueIntermediate(
        commonName: String,
        lifetime: TimeInterval = 365 * 86_400,
        notBefore: Date = Date(),
        key: PrivateKey? = nil
    ) throws -> CertificateAuthority {
        let intermediateKey = try key ?? PrivateKey.generateRSA()
        let issued = try issue(
            publicKey: intermediateKey.publicKey, commonName: commonName,
            lifetime: lifetime, notBefore: notBefore, purpose: .intermediateCA
        )
        return try CertificateAuthority(certificate: issued, key: intermediateKey)
    }

    /// The constraint and usage extensions for a purpose, in config syntax.
    private static func extensions(for purpose: CertificatePurpose) -> [(Int32, String)] {
        switch purpose {
        case .client:
            return [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature,keyEncipherment"),
                (NID_ext_key_usage, "clientAuth"),
            ]
        case .server:
            return [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature,keyEncipherment"),
                (NID_ext_key_usage, "serverAuth"),
            ]
        case .intermediateCA:
            return [
                (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
            ]
        }
    }

    /// The subjectAltName config value ("IP:10.0.0.1,DNS:db.example.com"), or nil if empty.
    ///
    /// Every name is validated first, so no input can inject extra config syntax.
    private static func subjectAltName(ipAddresses: [String], dnsNames: [String]) throws
        -> String?
    {
        var entries: [String] = []
        for address in ipAddresses {
            guard let bytes = IPAddress.bytes(fromText: address),
                  let canonical = IPAddress.text(fromBytes: bytes) else {
                throw TLSError(.invalidArgument("\"\(address)\" is not an IP address"),
                               operation: "CertificateAuthority.issue")
            }
            entries.append("IP:\(canonical)")
        }
        for name in dnsNames {
            guard isValidDNSName(name) else {
                throw TLSError(.invalidArgument("\"\(name)\" is not a DNS name"),
                               operation: "CertificateAuthority.issue")
            }
            entries.append("DNS:\(name)")
        }
        return entries.isEmpty ? nil : entries.joined(separator: ",")
    }

    /// True for 1 to 253 characters of letters, digits, '-', '.', '*' and '_'.
    private static func isValidDNSName(_ name: String) -> Bool {
        guard (1...253).contains(name.utf8.count) else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "*"), UInt8(ascii: "_"):
                return true
            default:
                return false
            }
        }
    }
}
