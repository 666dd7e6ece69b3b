/* registry_client.c: HTTP for the OCI distribution API (see registry_client.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "registry_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/bundle_index.h"

#define DEFAULT_MAX_BODY (64u << 10)
#define AUTHFILE_MAX (1u << 20)

#define TOKEN_CACHE 8

typedef enum { AUTH_UNKNOWN, AUTH_NONE, AUTH_BASIC, AUTH_BEARER } auth_scheme;

struct reg_client {
    char *host;
    char *base;             /* "https://HOST" or "http://HOST" once pinged */
    bool tls_verify;
    bool allow_http;        /* the scheme rule allows a fallback to http */
    char *cainfo;           /* CA file to trust (NULL = system default) */
    char *capath;
    char *user;             /* NULL = anonymous */
    char *pass;
    auth_scheme scheme;
    char *realm;
    char *service;
    struct { char *token; char *scope; } tokens[TOKEN_CACHE];   /* bearer tokens by scope */
    size_t next_token;
    CURL *curl;
};

static void free_secret(char **p)
{
    if (*p) {
        sodium_memzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

const char *reg_client_host(const reg_client *c) { return c->host; }
const char *reg_client_base_url(const reg_client *c) { return c->base; }

void reg_response_free(reg_response *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->location);
    free(r->content_type);
    free(r->digest);
    free(r->www_authenticate);
    memset(r, 0, sizeof *r);
}

void reg_request_init(reg_request *rq, const char *method, const char *url, const char *scope)
{
    memset(rq, 0, sizeof *rq);
    rq->method = method;
    rq->url = url;
    rq->scope = scope;
    rq->body_fd = -1;
}

/* ---------- credentials ---------- */

static int set_creds(reg_client *c, const char *userpass, size_t len, const char *what, ap_error *err)
{
    const char *colon = memchr(userpass, ':', len);
    if (!colon || colon == userpass)
        return ap_fail(err, AP_ERR_USAGE, "%s: credentials must be USER:PASSWORD", what);
    c->user = strndup(userpass, (size_t)(colon - userpass));
    c->pass = strndup(colon + 1, len - (size_t)(colon - userpass) - 1);
    if (!c->user || !c->pass)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    return 0;
}

/* "https://host:port/v1/" -> "host:port" for comparing authfile keys. */
static void auth_key_host(const char *key, char *out, size_t n)
{
    const char *p = strstr(key, "://");
    p = p ? p + 3 : key;
    size_t len = strcspn(p, "/");
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

static int read_small_file(const char *path, char **buf, size_t *len, ap_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ap_fail_errno(err, AP_ERR_IO, "cannot open %s", path);
    char *b = malloc(AUTHFILE_MAX + 1);
    if (!b) {
        fclose(f);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    size_t got = fread(b, 1, AUTHFILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got > AUTHFILE_MAX) {
        sodium_memzero(b, got);
        free(b);
        return ap_fail(err, AP_ERR_IO, "%s: %s", path, bad ? "read error" : "larger than 1 MiB");
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return 0;
}

/* Looks up the host in a Docker config file. Missing file: no creds, no error
 * (unless the user named it explicitly). */
static int creds_from_authfile(reg_client *c, const char *path, bool explicit, ap_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (explicit)
            return ap_fail_errno(err, AP_ERR_USAGE, "authfile %s", path);
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    if (read_small_file(path, &buf, &len, err) != 0)
        return -1;
    int rc = 0;
    json_t *root = NULL;
    if (ap_json_check_depth(buf, len, AP_JSON_MAX_DEPTH, path, err) != 0) {
        rc = -1;
        goto out;
    }
    json_error_t je;
    root = json_loadb(buf, len, 0, &je);
    if (!root) {
        rc = ap_fail(err, AP_ERR_FORMAT, "authfile %s: not JSON (line %d: %s)", path, je.line, je.text);
        goto out;
    }
    json_t *auths = json_object_get(root, "auths");
    const char *key;
    json_t *val;
    json_object_foreach(auths, key, val) {
        char khost[512];
        auth_key_host(key, khost, sizeof khost);
        bool match = strcmp(khost, c->host) == 0;
        if (!match && (strcmp(c->host, "docker.io") == 0 || strcmp(c->host, "registry-1.docker.io") == 0))
            match = strcmp(khost, "index.docker.io") == 0 || strcmp(khost, "registry-1.docker.io") == 0 ||
                    strcmp(khost, "docker.io") == 0;
        if (!match)
            continue;
        const char *b64 = json_string_value(json_object_get(val, "auth"));
        if (!b64 || !*b64)
            continue;
        size_t b64len = strlen(b64);
        unsigned char *dec = malloc(b64len + 1);
        size_t declen = 0;
        if (!dec) {
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (sodium_base642bin(dec, b64len, b64, b64len, "\n\r ", &declen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            free(dec);
            rc = ap_fail(err, AP_ERR_FORMAT, "authfile %s: \"auth\" for %s is not base64", path, key);
            goto out;
        }
        char what[600];
        snprintf(what, sizeof what, "authfile %s (%s)", path, key);
        rc = set_creds(c, (const char *)dec, declen, what, err);
        sodium_memzero(dec, declen);
        free(dec);
        goto out;
    }
out:
    if (root)
        json_decref(root);   /* jansson keeps its own copies; they are freed here */
    sodium_memzero(buf, len);
    free(buf);
    return rc;
}

static int load_creds(reg_client *c, const reg_client_opts *o, ap_error *err)
{
    if (o->creds && *o->creds)
        return set_creds(c, o->creds, strlen(o->creds), "--creds", err);
    if (o->authfile && *o->authfile)
        return creds_from_authfile(c, o->authfile, true, err);
    const char *env = getenv("REGISTRY_AUTH_FILE");
    if (env && *env)
        return creds_from_authfile(c, env, true, err);
    char path[4096];
    const char *dc = getenv("DOCKER_CONFIG");
    const char *home = getenv("HOME");
    if (dc && *dc)
        snprintf(path, sizeof path, "%s/config.json", dc);
    else if (home && *home)
        snprintf(path, sizeof path, "%s/.docker/config.json", home);
    else
        return 0;
    return creds_from_authfile(c, path, false, err);
}

/* ---------- setup ---------- */

static bool is_loopback_host(const char *host)
{
    static const char *names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(host, names[i], n) == 0 && (host[n] == '\0' || host[n] == ':'))
            return true;
    }
    return false;
}

static void find_cas(reg_client *c)
{
    const char *f = getenv("SSL_CERT_FILE");
    const char *d = getenv("SSL_CERT_DIR");
    if (f && *f)
        c->cainfo = strdup(f);
    if (d && *d)
        c->capath = strdup(d);
    if (c->cainfo)
        return;
    static const char *dirs[] = {"/etc/containers/certs.d", "/etc/docker/certs.d"};
    for (size_t i = 0; i < 2; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s/ca.crt", dirs[i], c->host);
        if (access(p, R_OK) == 0) {
            c->cainfo = strdup(p);
            return;
        }
    }
}

reg_client *reg_client_open(const char *host, const reg_client_opts *opts, ap_error *err)
{
    if (!host || !*host || strpbrk(host, "/ \t\r\n?#@")) {
        ap_fail(err, AP_ERR_USAGE, "registry host \"%s\" is not HOST[:PORT]", host ? host : "");
        return NULL;
    }
    reg_client *c = calloc(1, sizeof *c);
    if (!c) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c->host = strdup(host);
    c->tls_verify = opts ? opts->tls_verify : true;
    c->allow_http = !c->tls_verify || is_loopback_host(host);
    c->curl = curl_easy_init();
    if (!c->host || !c->curl) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        reg_client_free(c);
        return NULL;
    }
    find_cas(c);
    reg_client_opts none = {.tls_verify = true};
    if (load_creds(c, opts ? opts : &none, err) != 0) {
        reg_client_free(c);
        return NULL;
    }
    return c;
}

void reg_client_free(reg_client *c)
{
    if (!c)
        return;
    free_secret(&c->user);
    free_secret(&c->pass);
    for (size_t i = 0; i < TOKEN_CACHE; i++) {
        free_secret(&c->tokens[i].token);
        free(c->tokens[i].scope);
    }
    free(c->realm);
    free(c->service);
    free(c->cainfo);
    free(c->capath);
    free(c->base);
    free(c->host);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_global_cleanup();
    free(c);
}

/* ---------- one HTTP exchange ---------- */

typedef struct {
    const reg_request *rq;
    reg_response *resp;
    CURL *curl;
    uint64_t body_off;
    size_t max_body;
    size_t body_cap;
    ap_error sink_err;
    bool sink_failed;
} xfer;

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t want = size * nitems;
    const reg_request *rq = x->rq;
    if (rq->body_fd >= 0) {
        if (x->body_off >= rq->body_size)
            return 0;
        if (want > rq->body_size - x->body_off)
            want = (size_t)(rq->body_size - x->body_off);
        ssize_t got;
        do
            got = pread(rq->body_fd, buf, want, (off_t)x->body_off);
        while (got < 0 && errno == EINTR);
        if (got <= 0)
            return CURL_READFUNC_ABORT;
        x->body_off += (uint64_t)got;
        return (size_t)got;
    }
    if (x->body_off >= rq->body_len)
        return 0;
    if (want > rq->body_len - x->body_off)
        want = rq->body_len - (size_t)x->body_off;
    memcpy(buf, (const char *)rq->body + x->body_off, want);
    x->body_off += want;
    return want;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    xfer *x = ud;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    x->body_off = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x->rq->sink && status >= 200 && status < 300) {
        if (x->rq->sink(x->rq->sink_ctx, data, n, &x->sink_err) != 0) {
            x->sink_failed = true;
            return 0;
        }
        return n;
    }
    reg_response *r = x->resp;
    size_t room = x->max_body > r->body_len ? x->max_body - r->body_len : 0;
    size_t take = n < room ? n : room;
    if (take < n)
        r->body_truncated = true;
    if (take) {
        if (r->body_len + take + 1 > x->body_cap) {
            size_t cap = x->body_cap ? x->body_cap * 2 : 4096;
            while (cap < r->body_len + take + 1)
                cap *= 2;
            char *nb = realloc(r->body, cap);
            if (!nb)
                return 0;
            r->body = nb;
            x->body_cap = cap;
        }
        memcpy(r->body + r->body_len, data, take);
        r->body_len += take;
        r->body[r->body_len] = '\0';
    }
    return n;
}

static void set_header(char **slot, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    free(*slot);
    *slot = strndup(v, n);
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t n = size * nitems;
    reg_response *r = x->resp;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue or a redirect): forget the old headers */
        free(r->location);
        free(r->content_type);
        free(r->digest);
        free(r->www_authenticate);
        r->location = r->content_type = r->digest = r->www_authenticate = NULL;
        return n;
    }
    static const struct { const char *name; size_t off; } hs[] = {
        {"location:", offsetof(reg_response, location)},
        {"content-type:", offsetof(reg_response, content_type)},
        {"docker-content-digest:", offsetof(reg_response, digest)},
        {"www-authenticate:", offsetof(reg_response, www_authenticate)},
    };
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        size_t k = strlen(hs[i].name);
        if (n > k && strncasecmp(line, hs[i].name, k) == 0) {
            set_header((char **)((char *)r + hs[i].off), line + k, n - k);
            break;
        }
    }
    return n;
}

