/* load_archive.c: the docker-archive:FILE and oci-archive:FILE targets, a plain save archive.
 *
 * For hosts that have only `docker load`, `podman load`, `skopeo` or
 * `ctr import`, which read neither zstd layers nor airpack bundles. Both write
 * one tar, the way Docker 25's `docker save` does:
 *
 *   blobs/sha256/<hex>   every layer of the selected images, as it streams, then
 *                        their configs byte for byte (so image IDs do not change),
 *                        then new OCI manifests (and a nested OCI index for a name
 *                        that several platforms carry)
 *   oci-layout, index.json  the OCI layout: one descriptor per name, annotated with
 *                        io.containerd.image.name (full name) and
 *                        org.opencontainers.image.ref.name (the tag)
 *   manifest.json        docker-archive only: Config, RepoTags (full names), Layers
 *
 * Layers are written uncompressed (AP_CODEC_NONE, the default) or gzip
 * (load_options.layer_compression). Uncompressed: the tar header takes the
 * signed index's uncompressed_size, the layer is decompressed from the bundle
 * straight into the archive, and its sha256 and size are checked against the
 * diff_id as it is written. gzip: a layer the bundle already holds as gzip is
 * copied as it is; any other is decompressed (diff_id checked) and recompressed
 * straight into the archive behind a reserved 512-byte header, which is filled
 * in (size and digest path) once the layer ends. Memory stays bounded by the
 * codecs' windows; nothing is spilled. The archive is written to a temporary
 * file next to FILE (".FILE.airpack-tmp-XXXXXX"), fsynced and renamed to FILE
 * only in commit(), after the whole bundle verified; abort() removes it, so a
 * failed load leaves no FILE (and an existing FILE as it was). */
#include "load_target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../formats/codec.h"
#include "../formats/stream.h"
#include "../formats/tar_writer.h"
#include "../formats/oci_json.h"
#include "../formats/oci_writer.h"

#define CONFIG_MEDIA_TYPE "application/vnd.oci.image.config.v1+json"
#define BLOB_PREFIX "blobs/sha256/"


/* One layer as the archive holds it, keyed by diff_id (the same diff_id is written once). */
typedef struct {
    char diff_hex[AP_HEX_LEN + 1];
    char blob_hex[AP_HEX_LEN + 1];      /* keep mode: one output per bundle blob */
    char digest[AP_DIGEST_LEN + 1];     /* of the archive's blob */
    uint64_t size;
    ap_codec codec;                     /* of the archive's blob */
    bool written;
    bool copied;                        /* the bundle's blob as it is */
} out_layer;

/* A manifest or image index of the bundle, held to be written as it is (small). */
typedef struct {
    char hex[AP_HEX_LEN + 1];
    unsigned char *data;
    size_t len, cap;
    bool done;
} held_doc;

/* A bundle blob the selected images need. */
typedef struct {
    char hex[AP_HEX_LEN + 1];
    bool is_config;
    size_t doc;                         /* a manifest or index to hold: held index + 1, else 0 */
    ap_codec src;                       /* layer: the bundle's codec */
    uint64_t usize;                     /* layer: uncompressed_size from the signed index */
    size_t out;                         /* layer: index into outputs */
} want_blob;

typedef enum { MODE_COPY, MODE_PLAIN, MODE_RECOMPRESS, MODE_HOLD } entry_mode;

typedef struct {
    bool oci_only;                      /* oci-archive (no manifest.json) */
    const char *kind;                   /* "docker-archive" / "oci-archive" */
    char *path;                         /* FILE */
    char dir[PATH_MAX];                 /* FILE's directory */
    char tmp_path[PATH_MAX + 64];
    int fd;
    uint64_t off;                       /* bytes written to the temp file */
    ap_codec layer_codec;               /* NONE or GZIP */
    bool keep;                          /* oci-archive without --layer-compression: blobs as they are */
    held_doc *docs;
    size_t n_docs;
    const load_options *opts;
    bool *sel;
    want_blob *want;
    size_t n_want;
    out_layer *outs;
    size_t n_outs;
    /* the current entry */
    bool active;
    entry_mode mode;
    const want_blob *cur;
    uint64_t header_off;                /* MODE_RECOMPRESS: the reserved header */
    uint64_t data_size;                 /* bytes of this entry's data written */
    uint64_t plain_size;                /* uncompressed bytes seen */
    ap_decompressor *dec;
    ap_compressor *comp;
    ap_sha256 *plain_hash;              /* of the uncompressed layer: the diff_id */
    ap_sha256 *out_hash;                /* of what goes into the archive */
    bool bad_data;                      /* the layer did not decompress: said at entry end, */
    ap_error bad_data_err;              /* unless the verifier finds the entry's sha256 wrong first */
} archive_target;

