#include "CMicroHTTPD.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct CMHD_Server {
    struct MHD_Daemon *daemon;
    CMHD_Handler handler;
    void *context;
    size_t max_body;
    uint16_t port;
};

struct CMHD_Response {
    struct MHD_Response *response;
    unsigned status;
};

/* Per-connection request state, created by the URI log callback before any header is parsed. */
typedef struct RequestState {
    char *target;
    uint8_t *body;
    size_t length;
    size_t capacity;
    int too_large;
    int started;
} RequestState;

typedef struct HeaderList {
    CMHD_Header *items;
    size_t count;
    size_t capacity;
} HeaderList;

static void *log_uri(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls;
    (void)connection;
    RequestState *state = calloc(1, sizeof(RequestState));
    if (state != NULL) {
        state->target = strdup(uri != NULL ? uri : "");
    }
    return state;
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)connection;
    (void)code;
    RequestState *state = *con_cls;
    if (state != NULL) {
        free(state->target);
        free(state->body);
        free(state);
        *con_cls = NULL;
    }
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
    (void)kind;
    HeaderList *list = cls;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity == 0 ? 16 : list->capacity * 2;
        CMHD_Header *items = realloc(list->items, capacity * sizeof(CMHD_Header));
        if (items == NULL) {
            return MHD_NO;
        }
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count].name = key;
    list->items[list->count].value = value != NULL ? value : "";
    list->count += 1;
    return MHD_YES;
}

static enum MHD_Result queue_plain(struct MHD_Connection *connection, unsigned status,
                                   const char *text) {
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (response == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(response, "Content-Type", "application/json");
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static const char too_large_body[] =
    "{\"error\":{\"code\":413,\"message\":\"request body exceeds the size limit\","
    "\"status\":\"INVALID_ARGUMENT\"}}";

/* Appends one upload chunk, or marks the request too large and drops the chunk. */
static int append_body(RequestState *state, size_t max_body, const char *data, size_t size) {
    if (state->too_large || size > max_body - state->length) {
        state->too_large = 1;
        return 0;
    }
    if (state->length + size > state->capacity) {
        size_t capacity = state->capacity == 0 ? 4096 : state->capacity;
        while (capacity < state->length + size) {
            capacity *= 2;
        }
        uint8_t *body = realloc(state->body, capacity);
        if (body == NULL) {
            return -1;
        }
        state->body = body;
        state->capacity = capacity;
    }
    memcpy(state->body + state->length, data, size);
    state->length += size;
    return 0;
}

static enum MHD_Result dispatch(CMHD_Server *server, struct MHD_Connection *connection,
                                const char *method, RequestState *state) {
    HeaderList headers = {0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_header, &headers);

    CMHD_Request request = {
        .method = method,
        .target = state->target != NULL ? state->target : "",
        .headers = headers.items,
        .header_count = headers.count,
        .body = state->body,
        .body_length = state->length,
    };
    CMHD_Response response = {0};
    server->handler(server->context, &request, &response);
    free(headers.items);

    if (response.response == NULL) {
        return queue_plain(connection, 500,
                           "{\"error\":{\"code\":500,\"message\":\"no response\","
                           "\"status\":\"INTERNAL\"}}");
    }
    enum MHD_Result result = MHD_queue_response(connection, response.status, response.response);
    MHD_destroy_response(response.response);
    return result;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection,
                                      const char *url, const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)url;
    (void)version;
    CMHD_Server *server = cls;
    RequestState *state = *con_cls;
    if (state == NULL) {
        return MHD_NO;
    }

    if (*upload_data_size > 0) {
        if (append_body(state, server->max_body, upload_data, *upload_data_size) != 0) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* The first call carries only headers; reject a declared oversized body before reading it. */
    if (!state->started) {
        state->started = 1;
        const char *declared =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
        if (declared != NULL && strtoull(declared, NULL, 10) > server->max_body) {
            return queue_plain(connection, 413, too_large_body);
        }
        return MHD_YES;
    }

    if (state->too_large) {
        return queue_plain(connection, 413, too_large_body);
    }
    return dispatch(server, connection, method, state);
}

static CMHD_Server *start_server(const char *address, uint16_t port, unsigned threads,
                                 size_t max_body, const char *cert_pem, const char *key_pem,
                                 CMHD_Handler handler, void *context, char *error,
                                 size_t error_size) {
    struct sockaddr_in bind_address;
    memset(&bind_address, 0, sizeof(bind_address));
    bind_address.sin_family = AF_INET;
    bind_address.sin_port = htons(port);
    if (inet_pton(AF_INET, address, &bind_address.sin_addr) != 1) {
        snprintf(error, error_size, "'%s' is not an IPv4 address", address);
        return NULL;
    }

    CMHD_Server *server = calloc(1, sizeof(CMHD_Server));
    if (server == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    server->handler = handler;
    server->context = context;
    server->max_body = max_body;

    unsigned pool = threads == 0 ? 1 : threads;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (cert_pem != NULL) {
        /* The PEM options are only examined with MHD_USE_TLS; without TLS they end the list. */
        flags |= MHD_USE_TLS;
    }
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, server,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&bind_address,
        MHD_OPTION_THREAD_POOL_SIZE, pool,
        MHD_OPTION_URI_LOG_CALLBACK, log_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        cert_pem != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, key_pem,
        MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(error, error_size, "cannot listen on %s:%u (address in use or not available)",
                 address, (unsigned)port);
        free(server);
        return NULL;
    }

    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    server->port = info != NULL ? info->port : port;
    return server;
}

CMHD_Server *CMHD_start(const char *address, uint16_t port, unsigned threads, size_t max_body,
                        CMHD_Handler handler, void *context, char *error, size_t error_size) {
    return start_server(address, port, threads, max_body, NULL, NULL, handler, context, error,
                        error_size);
}

int CMHD_tls_supported(void) {
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES ? 1 : 0;
}

CMHD_Server *CMHD_start_tls(const char *address, uint16_t port, unsigned threads,
                            size_t max_body, const char *cert_pem, const char *key_pem,
                            CMHD_Handler handler, void *context, char *error,
                            size_t error_size) {
    if (!CMHD_tls_supported()) {
        snprintf(error, error_size, "this libmicrohttpd was built without TLS");
        return NULL;
    }
    if (cert_pem == NULL || key_pem == NULL) {
        snprintf(error, error_size, "HTTPS needs a certificate and a key");
        return NULL;
    }
    return start_server(address, port, threads, max_body, cert_pem, key_pem, handler, context,
                        error, error_size);
}

uint16_t CMHD_port(const CMHD_Server *server) {
    return server->port;
}

void CMHD_stop(CMHD_Server *server) {
    if (server == NULL) {
        return;
    }
    MHD_stop_daemon(server->daemon);
    free(server);
}

int CMHD_response_set(CMHD_Response *response, unsigned status, const uint8_t *body,
                      size_t length) {
    if (response->response != NULL) {
        return -1;
    }
    response->response =
        MHD_create_response_from_buffer(length, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (response->response == NULL) {
        return -1;
    }
    response->status = status;
    return 0;
}

int CMHD_response_add_header(CMHD_Response *response, const char *name, const char *value) {
    if (response->response == NULL) {
        return -1;
    }
    return MHD_add_response_header(response->response, name, value) == MHD_YES ? 0 : -1;
}