/* Performs one exchange with the given Authorization header (or basic creds). */
static CURLcode perform(reg_client *c, const char *url, const reg_request *rq, const char *authz,
                        bool use_basic, reg_response *resp, ap_error *err, bool *sink_failed)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    reg_response_free(resp);
    xfer x = {.rq = rq, .resp = resp, .curl = h,
              .max_body = rq->max_body ? rq->max_body : DEFAULT_MAX_BODY};
    struct curl_slist *hdrs = NULL;
    char line[8192];
    if (rq->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", rq->content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (rq->accept) {
        snprintf(line, sizeof line, "Accept: %s", rq->accept);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (authz)
        hdrs = curl_slist_append(hdrs, authz);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "airpack/0.1");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (!c->tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->cainfo)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cainfo);
    if (c->capath)
        curl_easy_setopt(h, CURLOPT_CAPATH, c->capath);
    if (use_basic && c->user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);

    bool has_body = rq->body_fd >= 0 || rq->body_len > 0;
    curl_off_t body_size = rq->body_fd >= 0 ? (curl_off_t)rq->body_size : (curl_off_t)rq->body_len;
    const char *m = rq->method;
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    } else if (strcmp(m, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, has_body ? body_size : (curl_off_t)0);
        if (!has_body)
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    } else if (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, body_size);
        if (strcmp(m, "PATCH") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }
    if (has_body || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);

    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_slist_free_all(hdrs);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (authz)
        sodium_memzero((void *)authz, strlen(authz));
    *sink_failed = x.sink_failed;
    if (x.sink_failed) {
        if (err)
            *err = x.sink_err;
    } else if (cc != CURLE_OK) {
        ap_fail(err, AP_ERR_TARGET, "%s %s: %s", m, url, ebuf[0] ? ebuf : curl_easy_strerror(cc));
    }
    return cc;
}