static const unsigned char zeros[AP_TAR_END_SIZE];

/* ---- writing the temporary archive ---- */

static int out_write(archive_target *a, const void *buf, size_t n, ap_error *err)
{
    if (ap_write_all(a->fd, buf, n, a->tmp_path, err) < 0) {
        err->code = AP_ERR_TARGET;
        return -1;
    }
    a->off += n;
    return 0;
}

/* A whole tar entry from memory. */
static int out_entry(archive_target *a, const char *path, const void *data, size_t len, ap_error *err)
{
    unsigned char hdr[AP_TAR_HEADER_MAX];
    size_t hn = ap_tar_header_write(hdr, path, len, 0, err);
    if (hn == 0 || out_write(a, hdr, hn, err) < 0 || out_write(a, data, len, err) < 0)
        return -1;
    return out_write(a, zeros, ap_tar_padding(len), err);
}

/* What goes into the archive as the entry's data (hashed and counted). */
static int data_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    archive_target *a = ctx;
    if (a->out_hash)
        ap_sha256_update(a->out_hash, buf, n);
    a->data_size += n;
    return out_write(a, buf, n, err);
}

/* The uncompressed layer: hashed for the diff_id, capped at its signed size. */
static int plain_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    archive_target *a = ctx;
    if (n > a->cur->usize - a->plain_size)
        return ap_fail(err, AP_ERR_VERIFY, "decompresses past its uncompressed_size of %llu bytes",
                       (unsigned long long)a->cur->usize);
    a->plain_size += n;
    ap_sha256_update(a->plain_hash, buf, n);
    if (a->mode == MODE_RECOMPRESS)
        return ap_compressor_write(a->comp, buf, n, err);
    return data_sink(a, buf, n, err);
}

/* ---- the plan ---- */

static int cmp_want(const void *x, const void *y)
{
    return strcmp(((const want_blob *)x)->hex, ((const want_blob *)y)->hex);
}

static int add_want(archive_target *a, const char *digest, const ap_index_layer *l, ap_error *err)
{
    want_blob w;
    memset(&w, 0, sizeof w);
    if (ap_digest_parse(digest, w.hex, l ? "layer digest" : "config digest", err) < 0)
        return -1;
    for (size_t i = 0; i < a->n_want; i++)
        if (!strcmp(a->want[i].hex, w.hex))
            return 0;   /* shared by two images */
    w.is_config = !l;
    if (l) {
        char diff_hex[AP_HEX_LEN + 1];
        if (ap_digest_parse(l->diff_id, diff_hex, "layer diff_id", err) < 0 ||
            ap_codec_from_media_type(l->media_type, &w.src, err) < 0)
            return -1;
        w.usize = l->uncompressed_size;
        size_t o = 0;   /* one output per diff_id, or (keep) per blob */
        while (o < a->n_outs && (a->keep ? strcmp(a->outs[o].blob_hex, w.hex) : strcmp(a->outs[o].diff_hex, diff_hex)))
            o++;
        if (o == a->n_outs) {
            memset(&a->outs[o], 0, sizeof a->outs[o]);
            snprintf(a->outs[o].diff_hex, sizeof a->outs[o].diff_hex, "%s", diff_hex);
            snprintf(a->outs[o].blob_hex, sizeof a->outs[o].blob_hex, "%s", w.hex);
            a->n_outs++;
        }
        w.out = o;
    }
    a->want[a->n_want++] = w;
    return 0;
}

static void free_docs(archive_target *a)
{
    for (size_t i = 0; i < a->n_docs; i++)
        free(a->docs[i].data);
    free(a->docs);
    a->docs = NULL;
    a->n_docs = 0;
}

