/* docker_engine.c: the Docker Engine API client (see docker_engine.h). */
#include "docker_engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../formats/bundle_index.h"   /* AP_JSON_MAX_DEPTH */
#include "../formats/json_check.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ap_engine_init(ap_engine *e, const char *arg, ap_error *err)
{
    memset(e, 0, sizeof *e);
    e->code = AP_ERR_IO;
    const char *src = arg;
    if (!src || !*src) {
        const char *host = getenv("DOCKER_HOST");
        if (host && *host && strncmp(host, "unix://", 7))
            return ap_fail(err, AP_ERR_USAGE,
                           "DOCKER_HOST=%s: the Docker engine is reached only over a unix socket "
                           "(unix:///PATH); name one with docker-daemon:SOCKET", host);
        src = host && *host ? host : AP_ENGINE_DEFAULT_SOCKET;
    } else if (strncmp(src, "unix://", 7) && strstr(src, "://")) {
        return ap_fail(err, AP_ERR_USAGE, "%s: the Docker engine is reached only over a unix socket "
                       "(unix:///PATH or PATH)", src);
    }
    if (!strncmp(src, "unix://", 7))
        src += 7;
    if (!*src || strlen(src) >= sizeof e->socket)
        return ap_fail(err, AP_ERR_USAGE, "docker-daemon:%s: not a socket path", arg ? arg : "");
    snprintf(e->socket, sizeof e->socket, "%s", src);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return ap_fail(err, AP_ERR_IO, "the Docker engine at %s: cannot initialize libcurl", e->socket);
    return 0;
}

/* ---- one exchange ---- */

