/* verifier.c: the streaming bundle verifier (see verifier.h).
 *
 * Order of checks for the front of the bundle, each a refusal on its own:
 *   1. entry 1 is airpack/bundle.json, its header size at most AP_INDEX_MAX_SIZE
 *      (refused before a byte of it is read);
 *   2. entry 2 is airpack/bundle.json.minisig, at most AP_SIG_MAX_SIZE;
 *   3. the signature verifies with a trusted key (nothing in the index is believed
 *      before this, not even its JSON syntax);
 *   4. the JSON nesting depth is within AP_JSON_MAX_DEPTH;
 *   5. the index parses strictly (ap_bundle_index_parse: version, digests, paths).
 * Then every later entry is checked against the index, in order, while it streams.
 * Every refusal reads "BUNDLE: entry PATH at offset N: REASON" (or "BUNDLE: offset N:
 * REASON" where no entry is at fault). */
#include "verifier.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../formats/codec.h"
#include "../formats/digest.h"
#include "../formats/tar_reader.h"
#include "hash_pipe.h"
#include "dense_reader.h"

#define CHUNK (2u << 20)                 /* read size: big buffers keep sha256 at full speed */
#ifndef HASH_BUFFERS
#define HASH_BUFFERS 4                   /* being read (and written by a sink), hashed, decompressed */
#endif
#define SMALL_JSON_MAX AP_SMALL_JSON_MAX /* manifests, configs, index.json, manifest.json under --deep */
#define BLOB_PREFIX "blobs/sha256/"

enum {
    ROLE_LAYER = 1 << 0,
    ROLE_CONFIG = 1 << 1,
    ROLE_MANIFEST = 1 << 2,
    ROLE_OCI_LAYOUT = 1 << 3,
    ROLE_INDEX_JSON = 1 << 4,
    ROLE_MANIFEST_JSON = 1 << 5,
    ROLE_REFERRER = 1 << 7,       /* a signature's, attestation's or SBOM's manifest or blob: checked by sha256 */
    ROLE_NESTED_INDEX = 1 << 6,   /* any other blob: under --deep it must be an OCI index (--all-platforms) */
};
#define ROLE_SMALL (ROLE_CONFIG | ROLE_MANIFEST | ROLE_OCI_LAYOUT | ROLE_INDEX_JSON | ROLE_MANIFEST_JSON | \
                    ROLE_NESTED_INDEX)

typedef struct {
    const char *name;
    const ap_verify_opts *opts;
    ap_error *err;
    ap_verify_report *report;
    const char *cur_path;               /* the entry being read, for locating a failure */
    uint64_t cur_off;
    ap_tar_reader *tar;
    ap_bundle_index idx;
    bool have_idx;
    ap_hash_pipe *hash;                 /* the entry's sha256, in a second thread; owns the read buffers */

    /* --deep */
    unsigned char *roles;               /* per index entry */
    const ap_index_layer **layer_of;    /* per index entry, for ROLE_LAYER */
    size_t *man_first, *cfg_first;      /* per index entry: 1 + the first image whose manifest / config it is */
    size_t *man_next, *cfg_next;        /* per image: 1 + the next image with the same manifest / config */
    const ap_index_entry **sorted;      /* the entries by path (deep_setup), for lookups by digest */
    ap_decompressor *dec;
    ap_sha256 *layer_hash;
    uint64_t layer_out;
    uint64_t layer_cap;
    ap_error deep_err;                  /* a deep failure, reported once the entry's digest is known good */
    bool deep_failed;
    atomic_bool tap_cancel;             /* the verdict is in: the tap stops decompressing */
    char *small;                        /* the current small JSON entry, whole (its size is checked first) */
    size_t small_len;
    json_t *nested;                     /* digest -> the "manifests" of each nested OCI index seen */
    dense_reader *dense;                /* a dense bundle: its airpack/dense/ entries go here */
} verifier;

/* ---- messages --------------------------------------------------------------- */

/* Remembers where the first failure was found (see ap_verify_report). */
static void locate(verifier *v, const char *path, uint64_t off)
{
    if (!v->report || v->report->fail_located)
        return;
    v->report->fail_located = true;
    v->report->fail_offset = off;
    snprintf(v->report->fail_entry, sizeof v->report->fail_entry, "%.300s", path ? path : "");
}