/* Hold the selected images' manifests and their names' indexes (once each), to write
 * them as they are where every layer they name is copied as it is. */
static int hold_doc(archive_target *a, const char *digest, ap_error *err)
{
    want_blob w;
    memset(&w, 0, sizeof w);
    if (ap_digest_parse(digest, w.hex, "manifest digest", err) < 0)
        return -1;
    for (size_t i = 0; i < a->n_want; i++)
        if (!strcmp(a->want[i].hex, w.hex))
            return 0;
    snprintf(a->docs[a->n_docs].hex, sizeof a->docs[a->n_docs].hex, "%s", w.hex);
    w.doc = ++a->n_docs;
    a->want[a->n_want++] = w;
    return 0;
}

static int hold_docs(archive_target *a, const ap_bundle_index *idx, ap_error *err)
{
    free_docs(a);
    if (!(a->docs = calloc(idx->n_images + idx->n_indexes + 1, sizeof *a->docs)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < idx->n_images; i++)
        if (a->sel[i] && hold_doc(a, idx->images[i].manifest.digest, err) < 0)
            return -1;
    for (size_t i = 0; i < idx->n_indexes; i++)
        if (load_index_for(idx, a->sel, idx->indexes[i].names[0]) && hold_doc(a, idx->indexes[i].blob.digest, err) < 0)
            return -1;
    return 0;
}

static int ar_begin(load_target *t, const ap_bundle_index *idx, ap_error *err)
{
    archive_target *a = t->impl;
    size_t n = idx->n_images ? idx->n_images : 1, cap = 1 + 2 * idx->n_images + idx->n_indexes;
    for (size_t i = 0; i < idx->n_images; i++)
        cap += 1 + idx->images[i].n_layers;
    free(a->sel);
    free(a->want);
    free(a->outs);
    a->n_want = a->n_outs = 0;
    a->sel = calloc(n, sizeof *a->sel);
    a->want = calloc(cap, sizeof *a->want);
    a->outs = calloc(cap, sizeof *a->outs);
    if (!a->sel || !a->want || !a->outs)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (load_select_images(idx, a->opts, a->sel, err) < 0)
        return -1;
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!a->sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        if (add_want(a, im->config.digest, NULL, err) < 0)
            return -1;
        for (size_t k = 0; k < im->n_layers; k++)
            if (add_want(a, im->layers[k].digest, &im->layers[k], err) < 0)
                return -1;
    }
    if (hold_docs(a, idx, err) < 0)
        return -1;
    qsort(a->want, a->n_want, sizeof *a->want, cmp_want);
    return 0;
}

static void drop_codecs(archive_target *a)
{
    ap_decompressor_free(a->dec);
    a->dec = NULL;
    ap_compressor_free(a->comp);
    a->comp = NULL;
}

