/*
 * A small C layer over libmicrohttpd. MHD_start_daemon is variadic and its request callback is
 * called several times per request (headers, body chunks, completion); this shim hides both and
 * presents one complete request to one handler, which fills in one response.
 */
#ifndef CMICROHTTPD_H
#define CMICROHTTPD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One request header as received (name case preserved). Valid only during the handler call. */
typedef struct CMHD_Header {
    const char *name;
    const char *value;
} CMHD_Header;

/** A complete request. All pointers are valid only during the handler call. */
typedef struct CMHD_Request {
    const char *method;
    /** The request target exactly as sent: path plus optional `?query`, not percent-decoded. */
    const char *target;
    const CMHD_Header *headers;
    size_t header_count;
    const uint8_t *body;
    size_t body_length;
} CMHD_Request;

/** The response under construction; filled through CMHD_response_* during the handler call. */
typedef struct CMHD_Response CMHD_Response;

/**
 * Called once per complete request on one of the server's threads (concurrently from several).
 * The handler must call CMHD_response_set exactly once; otherwise a 500 is sent.
 */
typedef void (*CMHD_Handler)(void *context, const CMHD_Request *request, CMHD_Response *response);

/** A running server. */
typedef struct CMHD_Server CMHD_Server;

/**
 * Starts a server bound to the IPv4 literal `address` and `port` (0 = any free port), with
 * `threads` worker threads. Bodies longer than `max_body` are answered with 413 without calling
 * the handler. Returns NULL on failure and writes a message into `error` (size `error_size`).
 */
CMHD_Server *CMHD_start(const char *address, uint16_t port, unsigned threads, size_t max_body,
                        CMHD_Handler handler, void *context, char *error, size_t error_size);

/** 1 when libmicrohttpd was built with TLS (GnuTLS), else 0. */
int CMHD_tls_supported(void);

/**
 * Like CMHD_start, but serves HTTPS with the PEM certificate chain `cert_pem` and private key
 * `key_pem` (both copied by libmicrohttpd before this returns). Fails with a message when the
 * library lacks TLS or the PEM is rejected.
 */
CMHD_Server *CMHD_start_tls(const char *address, uint16_t port, unsigned threads,
                            size_t max_body, const char *cert_pem, const char *key_pem,
                            CMHD_Handler handler, void *context, char *error,
                            size_t error_size);

/** The port the server is bound to. */
uint16_t CMHD_port(const CMHD_Server *server);

/** Stops the server, waits for its threads, and frees it. No handler runs after this returns. */
void CMHD_stop(CMHD_Server *server);

/** Sets status and body (copied). Returns 0 on success, -1 if out of memory or already set. */
int CMHD_response_set(CMHD_Response *response, unsigned status, const uint8_t *body,
                      size_t length);

/** Adds a header to a response already set. Returns 0 on success, -1 otherwise. */
int CMHD_response_add_header(CMHD_Response *response, const char *name, const char *value);

#ifdef __cplusplus
}
#endif

#endif
