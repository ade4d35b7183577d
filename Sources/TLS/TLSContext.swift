import COpenSSLShims

/// A TLS protocol version a server context may be limited to.
public enum TLSVersion: Sendable {
    /// TLS 1.2 (only for servers in tests that must refuse TLS 1.3).
    case tls12
    /// TLS 1.3, the only version AlloyDB speaks.
    case tls13

    /// OpenSSL's version constant.
    var openSSLValue: Int32 {
        switch self {
        case .tls12: return TLS1_2_VERSION
        case .tls13: return TLS1_3_VERSION
        }
    }
}

/// A configured OpenSSL `SSL_CTX`: identity (certificate chain + key), trust anchors and
/// protocol limits, shared by every connection made from it.
///
/// Build it once per certificate (on a background thread: it copies certificates and checks
/// the key) and use it for many `TLSConnection`s. Immutable after the factory returns.
///
/// Sendable: after configuration nothing mutates the `SSL_CTX`; OpenSSL documents `SSL_new`
/// on a configured context as safe from several threads (the context is reference counted,
/// and connections made from it keep it alive after this object is gone).
public final class TLSContext: @unchecked Sendable {
    /// The owned `SSL_CTX`; freed (one reference) in deinit.
    let pointer: OpaquePointer

    /// The chain this context presents, leaf first.
    public let certificateChain: [Certificate]

    private init(pointer: OpaquePointer, certificateChain: [Certificate]) {
        self.pointer = pointer
        self.certificateChain = certificateChain
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    /// A client context for AlloyDB: TLS 1.3 only, presents `certificateChain` (leaf first)
    /// with `key`, trusts exactly `trustedRoots` (no system roots; partial chains allowed so
    /// a non-root CA can anchor), requires a verified server certificate, and keeps no
    /// sessions or tickets.
    ///
    /// Throws `.invalidArgument` for an empty chain, no roots, or a key that does not match
    /// the leaf.
    public static func client(
        certificateChain: [Certificate],
        key: PrivateKey,
        trustedRoots: [Certificate]
    ) throws -> TLSContext {
        guard !trustedRoots.isEmpty else {
            throw TLSError(.invalidArgument("at least one trusted root is required"),
                           operation: "TLSContext.client")
        }
        let context = try make(method: TLS_client_method(), chain: certificateChain, key: key,
                               minimum: .tls13, maximum: .tls13)
        try context.setTrustStore(trustedRoots)
        SSL_CTX_set_verify(context.pointer, SSL_VERIFY_PEER, nil)
        return context
    }

    /// A server context (for the emulator and tests): presents `certificateChain` with `key`;
    /// when `clientCAs` is non-empty, verifies client certificates against exactly those
    /// (partial chains allowed) and, with `requireClientCertificate`, refuses clients without
    /// one. Versions default to TLS 1.3 only; a `maximumVersion` of `.tls12` makes a server
    /// that refuses TLS 1.3.
    public static func server(
        certificateChain: [Certificate],
        key: PrivateKey,
        clientCAs: [Certificate] = [],
        requireClientCertificate: Bool = true,
        minimumVersion: TLSVersion = .tls13,
        maximumVersion: TLSVersion = .tls13
    ) throws -> TLSContext {
        if requireClientCertificate && clientCAs.isEmpty {
            throw TLSError(.invalidArgument("requiring client certificates needs clientCAs"),
                           operation: "TLSContext.server")
        }
        let context = try make(method: TLS_server_method(), chain: certificateChain, key: key,
                               minimum: minimumVersion, maximum: maximumVersion)
        // No tickets: every connection is a full handshake, like AlloyDB.
        SSL_CTX_set_num_tickets(context.pointer, 0)
        guard !clientCAs.isEmpty else { return context }

        try context.setTrustStore(clientCAs)
        for ca in clientCAs {
            OpenSSLErrorQueue.clear()
            guard SSL_CTX_add_client_CA(context.pointer, ca.pointer) == 1 else {
                throw OpenSSLErrorQueue.error(.internal, "SSL_CTX_add_client_CA")
            }
        }
        let required = requireClientCertificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0
        let mode = SSL_VERIFY_PEER | required
        SSL_CTX_set_verify(context.pointer, mode, nil)
        return context
    }

    /// Creates the SSL_CTX and applies what client and server share: versions, identity,
    /// modes and no session cache.
    private static func make(
        method: OpaquePointer?, chain: [Certificate], key: PrivateKey,
        minimum: TLSVersion, maximum: TLSVersion
    ) throws -> TLSContext {
        guard let leaf = chain.first else {
            throw TLSError(.invalidArgument("the certificate chain is empty"),
                           operation: "TLSContext")
        }
        OpenSSLErrorQueue.clear()
        guard let ctx = SSL_CTX_new(method) else {
            throw OpenSSLErrorQueue.error(.internal, "SSL_CTX_new")
        }
        let context = TLSContext(pointer: ctx, certificateChain: chain)

        guard COpenSSLShims_SSL_CTX_set_min_proto_version(ctx, minimum.openSSLValue) == 1,
              COpenSSLShims_SSL_CTX_set_max_proto_version(ctx, maximum.openSSLValue) == 1 else {
            throw OpenSSLErrorQueue.error(.internal, "SSL_CTX_set_proto_version")
        }
        guard SSL_CTX_use_certificate(ctx, leaf.pointer) == 1 else {
            throw OpenSSLErrorQueue.error(.invalidArgument("unusable leaf certificate"),
                                          "SSL_CTX_use_certificate")
        }
        for certificate in chain.dropFirst() {
            guard COpenSSLShims_SSL_CTX_add1_chain_cert(ctx, certificate.pointer) == 1 else {
                throw OpenSSLErrorQueue.error(.internal, "SSL_CTX_add1_chain_cert")
            }
        }
        guard SSL_CTX_use_PrivateKey(ctx, key.pointer) == 1,
              SSL_CTX_check_private_key(ctx) == 1 else {
            throw OpenSSLErrorQueue.error(
                .invalidArgument("the private key does not match the leaf certificate"),
                "SSL_CTX_check_private_key")
        }

        // Release idle buffers (about 11 KiB per idle connection); allow a retried write from
        // a different buffer address; send exactly the configured chain, never one completed
        // from the trust store. No partial writes: memory BIOs never push back, so one write
        // call encrypts the whole buffer into as many records as it needs.
        let mode = SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
            | SSL_MODE_NO_AUTO_CHAIN
        _ = COpenSSLShims_SSL_CTX_set_mode(ctx, Int(mode))
        _ = COpenSSLShims_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        _ = SSL_CTX_set_options(ctx, COpenSSLShims_SSL_OP_NO_TICKET())
        return context
    }

    /// Installs a fresh X509_STORE holding exactly `anchors` (no default paths), with
    /// partial-chain verification so any of them may terminate a chain.
    private func setTrustStore(_ anchors: [Certificate]) throws {
        OpenSSLErrorQueue.clear()
        guard let store = X509_STORE_new() else {
            throw OpenSSLErrorQueue.error(.internal, "X509_STORE_new")
        }
        SSL_CTX_set_cert_store(pointer, store)
        for anchor in anchors {
            guard X509_STORE_add_cert(store, anchor.pointer) == 1 else {
                throw OpenSSLErrorQueue.error(.invalidArgument("unusable trust anchor"),
                                              "X509_STORE_add_cert")
            }
        }
        guard X509_STORE_set_flags(store, UInt(X509_V_FLAG_PARTIAL_CHAIN)) == 1 else {
            throw OpenSSLErrorQueue.error(.internal, "X509_STORE_set_flags")
        }
    }
}