static int ar_entry_begin(load_target *t, const ap_index_entry *e, ap_error *err)
{
    archive_target *a = t->impl;
    if (strncmp(e->path, BLOB_PREFIX, strlen(BLOB_PREFIX)))
        return 0;   /* oci-layout, index.json, manifest.json: we write our own */
    want_blob key;
    snprintf(key.hex, sizeof key.hex, "%s", e->path + strlen(BLOB_PREFIX));
    const want_blob *w = bsearch(&key, a->want, a->n_want, sizeof *a->want, cmp_want);
    if (!w)
        return 0;   /* not needed by the selected images (or the bundle's own manifests) */
    if (strcmp(w->hex, e->sha256))
        return ap_fail(err, AP_ERR_VERIFY, "its sha256 in the index is %s, not its name", e->sha256);
    if (w->doc) {
        held_doc *d = &a->docs[w->doc - 1];
        if (d->done || e->size > (4u << 20))
            return 0;   /* once; a larger one is not written as it is */
        free(d->data);
        if (!(d->data = malloc(e->size ? (size_t)e->size : 1)))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        d->len = 0;
        d->cap = (size_t)e->size;
        a->cur = w;
        a->mode = MODE_HOLD;
        a->bad_data = false;
        a->active = true;
        return 1;
    }
    if (!w->is_config && a->outs[w->out].written)
        return 0;   /* another blob of the same diff_id is already in the archive */
    a->cur = w;
    a->bad_data = false;
    a->data_size = a->plain_size = 0;
    char path[AP_HEX_LEN + 16];
    if (w->is_config || w->src == a->layer_codec || a->keep)
        a->mode = MODE_COPY;
    else
        a->mode = a->layer_codec == AP_CODEC_NONE ? MODE_PLAIN : MODE_RECOMPRESS;
    if (a->mode == MODE_COPY) {
        /* the blob as it is: its sha256 is checked by the verifier, and (uncompressed)
         * is also the diff_id, which we check as it passes */
        snprintf(path, sizeof path, BLOB_PREFIX "%s", w->hex);
        unsigned char hdr[AP_TAR_HEADER_MAX];
        size_t hn = ap_tar_header_write(hdr, path, e->size, 0, err);
        if (hn == 0 || out_write(a, hdr, hn, err) < 0)
            return -1;
    } else if (a->mode == MODE_PLAIN) {
        snprintf(path, sizeof path, BLOB_PREFIX "%s", a->outs[w->out].diff_hex);
        unsigned char hdr[AP_TAR_HEADER_MAX];
        size_t hn = ap_tar_header_write(hdr, path, w->usize, 0, err);
        if (hn == 0 || out_write(a, hdr, hn, err) < 0)
            return -1;
    } else {
        /* the compressed size and digest are known only at the end: reserve one block */
        a->header_off = a->off;
        if (out_write(a, zeros, AP_TAR_BLOCK, err) < 0)
            return -1;
        if (!(a->comp = ap_compressor_new(a->layer_codec, 0, 1, data_sink, a, err)))
            return -1;
    }
    if (a->mode != MODE_COPY && w->src != AP_CODEC_NONE &&
        !(a->dec = ap_decompressor_new(w->src, w->usize, plain_sink, a, err)))
        return -1;
    ap_sha256_final_hex(a->plain_hash, key.hex);   /* reset both hashes */
    ap_sha256_final_hex(a->out_hash, key.hex);
    a->active = true;
    return 1;
}

static int ar_entry_data(load_target *t, const void *buf, size_t n, ap_error *err)
{
    archive_target *a = t->impl;
    if (!a->active || a->bad_data)
        return 0;
    if (a->mode == MODE_HOLD) {
        held_doc *d = &a->docs[a->cur->doc - 1];
        if (n > d->cap - d->len)
            return ap_fail(err, AP_ERR_VERIFY, "more bytes than its size %zu", d->cap);
        memcpy(d->data + d->len, buf, n);
        d->len += n;
        return 0;
    }
    int rc;
    if (a->dec)
        rc = ap_decompressor_write(a->dec, buf, n, err);
    else if (a->mode == MODE_COPY && (a->cur->is_config || a->cur->src != AP_CODEC_NONE))
        rc = data_sink(a, buf, n, err);
    else
        rc = plain_sink(a, buf, n, err);   /* an uncompressed layer: check the diff_id too */
    if (rc < 0 && err->code != AP_ERR_TARGET && err->code != AP_ERR_NOMEM) {
        /* bad layer data: wait for the verifier's verdict on the entry's sha256 */
        a->bad_data = true;
        a->bad_data_err = *err;
        ap_error_clear(err);
        return 0;
    }
    return rc;
}

