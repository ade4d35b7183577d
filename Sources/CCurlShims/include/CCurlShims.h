/*
 * Typed wrappers over libcurl for Swift: curl_easy_setopt and curl_easy_getinfo are variadic,
 * which Swift cannot call, and a response body is collected here in C so that no Swift closure
 * has to be handed to libcurl as a C callback.
 */
#ifndef CCURLSHIMS_H
#define CCURLSHIMS_H

#include <curl/curl.h>
#include <stddef.h>

/// Runs curl_global_init(CURL_GLOBAL_DEFAULT) exactly once per process; thread-safe.
/// Returns the CURLcode of that single call (every later call returns the same value).
CURLcode CCurlShims_global_init_once(void);

CURLcode CCurlShims_easy_setopt_long(CURL *easy, CURLoption option, long value);
CURLcode CCurlShims_easy_setopt_string(CURL *easy, CURLoption option, const char *value);
CURLcode CCurlShims_easy_setopt_slist(CURL *easy, CURLoption option, struct curl_slist *value);
CURLcode CCurlShims_easy_setopt_off_t(CURL *easy, CURLoption option, curl_off_t value);
CURLcode CCurlShims_easy_setopt_pointer(CURL *easy, CURLoption option, void *value);

CURLcode CCurlShims_easy_getinfo_long(CURL *easy, CURLINFO info, long *value);
CURLcode CCurlShims_easy_getinfo_pointer(CURL *easy, CURLINFO info, void **value);

/// A growable response body with a hard limit. Owned by the caller; freed with
/// CCurlShims_body_free. Past `limit` bytes the write callback stops the transfer (curl then
/// reports CURLE_WRITE_ERROR) and `overflowed` is set, so a response is never silently cut.
typedef struct CCurlShims_body {
    char *data;
    size_t length;
    size_t capacity;
    size_t limit;
    int overflowed;
} CCurlShims_body;

/// Installs the C write callback that appends to `body` on `easy`.
CURLcode CCurlShims_easy_collect_body(CURL *easy, CCurlShims_body *body);

/// Releases the bytes held by `body` and resets it to empty (the struct itself is not freed).
void CCurlShims_body_free(CCurlShims_body *body);

/// Reads the fields of a CURLMsg (its `data` member is a union).
CURL *CCurlShims_msg_easy(const CURLMsg *msg);
int CCurlShims_msg_is_done(const CURLMsg *msg);
CURLcode CCurlShims_msg_result(const CURLMsg *msg);

#endif
