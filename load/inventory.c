/* inventory.c: see inventory.h. */
#include "inventory.h"
#include "load_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../formats/digest.h"
#include "../formats/stream.h"
#include "../remote/docker_engine.h"
#include "../remote/registry_client.h"

#define JSON_BLOB_MAX (4u << 20)    /* manifests, indexes, configs */
#define WALK_DEPTH_MAX 4
#define ACCEPT_MANIFESTS                                                                                  \
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "               \
    "application/vnd.docker.distribution.manifest.v2+json, "                                               \
    "application/vnd.docker.distribution.manifest.list.v2+json"

/* Fetches a manifest / index (manifest = true) or a config blob by digest into
 * a malloc'd NUL-terminated buffer whose sha256 is the digest. */
typedef int (*fetch_fn)(void *ctx, const char *digest, bool manifest, char **buf, size_t *len,
                        ap_error *err);

static int check_digest(const char *buf, size_t len, const char *digest, const char *where, ap_error *err)
{
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(buf, len, hex);
    if (strncmp(digest, "sha256:", 7) || strcmp(hex, digest + 7))
        return ap_fail(err, AP_ERR_TARGET, "%s: blob %s hashes to sha256:%s", where, digest, hex);
    return 0;
}

static json_t *load_json(const char *buf, size_t len, const char *what, ap_error *err)
{
    if (ap_json_check_depth(buf, len, AP_JSON_MAX_DEPTH, what, err) < 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(buf, len, 0, &je);
    if (!j)
        ap_fail(err, AP_ERR_TARGET, "%s: invalid JSON: %s", what, je.text);
    return j;
}

static int walk(ap_have_list *h, const char *digest, fetch_fn fetch, void *ctx, const char *repo, int depth,
                const char *where, ap_error *err);

static int walk_json(ap_have_list *h, json_t *m, fetch_fn fetch, void *ctx, const char *repo, int depth,
                     const char *where, ap_error *err)
{
    json_t *children = json_object_get(m, "manifests");
    if (json_is_array(children)) {
        size_t i;
        json_t *d;
        json_array_foreach(children, i, d) {
            const char *cd = json_string_value(json_object_get(d, "digest"));
            char hex[AP_HEX_LEN + 1];
            if (!cd || ap_digest_parse(cd, hex, where, NULL) < 0)
                continue;   /* not one we can name safely */
            if (walk(h, cd, fetch, ctx, repo, depth + 1, where, err) < 0)
                return -1;
        }
        return 0;
    }
    json_t *layers = json_object_get(m, "layers");
    const char *cfg = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
    char hex[AP_HEX_LEN + 1];
    if (!json_is_array(layers) || !cfg || ap_digest_parse(cfg, hex, where, NULL) < 0)
        return 0;   /* schema 1 or not an image: nothing we can use */
    char *cbuf = NULL;
    size_t clen = 0;
    if (fetch(ctx, cfg, false, &cbuf, &clen, err) < 0)
        return -1;
    if (!cbuf)
        return 0;   /* the config is not there: the image is incomplete, skip it */
    json_t *c = load_json(cbuf, clen, where, err);
    free(cbuf);
    if (!c)
        return -1;
    json_t *ids = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
    int rc = 0;
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) {
        if (i >= json_array_size(ids))
            break;
        const char *ld = json_string_value(json_object_get(l, "digest"));
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        const char *di = json_string_value(json_array_get(ids, i));
        json_t *sz = json_object_get(l, "size");
        char h1[AP_HEX_LEN + 1], h2[AP_HEX_LEN + 1];
        if (!ld || !mt || !di || !json_is_integer(sz) || json_integer_value(sz) < 0 ||
            ap_digest_parse(ld, h1, where, NULL) < 0 || ap_digest_parse(di, h2, where, NULL) < 0 ||
            !ap_have_media_type_known(mt))
            continue;   /* foreign or odd layers are simply not offered */
        if ((rc = ap_have_add_layer(h, ld, (uint64_t)json_integer_value(sz), mt, di, repo, err)) < 0)
            break;
    }
    json_decref(c);
    return rc;
}

static int walk(ap_have_list *h, const char *digest, fetch_fn fetch, void *ctx, const char *repo, int depth,
                const char *where, ap_error *err)
{
    if (depth > WALK_DEPTH_MAX)
        return 0;
    char *buf = NULL;
    size_t len = 0;
    if (fetch(ctx, digest, true, &buf, &len, err) < 0)
        return -1;
    if (!buf)
        return 0;
    json_t *m = load_json(buf, len, where, err);
    free(buf);
    if (!m)
        return -1;
    int rc = walk_json(h, m, fetch, ctx, repo, depth, where, err);
    json_decref(m);
    return rc;
}