static int ar_entry_end(load_target *t, const ap_index_entry *e, ap_error *err)
{
    archive_target *a = t->impl;
    if (!a->active)
        return 0;
    a->active = false;
    const want_blob *w = a->cur;
    if (a->mode == MODE_HOLD) {
        a->docs[w->doc - 1].done = a->docs[w->doc - 1].len == e->size;
        return 0;
    }
    int rc = 0;
    if (a->bad_data) {
        *err = a->bad_data_err;
        rc = -1;
    }
    if (rc == 0 && a->dec)
        rc = ap_decompressor_finish(a->dec, err);
    if (rc == 0 && a->comp)
        rc = ap_compressor_finish(a->comp, err);
    drop_codecs(a);
    if (rc < 0) {
        if (err->code == AP_ERR_FORMAT)
            err->code = AP_ERR_VERIFY;   /* the signed bytes do not decompress: a bad bundle */
        return -1;
    }
    if (w->is_config)
        return out_write(a, zeros, ap_tar_padding(e->size), err);
    out_layer *o = &a->outs[w->out];
    char hex[AP_HEX_LEN + 1];
    if (!(a->mode == MODE_COPY && w->src != AP_CODEC_NONE)) {
        /* we saw the uncompressed layer: it must be the signed diff_id */
        if (a->plain_size != w->usize)
            return ap_fail(err, AP_ERR_VERIFY,
                           "decompresses to %llu bytes, its uncompressed_size in the index is %llu",
                           (unsigned long long)a->plain_size, (unsigned long long)w->usize);
        ap_sha256_final_hex(a->plain_hash, hex);
        if (strcmp(hex, o->diff_hex))
            return ap_fail(err, AP_ERR_VERIFY,
                           "decompresses to sha256:%s, the index says diff_id sha256:%s", hex,
                           o->diff_hex);
    }
    o->copied = a->mode == MODE_COPY;
    o->codec = a->mode == MODE_COPY ? w->src : a->layer_codec;
    if (a->mode == MODE_COPY) {
        snprintf(o->digest, sizeof o->digest, "sha256:%s", w->hex);
        o->size = e->size;
    } else if (a->mode == MODE_PLAIN) {
        snprintf(o->digest, sizeof o->digest, "sha256:%s", o->diff_hex);
        o->size = w->usize;
    } else {
        ap_sha256_final_hex(a->out_hash, hex);
        snprintf(o->digest, sizeof o->digest, "sha256:%s", hex);
        o->size = a->data_size;
        char path[AP_HEX_LEN + 16];
        unsigned char hdr[AP_TAR_BLOCK];
        snprintf(path, sizeof path, BLOB_PREFIX "%s", hex);
        if (ap_tar_header_block(hdr, path, o->size, 0, err) < 0)
            return -1;
        ssize_t put = pwrite(a->fd, hdr, sizeof hdr, (off_t)a->header_off);
        if (put != (ssize_t)sizeof hdr)
            return ap_fail_errno(err, AP_ERR_TARGET, "cannot write %s", a->tmp_path);
    }
    o->written = true;
    return out_write(a, zeros, ap_tar_padding(o->size), err);
}

/* ---- commit: manifests, index.json, manifest.json ---- */

/* The archive blob of layer l: the bundle's blob (keep mode), else the one of its diff_id. */
static const out_layer *find_out(const archive_target *a, const ap_index_layer *l)
{
    const char *hex = a->keep ? l->digest + 7 : l->diff_id + 7;
    for (size_t i = 0; i < a->n_outs; i++)
        if (!strcmp(a->keep ? a->outs[i].blob_hex : a->outs[i].diff_hex, hex))
            return a->outs[i].written ? &a->outs[i] : NULL;
    return NULL;
}

static const held_doc *held(const archive_target *a, const char *digest)
{
    for (size_t i = 0; i < a->n_docs; i++)
        if (a->docs[i].done && !strcmp(a->docs[i].hex, digest + 7))
            return &a->docs[i];
    return NULL;
}

static int put_entry(void *ctx, const char *path, const void *data, size_t len, ap_error *err)
{
    return out_entry(ctx, path, data, len, err);
}

/* One selected image as the writer sees it: its manifest as the bundle has it when every
 * layer went in as it is, else a new one naming the archive's layers. */
static int w_image(archive_target *a, const ap_index_image *im, oci_w_image *w, oci_w_layer *ls, ap_error *err)
{
    bool all_copied = true;
    for (size_t k = 0; k < im->n_layers; k++) {
        const out_layer *o = find_out(a, &im->layers[k]);
        if (!o)
            return ap_fail(err, AP_ERR_VERIFY, "image %s: layer %s never came in the bundle",
                           im->n_names ? im->names[0] : im->config.digest, im->layers[k].digest);
        ls[k] = (oci_w_layer){o->digest, o->size, ap_codec_layer_media_type(o->codec)};
        all_copied &= o->copied;
    }
    *w = (oci_w_image){.names = im->names, .n_names = im->n_names, .platform = im->platform,
                       .config_digest = im->config.digest, .config_size = im->config.size, .layers = ls,
                       .n_layers = im->n_layers};
    const held_doc *m = all_copied ? held(a, im->manifest.digest) : NULL;
    if (m) {
        w->manifest = m->data;
        w->manifest_len = m->len;
        w->manifest_type = ap_index_image_manifest_type(im);
    }
    return 0;
}

