/* source_daemon.c: docker-daemon:NAME[:TAG|@DIGEST|ID] as a pack input.
 *
 * First pass: GET /images/NAME/json from the Docker Engine API on its unix
 * socket ($DOCKER_HOST unix://PATH, else /var/run/docker.sock): the image ID
 * (its config digest), diff_ids and platform. Second pass: GET
 * /images/get?names=ID, streamed (feed.h) into libarchive with no temporary
 * copy. Layer entries are handed to the packer, which learns which layer each
 * is by hashing it (source.h: layers_by_content); the config is taken from the
 * stream and checked against the image ID. A stream that breaks off, or lacks
 * a layer or the config, fails the pack. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/bundle_index.h"
#include "../formats/digest.h"
#include "../remote/docker_engine.h"
#include "feed.h"
#include "source_image.h"
#include "source_remote.h"

#define READ_BLOCK (1u << 20)
#define INSPECT_MAX (16u << 20)

struct remote_state {
    ap_engine engine;
    char id[AP_DIGEST_LEN + 1];
};

/* ---- the first pass ---------------------------------------------------- */

static int daemon_open(source *s, const char *ref, const source_options *o, remote_state **out,
                       ap_error *err)
{
    (void)o;
    remote_state *st = calloc(1, sizeof *st);
    if (!st)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    *out = st;
    if (!*ref)
        return ap_fail(err, AP_ERR_USAGE, "%s: no image named", s->spec);
    if (ap_engine_init(&st->engine, NULL, err) < 0)
        return -1;
    char path[4096];
    if (ap_engine_path(path, sizeof path, "/images/", ref, "/json", err) < 0) {
        ap_error_prefix(err, "%s", s->spec);
        return -1;
    }
    long status = 0;
    json_t *j = ap_engine_get_json(&st->engine, path, INSPECT_MAX, &status, err);
    int rc = 0;
    if (!j) {
        if (status == 404)
            err->code = AP_ERR_USAGE;   /* no such image: the user named it */
        ap_error_prefix(err, "%s", s->spec);
        return -1;
    }
    const char *id = json_string_value(json_object_get(j, "Id"));
    json_t *rootfs = json_object_get(j, "RootFS");
    json_t *ids = json_object_get(rootfs, "Layers");
    char hex[AP_HEX_LEN + 1];
    if (!id || ap_digest_parse(id, hex, "image ID", NULL) < 0) {
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: the daemon's description of the image has no sha256 Id", s->spec);
        goto out;
    }
    snprintf(st->id, sizeof st->id, "sha256:%s", hex);
    source_image *img = source_new_image(s, err);
    if (!img) {
        rc = -1;
        goto out;
    }
    snprintf(img->config_digest, sizeof img->config_digest, "%s", st->id);
    source_platform_from(img, json_string_value(json_object_get(j, "Os")),
                         json_string_value(json_object_get(j, "Architecture")),
                         json_string_value(json_object_get(j, "Variant")));
    size_t n = json_array_size(ids);
    if ((rc = source_image_layers(img, n, err)) < 0)
        goto out;
    for (size_t k = 0; k < n; k++) {
        const char *d = json_string_value(json_array_get(ids, k));
        char lhex[AP_HEX_LEN + 1];
        if (!d || ap_digest_parse(d, lhex, "diff_id", NULL) < 0) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: layer %zu of the image has no sha256 diff_id", s->spec, k + 1);
            goto out;
        }
        snprintf(img->layers[k].diff_id, sizeof img->layers[k].diff_id, "sha256:%s", lhex);
        img->layers[k].path = strdup(img->layers[k].diff_id);
        if (!img->layers[k].path) {
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    /* named by what the user gave, unless that was an ID or a digest */
    const char *given = ref;
    bool is_id = !strncmp(given, "sha256:", 7) || strchr(given, '@') ||
                 (strlen(given) >= 12 && strlen(given) <= AP_HEX_LEN && !strncmp(hex, given, strlen(given)));
    if (!is_id)
        rc = source_add_name(img, given, s, err);
    json_int_t size = json_integer_value(json_object_get(j, "Size"));
    s->size = size > 0 ? (uint64_t)size : 0;
out:
    json_decref(j);
    return rc;
}

/* ---- the second pass --------------------------------------------------- */

typedef struct {
    const ap_engine *engine;
    const char *path;
} save_job;

static int produce_save(void *ctx, ap_sink_fn sink, void *sink_ctx, ap_error *err)
{
    save_job *j = ctx;
    ap_engine_request rq = {.max = 64u << 10, .sink = sink, .sink_ctx = sink_ctx};
    ap_engine_reply reply;
    int rc = ap_engine_call(j->engine, j->path, &rq, &reply, err);
    if (rc < 0) {
        if (!reply.sink_failed)
            ap_error_prefix(err, "the save stream broke off");
    } else if (reply.status != 200) {
        char m[512];
        ap_engine_message(reply.body, m, sizeof m);
        rc = ap_fail(err, AP_ERR_IO, "the Docker engine at %s refused GET %s: HTTP %ld %s", j->engine->socket,
                     j->path, reply.status, m);
    }
    ap_engine_reply_free(&reply);
    return rc;
}

typedef struct {
    feed *f;
    unsigned char *buf;
    ap_error err;
    bool failed;
} archive_feed;

static la_ssize_t archive_feed_read(struct archive *a, void *ctx, const void **out)
{
    archive_feed *af = ctx;
    ssize_t got = feed_read(af->f, af->buf, READ_BLOCK, &af->err);
    if (got < 0) {
        af->failed = true;
        archive_set_error(a, EIO, "%s", af->err.msg);
        return -1;
    }
    *out = af->buf;
    return got;
}

typedef struct {
    struct archive *a;
    const char *spec;
    const char *path;
    uint64_t *done;
} entry_reader;

static ssize_t entry_read(void *ctx, void *buf, size_t n, ap_error *err)
{
    entry_reader *r = ctx;
    la_ssize_t got = archive_read_data(r->a, buf, n);
    if (got < 0) /* EIO: the daemon's stream broke off (archive_feed_read), not a bad archive */
        return ap_fail(err, archive_errno(r->a) == EIO ? AP_ERR_IO : AP_ERR_FORMAT,
                       "%s: reading %s from the save stream: %s", r->spec, r->path, archive_error_string(r->a));
    *r->done += (uint64_t)got;
    return got;
}

/* The hex digits naming the entry: "<hex>.json", "blobs/sha256/<hex>", or NULL. */
static const char *entry_hex(const char *path, char hex[AP_HEX_LEN + 1])
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t bl = strlen(base);
    if (bl == AP_HEX_LEN + 5 && !strcmp(base + AP_HEX_LEN, ".json") && !strchr(path, '/')) {
        memcpy(hex, base, AP_HEX_LEN);
        hex[AP_HEX_LEN] = '\0';
    } else if (!strncmp(path, "blobs/sha256/", 13) && bl == AP_HEX_LEN && base == path + 13) {
        memcpy(hex, base, AP_HEX_LEN + 1);
    } else {
        return NULL;
    }
    return ap_hex_valid(hex) ? hex : NULL;
}