static bool tls_handshake_error(CURLcode cc)
{
    return cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING;
}

/* ---------- auth ---------- */

/* Parses `Bearer realm="...",service="...",scope="..."` (or Basic ...). */
static void challenge_param(const char *ch, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    const char *p = ch;
    while ((p = strcasestr(p, key)) != NULL) {
        bool start = p == ch || p[-1] == ' ' || p[-1] == ',';
        if (start && p[kl] == '=') {
            p += kl + 1;
            size_t i = 0;
            if (*p == '"') {
                p++;
                while (*p && *p != '"' && i + 1 < n)
                    out[i++] = *p++;
            } else {
                while (*p && *p != ',' && i + 1 < n)
                    out[i++] = *p++;
            }
            out[i] = '\0';
            return;
        }
        p += kl;
    }
}

static int learn_challenge(reg_client *c, const char *ch, char *scope_out, size_t scope_n,
                           ap_error *err)
{
    if (scope_out)
        scope_out[0] = '\0';
    if (!ch || !*ch)
        return ap_fail(err, AP_ERR_TARGET, "registry %s answered 401 without a WWW-Authenticate challenge",
                       c->host);
    if (strncasecmp(ch, "basic", 5) == 0) {
        c->scheme = AUTH_BASIC;
        return 0;
    }
    if (strncasecmp(ch, "bearer", 6) == 0) {
        char buf[2048];
        challenge_param(ch, "realm", buf, sizeof buf);
        if (!buf[0])
            return ap_fail(err, AP_ERR_TARGET, "registry %s: bearer challenge without realm: %s", c->host, ch);
        if (strncmp(buf, "https://", 8) != 0 && strncmp(buf, "http://", 7) != 0)
            return ap_fail(err, AP_ERR_TARGET, "registry %s: token realm \"%s\" is not an http(s) URL",
                           c->host, buf);
        free(c->realm);
        c->realm = strdup(buf);
        challenge_param(ch, "service", buf, sizeof buf);
        free(c->service);
        c->service = buf[0] ? strdup(buf) : NULL;
        if (scope_out)
            challenge_param(ch, "scope", scope_out, scope_n);
        c->scheme = AUTH_BEARER;
        return 0;
    }
    return ap_fail(err, AP_ERR_TARGET, "registry %s wants an auth scheme airpack does not speak: %s",
                   c->host, ch);
}