/* The bundle's indexes the writer may carry (their bytes held). */
static oci_w_source_index *w_sources(const archive_target *a, const ap_bundle_index *idx, size_t *n,
                                     char ***lists, ap_error *err)
{
    oci_w_source_index *x = calloc(idx->n_indexes + 1, sizeof *x);
    *lists = calloc(idx->n_indexes + 1, sizeof **lists);
    *n = 0;
    if (!x || !*lists) {
        free(x);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < idx->n_indexes; i++) {
        const ap_index_index *ix = &idx->indexes[i];
        const held_doc *d = held(a, ix->blob.digest);
        char **ms = d ? calloc(ix->n_manifests, sizeof *ms) : NULL;
        if (!ms)
            continue;
        for (size_t k = 0; k < ix->n_manifests; k++)
            ms[k] = (char *)ix->manifests[k];
        (*lists)[*n] = (char *)ms;
        x[(*n)++] = (oci_w_source_index){ix->names[0], d->data, d->len, ix->media_type, ms, ix->n_manifests};
    }
    return x;
}

/* The archive's manifests, indexes, oci-layout, index.json and manifest.json: formats/oci_writer.c. */
static int write_metadata(archive_target *a, const ap_bundle_index *idx, load_result **results,
                          size_t *n_results, ap_error *err)
{
    size_t n = 0, n_src = 0;
    oci_w_image *w = calloc(idx->n_images + 1, sizeof *w);
    oci_w_layer **ls = calloc(idx->n_images + 1, sizeof *ls);
    char **lists = NULL;
    oci_w_source_index *src = NULL;
    int rc = -1;
    if (!w || !ls) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        if (!a->sel[i])
            continue;
        if (!(ls[n] = calloc(im->n_layers + 1, sizeof **ls))) {
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (w_image(a, im, &w[n], ls[n], err) < 0)
            goto out;
        n++;
        for (size_t k = 0; k < (im->n_names ? im->n_names : 1); k++)
            if (load_results_add(results, n_results, im->n_names ? im->names[k] : NULL, im->config.digest, true,
                                 err) < 0)
                goto out;
    }
    if (!(src = w_sources(a, idx, &n_src, &lists, err)))
        goto out;
    char host[64];
    oci_host_platform(host, sizeof host);
    oci_w_opts o = {.put = put_entry, .ctx = a, .default_platform = host, .docker_manifest = !a->oci_only,
                    .sources = src, .n_sources = n_src};
    rc = oci_write_metadata(w, n, &o, err);
    free(o.indexes);
    if (rc == 0)
        rc = out_write(a, zeros, AP_TAR_END_SIZE, err);
out:
    for (size_t i = 0; ls && i < idx->n_images; i++)
        free(ls[i]);
    for (size_t i = 0; lists && i < n_src; i++)
        free(lists[i]);
    free(lists);
    free(src);
    free(ls);
    free(w);
    return rc;
}

static void drop_temp(archive_target *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    if (a->tmp_path[0])
        unlink(a->tmp_path);
    a->tmp_path[0] = '\0';
}

static int ar_commit(load_target *t, const ap_bundle_index *idx, load_result **results,
                     size_t *n_results, ap_error *err)
{
    archive_target *a = t->impl;
    *results = NULL;
    *n_results = 0;
    if (a->fd < 0)
        return ap_fail(err, AP_ERR_TARGET, "%s:%s: the temporary archive is gone", a->kind, a->path);
    if (write_metadata(a, idx, results, n_results, err) < 0)
        goto fail;
    bool renamed = false;
    int rc = ap_commit_temp_file(a->fd, a->tmp_path, a->path, &renamed, err);
    a->fd = -1;
    if (renamed)
        a->tmp_path[0] = '\0';
    if (rc < 0) {
        err->code = AP_ERR_TARGET;
        if (!renamed)
            goto fail;
        return -1;                                /* FILE is in place; results stand */
    }
    return 0;
fail:
    load_results_free(*results, *n_results);
    *results = NULL;
    *n_results = 0;
    drop_temp(a);
    return -1;
}