static int take_config(source *s, struct archive *a, struct archive_entry *ent, source_image *img,
                       const char *path, ap_error *err)
{
    la_int64_t size = archive_entry_size(ent);
    if (size <= 0 || size > (la_int64_t)SOURCE_JSON_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "%s: config %s in the save stream has a bad size", s->spec, path);
    unsigned char *data = malloc((size_t)size);
    if (!data)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    uint64_t dummy = 0;
    entry_reader r = {a, s->spec, path, &dummy};
    if (ap_read_exact(entry_read, &r, data, (size_t)size, path, err) < 0) {
        free(data);
        return -1;
    }
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(data, (size_t)size, hex);
    if (strcmp(hex, img->config_digest + 7)) {
        free(data);
        return ap_fail(err, AP_ERR_FORMAT, "%s: config %s in the save stream does not match the image ID "
                       "%s (it hashes to sha256:%s)", s->spec, path, img->config_digest, hex);
    }
    img->config = data;
    img->config_len = (size_t)size;
    return 0;
}

static int daemon_stream(source *s, remote_state *st, source_wanted_fn wanted, source_layer_fn fn,
                         void *ctx, void (*progress)(void *ctx, uint64_t done), ap_error *err)
{
    char path[256];
    snprintf(path, sizeof path, "/images/get?names=%s", st->id);
    save_job job = {&st->engine, path};
    archive_feed af = {0};
    af.buf = malloc(READ_BLOCK);
    if (!af.buf)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    af.f = feed_start(produce_save, &job, err);
    if (!af.f) {
        free(af.buf);
        return -1;
    }
    struct archive *a = archive_read_new();
    int rc = 0;
    if (!a) {
        rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    archive_read_support_format_tar(a);
    if (archive_read_open(a, &af, NULL, archive_feed_read, NULL) != ARCHIVE_OK) {
        rc = af.failed ? (*err = af.err, ap_error_prefix(err, "%s", s->spec), -1)
                       : ap_fail(err, AP_ERR_FORMAT, "%s: the save stream: %s", s->spec, archive_error_string(a));
        goto out;
    }
    uint64_t done = 0;
    struct archive_entry *ent;
    int r;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (archive_entry_filetype(ent) != AE_IFREG || archive_entry_hardlink(ent))
            continue;
        const char *name = archive_entry_pathname(ent);
        if (!name)
            continue;
        while (!strncmp(name, "./", 2))
            name += 2;
        char hex[AP_HEX_LEN + 1];
        const char *h = entry_hex(name, hex);
        source_image *cfg_img = NULL;
        for (size_t i = 0; h && i < s->n_images; i++)
            if (!s->images[i].config && !strcmp(s->images[i].config_digest + 7, h))
                cfg_img = &s->images[i];
        if (cfg_img) {
            if ((rc = take_config(s, a, ent, cfg_img, name, err)) < 0)
                break;
            continue;
        }
        size_t nl = strlen(name);
        bool layer_tar = nl >= 10 && !strcmp(name + nl - 10, "/layer.tar");
        bool blob = !strncmp(name, "blobs/sha256/", 13);
        if (!layer_tar && !blob)
            continue;
        if (h) {
            /* named by its diff_id (Docker >= 25): ask before reading */
            char id[AP_DIGEST_LEN + 1];
            snprintf(id, sizeof id, "sha256:%s", h);
            bool ours = false;
            for (size_t i = 0; i < s->n_images; i++)
                for (size_t k = 0; k < s->images[i].n_layers; k++)
                    ours |= !strcmp(s->images[i].layers[k].diff_id, id);
            if (ours && !wanted(ctx, id))
                continue;
        }
        entry_reader er = {a, s->spec, name, &done};
        if ((rc = fn(ctx, name, entry_read, &er, err)) < 0)
            break;
        if (progress)
            progress(ctx, done);
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
        if (af.failed) {
            *err = af.err;
            ap_error_prefix(err, "%s", s->spec);
            rc = -1;
        } else {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: the save stream: %s", s->spec,
                         archive_error_string(a) ? archive_error_string(a) : "unreadable");
        }
    }
    for (size_t i = 0; rc == 0 && i < s->n_images; i++)
        if (!s->images[i].config)
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: the save stream has no config for image %s", s->spec,
                         s->images[i].config_digest);
out:
    if (a)
        archive_read_free(a);
    if (rc == 0) {
        /* the rest of the stream (tar padding) and the producer's verdict on it */
        ssize_t got;
        while ((got = feed_read(af.f, af.buf, READ_BLOCK, err)) > 0)
            ;
        if (got < 0) {
            ap_error_prefix(err, "%s", s->spec);
            rc = -1;
        }
    }
    {
        ap_error ferr;
        int frc = feed_finish(af.f, &ferr);
        if (rc == 0 && frc < 0) {
            *err = ferr;
            ap_error_prefix(err, "%s", s->spec);
            rc = -1;
        }
    }
    free(af.buf);
    return rc;
}

static void daemon_free(remote_state *st)
{
    free(st);
}

const source_remote_ops source_daemon_ops = {
    .prefix = "docker-daemon:",
    .layers_by_content = true,
    .open = daemon_open,
    .stream = daemon_stream,
    .free = daemon_free,
};
