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