static void append_escaped(char *url, size_t n, CURL *h, const char *key, const char *val)
{
    char *e = curl_easy_escape(h, val, 0);
    size_t used = strlen(url);
    snprintf(url + used, n - used, "%c%s=%s", strchr(url, '?') ? '&' : '?', key, e ? e : "");
    curl_free(e);
}

static const char *cached_token(reg_client *c, const char *key)
{
    for (size_t i = 0; i < TOKEN_CACHE; i++)
        if (c->tokens[i].token && strcmp(c->tokens[i].scope, key) == 0)
            return c->tokens[i].token;
    return NULL;
}

static int store_token(reg_client *c, const char *key, const char *tok, ap_error *err)
{
    size_t slot = TOKEN_CACHE;
    for (size_t i = 0; i < TOKEN_CACHE && slot == TOKEN_CACHE; i++)
        if (c->tokens[i].token && strcmp(c->tokens[i].scope, key) == 0)
            slot = i;
    if (slot == TOKEN_CACHE)
        slot = c->next_token++ % TOKEN_CACHE;
    free_secret(&c->tokens[slot].token);
    free(c->tokens[slot].scope);
    c->tokens[slot].token = strdup(tok);
    c->tokens[slot].scope = strdup(key);
    if (!c->tokens[slot].token || !c->tokens[slot].scope) {
        free_secret(&c->tokens[slot].token);
        free(c->tokens[slot].scope);
        c->tokens[slot].scope = NULL;
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Gets a token for `scope` and caches it under `key` (the caller's scope). */
static int fetch_token(reg_client *c, const char *scope, const char *key, ap_error *err)
{
    char url[8192];
    snprintf(url, sizeof url, "%s", c->realm);
    if (c->service)
        append_escaped(url, sizeof url, c->curl, "service", c->service);
    /* a scope may list several ("a b"): one scope= parameter each */
    if (scope && *scope) {
        char tmp[2048];
        snprintf(tmp, sizeof tmp, "%s", scope);
        for (char *save = NULL, *s = strtok_r(tmp, " ", &save); s; s = strtok_r(NULL, " ", &save))
            append_escaped(url, sizeof url, c->curl, "scope", s);
    }
    reg_request rq;
    reg_request_init(&rq, "GET", url, NULL);
    reg_response resp = {0};
    bool sf;
    if (perform(c, url, &rq, NULL, true, &resp, err, &sf) != CURLE_OK) {
        ap_error_prefix(err, "registry %s: getting a token", c->host);
        reg_response_free(&resp);
        return -1;
    }
    if (resp.status != 200) {
        char d[600];
        reg_describe(&resp, d, sizeof d);
        reg_response_free(&resp);
        return ap_fail(err, AP_ERR_TARGET, "registry %s: token server %s refused%s: %s", c->host,
                       c->realm, c->user ? " the credentials" : " anonymous access", d);
    }
    json_t *j = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(j, "token"));
    if (!tok || !*tok)
        tok = json_string_value(json_object_get(j, "access_token"));
    int rc = 0;
    if (!tok || !*tok || strpbrk(tok, "\r\n")) {
        rc = ap_fail(err, AP_ERR_TARGET, "registry %s: token server %s gave no token", c->host, c->realm);
    } else {
        rc = store_token(c, key, tok, err);
    }
    if (j)
        json_decref(j);
    if (resp.body)
        sodium_memzero(resp.body, resp.body_len);
    reg_response_free(&resp);
    return rc;
}

/* ---------- ping and request ---------- */

static int ping(reg_client *c, ap_error *err)
{
    static const char *schemes[] = {"https://", "http://"};
    reg_request rq;
    reg_response resp = {0};
    ap_error first = {0};
    for (int i = 0; i < 2; i++) {
        char url[1024];
        snprintf(url, sizeof url, "%s%s/v2/", schemes[i], c->host);
        reg_request_init(&rq, "GET", url, NULL);
        bool sf;
        CURLcode cc = perform(c, url, &rq, NULL, false, &resp, i == 0 ? &first : err, &sf);
        if (cc != CURLE_OK) {
            if (i == 0 && c->allow_http && tls_handshake_error(cc))
                continue;   /* the server does not speak TLS: try plain http (see header) */
            if (i == 0 && err)
                *err = first;
            if (cc == CURLE_PEER_FAILED_VERIFICATION)
                ap_error_prefix(err, "registry %s (trust its CA with SSL_CERT_FILE or "
                                     "/etc/containers/certs.d/%s/ca.crt, or use --tls-verify=false)",
                                c->host, c->host);
            else if (i == 0 && !c->allow_http && tls_handshake_error(cc))
                ap_error_prefix(err, "registry %s (plain http is tried only with --tls-verify=false "
                                     "or for localhost)", c->host);
            else
                ap_error_prefix(err, "registry %s", c->host);
            reg_response_free(&resp);
            return -1;
        }
        c->base = strndup(url, strlen(url) - 4);   /* drop "/v2/" */
        if (resp.status == 401) {
            int rc = learn_challenge(c, resp.www_authenticate, NULL, 0, err);
            reg_response_free(&resp);
            return rc;
        }
        if (resp.status != 200) {
            char d[600];
            reg_describe(&resp, d, sizeof d);
            reg_response_free(&resp);
            free(c->base);
            c->base = NULL;
            return ap_fail(err, AP_ERR_TARGET, "registry %s: GET /v2/ answered %s (is this a registry?)",
                           c->host, d);
        }
        c->scheme = AUTH_NONE;
        reg_response_free(&resp);
        return 0;
    }
    return -1;
}

int reg_client_ping(reg_client *c, ap_error *err)
{
    return c->base ? 0 : ping(c, err);
}

int reg_do(reg_client *c, const reg_request *rq, reg_response *resp, ap_error *err)
{
    memset(resp, 0, sizeof *resp);
    if (!c->base && ping(c, err) != 0)
        return -1;
    char url[8192];
    if (strncmp(rq->url, "http://", 7) == 0 || strncmp(rq->url, "https://", 8) == 0)
        snprintf(url, sizeof url, "%s", rq->url);
    else
        snprintf(url, sizeof url, "%s%s", c->base, rq->url);
    for (int attempt = 0; attempt < 2; attempt++) {
        char *authz = NULL;
        if (c->scheme == AUTH_BEARER) {
            const char *want = rq->scope ? rq->scope : "";
            const char *tok = cached_token(c, want);
            if (!tok) {
                if (fetch_token(c, want, want, err) != 0)
                    return -1;
                tok = cached_token(c, want);
            }
            size_t n = strlen(tok) + 32;
            authz = malloc(n);
            if (!authz)
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
            snprintf(authz, n, "Authorization: Bearer %s", tok);
        }
        bool sink_failed;
        CURLcode cc = perform(c, url, rq, authz, c->scheme == AUTH_BASIC, resp, err, &sink_failed);
        free(authz);
        if (cc != CURLE_OK) {
            if (!sink_failed)
                ap_error_prefix(err, "registry %s", c->host);
            return -1;
        }
        if (resp->status != 401 || attempt == 1)
            return 0;
        /* 401: learn what the registry wants now and try once more */
        auth_scheme before = c->scheme;
        char scope[2048];
        if (learn_challenge(c, resp->www_authenticate, scope, sizeof scope, err) != 0)
            return -1;
        if (c->scheme == AUTH_BASIC) {
            if (!c->user)
                return 0;           /* caller reports the 401: no credentials */
            if (before == AUTH_BASIC)
                return 0;           /* the credentials were refused */
        } else {
            char want[4200];
            if (scope[0] && rq->scope && strcmp(scope, rq->scope) != 0)
                snprintf(want, sizeof want, "%s %s", rq->scope, scope);
            else
                snprintf(want, sizeof want, "%s", scope[0] ? scope : (rq->scope ? rq->scope : ""));
            if (fetch_token(c, want, rq->scope ? rq->scope : "", err) != 0)
                return -1;
        }
    }
    return 0;
}

void reg_describe(const reg_response *r, char *out, size_t n)
{
    char detail[512] = "";
    if (r->body && r->body_len) {
        json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
        json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
        const char *code = json_string_value(json_object_get(e0, "code"));
        const char *msg = json_string_value(json_object_get(e0, "message"));
        if (msg || code)
            snprintf(detail, sizeof detail, " (%s%s%s)", code ? code : "", code && msg ? ": " : "",
                     msg ? msg : "");
        else {
            size_t k = 0;
            detail[k++] = ' ';
            detail[k++] = '(';
            for (size_t i = 0; i < r->body_len && k < 200; i++) {
                unsigned char ch = (unsigned char)r->body[i];
                detail[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
            }
            detail[k++] = ')';
            detail[k] = '\0';
        }
        if (j)
            json_decref(j);
    }
    if (r->status == 401 && !detail[0])
        snprintf(detail, sizeof detail, " (authentication required)");
    snprintf(out, n, "HTTP %ld%s", r->status, detail);
}

/* ---------- distribution API ---------- */

/* A request on one repository: METHOD /v2/REPO/PATH with the bearer scope ACTIONS on
 * REPO ("pull", "pull,push"); the URL and scope live in the call. */
typedef struct {
    char url[1024], scope[600];
    reg_request rq;
} repo_call;

static reg_request *repo_call_init(repo_call *call, const char *method, const char *repo, const char *actions,
                                   const char *path, const char *ref)
{
    snprintf(call->url, sizeof call->url, "/v2/%s/%s/%s", repo, path, ref);
    snprintf(call->scope, sizeof call->scope, "repository:%s:%s", repo, actions);
    reg_request_init(&call->rq, method, call->url, call->scope);
    return &call->rq;
}

/* The registry answered r to the call described by fmt: an AP_ERR_TARGET naming it. */
static int api_fail(reg_client *c, const reg_response *r, ap_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int api_fail(reg_client *c, const reg_response *r, ap_error *err, const char *fmt, ...)
{
    char what[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char d[700];
    reg_describe(r, d, sizeof d);
    if (r->status == 401 || r->status == 403)
        return ap_fail(err, AP_ERR_TARGET, "registry %s: %s: %s%s", c->host, what, d,
                       c->user ? " (credentials refused)" : " (no credentials: give --creds or --authfile)");
    return ap_fail(err, AP_ERR_TARGET, "registry %s: %s: %s", c->host, what, d);
}

int reg_blob_exists(reg_client *c, const char *repo, const char *digest, bool *exists, ap_error *err)
{
    repo_call call;
    reg_response r;
    if (reg_do(c, repo_call_init(&call, "HEAD", repo, "pull,push", "blobs", digest), &r, err) != 0)
        return -1;
    int rc = 0;
    if (r.status == 200)
        *exists = true;
    else if (r.status == 404)
        *exists = false;
    else
        rc = api_fail(c, &r, err, "HEAD %s", call.url);
    reg_response_free(&r);
    return rc;
}

int reg_blob_mount(reg_client *c, const char *repo, const char *digest, const char *from,
                   bool *mounted, ap_error *err)
{
    char url[1400], scope[1300];
    char *d = curl_easy_escape(c->curl, digest, 0);
    char *f = curl_easy_escape(c->curl, from, 0);
    snprintf(url, sizeof url, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, d ? d : digest, f ? f : from);
    curl_free(d);
    curl_free(f);
    snprintf(scope, sizeof scope, "repository:%s:pull,push repository:%s:pull", repo, from);
    reg_request rq;
    reg_request_init(&rq, "POST", url, scope);
    reg_response r;
    if (reg_do(c, &rq, &r, err) != 0)
        return -1;
    int rc = 0;
    *mounted = r.status == 201;
    if (r.status != 201 && r.status != 202)
        rc = api_fail(c, &r, err, "mounting blob %s from %s into %s", digest, from, repo);
    /* a 202 opened an upload session we do not use; the registry expires it */
    reg_response_free(&r);
    return rc;
}

int reg_blob_upload_fd(reg_client *c, const char *repo, const char *digest, int fd, uint64_t size,
                       ap_error *err)
{
    repo_call call;
    reg_request *rq = repo_call_init(&call, "POST", repo, "pull,push", "blobs/uploads", "");
    reg_response r;
    if (reg_do(c, rq, &r, err) != 0)
        return -1;
    if (r.status != 202 || !r.location || !*r.location) {
        int rc;
        if (r.status == 202)
            rc = ap_fail(err, AP_ERR_TARGET, "registry %s: starting the upload of blob %s to %s (POST): "
                         "answered 202 without a Location", c->host, digest, repo);
        else
            rc = api_fail(c, &r, err, "starting the upload of blob %s to %s (POST)", digest, repo);
        reg_response_free(&r);
        return rc;
    }
    char url[8192];
    /* Location may be absolute or a path; append the digest to its query */
    char *d = curl_easy_escape(c->curl, digest, 0);
    snprintf(url, sizeof url, "%s%cdigest=%s", r.location, strchr(r.location, '?') ? '&' : '?',
             d ? d : digest);
    curl_free(d);
    reg_response_free(&r);
    reg_request_init(rq, "PUT", url, call.scope);
    rq->content_type = "application/octet-stream";
    rq->body_fd = fd;
    rq->body_size = size;
    if (reg_do(c, rq, &r, err) != 0) {
        ap_error_prefix(err, "uploading blob %s to %s", digest, repo);
        return -1;
    }
    int rc = 0;
    if (r.status != 201) {
        rc = api_fail(c, &r, err, "uploading blob %s to %s (PUT)", digest, repo);
    } else if (r.digest && *r.digest && strcmp(r.digest, digest) != 0) {
        rc = ap_fail(err, AP_ERR_TARGET, "registry %s: uploaded blob %s to %s but it says it stored %s",
                     c->host, digest, repo, r.digest);
    }
    reg_response_free(&r);
    return rc;
}

int reg_blob_get(reg_client *c, const char *repo, const char *digest, ap_sink_fn sink, void *ctx,
                 ap_error *err)
{
    repo_call call;
    reg_request *rq = repo_call_init(&call, "GET", repo, "pull", "blobs", digest);
    rq->sink = sink;
    rq->sink_ctx = ctx;
    reg_response r;
    if (reg_do(c, rq, &r, err) != 0)
        return -1;
    int rc = 0;
    if (r.status != 200)
        rc = api_fail(c, &r, err, "GET blob %s from %s", digest, repo);
    reg_response_free(&r);
    return rc;
}

#define MANIFEST_ACCEPT                                                              \
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " \
    "application/vnd.docker.distribution.manifest.v2+json, "                         \
    "application/vnd.docker.distribution.manifest.list.v2+json"

int reg_manifest_digest(reg_client *c, const char *repo, const char *ref, bool *exists,
                        char digest[AP_DIGEST_LEN + 1], ap_error *err)
{
    repo_call call;
    reg_request *rq = repo_call_init(&call, "HEAD", repo, "pull,push", "manifests", ref);
    rq->accept = MANIFEST_ACCEPT;
    reg_response r;
    if (reg_do(c, rq, &r, err) != 0)
        return -1;
    int rc = 0;
    digest[0] = '\0';
    if (r.status == 200) {
        *exists = true;
        char hex[AP_HEX_LEN + 1];
        if (r.digest && ap_digest_parse(r.digest, hex, "Docker-Content-Digest", NULL) == 0)
            snprintf(digest, AP_DIGEST_LEN + 1, "sha256:%s", hex);
    } else if (r.status == 404) {
        *exists = false;
    } else {
        rc = api_fail(c, &r, err, "HEAD %s", call.url);
    }
    reg_response_free(&r);
    return rc;
}

int reg_manifest_put(reg_client *c, const char *repo, const char *ref, const char *media_type,
                     const void *buf, size_t len, ap_error *err)
{
    repo_call call;
    reg_request *rq = repo_call_init(&call, "PUT", repo, "pull,push", "manifests", ref);
    rq->content_type = media_type;
    rq->body = buf;
    rq->body_len = len;
    reg_response r;
    if (reg_do(c, rq, &r, err) != 0)
        return -1;
    int rc = 0;
    char hex[AP_HEX_LEN + 1], want[AP_DIGEST_LEN + 1];
    ap_sha256_hex(buf, len, hex);
    snprintf(want, sizeof want, "sha256:%s", hex);
    if (r.status != 201) {
        rc = api_fail(c, &r, err, "PUT manifest %s:%s (%s)", repo, ref, want);
    } else if (r.digest && *r.digest && strcmp(r.digest, want) != 0) {
        rc = ap_fail(err, AP_ERR_TARGET, "registry %s: stored manifest %s:%s as %s, not %s", c->host,
                     repo, ref, r.digest, want);
    }
    reg_response_free(&r);
    return rc;
}
