/* docker_engine.h: the one Docker Engine API client (HTTP over the engine's unix
 * socket, libcurl).
 *
 * Who owns what:
 * - This file owns talking to the engine: where it listens (a named socket, else
 *   $DOCKER_HOST, which must be unix://PATH, else /var/run/docker.sock), one
 *   connect/timeout policy, one request per call (a reply kept in memory up to a
 *   bound, or a 200 body streamed to a sink, or a request body pulled from a
 *   callback), JSON replies, and the engine's own message in an error reply. Its
 *   errors name the socket and the API call ("the Docker engine at SOCKET: GET
 *   /images/json: ...").
 * - The callers own what they ask and what the answers mean:
 *   packer/source_daemon.c (inspect an image, stream GET /images/get),
 *   load/inventory.c (list images and their diff_id chains),
 *   load/load_docker_daemon.c (version, inspect, POST /images/load).
 *   They add their own context (the image or target) with ap_error_prefix. */
#ifndef AIRPACK_DOCKER_ENGINE_H
#define AIRPACK_DOCKER_ENGINE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "../formats/error.h"
#include "../formats/stream.h"

#define AP_ENGINE_DEFAULT_SOCKET "/var/run/docker.sock"
#define AP_ENGINE_CONNECT_TIMEOUT 30L   /* seconds to connect, for every request */
#define AP_ENGINE_DOC_TIMEOUT 120L      /* seconds for a request whose answer is a document;
                                         * streams (save, load) have no overall limit */
#define AP_ENGINE_REPLY_MAX (4u << 20)  /* reply bytes kept when the caller names no bound */

typedef struct {
    char socket[PATH_MAX];
    ap_code code;   /* the code of every failure of this engine (AP_ERR_IO unless the caller
                     * sets it: a load target sets AP_ERR_TARGET, never a bundle's FORMAT) */
} ap_engine;

/* Where the engine listens: `arg` (PATH or unix://PATH) when it is not empty, else
 * $DOCKER_HOST (only unix://PATH), else /var/run/docker.sock. No request yet.
 * Returns 0, or -1 with *err set (AP_ERR_USAGE: a DOCKER_HOST that is not unix://). */
int ap_engine_init(ap_engine *e, const char *arg, ap_error *err);

/* A request body, pulled as libcurl sends it: up to n bytes into buf; 0 at its end,
 * -1 to abort the transfer. */
typedef ssize_t (*ap_engine_upload_fn)(void *ctx, char *buf, size_t n);

typedef struct {
    const char *method;             /* "GET" when NULL */
    size_t max;                     /* reply bytes kept; 0: AP_ENGINE_REPLY_MAX */
    ap_sink_fn sink;                /* when set, a 200 body streams here (no time limit) */
    void *sink_ctx;
    ap_engine_upload_fn upload;     /* when set, the chunked request body (no time limit) */
    void *upload_ctx;
    const char *content_type;       /* of the request body */
} ap_engine_request;

typedef struct {
    long status;            /* HTTP status; 0 when no answer came */
    char *body;             /* the kept reply, NUL-terminated, or NULL; ap_engine_reply_free */
    size_t len;
    bool truncated;         /* more than `max` bytes came (a request body was being sent:
                             * the rest was dropped; otherwise the transfer was stopped) */
    bool sink_failed;       /* the request's sink refused the body: *err is the sink's */
} ap_engine_reply;

/* One request to PATH ("/images/json"). Returns 0 when the engine answered (any
 * status: the caller judges it), or -1 with *err set: the engine could not be
 * reached, the transfer broke off, the reply was over `max`, or the sink failed
 * (then *err is the sink's). reply->status is filled either way. */
int ap_engine_call(const ap_engine *e, const char *path, const ap_engine_request *rq,
                   ap_engine_reply *reply, ap_error *err);

void ap_engine_reply_free(ap_engine_reply *reply);

/* The engine's message in an error reply ({"message":...} or {"error":...}, else the
 * body's start), one line, into out. */
void ap_engine_message(const char *body, char *out, size_t n);

/* Writes "/images/NAME/json" style paths: prefix, then `name` percent-encoded (every
 * byte but A-Z a-z 0-9 - . _ ~), then suffix. Returns 0, or -1 with *err set when the
 * path does not fit in n bytes. */
int ap_engine_path(char *out, size_t n, const char *prefix, const char *name, const char *suffix,
                   ap_error *err);

/* GET PATH and parse a 200 answer of at most `max` bytes (0: AP_ENGINE_REPLY_MAX) as
 * JSON. Returns it, or NULL with *err set; *status (when not NULL) gets the HTTP
 * status (0 when none came), so that a caller can tell 404 from other failures.
 * An error status reads "the Docker engine at SOCKET: GET PATH: HTTP 404: MESSAGE". */
json_t *ap_engine_get_json(const ap_engine *e, const char *path, size_t max, long *status, ap_error *err);

#endif
