#include "COpenSSLShims.h"

/* A passphrase callback that refuses: encrypted keys fail instead of prompting on a terminal. */
static int COpenSSLShims_refuse_passphrase(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return -1;
}

EVP_PKEY *COpenSSLShims_PEM_read_bio_PrivateKey_nopass(BIO *bio) {
    return PEM_read_bio_PrivateKey(bio, NULL, COpenSSLShims_refuse_passphrase, NULL);
}

int COpenSSLShims_add_extension(X509 *issuer, X509 *subject, int nid, const char *value) {
    X509V3_CTX context;
    X509_EXTENSION *extension;
    int added;

    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, subject, NULL, NULL, 0);
    extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (extension == NULL) {
        return 0;
    }
    added = X509_add_ext(subject, extension, -1);
    X509_EXTENSION_free(extension);
    return added == 1 ? 1 : 0;
}

int COpenSSLShims_GENERAL_NAME_get_string(const GENERAL_NAME *name, int *type,
                                          const unsigned char **data, int *length) {
    int kind = 0;
    void *value = GENERAL_NAME_get0_value(name, &kind);

    *type = kind;
    *data = NULL;
    *length = 0;
    switch (kind) {
    case GEN_DNS:
    case GEN_EMAIL:
    case GEN_URI:
    case GEN_IPADD:
        /* All four are ASN1_STRING variants (IA5STRING or OCTET STRING). */
        *data = ASN1_STRING_get0_data((const ASN1_STRING *)value);
        *length = ASN1_STRING_length((const ASN1_STRING *)value);
        return 1;
    default:
        return 0;
    }
}

/* The message callback behind COpenSSLShims_SSL_count_key_updates. */
static void COpenSSLShims_key_update_callback(int write_p, int version, int content_type,
                                              const void *buf, size_t len, SSL *ssl,
                                              void *arg) {
    COpenSSLShims_KeyUpdateCounts *counts = arg;
    const unsigned char *message = buf;

    (void)version;
    (void)ssl;
    if (content_type != SSL3_RT_HANDSHAKE || len < 1 || message[0] != SSL3_MT_KEY_UPDATE) {
        return;
    }
    if (write_p) {
        counts->sent += 1;
    } else {
        counts->received += 1;
    }
}

void COpenSSLShims_SSL_count_key_updates(SSL *ssl, COpenSSLShims_KeyUpdateCounts *counts) {
    SSL_set_msg_callback_arg(ssl, counts);
    SSL_set_msg_callback(ssl, COpenSSLShims_key_update_callback);
}
