import COpenSSLShims

/// An RSA or EC private key (OpenSSL `EVP_PKEY`).
///
/// Immutable after creation. Used for the client certificate's key pair (the public half is
/// sent to the Admin API), for TLS identities, and for RS256 signatures. Its description never
/// contains key material.
///
/// Sendable: the wrapped `EVP_PKEY` is never modified after init, and OpenSSL 3 allows a
/// key to be used by several threads at once (each operation creates its own context).
public final class PrivateKey: @unchecked Sendable, CustomStringConvertible {
    /// The owned `EVP_PKEY`; freed in deinit.
    let pointer: OpaquePointer

    /// Takes over one reference to `pointer`.
    init(takingOwnership pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// Generates a fresh RSA key of `bits` bits (public exponent 65537).
    ///
    /// Cost: tens to hundreds of milliseconds of CPU for 2048 bits; call it off the event loop.
    /// Throws `.invalidArgument` for sizes outside 1024...16384.
    public static func generateRSA(bits: Int = 2048) throws -> PrivateKey {
        guard (1024...16384).contains(bits) else {
            throw TLSError(.invalidArgument("RSA size \(bits) bits is outside 1024...16384"),
                           operation: "EVP_RSA_gen")
        }
        OpenSSLErrorQueue.clear()
        guard let key = COpenSSLShims_EVP_RSA_gen(UInt32(bits)) else {
            throw OpenSSLErrorQueue.error(.internal, "EVP_RSA_gen")
        }
        return PrivateKey(takingOwnership: key)
    }

    /// Generates a fresh EC key on NIST P-256 (cheap; useful for tests and server identities).
    public static func generateECP256() throws -> PrivateKey {
        OpenSSLErrorQueue.clear()
        guard let key = COpenSSLShims_EVP_EC_gen("P-256") else {
            throw OpenSSLErrorQueue.error(.internal, "EVP_EC_gen")
        }
        return PrivateKey(takingOwnership: key)
    }

    /// Parses the first private key in `pem`: PKCS#8 (`PRIVATE KEY`), PKCS#1
    /// (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    ///
    /// Encrypted keys are refused (never prompts). Throws `.invalidPEM` for anything that is
    /// not such a key and `.invalidArgument` for key types other than RSA and EC.
    public convenience init(pem: String) throws {
        OpenSSLErrorQueue.clear()
        let parsed = PEMBuffer.reading(pem) { COpenSSLShims_PEM_read_bio_PrivateKey_nopass($0) }
        guard let key = parsed ?? nil else {
            throw OpenSSLErrorQueue.error(.invalidPEM("an unencrypted RSA or EC private key"),
                                          "PEM_read_bio_PrivateKey")
        }
        self.init(takingOwnership: key)
        guard kind != nil else {
            throw TLSError(.invalidArgument("only RSA and EC private keys are supported"),
                           operation: "PrivateKey(pem:)")
        }
        try checkConsistency()
    }

    /// Refuses a key whose private and public parts do not belong together (a damaged RSA
    /// key parses fine but signs what its own public half cannot verify, so a broken
    /// credentials file would only show up later as a refused token request).
    private func checkConsistency() throws {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_PKEY_CTX_new(pointer, nil) else {
            throw OpenSSLErrorQueue.error(.internal, "EVP_PKEY_CTX_new")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_pairwise_check(context) == 1 else {
            throw OpenSSLErrorQueue.error(
                .invalidPEM("a private key whose parts are consistent"), "EVP_PKEY_pairwise_check")
        }
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// The result is a secret: never log it.
    public func pem() -> String {
        let text = PEMBuffer.writing(secure: true) { bio in
            PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil) == 1
        }
        // Writing an in-memory key to a memory BIO fails only when allocation fails.
        guard let text else { fatalError("PEM_write_bio_PrivateKey failed (out of memory)") }
        return text
    }

    /// The public half of this key.
    public var publicKey: PublicKey {
        PublicKey(privateKeyPointer: pointer)
    }

    /// Size of the key in bits (2048 for the usual RSA key, 256 for P-256).
    public var bits: Int {
        Int(EVP_PKEY_get_bits(pointer))
    }

    /// Signs SHA-256(`data`): RSASSA-PKCS1-v1_5 for RSA keys (as RS256 JWTs need), DER-encoded
    /// ECDSA for EC keys.
    public func signSHA256(_ data: [UInt8]) throws -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLErrorQueue.error(.internal, "EVP_MD_CTX_new")
        }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, pointer) == 1 else {
            throw OpenSSLErrorQueue.error(.internal, "EVP_DigestSignInit")
        }

        var length = 0
        guard EVP_DigestSign(context, nil, &length, data, data.count) == 1 else {
            throw OpenSSLErrorQueue.error(.internal, "EVP_DigestSign")
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, data, data.count) == 1 else {
            throw OpenSSLErrorQueue.error(.internal, "EVP_DigestSign")
        }
        signature.removeSubrange(length...)
        return signature
    }

    /// "RSA" or "EC", or nil for other key types.
    var kind: String? {
        switch EVP_PKEY_get_base_id(pointer) {
        case EVP_PKEY_RSA: return "RSA"
        case EVP_PKEY_EC: return "EC"
        default: return nil
        }
    }

    /// Names the key type and size only; never the key.
    public var description: String {
        "PrivateKey(\(kind ?? "other") \(bits) bits)"
    }
}