typedef struct {
    CURL *curl;
    const ap_engine_request *rq;
    ap_engine_reply *reply;
    size_t max;
    ap_error *err;
    bool sink_failed;
    bool too_big;
} exchange;

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    exchange *x = ud;
    ap_engine_reply *r = x->reply;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x->rq->sink && status == 200) {
        if (x->rq->sink(x->rq->sink_ctx, data, n, x->err) < 0) {
            x->sink_failed = true;
            return 0;
        }
        return n;
    }
    if (r->len + n > x->max) {
        r->truncated = true;
        if (x->rq->upload)
            return n;       /* keep the request body going; the reply is cut */
        x->too_big = true;
        return 0;
    }
    char *grown = realloc(r->body, r->len + n + 1);
    if (!grown)
        return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t on_upload(char *buf, size_t size, size_t nitems, void *ud)
{
    exchange *x = ud;
    ssize_t got = x->rq->upload(x->rq->upload_ctx, buf, size * nitems);
    return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static const char *method_of(const ap_engine_request *rq)
{
    return rq && rq->method ? rq->method : "GET";
}

/* The options every request gets: the socket, the URL, the timeouts, the callbacks. */
static void set_options(CURL *c, const ap_engine *e, const char *url, const ap_engine_request *rq,
                        exchange *x, char *ebuf)
{
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, e->socket);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "airpack");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, AP_ENGINE_CONNECT_TIMEOUT);
    if (!rq->sink && !rq->upload)
        curl_easy_setopt(c, CURLOPT_TIMEOUT, AP_ENGINE_DOC_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    const char *m = method_of(rq);
    if (rq->upload) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        if (strcmp(m, "POST"))
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    } else if (!strcmp(m, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    } else if (strcmp(m, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    }
}

int ap_engine_call(const ap_engine *e, const char *path, const ap_engine_request *rq,
                   ap_engine_reply *reply, ap_error *err)
{
    static const ap_engine_request plain_get = {0};
    if (!rq)
        rq = &plain_get;
    memset(reply, 0, sizeof *reply);
    CURL *c = curl_easy_init();
    if (!c)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    exchange x = {.curl = c, .rq = rq, .reply = reply, .max = rq->max ? rq->max : AP_ENGINE_REPLY_MAX,
                  .err = err};
    char url[8192], ebuf[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "http://localhost%s", path);
    set_options(c, e, url, rq, &x, ebuf);
    struct curl_slist *headers = NULL;
    if (rq->upload) {
        char ct[256];
        snprintf(ct, sizeof ct, "Content-Type: %s", rq->content_type ? rq->content_type : "application/octet-stream");
        headers = curl_slist_append(headers, ct);
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
    long os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    const char *m = method_of(rq);
    if (x.sink_failed) {
        reply->sink_failed = true;
        return -1;
    }
    if (x.too_big)
        return ap_fail(err, e->code, "the Docker engine at %s: %s %s: answer larger than %zu bytes",
                       e->socket, m, path, x.max);
    if (cc == CURLE_COULDNT_CONNECT)   /* curl would say "localhost port 80": say what connect(2) said */
        return ap_fail(err, e->code, "cannot reach the Docker engine at %s: %s %s: %s", e->socket, m, path,
                       os_errno ? strerror((int)os_errno) : "cannot connect to the socket");
    if (cc != CURLE_OK)
        return ap_fail(err, e->code, "the Docker engine at %s: %s %s: %s", e->socket, m, path,
                       ebuf[0] ? ebuf : curl_easy_strerror(cc));
    return 0;
}

void ap_engine_reply_free(ap_engine_reply *reply)
{
    free(reply->body);
    memset(reply, 0, sizeof *reply);
}

void ap_engine_message(const char *body, char *out, size_t n)
{
    snprintf(out, n, "%.300s", body ? body : "");
    json_t *j = body ? json_loads(body, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    if (!m)
        m = json_string_value(json_object_get(j, "error"));
    if (m)
        snprintf(out, n, "%s", m);
    json_decref(j);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t len = strlen(out);
    while (len && out[len - 1] == ' ')
        out[--len] = '\0';
}

int ap_engine_path(char *out, size_t n, const char *prefix, const char *name, const char *suffix,
                   ap_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t at = strlen(prefix);
    if (at >= n)
        goto too_long;
    memcpy(out, prefix, at);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                     strchr("-._~", *p);
        if (at + (plain ? 1 : 3) >= n)
            goto too_long;
        if (plain) {
            out[at++] = (char)*p;
        } else {
            out[at++] = '%';
            out[at++] = hex[*p >> 4];
            out[at++] = hex[*p & 15];
        }
    }
    if (snprintf(out + at, n - at, "%s", suffix) < (int)(n - at))
        return 0;
too_long:
    return ap_fail(err, AP_ERR_USAGE, "%.300s: name too long for a Docker Engine request", name);
}

json_t *ap_engine_get_json(const ap_engine *e, const char *path, size_t max, long *status, ap_error *err)
{
    ap_engine_request rq = {.max = max};
    ap_engine_reply reply;
    json_t *j = NULL;
    int rc = ap_engine_call(e, path, &rq, &reply, err);
    if (status)
        *status = rc < 0 ? 0 : reply.status;
    if (rc < 0)
        goto out;
    if (reply.status != 200) {
        char m[512];
        ap_engine_message(reply.body, m, sizeof m);
        ap_fail(err, e->code, "the Docker engine at %s: GET %s: HTTP %ld: %s", e->socket, path, reply.status,
                m[0] ? m : "(no message)");
        goto out;
    }
    if (ap_json_check_depth(reply.body ? reply.body : "", reply.len, AP_JSON_MAX_DEPTH, path, err) < 0) {
        ap_error_prefix(err, "the Docker engine at %s", e->socket);
        err->code = e->code;
        goto out;
    }
    if (!(j = json_loadb(reply.body ? reply.body : "", reply.len, 0, NULL)))
        ap_fail(err, e->code, "the Docker engine at %s: GET %s: the answer is not JSON", e->socket, path);
out:
    ap_engine_reply_free(&reply);
    return j;
}
