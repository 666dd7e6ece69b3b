/* load_docker_daemon.c: the docker-daemon:[SOCKET] target, the Docker Engine API.
 *
 * Talks to the engine through remote/docker_engine.h. Before the stream it
 * asks the engine which selected images it already has with all their names;
 * when it has them all, nothing is sent. Otherwise it POSTs /images/load with
 * a chunked body: a docker-archive tar re-emitted from the verified stream,
 * holding the config and layer blobs the missing images need at their
 * blobs/sha256/<hex> paths, and, last, a manifest.json written from the signed
 * index, sent only in commit(), after the whole bundle verified. Docker commits
 * nothing before it reads manifest.json, so an abort (which cuts the transfer)
 * loads nothing. Engines older than API 1.42 (Docker 23) cannot read zstd
 * layers; for them zstd layers are decompressed on the fly (the tar header
 * takes the index's uncompressed_size). The engine client pulls the body from a second
 * thread through a bounded ring buffer, so memory stays bounded. */
#include "load_target.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../formats/codec.h"
#include "../formats/tar_writer.h"
#include "../formats/image_ref.h"
#include "../remote/docker_engine.h"
#include "delta_check.h"
#include "inventory.h"

#define RING_SIZE (1u << 20)

/* A bounded byte pipe between the verifier's thread (writer) and curl's (reader). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *buf;
    size_t head, len;
    bool eof;       /* the writer has written everything */
    bool cancel;    /* the writer gave up: abort the transfer */
    bool done;      /* the transfer ended: nobody reads any more */
} ring;

typedef struct {
    char hex[AP_HEX_LEN + 1];
    bool decompress;            /* zstd layer for an engine that cannot read zstd */
    uint64_t uncompressed_size;
} wanted_blob;

typedef struct {
    ap_engine engine;
    char api[32];
    bool zstd_ok;
    const load_options *opts;
    bool *sel, *need;
    wanted_blob *want;
    size_t n_want;
    char *manifest_json;
    /* the transfer */
    ring r;
    bool ring_ready, started, joined;
    pthread_t thread;
    char post_path[128];
    ap_engine_request post;
    int post_rc;                /* ap_engine_call's, once the thread ended */
    ap_error post_err;
    ap_engine_reply post_reply;
    /* the current entry */
    bool sending;
    const wanted_blob *cur;
    uint64_t cur_size;
    ap_decompressor *dec;
} dd_target;

static const unsigned char zeros[AP_TAR_END_SIZE];

/* ---- ring ---- */

static int ring_init(ring *r)
{
    if (!(r->buf = malloc(RING_SIZE)))
        return -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return 0;
}

static void ring_destroy(ring *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->buf);
    r->buf = NULL;
}

