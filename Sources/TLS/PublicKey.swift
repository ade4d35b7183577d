import COpenSSLShims

/// The PEM encodings a public key can be written in.
public enum PublicKeyFormat: Sendable {
    /// PKCS#1 `RSA PUBLIC KEY` (RSA keys only; the Admin API accepts it).
    case pkcs1
    /// X.509 SubjectPublicKeyInfo `PUBLIC KEY` (any key type).
    case spki
}

/// A public key (OpenSSL `EVP_PKEY` holding no private part).
///
/// Immutable. Two keys are equal when their key material is equal, whatever encoding they were
/// read from.
///
/// Sendable: the wrapped `EVP_PKEY` is never modified after init, and OpenSSL 3 allows
/// concurrent verification with one key.
public final class PublicKey: @unchecked Sendable, Equatable {
    /// The owned `EVP_PKEY`; freed in deinit.
    let pointer: OpaquePointer

    /// Takes over one reference to `pointer`, which must hold no private key.
    init(takingOwnership pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Copies the public half of a private key (through its SPKI encoding, so the new object
    /// carries no private material).
    convenience init(privateKeyPointer: OpaquePointer) {
        let der = Self.spkiDER(privateKeyPointer)
        let key = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        // Re-reading the SPKI encoding OpenSSL just produced fails only on allocation failure.
        guard let key else { fatalError("d2i_PUBKEY failed on OpenSSL's own encoding") }
        self.init(takingOwnership: key)
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// Parses a PEM public key: PKCS#1 `RSA PUBLIC KEY` or SPKI `PUBLIC KEY` (first block).
    ///
    /// Throws `.invalidPEM` for anything else, including private keys and certificates.
    public convenience init(pem: String) throws {
        let expected = TLSError.Code.invalidPEM("an RSA PUBLIC KEY or PUBLIC KEY block")
        OpenSSLErrorQueue.clear()
        guard let block = PEMBlock.first(in: pem) else {
            throw OpenSSLErrorQueue.error(expected, "PEM_read_bio")
        }

        let key = block.der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            switch block.label {
            case "PUBLIC KEY":
                return d2i_PUBKEY(nil, &cursor, buffer.count)
            case "RSA PUBLIC KEY":
                return d2i_PublicKey(EVP_PKEY_RSA, nil, &cursor, buffer.count)
            default:
                return nil
            }
        }
        guard let key else {
            throw OpenSSLErrorQueue.error(expected, "d2i_PUBKEY")
        }
        self.init(takingOwnership: key)
    }

    /// The key as PEM with 64-character lines and a trailing newline.
    ///
    /// `.pkcs1` is defined for RSA keys only; for other key types it returns the SPKI form.
    public func pem(_ format: PublicKeyFormat) -> String {
        let isRSA = EVP_PKEY_get_base_id(pointer) == EVP_PKEY_RSA
        if format == .pkcs1 && isRSA {
            return PEMBlock(label: "RSA PUBLIC KEY", der: pkcs1DER()).encoded()
        }
        return PEMBlock(label: "PUBLIC KEY", der: Self.spkiDER(pointer)).encoded()
    }

    /// The DER SubjectPublicKeyInfo encoding.
    public var spkiDER: [UInt8] {
        Self.spkiDER(pointer)
    }

    /// Checks an RSASSA-PKCS1-v1_5 (RSA) or DER ECDSA (EC) signature over SHA-256(`data`).
    ///
    /// Returns false for a wrong or malformed signature; never throws.
    public func verifySHA256(signature: [UInt8], data: [UInt8]) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, pointer) == 1 else {
            return false
        }
        return EVP_DigestVerify(context, signature, signature.count, data, data.count) == 1
    }

    /// True when both keys hold the same key material.
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        return EVP_PKEY_eq(lhs.pointer, rhs.pointer) == 1
    }

    /// PKCS#1 RSAPublicKey DER of an RSA key.
    private func pkcs1DER() -> [UInt8] {
        Self.encode { i2d_PublicKey(pointer, $0) }
    }

    /// SPKI DER of any key (public part only).
    static func spkiDER(_ key: OpaquePointer) -> [UInt8] {
        encode { i2d_PUBKEY(key, $0) }
    }

    /// Runs an OpenSSL i2d function twice: once for the size, once to fill the buffer.
    static func encode(
        _ i2d: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32
    ) -> [UInt8] {
        let length = i2d(nil)
        // An in-memory key always has an encoding; a negative size means allocation failure.
        guard length > 0 else { fatalError("i2d encoding of a public key failed") }
        var der = [UInt8](repeating: 0, count: Int(length))
        der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d(&cursor)
        }
        return der
    }
}