static int entry_fail(verifier *v, const char *path, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int entry_fail(verifier *v, const char *path, uint64_t off, const char *fmt, ...)
{
    char reason[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    locate(v, path, off);
    return ap_fail(v->err, AP_ERR_VERIFY, "%s: entry %.300s at offset %llu: %s", v->name, path,
                   (unsigned long long)off, reason);
}

static int offset_fail(verifier *v, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int offset_fail(verifier *v, uint64_t off, const char *fmt, ...)
{
    char reason[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    locate(v, NULL, off);
    return ap_fail(v->err, AP_ERR_VERIFY, "%s: offset %llu: %s", v->name, (unsigned long long)off,
                   reason);
}

/* An error from another module about this entry: name the bundle, entry and offset,
 * and make a bad bundle a verification failure (I/O and memory stay what they are). */
static int entry_wrap(verifier *v, const char *path, uint64_t off)
{
    locate(v, path, off);
    if (v->err) {
        if (v->err->code == AP_ERR_FORMAT || v->err->code == AP_ERR_CRYPTO)
            v->err->code = AP_ERR_VERIFY;
        ap_error_prefix(v->err, "%s: entry %.300s at offset %llu", v->name, path,
                        (unsigned long long)off);
    }
    return -1;
}

/* An error from the tar reader: it names the bundle, entry and offset itself. */
static int tar_wrap(verifier *v)
{
    if (v->cur_path)
        locate(v, v->cur_path, v->cur_off);
    else
        locate(v, NULL, ap_tar_offset(v->tar));
    if (v->err) {
        if (v->err->code == AP_ERR_FORMAT)
            v->err->code = AP_ERR_VERIFY;
        size_t n = strlen(v->name);
        if (strncmp(v->err->msg, v->name, n) || v->err->msg[n] != ':')
            ap_error_prefix(v->err, "%s: offset %llu", v->name,
                            (unsigned long long)ap_tar_offset(v->tar));
    }
    return -1;
}

static void progress(verifier *v)
{
    if (v->opts->progress)
        v->opts->progress(v->opts->progress_ctx, ap_tar_offset(v->tar));
}

/* ---- the front: index and signature ----------------------------------------- */

/* Reads the whole current entry (size already capped) into a new buffer. */
static char *read_whole(verifier *v, const ap_tar_entry *e)
{
    char *data = malloc((size_t)e->size + 1);
    if (!data) {
        ap_fail(v->err, AP_ERR_NOMEM, "%s: out of memory reading %s", v->name, e->path);
        return NULL;
    }
    size_t got = 0;
    while (got < e->size) {
        ssize_t n = ap_tar_read(v->tar, data + got, (size_t)e->size - got, v->err);
        if (n < 0) {
            v->cur_path = e->path;
            v->cur_off = e->header_offset;
            tar_wrap(v);
            v->cur_path = NULL;
            free(data);
            return NULL;
        }
        if (n == 0) {
            entry_fail(v, e->path, e->header_offset, "truncated");
            free(data);
            return NULL;
        }
        got += (size_t)n;
        progress(v);
    }
    data[got] = '\0';
    return data;
}

static int next_front_entry(verifier *v, ap_tar_entry *e, const char *want, uint64_t max, int nth)
{
    int r = ap_tar_next(v->tar, e, v->err);
    if (r < 0)
        return tar_wrap(v);
    if (r == 0)
        return offset_fail(v, ap_tar_offset(v->tar), "archive ends before entry %d (%s)", nth, want);
    if (strcmp(e->path, want))
        return entry_fail(v, e->path, e->header_offset, "entry %d of a bundle must be %s", nth, want);
    if (e->size > max)
        return entry_fail(v, e->path, e->header_offset, "%llu bytes, over the %llu-byte limit",
                          (unsigned long long)e->size, (unsigned long long)max);
    return 0;
}

static int read_front(verifier *v, ap_sig_info *sig)
{
    ap_tar_entry ie, se;
    char *index = NULL, *sigtext = NULL;
    int rc = -1;
    if (next_front_entry(v, &ie, AP_INDEX_PATH, AP_INDEX_MAX_SIZE, 1) < 0 || !(index = read_whole(v, &ie)))
        goto out;
    if (next_front_entry(v, &se, AP_SIG_PATH, AP_SIG_MAX_SIZE, 2) < 0 || !(sigtext = read_whole(v, &se)))
        goto out;
    char signer[2 * AP_KEYNUM_LEN + 1];
    if (v->opts->policy && ap_signature_key_id(sigtext, (size_t)se.size, signer, NULL) == 0 &&
        ap_trust_check_signer(v->opts->policy, signer, v->err) < 0) {
        ap_error_prefix(v->err, "%s", v->name);
        goto out;
    }
    if (ap_verify(v->opts->keys, v->opts->n_keys, index, (size_t)ie.size, sigtext, (size_t)se.size, sig,
                  v->err) < 0) {
        if (v->err && v->err->code != AP_ERR_NOMEM)
            v->err->code = AP_ERR_VERIFY;
        locate(v, ie.path, ie.header_offset);   /* the signed bytes are the index's */
        entry_wrap(v, se.path, se.header_offset);
        goto out;
    }
    if (ap_json_check_depth(index, (size_t)ie.size, AP_JSON_MAX_DEPTH, "index", v->err) < 0 ||
        ap_bundle_index_parse(index, (size_t)ie.size, &v->idx, v->err) < 0) {
        entry_wrap(v, ie.path, ie.header_offset);
        goto out;
    }
    v->have_idx = true;
    /* docker load commits when it reads manifest.json: it is the last entry, nothing after it. */
    if (v->idx.n_entries == 0 || strcmp(v->idx.entries[v->idx.n_entries - 1].path, "manifest.json")) {
        entry_fail(v, ie.path, ie.header_offset, "manifest.json is not the last entry the index lists");
        goto out;
    }
    rc = 0;
out:
    free(index);
    free(sigtext);
    return rc;
}

/* ---- --deep: roles and the checks of small JSON entries --------------------- */

static ssize_t entry_index_of(const ap_bundle_index *idx, const ap_index_entry **sorted, const char *path)
{
    size_t lo = 0, hi = idx->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid]->path, path);
        if (c == 0)
            return sorted[mid] - idx->entries;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cmp_entry_ptr(const void *a, const void *b)
{
    return strcmp((*(const ap_index_entry *const *)a)->path, (*(const ap_index_entry *const *)b)->path);
}

static ssize_t blob_entry(const ap_bundle_index *idx, const ap_index_entry **sorted, const char *digest)
{
    char path[sizeof BLOB_PREFIX + AP_HEX_LEN];
    snprintf(path, sizeof path, BLOB_PREFIX "%s", digest + 7);
    return entry_index_of(idx, sorted, path);
}

static int deep_setup(verifier *v)
{
    const ap_bundle_index *idx = &v->idx;
    size_t n = idx->n_entries;
    const ap_index_entry **sorted = malloc((n ? n : 1) * sizeof *sorted);
    v->roles = calloc(n ? n : 1, 1);
    v->layer_of = calloc(n ? n : 1, sizeof *v->layer_of);
    v->layer_hash = ap_sha256_new();
    size_t ni = idx->n_images ? idx->n_images : 1;
    v->man_first = calloc(n ? n : 1, sizeof *v->man_first);
    v->cfg_first = calloc(n ? n : 1, sizeof *v->cfg_first);
    v->man_next = calloc(ni, sizeof *v->man_next);
    v->cfg_next = calloc(ni, sizeof *v->cfg_next);
    if (!sorted || !v->roles || !v->layer_of || !v->layer_hash || !v->man_first || !v->cfg_first ||
        !v->man_next || !v->cfg_next) {
        free(sorted);
        return ap_fail(v->err, AP_ERR_NOMEM, "%s: out of memory", v->name);
    }
    v->sorted = sorted;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &idx->entries[i];
    qsort(sorted, n, sizeof *sorted, cmp_entry_ptr);
    /* The parser checked that every blob an image names is listed. Images are chained
     * per entry in reverse, so each chain runs in image order. */
    for (size_t i = idx->n_images; i-- > 0;) {
        const ap_index_image *im = &idx->images[i];
        ssize_t k = blob_entry(idx, sorted, im->manifest.digest);
        if (k >= 0) {
            v->roles[k] |= ROLE_MANIFEST;
            v->man_next[i] = v->man_first[k];
            v->man_first[k] = i + 1;
        }
        if ((k = blob_entry(idx, sorted, im->config.digest)) >= 0) {
            v->roles[k] |= ROLE_CONFIG;
            v->cfg_next[i] = v->cfg_first[k];
            v->cfg_first[k] = i + 1;
        }
        for (size_t l = 0; l < im->n_layers; l++)
            if ((k = blob_entry(idx, sorted, im->layers[l].digest)) >= 0) {
                v->roles[k] |= ROLE_LAYER;
                v->layer_of[k] = &im->layers[l];
            }
    }
    static const struct {
        const char *path;
        unsigned char role;
    } fixed[] = {{"oci-layout", ROLE_OCI_LAYOUT}, {"index.json", ROLE_INDEX_JSON},
                 {"manifest.json", ROLE_MANIFEST_JSON}};
    int rc = 0;
    for (size_t f = 0; f < 3 && rc == 0; f++) {
        ssize_t k = entry_index_of(idx, sorted, fixed[f].path);
        if (k < 0)
            rc = entry_fail(v, AP_INDEX_PATH, 0, "the index lists no %s (--deep)", fixed[f].path);
        else
            v->roles[k] |= fixed[f].role;
    }
    for (size_t i = 0; i < idx->n_referrers; i++) {
        const ap_index_referrer *x = &idx->referrers[i];
        ssize_t k = blob_entry(idx, sorted, x->manifest.digest);
        if (k >= 0)
            v->roles[k] |= ROLE_REFERRER;
        for (size_t b = 0; b < x->n_blobs; b++)
            if ((k = blob_entry(idx, sorted, x->blobs[b].digest)) >= 0)
                v->roles[k] |= ROLE_REFERRER;
    }
    /* A blob that is no image's manifest, config or layer is a nested OCI index
     * (one name over several platforms); it is checked as one. */
    for (size_t i = 0; i < n; i++)
        if (!v->roles[i] && !strncmp(idx->entries[i].path, BLOB_PREFIX, strlen(BLOB_PREFIX)))
            v->roles[i] |= ROLE_NESTED_INDEX;
    if (rc == 0 && !(v->nested = json_object()))
        rc = ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
    return rc;
}

static json_t *load_small_json(verifier *v, const char *path, uint64_t off)
{
    if (ap_json_check_depth(v->small, v->small_len, AP_JSON_MAX_DEPTH, "JSON", v->err) < 0) {
        entry_wrap(v, path, off);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(v->small, v->small_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        entry_fail(v, path, off, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
    return j;
}

static const char *str_at(json_t *obj, const char *key)
{
    json_t *s = json_object_get(obj, key);
    return json_is_string(s) ? json_string_value(s) : NULL;
}

static bool int_equals(json_t *obj, const char *key, uint64_t want)
{
    json_t *n = json_object_get(obj, key);
    return json_is_integer(n) && json_integer_value(n) >= 0 && (uint64_t)json_integer_value(n) == want;
}

static int check_manifest(verifier *v, json_t *m, const ap_index_image *im, size_t i, const char *path,
                          uint64_t off)
{
    if (!json_is_object(m))
        return entry_fail(v, path, off, "manifest of images[%zu] is not a JSON object", i);
    json_t *sv = json_object_get(m, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2)
        return entry_fail(v, path, off, "manifest of images[%zu]: schemaVersion is not 2", i);
    const char *mmt = str_at(m, "mediaType"), *want_mt = ap_index_image_manifest_type(im);
    if (mmt ? strcmp(mmt, want_mt) : im->manifest_media_type != NULL)
        return entry_fail(v, path, off, "manifest of images[%zu]: media type %.200s, the index says %s", i,
                          mmt ? mmt : "(none)", want_mt);
    json_t *cfg = json_object_get(m, "config");
    const char *cd = str_at(cfg, "digest");
    if (!cd || strcmp(cd, im->config.digest) || !int_equals(cfg, "size", im->config.size))
        return entry_fail(v, path, off,
                          "manifest of images[%zu]: config is not %s (%llu bytes) as the index says", i,
                          im->config.digest, (unsigned long long)im->config.size);
    json_t *layers = json_object_get(m, "layers");
    if (!json_is_array(layers) || json_array_size(layers) != im->n_layers)
        return entry_fail(v, path, off, "manifest of images[%zu]: %zu layers, the index says %zu", i,
                          json_is_array(layers) ? json_array_size(layers) : 0, im->n_layers);
    for (size_t k = 0; k < im->n_layers; k++) {
        json_t *l = json_array_get(layers, k);
        const ap_index_layer *il = &im->layers[k];
        const char *d = str_at(l, "digest"), *mt = str_at(l, "mediaType");
        if (!d || strcmp(d, il->digest) || !int_equals(l, "size", il->size))
            return entry_fail(v, path, off,
                              "manifest of images[%zu]: layer %zu is not %s (%llu bytes) as the index says",
                              i, k, il->digest, (unsigned long long)il->size);
        if (!mt || strcmp(mt, il->media_type))
            return entry_fail(v, path, off,
                              "manifest of images[%zu]: layer %zu media type %.200s, the index says %s", i,
                              k, mt ? mt : "(none)", il->media_type);
    }
    return 0;
}

static int check_config(verifier *v, json_t *c, const ap_index_image *im, size_t i, const char *path,
                        uint64_t off)
{
    json_t *ids = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
    if (!json_is_array(ids))
        return entry_fail(v, path, off, "config of images[%zu] has no rootfs.diff_ids", i);
    if (json_array_size(ids) != im->n_layers)
        return entry_fail(v, path, off, "config of images[%zu] has %zu diff_ids, the index lists %zu layers",
                          i, json_array_size(ids), im->n_layers);
    for (size_t k = 0; k < im->n_layers; k++) {
        json_t *d = json_array_get(ids, k);
        if (!json_is_string(d) || strcmp(json_string_value(d), im->layers[k].diff_id))
            return entry_fail(v, path, off, "config of images[%zu]: diff_id %zu is %.80s, the index says %s",
                              i, k, json_is_string(d) ? json_string_value(d) : "(not a string)",
                              im->layers[k].diff_id);
    }
    return 0;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* A RepoTag as Docker normalizes it, so the familiar form `docker save` writes
 * ("nginx:1.25", "me/app:1") and the full form ("docker.io/library/nginx:1.25")
 * compare equal to the index's full names: a first component without '.' or ':'
 * that is not "localhost" is a Docker Hub repository; a single component is in
 * "library/"; no tag means ":latest". "localhost:5000/x:1" stays. Caller frees. */
static char *normalize_repo_tag(const char *tag)
{
    const char *slash = strchr(tag, '/');
    const char *prefix = "";
    if (!slash)
        prefix = "docker.io/library/";
    else if (!memchr(tag, '.', (size_t)(slash - tag)) && !memchr(tag, ':', (size_t)(slash - tag)) &&
             strncmp(tag, "localhost/", 10))
        prefix = "docker.io/";
    const char *last = strrchr(tag, '/');
    bool tagged = strchr(last ? last + 1 : tag, ':') || strchr(tag, '@');
    return dupf("%s%s%s", prefix, tag, tagged ? "" : ":latest");
}

/* A sortable description, compared as a whole between a JSON document and the index. */
typedef struct {
    char *key;
    char *label;   /* for messages */
} item;

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const item *)a)->key, ((const item *)b)->key);
}

static void items_free(item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(it[i].key);
        free(it[i].label);
    }
    free(it);
}

/* Compares two lists of items as multisets; on a difference names the first. */
static int compare_items(verifier *v, item *want, size_t nw, item *got, size_t ng, const char *path,
                         uint64_t off, const char *doc)
{
    qsort(want, nw, sizeof *want, cmp_item);
    qsort(got, ng, sizeof *got, cmp_item);
    size_t i = 0, j = 0;
    while (i < nw || j < ng) {
        int c = i >= nw ? 1 : j >= ng ? -1 : strcmp(want[i].key, got[j].key);
        if (c < 0)
            return entry_fail(v, path, off, "%s does not name %s as the index does", doc, want[i].label);
        if (c > 0)
            return entry_fail(v, path, off, "%s names %s, which the index does not", doc, got[j].label);
        i++;
        j++;
    }
    return 0;
}

static int check_index_json(verifier *v, json_t *j, const char *path, uint64_t off)
{
    const ap_bundle_index *idx = &v->idx;
    json_t *ms = json_object_get(j, "manifests");
    if (!json_is_array(ms))
        return entry_fail(v, path, off, "index.json has no \"manifests\" array");
    size_t nw = 0, ng = json_array_size(ms);
    for (size_t i = 0; i < idx->n_images; i++)
        nw += idx->images[i].n_names ? idx->images[i].n_names : 1;
    item *want = calloc(nw ? nw : 1, sizeof *want), *got = calloc(ng ? ng : 1, sizeof *got);
    int rc = -1;
    if (!want || !got) {
        ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t w = 0;
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        for (size_t k = 0; k < (im->n_names ? im->n_names : 1); k++, w++) {
            const char *name = im->n_names ? im->names[k] : "";
            want[w].key = dupf("%s %llu %s", im->manifest.digest, (unsigned long long)im->manifest.size, name);
            want[w].label = dupf("image %s (manifest %s)", *name ? name : "without a name",
                                 im->manifest.digest);
            if (!want[w].key || !want[w].label) {
                ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
    }
    size_t g = 0;
    for (size_t i = 0; i < json_array_size(ms); i++) {
        json_t *d = json_array_get(ms, i);
        const char *digest = str_at(d, "digest");
        const char *name = str_at(json_object_get(d, "annotations"), "io.containerd.image.name");
        json_t *size = json_object_get(d, "size");
        if (!digest || !json_is_integer(size)) {
            rc = entry_fail(v, path, off, "index.json manifests[%zu] has no digest or size", i);
            goto out;
        }
        /* a nested index stands for each of its manifests, under the descriptor's name */
        json_t *nested = json_object_get(v->nested, digest);
        json_t *one = json_array();
        if (!one) {
            ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!nested)
            json_array_append(one, d);
        json_t *list = nested ? nested : one;
        if (json_array_size(list) > 1) {
            item *grown = realloc(got, (ng + json_array_size(list) - 1) * sizeof *got);
            if (!grown) {
                json_decref(one);
                ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
                goto out;
            }
            got = grown;
            memset(got + ng, 0, (json_array_size(list) - 1) * sizeof *got);
            ng += json_array_size(list) - 1;
        }
        for (size_t k = 0; k < json_array_size(list); k++, g++) {
            json_t *m = json_array_get(list, k);
            const char *md = str_at(m, "digest");
            json_t *ms_size = json_object_get(m, "size");
            long long sz = json_is_integer(ms_size) ? (long long)json_integer_value(ms_size) : -1;
            got[g].key = dupf("%s %lld %s", md ? md : "", sz, name ? name : "");
            got[g].label = dupf("image %.300s (manifest %.100s, %lld bytes)", name ? name : "without a name",
                                md ? md : "", sz);
            if (!got[g].key || !got[g].label) {
                json_decref(one);
                ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        json_decref(one);
    }
    rc = compare_items(v, want, nw, got, ng, path, off, "index.json");
out:
    items_free(want, nw);
    items_free(got, ng);
    return rc;
}

/* Builds "Config|layer,layer|tag,tag" with the tags sorted. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *docker_key(const char *config, const char *const *layers, size_t nl, char **tags, size_t nt)
{
    size_t len = strlen(config) + 4;
    for (size_t i = 0; i < nl; i++)
        len += strlen(layers[i]) + 1;
    for (size_t i = 0; i < nt; i++)
        len += strlen(tags[i]) + 1;
    char *k = malloc(len);
    if (!k)
        return NULL;
    qsort(tags, nt, sizeof *tags, cmp_str);
    strcpy(k, config);
    strcat(k, "|");
    for (size_t i = 0; i < nl; i++) {
        strcat(k, layers[i]);
        strcat(k, ",");
    }
    strcat(k, "|");
    for (size_t i = 0; i < nt; i++) {
        strcat(k, tags[i]);
        strcat(k, ",");
    }
    return k;
}

static int image_docker_item(const ap_index_image *im, item *out)
{
    int rc = -1;
    char **tags = calloc(im->n_names ? im->n_names : 1, sizeof *tags);
    char **layers = calloc(im->n_layers ? im->n_layers : 1, sizeof *layers);
    char *config = dupf(BLOB_PREFIX "%s", im->config.digest + 7);
    size_t nt = 0;
    if (!tags || !layers || !config)
        goto out;
    for (size_t k = 0; k < im->n_layers; k++)
        if (!(layers[k] = dupf(BLOB_PREFIX "%s", im->layers[k].digest + 7)))
            goto out;
    for (size_t k = 0; k < im->n_names; k++)
        if (!strchr(im->names[k], '@') && !(tags[nt++] = strdup(im->names[k])))
            goto out;
    out->key = docker_key(config, (const char *const *)layers, im->n_layers, tags, nt);
    out->label = dupf("image %s (config %s)", im->n_names ? im->names[0] : "without a name",
                      im->config.digest);
    rc = out->key && out->label ? 0 : -1;
out:
    for (size_t k = 0; layers && k < im->n_layers; k++)
        free(layers[k]);
    for (size_t k = 0; k < nt; k++)
        free(tags[k]);
    free(layers);
    free(tags);
    free(config);
    return rc;
}

/* manifest.json must name each image of the index once, except that of the
 * images sharing a name across platforms (--all-platforms) only one is named:
 * docker has no platforms, so it gets the default platform's. want[i] is
 * image i of the index. */

/* Sorting helpers for match_docker_items: want items by key, (name, image) pairs by name. */
static int cmp_want_at(const void *a, const void *b, void *ctx)
{
    const item *want = ctx;
    int c = strcmp(want[*(const size_t *)a].key, want[*(const size_t *)b].key);
    return c ? c : *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

typedef struct {
    const char *name;
    size_t image;
} name_ref;

static int cmp_name_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->image < y->image ? -1 : x->image > y->image;
}

/* Sorted arrays, not scans: n log n for any number of images. */
static int match_docker_items(verifier *v, item *want, size_t nw, item *got, size_t ng, const char *path,
                              uint64_t off)
{
    const ap_bundle_index *idx = &v->idx;
    bool *named = calloc(nw ? nw : 1, sizeof *named);
    size_t *order = malloc((nw ? nw : 1) * sizeof *order);
    size_t n_names = 0;
    for (size_t w = 0; w < nw; w++)
        n_names += idx->images[w].n_names;
    name_ref *names = malloc((n_names ? n_names : 1) * sizeof *names);
    if (!named || !order || !names) {
        free(named);
        free(order);
        free(names);
        return ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
    }
    for (size_t w = 0; w < nw; w++)
        order[w] = w;
    qsort_r(order, nw, sizeof *order, cmp_want_at, want);
    int rc = 0;
    for (size_t g = 0; g < ng && rc == 0; g++) {
        size_t lo = 0, hi = nw;   /* the first want with key >= got's */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(want[order[mid]].key, got[g].key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        while (lo < nw && named[order[lo]] && !strcmp(want[order[lo]].key, got[g].key))
            lo++;
        if (lo == nw || strcmp(want[order[lo]].key, got[g].key))
            rc = entry_fail(v, path, off, "manifest.json names %s, which the index does not (or twice)",
                            got[g].label);
        else
            named[order[lo]] = true;
    }
    size_t k = 0;
    for (size_t w = 0; w < nw; w++)
        for (size_t x = 0; x < idx->images[w].n_names; x++)
            names[k++] = (name_ref){idx->images[w].names[x], w};
    qsort(names, n_names, sizeof *names, cmp_name_ref);
    for (size_t w = 0; w < nw && rc == 0; w++) {
        if (named[w])
            continue;
        const ap_index_image *im = &idx->images[w];
        bool sibling = false;
        for (size_t x = 0; x < im->n_names && !sibling && im->platform; x++) {
            size_t lo = 0, hi = n_names;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(names[mid].name, im->names[x]) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (; lo < n_names && !sibling && !strcmp(names[lo].name, im->names[x]); lo++) {
                const ap_index_image *o = &idx->images[names[lo].image];
                sibling = names[lo].image != w && named[names[lo].image] && o->platform &&
                          strcmp(im->platform, o->platform) != 0;
            }
        }
        if (!sibling)
            rc = entry_fail(v, path, off, "manifest.json does not name %s as the index does", want[w].label);
    }
    free(names);
    free(order);
    free(named);
    return rc;
}

static int check_manifest_json(verifier *v, json_t *j, const char *path, uint64_t off)
{
    const ap_bundle_index *idx = &v->idx;
    if (!json_is_array(j))
        return entry_fail(v, path, off, "manifest.json is not a JSON array");
    size_t nw = idx->n_images, ng = json_array_size(j);
    item *want = calloc(nw ? nw : 1, sizeof *want), *got = calloc(ng ? ng : 1, sizeof *got);
    const char **layers = NULL;
    char **tags = NULL;
    int rc = -1;
    if (!want || !got)
        goto nomem;
    for (size_t i = 0; i < nw; i++)
        if (image_docker_item(&idx->images[i], &want[i]) < 0)
            goto nomem;
    for (size_t i = 0; i < ng; i++) {
        json_t *o = json_array_get(j, i);
        const char *config = str_at(o, "Config");
        json_t *jl = json_object_get(o, "Layers"), *jt = json_object_get(o, "RepoTags");
        if (!config || !json_is_array(jl) || !(json_is_array(jt) || json_is_null(jt) || !jt)) {
            rc = entry_fail(v, path, off, "manifest.json [%zu] lacks Config, Layers or RepoTags", i);
            goto out;
        }
        size_t nl = json_array_size(jl), nt = json_array_size(jt);
        free(layers);
        free(tags);
        layers = calloc(nl ? nl : 1, sizeof *layers);
        tags = calloc(nt ? nt : 1, sizeof *tags);
        if (!layers || !tags)
            goto nomem;
        for (size_t k = 0; k < nl; k++)
            if (!(layers[k] = json_string_value(json_array_get(jl, k)))) {
                rc = entry_fail(v, path, off, "manifest.json [%zu] Layers[%zu] is not a string", i, k);
                goto out;
            }
        for (size_t k = 0; k < nt; k++) {
            const char *t = json_string_value(json_array_get(jt, k));
            if (!t) {
                rc = entry_fail(v, path, off, "manifest.json [%zu] RepoTags[%zu] is not a string", i, k);
                goto out;
            }
            if (!(tags[k] = normalize_repo_tag(t))) {
                for (size_t q = 0; q < k; q++)
                    free(tags[q]);
                goto nomem;
            }
        }
        got[i].key = docker_key(config, layers, nl, tags, nt);
        got[i].label = dupf("image %.300s (Config %.200s)", nt ? tags[0] : "without RepoTags", config);
        for (size_t k = 0; k < nt; k++)
            free(tags[k]);
        if (!got[i].key || !got[i].label)
            goto nomem;
    }
    rc = match_docker_items(v, want, nw, got, ng, path, off);
    goto out;
nomem:
    rc = ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
out:
    free(layers);
    free(tags);
    items_free(want, nw);
    items_free(got, ng);
    return rc;
}

/* A nested OCI index: each of its manifests must be an image of the index.
 * Kept (digest -> manifests) so index.json's descriptor can be expanded. */
static int keep_nested_index(verifier *v, json_t *j, const char *digest, const char *path, uint64_t off)
{
    const char *mt = str_at(j, "mediaType");
    json_t *ms = json_object_get(j, "manifests");
    if (!mt || (strcmp(mt, AP_OCI_INDEX_MEDIA_TYPE) && strcmp(mt, AP_DOCKER_LIST_MEDIA_TYPE)) ||
        !json_is_array(ms) || json_array_size(ms) == 0)
        return entry_fail(v, path, off, "a blob that is no image's manifest, config or layer, and not "
                          "an image index");
    /* as the signed index describes it (its "indexes"): media type and manifests */
    for (size_t x = 0; x < v->idx.n_indexes; x++) {
        const ap_index_index *ix = &v->idx.indexes[x];
        if (strcmp(ix->blob.digest, digest))
            continue;
        if (strcmp(ix->media_type, mt) || ix->n_manifests != json_array_size(ms))
            return entry_fail(v, path, off, "image index %s is not the %s of %zu manifests the index says",
                              digest, ix->media_type, ix->n_manifests);
        for (size_t k = 0; k < ix->n_manifests; k++) {
            bool listed = false;
            for (size_t q = 0; q < json_array_size(ms) && !listed; q++) {
                const char *d = str_at(json_array_get(ms, q), "digest");
                listed = d && !strcmp(d, ix->manifests[k]);
            }
            if (!listed)
                return entry_fail(v, path, off, "image index %s does not list %s as the index says", digest,
                                  ix->manifests[k]);
        }
    }
    size_t i;
    json_t *d;
    json_array_foreach(ms, i, d) {
        const char *md = str_at(d, "digest");
        bool found = false;
        ssize_t e = md && strlen(md) == AP_DIGEST_LEN && !strncmp(md, "sha256:", 7)
                        ? blob_entry(&v->idx, v->sorted, md) : -1;
        for (size_t k = e >= 0 ? v->man_first[e] : 0; k && !found; k = v->man_next[k - 1])
            found = int_equals(d, "size", v->idx.images[k - 1].manifest.size);
        if (!found)
            return entry_fail(v, path, off, "nested index manifests[%zu] (%.100s) is no image of the index",
                              i, md ? md : "no digest");
    }
    return json_object_set(v->nested, digest, ms) < 0 ? ap_fail(v->err, AP_ERR_NOMEM, "out of memory") : 0;
}

/* The current entry was a small JSON document and its digest matched: check it. */
static int check_small(verifier *v, const ap_index_entry *ie, uint64_t off)
{
    unsigned char roles = v->roles[ie - v->idx.entries];
    json_t *j = load_small_json(v, ie->path, off);
    if (!j)
        return -1;
    int rc = 0;
    char digest[AP_DIGEST_LEN + 1];
    snprintf(digest, sizeof digest, "sha256:%s", ie->sha256);
    size_t e = (size_t)(ie - v->idx.entries);
    for (size_t i = v->man_first[e]; i && rc == 0; i = v->man_next[i - 1])
        rc = check_manifest(v, j, &v->idx.images[i - 1], i - 1, ie->path, off);
    for (size_t i = v->cfg_first[e]; i && rc == 0; i = v->cfg_next[i - 1])
        rc = check_config(v, j, &v->idx.images[i - 1], i - 1, ie->path, off);
    if (rc == 0 && (roles & ROLE_OCI_LAYOUT)) {
        const char *ver = str_at(j, "imageLayoutVersion");
        if (!ver || strcmp(ver, "1.0.0"))
            rc = entry_fail(v, ie->path, off, "oci-layout is not {\"imageLayoutVersion\":\"1.0.0\"}");
    }
    if (rc == 0 && (roles & ROLE_NESTED_INDEX))
        rc = keep_nested_index(v, j, digest, ie->path, off);
    if (rc == 0 && (roles & ROLE_INDEX_JSON))
        rc = check_index_json(v, j, ie->path, off);
    if (rc == 0 && (roles & ROLE_MANIFEST_JSON))
        rc = check_manifest_json(v, j, ie->path, off);
    json_decref(j);
    return rc;
}

/* ---- --deep: layers ----------------------------------------------------------- */

static int layer_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    verifier *v = ctx;
    if (atomic_load(&v->tap_cancel))
        return ap_fail(err, AP_ERR_VERIFY, "stopped");
    v->layer_out += n;
    if (v->layer_out > v->layer_cap)
        return ap_fail(err, AP_ERR_VERIFY, "decompresses past its uncompressed_size %llu",
                       (unsigned long long)v->layer_cap);
    ap_sha256_update(v->layer_hash, buf, n);
    return 0;
}

static void deep_fail_defer(verifier *v)
{
    v->deep_failed = true;
    ap_decompressor_free(v->dec);
    v->dec = NULL;
}

/* The hash pipe's tap: runs in its own thread, reading the buffers the main thread
 * copies to the sink; deep_end waits for it before reading its results. */
static void deep_tap(void *ctx, const unsigned char *buf, size_t n)
{
    verifier *v = ctx;
    if (v->dec && !v->deep_failed && ap_decompressor_write(v->dec, buf, n, &v->deep_err) < 0)
        deep_fail_defer(v);
}

static int deep_begin(verifier *v, const ap_index_entry *ie, uint64_t off)
{
    unsigned char roles = v->roles[ie - v->idx.entries];
    v->deep_failed = false;
    v->small_len = 0;
    if (roles & ROLE_SMALL) {
        if (ie->size > SMALL_JSON_MAX)
            return entry_fail(v, ie->path, off, "%llu bytes, too large for a manifest, config or index "
                              "(limit %u MiB)", (unsigned long long)ie->size, SMALL_JSON_MAX >> 20);
        char *grown = realloc(v->small, ie->size ? (size_t)ie->size : 1);
        if (!grown)
            return ap_fail(v->err, AP_ERR_NOMEM, "out of memory");
        v->small = grown;
    }
    if (roles & ROLE_LAYER) {
        const ap_index_layer *l = v->layer_of[ie - v->idx.entries];
        ap_codec codec;
        if (ap_codec_from_media_type(l->media_type, &codec, v->err) < 0)
            return entry_wrap(v, ie->path, off);
        v->layer_out = 0;
        v->layer_cap = l->uncompressed_size;
        /* 0 would mean "no cap" to the codec; our own sink enforces the exact cap anyway. */
        v->dec = ap_decompressor_new(codec, l->uncompressed_size ? l->uncompressed_size : 1, layer_sink, v,
                                     v->err);
        if (!v->dec)
            return entry_wrap(v, ie->path, off);
        ap_hash_pipe_set_tap(v->hash, deep_tap, v);
    }
    return 0;
}


static int deep_end(verifier *v, const ap_index_entry *ie, uint64_t off)
{
    unsigned char roles = v->roles[ie - v->idx.entries];
    if (roles & ROLE_LAYER) {
        const ap_index_layer *l = v->layer_of[ie - v->idx.entries];
        ap_hash_pipe_set_tap(v->hash, NULL, NULL);   /* waits for the tap to read everything */
        if (!v->deep_failed && ap_decompressor_finish(v->dec, &v->deep_err) < 0)
            deep_fail_defer(v);
        ap_decompressor_free(v->dec);
        v->dec = NULL;
        if (v->deep_failed) {
            if (v->err)
                *v->err = v->deep_err;
            return entry_wrap(v, ie->path, off);
        }
        char hex[AP_HEX_LEN + 1];
        ap_sha256_final_hex(v->layer_hash, hex);
        if (v->layer_out != l->uncompressed_size)
            return entry_fail(v, ie->path, off, "decompresses to %llu bytes, the index says %llu",
                              (unsigned long long)v->layer_out, (unsigned long long)l->uncompressed_size);
        if (strcmp(hex, l->diff_id + 7))
            return entry_fail(v, ie->path, off, "decompressed sha256 is sha256:%s, its diff_id is %s", hex,
                              l->diff_id);
    }
    if (roles & ROLE_SMALL)
        return check_small(v, ie, off);
    return 0;
}

/* ---- the entries -------------------------------------------------------------- */

static int sink_call_failed(verifier *v, const char *path, uint64_t off)
{
    if (v->err && v->err->code == AP_OK)
        v->err->code = AP_ERR_TARGET;
    if (v->err)
        ap_error_prefix(v->err, "%s: entry %.300s at offset %llu", v->name, path, (unsigned long long)off);
    return -1;
}

static int unexpected_entry(verifier *v, const ap_tar_entry *e, size_t i)
{
    const ap_index_entry *listed = ap_bundle_index_find(&v->idx, e->path);
    if (!listed)
        return entry_fail(v, e->path, e->header_offset, "not listed in the signed index");
    size_t at = (size_t)(listed - v->idx.entries);
    if (at > i)
        return entry_fail(v, e->path, e->header_offset,
                          "the signed index lists %s before it (missing or out of order)",
                          v->idx.entries[i].path);
    return entry_fail(v, e->path, e->header_offset, "appears again (the signed index lists it once)");
}

/* Each chunk of an entry's data, after it went to the hasher: what the caller does with it. */
typedef int (*chunk_use)(verifier *v, void *ctx, unsigned char *buf, size_t n);

/* Streams entry e's data (ie's size): each chunk to the hash pipe, then to use(ctx), then checks the
 * length and the sha256 against ie. damage(), when given, adds to a sha256 mismatch what it hit. */
static int stream_entry(verifier *v, const ap_index_entry *ie, const ap_tar_entry *e, chunk_use use, void *ctx,
                        void (*damage)(verifier *v, const ap_index_entry *ie, char *what, size_t cap))
{
    uint64_t off = e->header_offset, got = 0;
    for (;;) {
        unsigned char *buf = ap_hash_pipe_buffer(v->hash);
        ssize_t n = ap_tar_read(v->tar, buf, CHUNK, v->err);
        if (n < 0)
            return tar_wrap(v);
        if (n == 0)
            break;
        got += (uint64_t)n;
        if (got > ie->size)     /* the tar reader stops at the header size; be sure */
            return entry_fail(v, e->path, off, "more data than its size %llu", (unsigned long long)ie->size);
        ap_hash_pipe_submit(v->hash, buf, (size_t)n);   /* hashed while use() reads buf */
        if (use(v, ctx, buf, (size_t)n) < 0)
            return -1;
        progress(v);
    }
    if (got != ie->size)
        return entry_fail(v, e->path, off, "truncated: %llu of %llu bytes", (unsigned long long)got,
                          (unsigned long long)ie->size);
    char hex[AP_HEX_LEN + 1];
    ap_hash_pipe_final_hex(v->hash, hex);
    if (strcmp(hex, ie->sha256)) {
        char what[1500] = "";
        if (damage)
            damage(v, ie, what, sizeof what);
        return entry_fail(v, e->path, off, "sha256 %s, the signed index says %s%s%s", hex, ie->sha256,
                          what[0] ? "; " : "", what);
    }
    return 0;
}

static int dense_chunk(verifier *v, void *ctx, unsigned char *buf, size_t n)
{
    (void)ctx;
    dense_reader_data(v->dense, buf, n);
    return 0;
}

static void dense_damage(verifier *v, const ap_index_entry *ie, char *what, size_t cap)
{
    dense_reader_damage(v->dense, ie, what, cap);
}

static int check_dense_entry(verifier *v, const ap_verify_sink *sink, void *sink_ctx, const ap_index_entry *ie,
                             const ap_tar_entry *e)
{
    uint64_t off = e->header_offset;
    if (e->size != ie->size)
        return entry_fail(v, e->path, off, "size %llu, the signed index says %llu",
                          (unsigned long long)e->size, (unsigned long long)ie->size);
    if (dense_reader_begin(v->dense, ie, v->err) < 0)
        return entry_wrap(v, e->path, off);
    if (stream_entry(v, ie, e, dense_chunk, NULL, dense_damage) < 0)
        return -1;
    if (dense_reader_end(v->dense, ie, sink, sink_ctx, v->err) < 0) {
        if (v->err && v->err->code == AP_OK)
            v->err->code = AP_ERR_VERIFY;
        return entry_wrap(v, e->path, off);
    }
    return 0;
}

/* A plain entry's chunks: kept whole when --deep parses it (small), and handed to the sink. */
typedef struct {
    const ap_verify_sink *sink;
    void *sink_ctx;
    const ap_tar_entry *e;
    bool small;
} plain_chunk_ctx;

static int plain_chunk(verifier *v, void *ctx, unsigned char *buf, size_t n)
{
    plain_chunk_ctx *c = ctx;
    if (c->small) {
        memcpy(v->small + v->small_len, buf, n);
        v->small_len += n;
    }
    if (c->sink && c->sink->on_entry_data && c->sink->on_entry_data(c->sink_ctx, buf, n, v->err) < 0)
        return sink_call_failed(v, c->e->path, c->e->header_offset);
    return 0;
}

static int check_entry(verifier *v, const ap_verify_sink *sink, void *sink_ctx, const ap_index_entry *ie,
                       const ap_tar_entry *e)
{
    if (v->dense && dense_reader_owns(ie))
        return check_dense_entry(v, sink, sink_ctx, ie, e);
    uint64_t off = e->header_offset;
    if (e->size != ie->size)
        return entry_fail(v, e->path, off, "size %llu, the signed index says %llu",
                          (unsigned long long)e->size, (unsigned long long)ie->size);
    if (sink && sink->on_entry_begin && sink->on_entry_begin(sink_ctx, ie, v->err) < 0)
        return sink_call_failed(v, e->path, off);
    bool small = false;
    if (v->opts->deep) {
        if (deep_begin(v, ie, off) < 0)
            return -1;
        small = (v->roles[ie - v->idx.entries] & ROLE_SMALL) != 0;
    }
    plain_chunk_ctx c = {sink, sink_ctx, e, small};
    if (stream_entry(v, ie, e, plain_chunk, &c, NULL) < 0)
        return -1;
    if (v->opts->deep && deep_end(v, ie, off) < 0)
        return -1;
    if (sink && sink->on_entry_end && sink->on_entry_end(sink_ctx, ie, v->err) < 0)
        return sink_call_failed(v, e->path, off);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(verifier *v, const ap_verify_sink *sink, void *sink_ctx, ap_verify_report *report)
{
    if (read_front(v, &report->sig) < 0)
        return -1;
    report->n_images = v->idx.n_images;
    report->sequence = v->idx.sequence;
    snprintf(report->channel, sizeof report->channel, "%s", ap_bundle_index_channel(&v->idx));
    snprintf(report->expires, sizeof report->expires, "%s", v->idx.expires ? v->idx.expires : "");
    if (ap_trust_check_expiry(v->opts->policy, &v->idx, report->warning, sizeof report->warning, v->err) < 0) {
        ap_error_prefix(v->err, "%s", v->name);
        return -1;
    }
    if (v->opts->deep && deep_setup(v) < 0)
        return -1;
    if (v->idx.dense_window_log) {
        dense_reader_opts dopts = {.rebuild = v->opts->deep || v->opts->dense_rebuild,
                                   .spill_dir = v->opts->spill_dir, .window_log_max = v->opts->window_log_max};
        if (!(v->dense = dense_reader_new(&v->idx, v->name, &dopts, v->err)))
            return -1;
    }
    if (sink && sink->on_index && sink->on_index(sink_ctx, &v->idx, &report->sig, v->err) < 0)
        return sink_call_failed(v, AP_INDEX_PATH, 0);

    ap_tar_entry e;
    for (size_t i = 0; i < v->idx.n_entries; i++) {
        const ap_index_entry *ie = &v->idx.entries[i];
        int r = ap_tar_next(v->tar, &e, v->err);
        if (r < 0)
            return tar_wrap(v);
        if (r == 0)
            return offset_fail(v, ap_tar_offset(v->tar),
                               "archive ends, but the signed index lists %s next (%zu of %zu entries missing)",
                               ie->path, v->idx.n_entries - i, v->idx.n_entries);
        if (strcmp(e.path, ie->path))
            return unexpected_entry(v, &e, i);
        v->cur_path = ie->path;
        v->cur_off = e.header_offset;
        if (check_entry(v, sink, sink_ctx, ie, &e) < 0)
            return -1;
        v->cur_path = NULL;
        report->entries_checked++;
    }
    int r = ap_tar_next(v->tar, &e, v->err);
    if (r < 0)
        return tar_wrap(v);
    if (r == 1)
        return unexpected_entry(v, &e, v->idx.n_entries);
    if (ap_tar_finish(v->tar, v->err) < 0)
        return tar_wrap(v);
    progress(v);
    if (sink && sink->on_complete && sink->on_complete(sink_ctx, &v->idx, v->err) < 0) {
        if (v->err && v->err->code == AP_OK)
            v->err->code = AP_ERR_TARGET;
        return -1;
    }
    return 0;
}

int ap_verify_stream(ap_read_fn read, void *read_ctx, const char *name, const ap_verify_opts *opts,
                     const ap_verify_sink *sink, void *sink_ctx, ap_verify_report *report, ap_error *err)
{
    ap_verify_report local;
    if (!report)
        report = &local;
    memset(report, 0, sizeof *report);
    ap_error_clear(err);
    double start = now();
    verifier v = {.name = name ? name : "bundle", .opts = opts, .err = err, .report = report};
    int rc = -1;
    if (!opts || (opts->n_keys > 0 && !opts->keys)) {
        ap_fail(err, AP_ERR_USAGE, "%s: no verify options", v.name);
        goto out;
    }
    v.hash = ap_hash_pipe_new(HASH_BUFFERS, CHUNK, err);
    if (!v.hash) {
        ap_fail(err, AP_ERR_NOMEM, "%s: out of memory", v.name);
        goto out;
    }
    v.tar = ap_tar_reader_new(read, read_ctx, v.name, AP_TAR_STRICT, err);
    if (!v.tar)
        goto out;
    rc = run(&v, sink, sink_ctx, report);
out:
    if (v.tar)
        report->bytes = ap_tar_offset(v.tar);
    report->seconds = now() - start;
    if (rc < 0) {
        if (err && err->code == AP_OK)
            err->code = AP_ERR_VERIFY;
        dense_reader_stop(v.dense);   /* its rebuild thread may be in the sink */
        if (sink && sink->on_abort)
            sink->on_abort(sink_ctx);
    }
    atomic_store(&v.tap_cancel, true);
    if (v.hash)
        ap_hash_pipe_set_tap(v.hash, NULL, NULL);   /* the tap may still be decompressing */
    ap_decompressor_free(v.dec);
    dense_reader_free(v.dense);
    ap_sha256_free(v.layer_hash);
    free(v.small);
    json_decref(v.nested);
    free(v.roles);
    free(v.layer_of);
    free(v.man_first);
    free(v.cfg_first);
    free(v.man_next);
    free(v.cfg_next);
    free(v.sorted);
    if (v.have_idx)
        ap_bundle_index_free(&v.idx);
    ap_tar_reader_free(v.tar);
    ap_hash_pipe_free(v.hash);
    return rc;
}