/* Returns -1 when the transfer already ended (the engine stopped reading). */
static int ring_write(ring *r, const void *data, size_t n)
{
    const unsigned char *p = data;
    pthread_mutex_lock(&r->mu);
    while (n > 0) {
        while (r->len == RING_SIZE && !r->done)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->done) {
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        size_t tail = (r->head + r->len) % RING_SIZE;
        size_t room = RING_SIZE - r->len;
        size_t chunk = RING_SIZE - tail < room ? RING_SIZE - tail : room;
        if (chunk > n)
            chunk = n;
        memcpy(r->buf + tail, p, chunk);
        r->len += chunk;
        p += chunk;
        n -= chunk;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void ring_set(ring *r, bool *flag)
{
    pthread_mutex_lock(&r->mu);
    *flag = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The request body, as the engine's client pulls it: 0 at the end, -1 when cancelled. */
static ssize_t ring_read(void *ctx, char *out, size_t want)
{
    ring *r = ctx;
    size_t got = 0;
    pthread_mutex_lock(&r->mu);
    while (r->len == 0 && !r->eof && !r->cancel)
        pthread_cond_wait(&r->cv, &r->mu);
    if (r->cancel) {
        pthread_mutex_unlock(&r->mu);
        return -1;
    }
    while (got < want && r->len > 0) {
        size_t chunk = RING_SIZE - r->head;
        if (chunk > r->len)
            chunk = r->len;
        if (chunk > want - got)
            chunk = want - got;
        memcpy(out + got, r->buf + r->head, chunk);
        r->head = (r->head + chunk) % RING_SIZE;
        r->len -= chunk;
        got += chunk;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return (ssize_t)got;
}

/* 1: the engine has image id with every name in names (familiar forms); 0 no; -1 error. */
static int dd_has_image(dd_target *d, const ap_index_image *im, ap_error *err)
{
    char path[256];
    snprintf(path, sizeof path, "/v%s/images/%s/json", d->api, im->config.digest);
    ap_engine_reply reply;
    if (ap_engine_call(&d->engine, path, NULL, &reply, err) < 0)
        return -1;
    long status = reply.status;
    int rc = 0;
    if (status == 404) {
        rc = 0;
    } else if (status != 200) {
        char m[512];
        ap_engine_message(reply.body, m, sizeof m);
        rc = ap_fail(err, AP_ERR_TARGET, "docker-daemon: inspecting image %s: HTTP %ld: %s",
                     im->config.digest, status, m);
    } else {
        json_t *j = json_loads(reply.body ? reply.body : "", 0, NULL);
        json_t *tags = json_object_get(j, "RepoTags");
        const char *id = json_string_value(json_object_get(j, "Id"));
        rc = id && !strcmp(id, im->config.digest);
        for (size_t k = 0; rc == 1 && k < im->n_names; k++) {
            char fam[512];
            image_ref_familiar(im->names[k], fam, sizeof fam);
            bool found = false;
            size_t i;
            json_t *tag;
            json_array_foreach(tags, i, tag) {
                const char *s = json_string_value(tag);
                if (s && (!strcmp(s, fam) || !strcmp(s, im->names[k])))
                    found = true;
            }
            rc = found;
        }
        json_decref(j);
    }
    ap_engine_reply_free(&reply);
    return rc;
}

/* ---- the plan ---- */

static int cmp_want(const void *a, const void *b)
{
    return strcmp(((const wanted_blob *)a)->hex, ((const wanted_blob *)b)->hex);
}

static int add_want(dd_target *d, const char *digest, bool decompress, uint64_t usize, ap_error *err)
{
    wanted_blob *w = &d->want[d->n_want];
    if (ap_digest_parse(digest, w->hex, "blob digest", err) < 0)
        return -1;
    for (size_t i = 0; i < d->n_want; i++)
        if (!strcmp(d->want[i].hex, w->hex))
            return 0;   /* shared by two images */
    w->decompress = decompress;
    w->uncompressed_size = usize;
    d->n_want++;
    return 0;
}

/* manifest.json for the images to load, from the signed index. */
static char *docker_manifest(const ap_bundle_index *idx, const bool *need)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!need[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        char path[128];
        json_t *o = json_object();
        load_blob_path(im->config.digest, path, sizeof path);
        json_object_set_new(o, "Config", json_string(path));
        json_t *tags = im->n_names ? json_array() : json_null();
        for (size_t k = 0; k < im->n_names; k++) {
            char fam[512];
            image_ref_familiar(im->names[k], fam, sizeof fam);
            json_array_append_new(tags, json_string(fam));
        }
        json_object_set_new(o, "RepoTags", tags);
        json_t *layers = json_array();
        for (size_t k = 0; k < im->n_layers; k++) {
            load_blob_path(im->layers[k].digest, path, sizeof path);
            json_array_append_new(layers, json_string(path));
        }
        json_object_set_new(o, "Layers", layers);
        json_array_append_new(arr, o);
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

static void *post_thread(void *ctx)
{
    dd_target *d = ctx;
    d->post_rc = ap_engine_call(&d->engine, d->post_path, &d->post, &d->post_reply, &d->post_err);
    ring_set(&d->r, &d->r.done);
    return NULL;
}

static int start_post(dd_target *d, ap_error *err)
{
    if (ring_init(&d->r) < 0)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    d->ring_ready = true;
    snprintf(d->post_path, sizeof d->post_path, "/v%s/images/load?quiet=1", d->api);
    d->post = (ap_engine_request){.method = "POST", .upload = ring_read, .upload_ctx = &d->r,
                                  .content_type = "application/x-tar"};
    if (pthread_create(&d->thread, NULL, post_thread, d) != 0)
        return ap_fail(err, AP_ERR_TARGET, "docker-daemon: cannot start a thread");
    d->started = true;
    return 0;
}

static void join_post(dd_target *d)
{
    if (d->started && !d->joined) {
        pthread_join(d->thread, NULL);
        d->joined = true;
    }
}

/* The transfer itself failed: the engine client said why. */
static int post_failed(dd_target *d, ap_error *err)
{
    *err = d->post_err;
    err->code = AP_ERR_TARGET;
    ap_error_prefix(err, "docker-daemon: loading failed");
    return -1;
}

/* The engine's verdict on the load: HTTP status and every JSON line of the reply. */
static int post_result(dd_target *d, ap_error *err)
{
    char m[1024];
    if (d->post_rc < 0 && d->post_reply.status == 0)
        return post_failed(d, err);
    if (d->post_reply.status != 200) {
        ap_engine_message(d->post_reply.body, m, sizeof m);
        return ap_fail(err, AP_ERR_TARGET, "docker-daemon: the engine refused the images (HTTP %ld): %s",
                       d->post_reply.status, m);
    }
    const char *p = d->post_reply.body ? d->post_reply.body : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        json_t *j = json_loadb(p, len, 0, NULL);
        json_t *e = json_object_get(j, "error");
        json_t *detail = json_object_get(j, "errorDetail");
        if (e || detail) {
            const char *msg = json_string_value(e);
            if (!msg)
                msg = json_string_value(json_object_get(detail, "message"));
            ap_fail(err, AP_ERR_TARGET, "docker-daemon: the engine refused the images: %s",
                    msg ? msg : "unknown error");
            json_decref(j);
            return -1;
        }
        json_decref(j);
        p += len;
        if (*p)
            p++;
    }
    if (d->post_rc < 0)
        return post_failed(d, err);
    return 0;
}

/* Sends bytes to the engine; when it stopped reading, says why. */
static int dd_send(void *ctx, const void *buf, size_t n, ap_error *err)
{
    dd_target *d = ctx;
    if (ring_write(&d->r, buf, n) == 0)
        return 0;
    join_post(d);
    if (post_result(d, err) == 0)
        ap_fail(err, AP_ERR_TARGET, "docker-daemon: the engine stopped reading the images");
    return -1;
}

/* ---- target operations ---- */

/* Delta: the engine holds layer k when an image of it has the same diff_ids up to k. */
static int dd_chain_held(void *ctx, const ap_index_image *im, size_t k, ap_error *err)
{
    const char **ids = calloc(k + 1, sizeof *ids);
    if (!ids)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j <= k; j++)
        ids[j] = im->layers[j].diff_id;
    bool held = ap_have_holds(ctx, ids, k, NULL);
    free(ids);
    return held;
}

static int dd_begin(load_target *t, const ap_bundle_index *idx, ap_error *err)
{
    dd_target *d = t->impl;
    size_t n = idx->n_images ? idx->n_images : 1, cap = 0;
    d->sel = calloc(n, sizeof *d->sel);
    d->need = calloc(n, sizeof *d->need);
    for (size_t i = 0; i < idx->n_images; i++)
        cap += 1 + idx->images[i].n_layers;
    d->want = calloc(cap ? cap : 1, sizeof *d->want);
    if (!d->sel || !d->need || !d->want)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (load_select_images(idx, d->opts, d->sel, err) < 0)
        return -1;
    bool any = false;
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!d->sel[i])
            continue;
        int has = dd_has_image(d, &idx->images[i], err);
        if (has < 0)
            return -1;
        d->need[i] = !has;
        any |= d->need[i];
    }
    if (!any)
        return 0;   /* the engine has every image with all its names: send nothing */
    if (ap_bundle_index_n_expected(idx) > 0) {
        /* Delta: docker load skips a layer file whose chain the engine has, so
         * the expected layers are left out of the stream; their chains must exist. */
        ap_have_list have;
        char name[PATH_MAX + 20];
        snprintf(name, sizeof name, "docker-daemon:%s", d->engine.socket);
        if (inventory_docker(d->engine.socket, name, 0, &have, err) < 0)
            return -1;
        int rc = delta_check_expected(idx, d->need, name, dd_chain_held, &have, err);
        ap_have_free(&have);
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!d->need[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        if (add_want(d, im->config.digest, false, 0, err) < 0)
            return -1;
        for (size_t k = 0; k < im->n_layers; k++) {
            const ap_index_layer *l = &im->layers[k];
            if (l->expected)
                continue;   /* not in the bundle; the engine has its chain */
            ap_codec codec = AP_CODEC_NONE;
            if (ap_codec_from_media_type(l->media_type, &codec, err) < 0)
                return -1;
            bool unzstd = codec == AP_CODEC_ZSTD && !d->zstd_ok;
            if (add_want(d, l->digest, unzstd, l->uncompressed_size, err) < 0)
                return -1;
        }
    }
    qsort(d->want, d->n_want, sizeof *d->want, cmp_want);
    if (!(d->manifest_json = docker_manifest(idx, d->need)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    return start_post(d, err);
}

static int send_header(dd_target *d, const char *path, uint64_t size, ap_error *err)
{
    unsigned char hdr[AP_TAR_HEADER_MAX];
    size_t hn = ap_tar_header_write(hdr, path, size, 0, err);
    if (hn == 0)
        return -1;
    return dd_send(d, hdr, hn, err);
}

static int dd_entry_begin(load_target *t, const ap_index_entry *e, ap_error *err)
{
    dd_target *d = t->impl;
    const char *prefix = "blobs/sha256/";
    if (!d->started || strncmp(e->path, prefix, strlen(prefix)))
        return 0;
    wanted_blob key;
    snprintf(key.hex, sizeof key.hex, "%s", e->path + strlen(prefix));
    const wanted_blob *w = bsearch(&key, d->want, d->n_want, sizeof *d->want, cmp_want);
    if (!w)
        return 0;
    d->cur = w;
    d->cur_size = w->decompress ? w->uncompressed_size : e->size;
    if (w->decompress &&
        !(d->dec = ap_decompressor_new(AP_CODEC_ZSTD, w->uncompressed_size, dd_send, d, err)))
        return -1;
    if (send_header(d, e->path, d->cur_size, err) < 0)
        return -1;
    d->sending = true;
    return 1;
}

static int dd_entry_data(load_target *t, const void *buf, size_t n, ap_error *err)
{
    dd_target *d = t->impl;
    if (!d->sending)
        return 0;
    if (d->dec)
        return ap_decompressor_write(d->dec, buf, n, err);
    return dd_send(d, buf, n, err);
}

static int dd_entry_end(load_target *t, const ap_index_entry *e, ap_error *err)
{
    dd_target *d = t->impl;
    if (!d->sending)
        return 0;
    d->sending = false;
    if (d->dec) {
        int rc = ap_decompressor_finish(d->dec, err);
        uint64_t out = ap_decompressor_total_out(d->dec);
        ap_decompressor_free(d->dec);
        d->dec = NULL;
        if (rc < 0) {
            ap_error_prefix(err, "entry %s", e->path);
            return -1;
        }
        if (out != d->cur_size)
            return ap_fail(err, AP_ERR_VERIFY,
                           "entry %s: decompresses to %llu bytes, the index says %llu", e->path,
                           (unsigned long long)out, (unsigned long long)d->cur_size);
    }
    return dd_send(d, zeros, ap_tar_padding(d->cur_size), err);
}

static int dd_commit(load_target *t, const ap_bundle_index *idx, load_result **results,
                     size_t *n_results, ap_error *err)
{
    dd_target *d = t->impl;
    *results = NULL;
    *n_results = 0;
    if (d->started) {
        size_t len = strlen(d->manifest_json);
        if (send_header(d, "manifest.json", len, err) < 0 ||
            dd_send(d, d->manifest_json, len, err) < 0 ||
            dd_send(d, zeros, ap_tar_padding(len), err) < 0 ||
            dd_send(d, zeros, AP_TAR_END_SIZE, err) < 0)
            return -1;
        ring_set(&d->r, &d->r.eof);
        join_post(d);
        if (post_result(d, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!d->sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        if (d->need[i]) {
            int has = dd_has_image(d, im, err);
            if (has < 0)
                goto fail;
            if (!has) {
                ap_fail(err, AP_ERR_TARGET, "docker-daemon: the engine did not load image %s (%s)",
                        im->config.digest, im->n_names ? im->names[0] : "untagged");
                goto fail;
            }
        }
        for (size_t k = 0; k < (im->n_names ? im->n_names : 1); k++)
            if (load_results_add(results, n_results, im->n_names ? im->names[k] : NULL,
                                 im->config.digest, d->need[i], err) < 0)
                goto fail;
    }
    return 0;
fail:
    load_results_free(*results, *n_results);
    *results = NULL;
    *n_results = 0;
    return -1;
}

static void dd_abort(load_target *t)
{
    dd_target *d = t->impl;
    if (d->started && !d->joined) {
        ring_set(&d->r, &d->r.cancel);
        join_post(d);
    }
    if (d->dec) {
        ap_decompressor_free(d->dec);
        d->dec = NULL;
    }
}

static void dd_close(load_target *t)
{
    if (!t)
        return;
    dd_target *d = t->impl;
    if (d) {
        dd_abort(t);
        ap_engine_reply_free(&d->post_reply);
        if (d->ring_ready)
            ring_destroy(&d->r);
        free(d->sel);
        free(d->need);
        free(d->want);
        free(d->manifest_json);
        free(d);
    }
    free(t);
}

static const load_target_ops dd_ops = {
    .kind = "docker-daemon",
    .begin = dd_begin,
    .entry_begin = dd_entry_begin,
    .entry_data = dd_entry_data,
    .entry_end = dd_entry_end,
    .commit = dd_commit,
    .abort = dd_abort,
    .close = dd_close,
};

load_target *load_docker_daemon_open(const char *socket, const load_options *opts, ap_error *err)
{
    load_target *t = calloc(1, sizeof *t);
    dd_target *d = calloc(1, sizeof *d);
    if (!t || !d) {
        free(t);
        free(d);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->ops = &dd_ops;
    t->impl = d;
    d->opts = opts;
    if (ap_engine_init(&d->engine, socket, err) < 0)
        goto fail;
    d->engine.code = AP_ERR_TARGET;
    ap_engine_reply reply;
    if (ap_engine_call(&d->engine, "/version", NULL, &reply, err) < 0)
        goto fail;
    json_t *j = json_loads(reply.body ? reply.body : "", 0, NULL);
    const char *api = json_string_value(json_object_get(j, "ApiVersion"));
    unsigned major = 0, minor = 0;
    if (reply.status != 200 || !api || sscanf(api, "%u.%u", &major, &minor) != 2) {
        ap_fail(err, AP_ERR_TARGET, "docker-daemon:%s: not a Docker engine (GET /version: HTTP %ld)",
                d->engine.socket, reply.status);
        json_decref(j);
        ap_engine_reply_free(&reply);
        goto fail;
    }
    snprintf(d->api, sizeof d->api, "%u.%u", major, minor);
    d->zstd_ok = major > 1 || minor >= 42;
    json_decref(j);
    ap_engine_reply_free(&reply);
    return t;
fail:
    dd_close(t);
    return NULL;
}
