#include "CCurlShims.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;

static void global_init(void) { global_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

CURLcode CCurlShims_global_init_once(void) {
    pthread_once(&global_once, global_init);
    return global_result;
}

CURLcode CCurlShims_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode CCurlShims_easy_setopt_string(CURL *easy, CURLoption option, const char *value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode CCurlShims_easy_setopt_slist(CURL *easy, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode CCurlShims_easy_setopt_off_t(CURL *easy, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode CCurlShims_easy_setopt_pointer(CURL *easy, CURLoption option, void *value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode CCurlShims_easy_getinfo_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}

CURLcode CCurlShims_easy_getinfo_pointer(CURL *easy, CURLINFO info, void **value) {
    return curl_easy_getinfo(easy, info, value);
}

static size_t body_write(char *chunk, size_t size, size_t count, void *userdata) {
    CCurlShims_body *body = userdata;
    size_t n = size * count;
    if (n == 0) return 0;
    if (n > body->limit || body->length > body->limit - n) {
        body->overflowed = 1;
        return 0; /* short count: curl aborts with CURLE_WRITE_ERROR */
    }
    if (body->length + n > body->capacity) {
        size_t want = body->capacity ? body->capacity : 4096;
        while (want < body->length + n) want *= 2;
        if (want > body->limit) want = body->limit;
        char *grown = realloc(body->data, want);
        if (grown == NULL) return 0;
        body->data = grown;
        body->capacity = want;
    }
    memcpy(body->data + body->length, chunk, n);
    body->length += n;
    return n;
}

CURLcode CCurlShims_easy_collect_body(CURL *easy, CCurlShims_body *body) {
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_write);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)body);
}

void CCurlShims_body_free(CCurlShims_body *body) {
    free(body->data);
    body->data = NULL;
    body->length = 0;
    body->capacity = 0;
    body->overflowed = 0;
}

CURL *CCurlShims_msg_easy(const CURLMsg *msg) { return msg->easy_handle; }

int CCurlShims_msg_is_done(const CURLMsg *msg) { return msg->msg == CURLMSG_DONE; }

CURLcode CCurlShims_msg_result(const CURLMsg *msg) { return msg->data.result; }