static void ar_abort(load_target *t)
{
    archive_target *a = t->impl;
    drop_codecs(a);
    a->active = false;
    drop_temp(a);
}

static void ar_close(load_target *t)
{
    if (!t)
        return;
    archive_target *a = t->impl;
    if (a) {
        ar_abort(t);
        ap_sha256_free(a->plain_hash);
        ap_sha256_free(a->out_hash);
        free(a->sel);
        free(a->want);
        free(a->outs);
        free_docs(a);
        free(a->path);
        free(a);
    }
    free(t);
}

static const load_target_ops docker_archive_ops = {
    .kind = "docker-archive",
    .begin = ar_begin, .entry_begin = ar_entry_begin, .entry_data = ar_entry_data,
    .entry_end = ar_entry_end, .commit = ar_commit, .abort = ar_abort, .close = ar_close,
};
static const load_target_ops oci_archive_ops = {
    .kind = "oci-archive",
    .begin = ar_begin, .entry_begin = ar_entry_begin, .entry_data = ar_entry_data,
    .entry_end = ar_entry_end, .commit = ar_commit, .abort = ar_abort, .close = ar_close,
};

load_target *load_archive_open(const char *kind, const char *file, const load_options *opts,
                               ap_error *err)
{
    bool oci = !strcmp(kind, "oci-archive");
    if (!file || !*file) {
        ap_fail(err, AP_ERR_USAGE, "target '%s:': %s: needs a file name (%s:FILE)", kind, kind, kind);
        return NULL;
    }
    ap_codec codec = AP_CODEC_NONE;
    if (opts && opts->layer_compression) {
        if (ap_codec_parse(opts->layer_compression, &codec, err) < 0 || codec == AP_CODEC_ZSTD) {
            ap_fail(err, AP_ERR_USAGE, "--layer-compression %s: use none or gzip",
                    opts->layer_compression);
            return NULL;
        }
    }
    size_t len = strlen(file);
    if (len + 64 >= PATH_MAX || file[len - 1] == '/') {
        ap_fail(err, AP_ERR_USAGE, "%s:%s: not a file name", kind, file);
        return NULL;
    }
    struct stat st;
    if (stat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
        ap_fail(err, AP_ERR_USAGE, "%s:%s: exists and is not a regular file", kind, file);
        return NULL;
    }
    load_target *t = calloc(1, sizeof *t);
    archive_target *a = calloc(1, sizeof *a);
    if (!t || !a) {
        free(t);
        free(a);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->ops = oci ? &oci_archive_ops : &docker_archive_ops;
    t->impl = a;
    a->oci_only = oci;
    a->kind = t->ops->kind;
    a->opts = opts;
    a->fd = -1;
    a->layer_codec = codec;
    /* an OCI archive keeps the bundle's blobs (and so its manifest digests) unless told otherwise */
    a->keep = oci && !(opts && opts->layer_compression);
    a->plain_hash = ap_sha256_new();
    a->out_hash = ap_sha256_new();
    if (!(a->path = strdup(file)) || !a->plain_hash || !a->out_hash) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    const char *slash = strrchr(file, '/');
    const char *base = slash ? slash + 1 : file;
    if (!slash)
        snprintf(a->dir, sizeof a->dir, ".");
    else if (slash == file)
        snprintf(a->dir, sizeof a->dir, "/");
    else
        snprintf(a->dir, sizeof a->dir, "%.*s", (int)(slash - file), file);
    snprintf(a->tmp_path, sizeof a->tmp_path, "%s/.%s.airpack-tmp-XXXXXX", a->dir, base);
    a->fd = mkostemp(a->tmp_path, O_CLOEXEC);
    if (a->fd < 0) {
        ap_fail_errno(err, AP_ERR_TARGET, "%s:%s: cannot create a temporary file in %s", kind, file, a->dir);
        a->tmp_path[0] = '\0';
        goto fail;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(a->fd, 0666 & ~mask) < 0) {
        ap_fail_errno(err, AP_ERR_TARGET, "cannot chmod %s", a->tmp_path);
        goto fail;
    }
    return t;
fail:
    ar_close(t);
    return NULL;
}
