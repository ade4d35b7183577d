/*
 * COpenSSLShims: the OpenSSL 3.0 headers the TLS module needs, plus small wrappers for the
 * function-like macros, variadic functions and STACK_OF accessors that Swift cannot import.
 *
 * Each wrapper is named COpenSSLShims_<original> and does exactly what the original does; the
 * few helpers with no single original (PEM reading without a passphrase prompt, extensions by
 * config string, GENERAL_NAME access) are documented where they are declared.
 */
#ifndef COPENSSL_SHIMS_H
#define COPENSSL_SHIMS_H

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* ---- SSL_CTX / SSL control macros ---------------------------------------------------------- */

static inline int COpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int COpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline long COpenSSLShims_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline long COpenSSLShims_SSL_set_mode(SSL *ssl, long mode) {
    return SSL_set_mode(ssl, mode);
}

/* Takes a new reference to cert (the caller keeps its own). */
static inline int COpenSSLShims_SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add1_chain_cert(ctx, cert);
}

/* Takes over the caller's reference to cert on success. */
static inline int COpenSSLShims_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add0_chain_cert(ctx, cert);
}

static inline long COpenSSLShims_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

static inline int COpenSSLShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/* SSL_OP_NO_TICKET is built with the SSL_OP_BIT macro, which Swift cannot import. */
static inline uint64_t COpenSSLShims_SSL_OP_NO_TICKET(void) {
    return SSL_OP_NO_TICKET;
}

/* ---- BIO macros ----------------------------------------------------------------------------- */

/* v = -1: an empty memory BIO reports "retry" (more may come); v = 0: it reports end of file. */
static inline long COpenSSLShims_BIO_set_mem_eof_return(BIO *bio, int v) {
    return BIO_set_mem_eof_return(bio, v);
}

/* Points *data at the unread bytes of a memory BIO (no copy) and returns their count. */
static inline long COpenSSLShims_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

static inline size_t COpenSSLShims_BIO_ctrl_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}

/* ---- memory, errors ------------------------------------------------------------------------- */

static inline void COpenSSLShims_OPENSSL_free(void *pointer) {
    OPENSSL_free(pointer);
}

static inline int COpenSSLShims_ERR_GET_LIB(unsigned long code) {
    return ERR_GET_LIB(code);
}

static inline int COpenSSLShims_ERR_GET_REASON(unsigned long code) {
    return ERR_GET_REASON(code);
}

/* ---- stacks --------------------------------------------------------------------------------- */

static inline int COpenSSLShims_sk_X509_num(const STACK_OF(X509) *stack) {
    return sk_X509_num(stack);
}

static inline X509 *COpenSSLShims_sk_X509_value(const STACK_OF(X509) *stack, int index) {
    return sk_X509_value(stack, index);
}

static inline int COpenSSLShims_sk_GENERAL_NAME_num(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}

static inline const GENERAL_NAME *COpenSSLShims_sk_GENERAL_NAME_value(
    const GENERAL_NAMES *names, int index) {
    return sk_GENERAL_NAME_value(names, index);
}

/* ---- keys ----------------------------------------------------------------------------------- */

/* EVP_RSA_gen is a macro over the variadic EVP_PKEY_Q_keygen. */
static inline EVP_PKEY *COpenSSLShims_EVP_RSA_gen(unsigned int bits) {
    return EVP_RSA_gen(bits);
}

/* EVP_EC_gen is a macro over the variadic EVP_PKEY_Q_keygen; curve is e.g. "P-256". */
static inline EVP_PKEY *COpenSSLShims_EVP_EC_gen(const char *curve) {
    return EVP_EC_gen(curve);
}

/* ---- helpers without a single original (COpenSSLShims.c) ------------------------------------ */

/*
 * Reads the first private key from a PEM BIO (PKCS#1, PKCS#8, SEC1). Never prompts for a
 * passphrase: an encrypted key fails instead of reading the terminal.
 */
EVP_PKEY *COpenSSLShims_PEM_read_bio_PrivateKey_nopass(BIO *bio);

/*
 * Adds one X509v3 extension, given in OpenSSL config syntax (e.g. "critical,CA:TRUE"), to
 * subject, with issuer as the issuing certificate (for authorityKeyIdentifier). Returns 1 on
 * success, 0 on failure (errors are on the OpenSSL error queue).
 */
int COpenSSLShims_add_extension(X509 *issuer, X509 *subject, int nid, const char *value);

/*
 * Reads a GENERAL_NAME without touching its union from Swift: sets *type (GEN_DNS, GEN_IPADD,
 * ...) and, for string-valued names, *data and *length. Returns 1 if a string value was found.
 */
int COpenSSLShims_GENERAL_NAME_get_string(const GENERAL_NAME *name, int *type,
                                          const unsigned char **data, int *length);

/* Counts of TLS 1.3 KeyUpdate messages seen on one connection. */
typedef struct COpenSSLShims_KeyUpdateCounts {
    uint64_t sent;
    uint64_t received;
} COpenSSLShims_KeyUpdateCounts;

/*
 * Installs a message callback on ssl that counts KeyUpdate messages into *counts, which must
 * stay valid until ssl is freed. Cost: one small call per record header and message.
 */
void COpenSSLShims_SSL_count_key_updates(SSL *ssl, COpenSSLShims_KeyUpdateCounts *counts);

#endif /* COPENSSL_SHIMS_H */