/* ---- oci:DIR ---- */

typedef struct {
    const char *dir;
} oci_ctx;

static int read_file_capped(const char *path, size_t max, char **out, size_t *len, bool *absent,
                            ap_error *err)
{
    *out = NULL;
    *absent = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *absent = true;
            return 0;
        }
        return ap_fail_errno(err, AP_ERR_TARGET, "cannot open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return ap_fail(err, AP_ERR_TARGET, "%s: not a regular file of at most %zu bytes", path, max);
    }
    int rc = ap_read_fd_whole(fd, (size_t)st.st_size, out);
    close(fd);
    if (rc == AP_READ_NOMEM)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (rc < 0)
        return ap_fail(err, AP_ERR_TARGET, "cannot read %s", path);
    *len = (size_t)st.st_size;
    return 0;
}

static int oci_fetch(void *ctx, const char *digest, bool manifest, char **buf, size_t *len, ap_error *err)
{
    (void)manifest;
    oci_ctx *o = ctx;
    char path[PATH_MAX + 100];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", o->dir, digest + 7);
    bool absent;
    if (read_file_capped(path, JSON_BLOB_MAX, buf, len, &absent, err) < 0)
        return -1;
    if (*buf && check_digest(*buf, *len, digest, path, err) < 0) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

int inventory_oci(const char *dir, const char *name, int64_t epoch, ap_have_list *out, ap_error *err)
{
    if (ap_have_init(out, "oci", name, epoch, err) < 0)
        return -1;
    char path[PATH_MAX + 100];
    snprintf(path, sizeof path, "%s/index.json", dir);
    char *buf = NULL;
    size_t len = 0;
    bool absent;
    if (read_file_capped(path, AP_INDEX_MAX_SIZE, &buf, &len, &absent, err) < 0)
        goto fail;
    if (absent)
        return 0;   /* an empty (or not yet created) layout holds nothing */
    json_t *idx = load_json(buf, len, path, err);
    free(buf);
    if (!idx)
        goto fail;
    oci_ctx o = {.dir = dir};
    int rc = walk_json(out, idx, oci_fetch, &o, NULL, 0, path, err);
    json_decref(idx);
    if (rc == 0)
        return 0;
fail:
    ap_have_free(out);
    return -1;
}

/* ---- docker://HOST[:PORT][/PREFIX] ---- */

typedef struct {
    reg_client *client;
    const char *repo;
} reg_ctx;

typedef struct {
    char *buf;
    size_t len;
} mem_sink;

static int mem_sink_write(void *ctx, const void *data, size_t n, ap_error *err)
{
    mem_sink *m = ctx;
    if (m->len + n > JSON_BLOB_MAX)
        return ap_fail(err, AP_ERR_TARGET, "config blob larger than %u bytes", JSON_BLOB_MAX);
    char *grown = realloc(m->buf, m->len + n + 1);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    m->buf = grown;
    memcpy(m->buf + m->len, data, n);
    m->len += n;
    m->buf[m->len] = '\0';
    return 0;
}

static int reg_get(reg_client *c, const char *url, const char *scope, const char *accept, reg_response *resp,
                   ap_error *err)
{
    reg_request rq;
    reg_request_init(&rq, "GET", url, scope);
    rq.accept = accept;
    rq.max_body = JSON_BLOB_MAX;
    memset(resp, 0, sizeof *resp);
    return reg_do(c, &rq, resp, err);
}

static int reg_fetch(void *ctx, const char *digest, bool manifest, char **buf, size_t *len, ap_error *err)
{
    reg_ctx *r = ctx;
    *buf = NULL;
    if (!manifest) {
        mem_sink m = {0};
        if (reg_blob_get(r->client, r->repo, digest, mem_sink_write, &m, err) < 0) {
            free(m.buf);
            return -1;
        }
        if (!m.buf && !(m.buf = calloc(1, 1)))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        *buf = m.buf;
        *len = m.len;
    } else {
        char url[1024], scope[600];
        snprintf(url, sizeof url, "/v2/%s/manifests/%s", r->repo, digest);
        snprintf(scope, sizeof scope, "repository:%s:pull", r->repo);
        reg_response resp;
        if (reg_get(r->client, url, scope, ACCEPT_MANIFESTS, &resp, err) < 0)
            return -1;
        if (resp.status == 404) {
            reg_response_free(&resp);
            return 0;
        }
        if (resp.status != 200 || resp.body_truncated) {
            char d[300];
            reg_describe(&resp, d, sizeof d);
            reg_response_free(&resp);
            return ap_fail(err, AP_ERR_TARGET, "%s: GET manifest %s: %s", r->repo, digest, d);
        }
        *buf = resp.body;
        *len = resp.body_len;
        resp.body = NULL;
        reg_response_free(&resp);
    }
    char where[600];
    snprintf(where, sizeof where, "%s@%s", r->repo, digest);
    if (check_digest(*buf, *len, digest, where, err) < 0) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

static int walk_repo(ap_have_list *h, reg_client *c, const char *repo, ap_error *err)
{
    char url[1024], scope[600];
    snprintf(url, sizeof url, "/v2/%s/tags/list", repo);
    snprintf(scope, sizeof scope, "repository:%s:pull", repo);
    reg_response resp;
    if (reg_get(c, url, scope, NULL, &resp, err) < 0)
        return -1;
    if (resp.status != 200) {
        reg_response_free(&resp);
        return 0;   /* a repository without tags holds nothing we can name */
    }
    json_t *j = load_json(resp.body ? resp.body : "", resp.body_len, url, err);
    reg_response_free(&resp);
    if (!j)
        return -1;
    json_t *tags = json_object_get(j, "tags");
    size_t i;
    json_t *t;
    int rc = 0;
    reg_ctx rc_ctx = {.client = c, .repo = repo};
    json_array_foreach(tags, i, t) {
        const char *tag = json_string_value(t);
        if (!tag || strchr(tag, '/') || strlen(tag) > 128)
            continue;
        snprintf(url, sizeof url, "/v2/%s/manifests/%s", repo, tag);
        if ((rc = reg_get(c, url, scope, ACCEPT_MANIFESTS, &resp, err)) < 0)
            break;
        if (resp.status == 200 && !resp.body_truncated && resp.body) {
            json_t *m = load_json(resp.body, resp.body_len, url, err);
            if (!m) {
                reg_response_free(&resp);
                rc = -1;
                break;
            }
            rc = walk_json(h, m, reg_fetch, &rc_ctx, repo, 0, url, err);
            json_decref(m);
        }
        reg_response_free(&resp);
        if (rc < 0)
            break;
    }
    json_decref(j);
    return rc;
}

int inventory_registry(const char *spec, const load_options *opts, int64_t epoch, ap_have_list *out,
                       ap_error *err)
{
    const char *s = !strncmp(spec, "docker://", 9) ? spec + 9 : spec;
    size_t host_len = strcspn(s, "/");
    if (host_len == 0 || host_len > 255)
        return ap_fail(err, AP_ERR_USAGE, "target '%s': use docker://HOST[:PORT][/PREFIX]", spec);
    char host[256], prefix[512];
    snprintf(host, sizeof host, "%.*s", (int)host_len, s);
    const char *p = s + host_len;
    while (*p == '/')
        p++;
    snprintf(prefix, sizeof prefix, "%s", p);
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/')
        prefix[--pl] = '\0';
    reg_client_opts co = {
        .tls_verify = opts ? opts->tls_verify : true,
        .authfile = opts ? opts->authfile : NULL,
        .creds = opts ? opts->creds : NULL,
    };
    reg_client *c = reg_client_open(host, &co, err);
    if (!c)
        return -1;
    if (ap_have_init(out, "registry", spec, epoch, err) < 0) {
        reg_client_free(c);
        return -1;
    }
    /* the catalog, a page of CATALOG_PAGE repositories at a time (?last= the previous page's last) */
    enum { CATALOG_PAGE = 1000 };
    char last[512] = "";
    int rc = 0;
    for (int page = 0; rc == 0 && page < 10000; page++) {
        char url[700];
        snprintf(url, sizeof url, "/v2/_catalog?n=%d%s%s", CATALOG_PAGE, last[0] ? "&last=" : "", last);
        reg_response resp;
        rc = reg_get(c, url, "registry:catalog:*", NULL, &resp, err);
        if (rc == 0 && resp.status != 200) {
            char d[300];
            reg_describe(&resp, d, sizeof d);
            rc = ap_fail(err, AP_ERR_TARGET, "%s: GET /v2/_catalog: %s", host, d);
        }
        json_t *j = NULL;
        if (rc == 0 && !(j = load_json(resp.body ? resp.body : "", resp.body_len, "/v2/_catalog", err)))
            rc = -1;
        reg_response_free(&resp);
        json_t *repos = json_object_get(j, "repositories");
        size_t i, n = json_array_size(repos);
        json_t *r;
        json_array_foreach(repos, i, r) {
            if (rc < 0)
                break;
            const char *repo = json_string_value(r);
            if (!repo || strlen(repo) > 400 || strspn(repo, "abcdefghijklmnopqrstuvwxyz0123456789._-/") != strlen(repo))
                continue;
            snprintf(last, sizeof last, "%s", repo);
            if (pl && (strncmp(repo, prefix, pl) || repo[pl] != '/'))
                continue;
            rc = walk_repo(out, c, repo, err);
        }
        json_decref(j);
        if (n < CATALOG_PAGE)
            break;
    }
    reg_client_free(c);
    if (rc < 0) {
        ap_error_prefix(err, "inventory of %s", spec);
        ap_have_free(out);
    }
    return rc;
}

/* ---- docker-daemon:[SOCKET] ---- */

#define ENGINE_LIST_MAX (64u << 20)

int inventory_docker(const char *socket, const char *name, int64_t epoch, ap_have_list *out, ap_error *err)
{
    ap_engine engine;
    if (ap_engine_init(&engine, socket, err) < 0)
        return -1;
    engine.code = AP_ERR_TARGET;
    if (ap_have_init(out, "docker", name, epoch, err) < 0)
        return -1;
    json_t *list = ap_engine_get_json(&engine, "/images/json?all=1", ENGINE_LIST_MAX, NULL, err);
    if (!list) {
        ap_have_free(out);
        return -1;
    }
    int rc = 0;
    size_t i;
    json_t *im;
    json_array_foreach(list, i, im) {
        const char *id = json_string_value(json_object_get(im, "Id"));
        char hex[AP_HEX_LEN + 1], path[256];
        if (!id || ap_digest_parse(id, hex, "image ID", NULL) < 0)
            continue;
        snprintf(path, sizeof path, "/images/%s/json", id);
        json_t *j = ap_engine_get_json(&engine, path, ENGINE_LIST_MAX, NULL, err);
        if (!j) {
            rc = -1;
            break;
        }
        json_t *layers = json_object_get(json_object_get(j, "RootFS"), "Layers");
        size_t n = json_array_size(layers);
        const char **ids = calloc(n ? n : 1, sizeof *ids);
        bool ok = ids != NULL;
        for (size_t k = 0; ok && k < n; k++) {
            ids[k] = json_string_value(json_array_get(layers, k));
            ok = ids[k] && ap_digest_parse(ids[k], hex, "diff_id", NULL) == 0;
        }
        if (ok && n > 0)
            rc = ap_have_add_chain(out, ids, n, err);
        free(ids);
        json_decref(j);
        if (rc < 0)
            break;
    }
    json_decref(list);
    if (rc < 0)
        ap_have_free(out);
    return rc;
}

/* What the store last loaded (its state, load_state.h), as have.json's "loaded". */
static int add_loaded(const char *spec, ap_have_list *out, ap_error *err)
{
    char path[4096];
    int has = load_state_path(spec, NULL, path, sizeof path, err);
    if (has <= 0)
        return has;
    load_state *s = load_state_open(path, spec, !strncmp(spec, "oci:", 4), false, err);
    if (!s)
        return -1;
    const load_state_doc *d = load_state_get(s);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < d->n; i++)
        rc = ap_have_add_loaded(out, d->streams[i].key_id, d->streams[i].channel, d->streams[i].sequence, err);
    load_state_close(s);
    return rc;
}

int inventory_target(const char *spec, const load_options *opts, int64_t epoch, ap_have_list *out,
                     ap_error *err)
{
    int rc = 1;
    if (!strncmp(spec, "oci:", 4) && spec[4])
        rc = inventory_oci(spec + 4, spec, epoch, out, err);
    else if (!strncmp(spec, "docker-daemon:", 14))
        rc = inventory_docker(spec + 14, spec, epoch, out, err);
    else if (!strncmp(spec, "docker://", 9))
        rc = inventory_registry(spec, opts, epoch, out, err);
    if (rc == 0 && add_loaded(spec, out, err) < 0) {
        ap_have_free(out);
        return -1;
    }
    if (rc <= 0)
        return rc;
    return ap_fail(err, AP_ERR_USAGE,
                   "target '%s': inventory lists oci:DIR, docker-daemon:[SOCKET] and "
                   "docker://HOST[:PORT][/PREFIX] (containerd and containers-storage are not supported)",
                   spec);
}
