/* bundle_index.c: parse and write the signed bundle index (airpack/bundle.json).
 *
 * Parsing is strict: the JSON is depth-checked, loaded with jansson (duplicate
 * keys refused), every key must be one the format defines, every digest goes
 * through ap_digest_parse, every path is one of the allowed forms, every size is
 * a non-negative integer, no path is listed twice, and every blob an image names
 * is a listed entry of the same size. Writing builds the canonical compact JSON
 * (keys in the documented order) and checks that it parses back. */
#include "bundle_index.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define BLOB_PREFIX "blobs/sha256/"
#define BLOB_PREFIX_LEN (sizeof BLOB_PREFIX - 1)

static const char *const layer_media_types[] = {
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar",
    /* carried byte for byte from a source with Docker schema 2 manifests */
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
};
#define N_LAYER_MEDIA_TYPES (sizeof layer_media_types / sizeof layer_media_types[0])

static const char *const compressions[] = {"zstd", "gzip", "none"};

/* ---- parsing ---------------------------------------------------------------- */

static bool blob_path_valid(const char *path)
{
    return !strncmp(path, BLOB_PREFIX, BLOB_PREFIX_LEN) && ap_hex_valid(path + BLOB_PREFIX_LEN);
}

/* airpack/dense/recipe or airpack/dense/NNNNNN.zst */
static bool dense_path_valid(const char *path)
{
    if (!strcmp(path, "airpack/dense/recipe"))
        return true;
    if (strncmp(path, "airpack/dense/", 14) || strlen(path) != 14 + 6 + 4 || strcmp(path + 20, ".zst"))
        return false;
    for (int i = 14; i < 20; i++)
        if (path[i] < '0' || path[i] > '9')
            return false;
    return true;
}

static bool entry_path_valid(const char *path)
{
    return blob_path_valid(path) || !strcmp(path, "oci-layout") || !strcmp(path, "index.json") ||
           !strcmp(path, "manifest.json") || dense_path_valid(path);
}

static json_t *get_typed(json_t *obj, const char *key, json_type type, const char *type_name,
                         const char *where, ap_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        ap_fail(err, AP_ERR_FORMAT, "%s: missing \"%s\"", where, key);
        return NULL;
    }
    if (json_typeof(v) != type) {
        ap_fail(err, AP_ERR_FORMAT, "%s: \"%s\" is not %s", where, key, type_name);
        return NULL;
    }
    return v;
}

static int get_string(json_t *obj, const char *key, const char **out, const char *where, ap_error *err)
{
    json_t *v = get_typed(obj, key, JSON_STRING, "a string", where, err);
    if (!v)
        return -1;
    *out = json_string_value(v);
    return 0;
}

static int get_dup_string(json_t *obj, const char *key, char **out, const char *where, ap_error *err)
{
    const char *s;
    if (get_string(obj, key, &s, where, err) < 0)
        return -1;
    if (!(*out = strdup(s)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    return 0;
}

static int get_size(json_t *obj, const char *key, uint64_t *out, const char *where, ap_error *err)
{
    json_t *v = get_typed(obj, key, JSON_INTEGER, "an integer", where, err);
    if (!v)
        return -1;
    json_int_t n = json_integer_value(v);
    if (n < 0)
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"%s\" is negative (%lld)", where, key, (long long)n);
    *out = (uint64_t)n;
    return 0;
}

static int get_digest(json_t *obj, const char *key, char out[AP_DIGEST_LEN + 1], const char *where,
                      ap_error *err)
{
    const char *s;
    if (get_string(obj, key, &s, where, err) < 0)
        return -1;
    return ap_digest_parse_field(s, where, key, out, err);
}

static int parse_blob(json_t *obj, const char *key, ap_index_blob *out, const char *where, ap_error *err)
{
    static const char *const keys[] = {"digest", "size"};
    char w[200];
    json_t *b = get_typed(obj, key, JSON_OBJECT, "an object", where, err);
    if (!b)
        return -1;
    snprintf(w, sizeof w, "%s %s", where, key);
    if (ap_json_check_keys(b, keys, 2, w, err) < 0 || get_digest(b, "digest", out->digest, w, err) < 0 ||
        get_size(b, "size", &out->size, w, err) < 0)
        return -1;
    return 0;
}

static int parse_layer(json_t *l, ap_index_layer *out, int version, const char *where, ap_error *err)
{
    static const char *const keys[] = {"digest", "size", "diff_id", "uncompressed_size", "media_type",
                                       "expected"};
    if (!json_is_object(l))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    json_t *exp = json_object_get(l, "expected");
    if (exp) {
        if (version != AP_BUNDLE_FORMAT_DELTA_VERSION)
            return ap_fail(err, AP_ERR_FORMAT, "%s: \"expected\" in a version %d index", where, version);
        if (!json_is_true(exp))
            return ap_fail(err, AP_ERR_FORMAT, "%s: \"expected\" is not true", where);
        out->expected = true;
    }
    if (ap_json_check_keys(l, keys, 6, where, err) < 0 || get_digest(l, "digest", out->digest, where, err) < 0 ||
        get_size(l, "size", &out->size, where, err) < 0 ||
        get_digest(l, "diff_id", out->diff_id, where, err) < 0 ||
        get_size(l, "uncompressed_size", &out->uncompressed_size, where, err) < 0 ||
        get_dup_string(l, "media_type", &out->media_type, where, err) < 0)
        return -1;
    if (out->expected ? !ap_bundle_index_expected_media_type(out->media_type)
                      : !ap_str_in_list(out->media_type, layer_media_types, N_LAYER_MEDIA_TYPES))
        return ap_fail(err, AP_ERR_FORMAT, "%s: unknown layer media type \"%.200s\"", where,
                       out->media_type);
    return 0;
}

/* manifest_media_type (Docker schema 2 only: OCI is the default) and source_manifest. */
static int parse_image_faithful(json_t *im, ap_index_image *out, const char *where, ap_error *err)
{
    if (json_object_get(im, "manifest_media_type")) {
        if (get_dup_string(im, "manifest_media_type", &out->manifest_media_type, where, err) < 0)
            return -1;
        if (strcmp(out->manifest_media_type, AP_DOCKER_MANIFEST_MEDIA_TYPE))
            return ap_fail(err, AP_ERR_FORMAT, "%s: manifest_media_type \"%.200s\" is not %s", where,
                           out->manifest_media_type, AP_DOCKER_MANIFEST_MEDIA_TYPE);
    }
    if (json_object_get(im, "source_manifest")) {
        const char *d;
        char hex[AP_HEX_LEN + 1];
        if (get_string(im, "source_manifest", &d, where, err) < 0 ||
            ap_digest_parse(d, hex, "source_manifest", err) < 0) {
            ap_error_prefix(err, "%s", where);
            return -1;
        }
        snprintf(out->source_manifest, sizeof out->source_manifest, "sha256:%s", hex);
    }
    return 0;
}

const char *ap_index_image_manifest_type(const ap_index_image *im)
{
    return im->manifest_media_type ? im->manifest_media_type : AP_OCI_MANIFEST_MEDIA_TYPE;
}

/* An image's or index's "names": each a non-empty string of at most 4096 bytes. */
static int parse_names(json_t *names, char ***out, size_t *n_out, const char *where, ap_error *err)
{
    size_t nn = json_array_size(names);
    if (nn > 0 && !(*out = calloc(nn, sizeof **out)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < nn; k++) {
        json_t *n = json_array_get(names, k);
        if (!json_is_string(n) || json_string_length(n) == 0 || json_string_length(n) > 4096)
            return ap_fail(err, AP_ERR_FORMAT, "%s: names[%zu] is not a non-empty string", where, k);
        if (!((*out)[k] = strdup(json_string_value(n))))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        *n_out = k + 1;
    }
    return 0;
}

/* A non-empty array at root's key, absent when optional: *items gets one parsed item per
 * element (parse fills items[i]), *n_items counts those begun (for the free). */
typedef int (*parse_item_fn)(json_t *x, void *items, size_t i, ap_error *err);

static int parse_optional_array(json_t *root, const char *key, size_t item_size, void **items, size_t *n_items,
                                parse_item_fn parse, ap_error *err)
{
    json_t *xs = json_object_get(root, key);
    if (!xs)
        return 0;
    if (!json_is_array(xs) || json_array_size(xs) == 0)
        return ap_fail(err, AP_ERR_FORMAT, "index: \"%s\" is not a non-empty array", key);
    size_t n = json_array_size(xs);
    if (!(*items = calloc(n, item_size)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        *n_items = i + 1;
        if (parse(json_array_get(xs, i), *items, i, err) < 0)
            return -1;
    }
    return 0;
}

static int parse_image(json_t *im, ap_index_image *out, int version, size_t i, ap_error *err)
{
    static const char *const keys[] = {"names", "manifest", "config", "platform", "layers",
                                       "manifest_media_type", "source_manifest"};
    char where[64];
    snprintf(where, sizeof where, "images[%zu]", i);
    if (!json_is_object(im))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    if (ap_json_check_keys(im, keys, 7, where, err) < 0)
        return -1;
    if (parse_image_faithful(im, out, where, err) < 0)
        return -1;

    json_t *names = get_typed(im, "names", JSON_ARRAY, "an array", where, err);
    if (!names)
        return -1;
    if (parse_names(names, &out->names, &out->n_names, where, err) < 0)
        return -1;

    if (parse_blob(im, "manifest", &out->manifest, where, err) < 0 ||
        parse_blob(im, "config", &out->config, where, err) < 0)
        return -1;

    json_t *plat = json_object_get(im, "platform");
    if (plat && !json_is_null(plat)) {
        if (!json_is_string(plat))
            return ap_fail(err, AP_ERR_FORMAT, "%s: \"platform\" is not a string", where);
        if (!(out->platform = strdup(json_string_value(plat))))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }

    json_t *layers = get_typed(im, "layers", JSON_ARRAY, "an array", where, err);
    if (!layers)
        return -1;
    size_t nl = json_array_size(layers);
    if (nl > 0 && !(out->layers = calloc(nl, sizeof *out->layers)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < nl; k++) {
        char lw[96];
        snprintf(lw, sizeof lw, "%s layers[%zu]", where, k);
        out->n_layers = k + 1;
        if (parse_layer(json_array_get(layers, k), &out->layers[k], version, lw, err) < 0)
            return -1;
    }
    return 0;
}

static int parse_entry(json_t *e, ap_index_entry *out, size_t i, ap_error *err)
{
    static const char *const keys[] = {"path", "size", "sha256"};
    char where[64];
    const char *hex;
    snprintf(where, sizeof where, "entries[%zu]", i);
    if (!json_is_object(e))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    if (ap_json_check_keys(e, keys, 3, where, err) < 0 || get_dup_string(e, "path", &out->path, where, err) < 0 ||
        get_size(e, "size", &out->size, where, err) < 0 || get_string(e, "sha256", &hex, where, err) < 0)
        return -1;
    if (!entry_path_valid(out->path))
        return ap_fail(err, AP_ERR_FORMAT, "%s: path \"%.200s\" is not one a bundle may hold", where,
                       out->path);
    if (!ap_hex_valid(hex))
        return ap_fail(err, AP_ERR_FORMAT, "%s (%s): sha256 \"%.100s\" is not 64 lowercase hex digits",
                       where, out->path, hex);
    memcpy(out->sha256, hex, AP_HEX_LEN + 1);
    if (blob_path_valid(out->path) && strcmp(out->path + BLOB_PREFIX_LEN, out->sha256))
        return ap_fail(err, AP_ERR_FORMAT, "%s (%s): sha256 %s does not match the blob's name", where,
                       out->path, out->sha256);
    return 0;
}

static int cmp_entry_ptr(const void *a, const void *b)
{
    const ap_index_entry *x = *(const ap_index_entry *const *)a;
    const ap_index_entry *y = *(const ap_index_entry *const *)b;
    return strcmp(x->path, y->path);
}

/* Entries sorted by path, for duplicate detection and lookups. */
static const ap_index_entry **sorted_entries(const ap_bundle_index *idx, ap_error *err)
{
    const ap_index_entry **s = malloc((idx->n_entries ? idx->n_entries : 1) * sizeof *s);
    if (!s) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < idx->n_entries; i++)
        s[i] = &idx->entries[i];
    qsort(s, idx->n_entries, sizeof *s, cmp_entry_ptr);
    return s;
}

static const ap_index_entry *lookup_sorted(const ap_index_entry **s, size_t n, const char *path)
{
    ap_index_entry key = {.path = (char *)path};
    const ap_index_entry *kp = &key;
    const ap_index_entry **hit = bsearch(&kp, s, n, sizeof *s, cmp_entry_ptr);
    return hit ? *hit : NULL;
}

static int check_blob_listed(const ap_index_entry **s, size_t n, const char *digest, uint64_t size,
                             const char *where, ap_error *err)
{
    char path[BLOB_PREFIX_LEN + AP_HEX_LEN + 1];
    snprintf(path, sizeof path, BLOB_PREFIX "%s", digest + 7);
    const ap_index_entry *e = lookup_sorted(s, n, path);
    if (!e)
        return ap_fail(err, AP_ERR_FORMAT, "%s: blob %s is not a listed entry", where, digest);
    if (e->size != size)
        return ap_fail(err, AP_ERR_FORMAT, "%s: blob %s has size %llu, its entry says %llu", where,
                       digest, (unsigned long long)size, (unsigned long long)e->size);
    return 0;
}

typedef struct {
    const ap_index_layer *layer;
    size_t image;
} layer_ref;

static int cmp_layer_ref(const void *a, const void *b)
{
    return strcmp(((const layer_ref *)a)->layer->digest, ((const layer_ref *)b)->layer->digest);
}

/* Cross-checks: no path twice, every image blob listed with its size, and a layer
 * blob named by several images described the same way each time. */
static int check_indexes(const ap_bundle_index *idx, const ap_index_entry **s, ap_error *err);
static int check_referrers(const ap_bundle_index *idx, const ap_index_entry **s, ap_error *err);

static int check_references(const ap_bundle_index *idx, ap_error *err)
{
    int rc = -1;
    layer_ref *refs = NULL;
    const ap_index_entry **s = sorted_entries(idx, err);
    if (!s)
        return -1;
    for (size_t i = 1; i < idx->n_entries; i++)
        if (!strcmp(s[i - 1]->path, s[i]->path)) {
            ap_fail(err, AP_ERR_FORMAT, "entries: path %s is listed twice", s[i]->path);
            goto out;
        }
    for (size_t i = 0; i < idx->n_entries; i++)
        if (!idx->dense_window_log && dense_path_valid(idx->entries[i].path)) {
            ap_fail(err, AP_ERR_FORMAT, "entries: %s in a bundle that is not dense", idx->entries[i].path);
            goto out;
        }
    size_t n_refs = 0;
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        char where[64];
        snprintf(where, sizeof where, "images[%zu] manifest", i);
        if (check_blob_listed(s, idx->n_entries, im->manifest.digest, im->manifest.size, where, err) < 0)
            goto out;
        snprintf(where, sizeof where, "images[%zu] config", i);
        if (check_blob_listed(s, idx->n_entries, im->config.digest, im->config.size, where, err) < 0)
            goto out;
        for (size_t k = 0; k < im->n_layers; k++) {
            snprintf(where, sizeof where, "images[%zu] layers[%zu]", i, k);
            if (im->layers[k].expected) {
                char path[BLOB_PREFIX_LEN + AP_HEX_LEN + 1];
                snprintf(path, sizeof path, BLOB_PREFIX "%s", im->layers[k].digest + 7);
                if (lookup_sorted(s, idx->n_entries, path)) {
                    ap_fail(err, AP_ERR_FORMAT, "%s: blob %s is expected in the target but also listed "
                            "as an entry", where, im->layers[k].digest);
                    goto out;
                }
                continue;
            }
            if (idx->dense_window_log) {
                /* the blobs a loader remakes: zstd, or the plain tars (compression "none") */
                bool plain = idx->compression && !strcmp(idx->compression, "none");
                const char *want = plain ? "application/vnd.oci.image.layer.v1.tar"
                                         : "application/vnd.oci.image.layer.v1.tar+zstd";
                if (strcmp(im->layers[k].media_type, want)) {
                    ap_fail(err, AP_ERR_FORMAT, "%s: a dense bundle with compression %s has %s layers, not %.80s",
                            where, plain ? "none" : "zstd", want, im->layers[k].media_type);
                    goto out;
                }
                if (plain && (strcmp(im->layers[k].digest, im->layers[k].diff_id) ||
                              im->layers[k].size != im->layers[k].uncompressed_size)) {
                    ap_fail(err, AP_ERR_FORMAT, "%s: a plain-tar layer of a dense bundle must have its diff_id "
                            "as digest and its uncompressed size as size", where);
                    goto out;
                }
                continue;   /* rebuilt, not stored */
            }
            if (check_blob_listed(s, idx->n_entries, im->layers[k].digest, im->layers[k].size, where,
                                  err) < 0)
                goto out;
        }
        n_refs += im->n_layers;
    }
    if (check_indexes(idx, s, err) < 0 || check_referrers(idx, s, err) < 0)
        goto out;
    refs = malloc((n_refs ? n_refs : 1) * sizeof *refs);
    if (!refs) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t r = 0;
    for (size_t i = 0; i < idx->n_images; i++)
        for (size_t k = 0; k < idx->images[i].n_layers; k++)
            refs[r++] = (layer_ref){&idx->images[i].layers[k], i};
    qsort(refs, n_refs, sizeof *refs, cmp_layer_ref);
    for (size_t i = 1; i < n_refs; i++) {
        const ap_index_layer *a = refs[i - 1].layer, *b = refs[i].layer;
        if (strcmp(a->digest, b->digest))
            continue;
        if (strcmp(a->diff_id, b->diff_id) || a->uncompressed_size != b->uncompressed_size ||
            a->expected != b->expected ||
            strcmp(a->media_type, b->media_type)) {
            ap_fail(err, AP_ERR_FORMAT,
                    "images[%zu] and images[%zu]: layer blob %s is described differently "
                    "(diff_id, uncompressed_size or media_type)",
                    refs[i - 1].image, refs[i].image, a->digest);
            goto out;
        }
    }
    rc = 0;
out:
    free(refs);
    free(s);
    return rc;
}

/* ---- trust over time: sequence, channel, expiry -------------------------------- */

bool ap_channel_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > AP_CHANNEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

const char *ap_bundle_index_channel(const ap_bundle_index *idx)
{
    return idx->channel ? idx->channel : AP_DEFAULT_CHANNEL;
}

int64_t ap_bundle_index_created(const ap_bundle_index *idx)
{
    int64_t t;
    return idx->created && ap_time_parse(idx->created, &t, "created", NULL) == 0 ? t : -1;
}

int ap_bundle_index_expiry(const ap_bundle_index *idx, int64_t *t)
{
    return idx->expires && ap_time_parse(idx->expires, t, "expires", NULL) == 0 ? 1 : 0;
}

static int get_positive(json_t *obj, const char *key, uint64_t *out, ap_error *err)
{
    if (get_size(obj, key, out, "trust", err) < 0)
        return -1;
    if (*out == 0)
        return ap_fail(err, AP_ERR_FORMAT, "trust: \"%s\" must be at least 1", key);
    return 0;
}

/* The optional "trust" object (any format version). Without it: the defaults above. */
static int parse_trust(json_t *root, ap_bundle_index *out, ap_error *err)
{
    static const char *const keys[] = {"channel", "sequence", "expires", "base_sequence"};
    json_t *t = json_object_get(root, "trust");
    int64_t created = ap_bundle_index_created(out);
    out->sequence = created > 0 ? (uint64_t)created : 0;
    if (!t)
        return 0;
    if (!json_is_object(t))
        return ap_fail(err, AP_ERR_FORMAT, "index: \"trust\" is not an object");
    if (created < 0)
        return ap_fail(err, AP_ERR_FORMAT, "index: \"created\" \"%.40s\" is not a time of the form "
                       "YYYY-MM-DDTHH:MM:SSZ, which a bundle with \"trust\" needs", out->created);
    if (ap_json_check_keys(t, keys, 4, "trust", err) < 0 || get_dup_string(t, "channel", &out->channel, "trust", err) < 0 ||
        get_positive(t, "sequence", &out->sequence, err) < 0)
        return -1;
    out->sequence_set = true;
    if (!ap_channel_valid(out->channel))
        return ap_fail(err, AP_ERR_FORMAT, "trust: channel \"%.80s\" is not 1-%d of a-z, 0-9, '.', '_', '-'",
                       out->channel, AP_CHANNEL_MAX);
    if (json_object_get(t, "expires")) {
        int64_t exp;
        if (get_dup_string(t, "expires", &out->expires, "trust", err) < 0 ||
            ap_time_parse(out->expires, &exp, "trust: expires", err) < 0)
            return -1;
        if (exp <= created)
            return ap_fail(err, AP_ERR_FORMAT, "trust: expires %s is not after created %s", out->expires,
                           out->created);
    }
    if (json_object_get(t, "base_sequence") && get_positive(t, "base_sequence", &out->base_sequence, err) < 0)
        return -1;
    return 0;
}

/* ---- "indexes": image indexes for names several platforms carry ------------------ */

static int parse_index_entry(json_t *x, void *items, size_t i, ap_error *err)
{
    ap_index_index *out = (ap_index_index *)items + i;
    static const char *const keys[] = {"names", "digest", "size", "media_type", "manifests", "carried"};
    char where[64];
    snprintf(where, sizeof where, "indexes[%zu]", i);
    if (!json_is_object(x))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    if (ap_json_check_keys(x, keys, 6, where, err) < 0 || get_digest(x, "digest", out->blob.digest, where, err) < 0 ||
        get_size(x, "size", &out->blob.size, where, err) < 0 ||
        get_dup_string(x, "media_type", &out->media_type, where, err) < 0)
        return -1;
    if (strcmp(out->media_type, AP_OCI_INDEX_MEDIA_TYPE) && strcmp(out->media_type, AP_DOCKER_LIST_MEDIA_TYPE))
        return ap_fail(err, AP_ERR_FORMAT, "%s: media_type \"%.200s\" is not an image index's", where,
                       out->media_type);
    json_t *c = json_object_get(x, "carried");
    if (c && !json_is_true(c))
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"carried\" is not true", where);
    out->carried = c != NULL;
    json_t *names = get_typed(x, "names", JSON_ARRAY, "an array", where, err);
    json_t *ms = names ? get_typed(x, "manifests", JSON_ARRAY, "an array", where, err) : NULL;
    if (!ms)
        return -1;
    size_t nn = json_array_size(names), nm = json_array_size(ms);
    if (nn == 0 || nm == 0)
        return ap_fail(err, AP_ERR_FORMAT, "%s: no names or no manifests", where);
    if (!(out->manifests = calloc(nm, sizeof *out->manifests)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (parse_names(names, &out->names, &out->n_names, where, err) < 0)
        return -1;
    for (size_t k = 0; k < nm; k++) {
        const char *d = json_string_value(json_array_get(ms, k));
        char hex[AP_HEX_LEN + 1];
        if (!d || ap_digest_parse(d, hex, "manifest digest", err) < 0) {
            ap_error_prefix(err, "%s manifests[%zu]", where, k);
            return -1;
        }
        snprintf(out->manifests[k], sizeof out->manifests[k], "sha256:%s", hex);
        out->n_manifests = k + 1;
    }
    return 0;
}

/* Each index is a listed blob; each manifest it lists is an image of the index that
 * carries each of its names. */
static int check_indexes(const ap_bundle_index *idx, const ap_index_entry **s, ap_error *err)
{
    for (size_t i = 0; i < idx->n_indexes; i++) {
        const ap_index_index *x = &idx->indexes[i];
        char where[64];
        snprintf(where, sizeof where, "indexes[%zu]", i);
        if (check_blob_listed(s, idx->n_entries, x->blob.digest, x->blob.size, where, err) < 0)
            return -1;
        for (size_t k = 0; k < x->n_manifests; k++) {
            bool found = false;
            for (size_t m = 0; m < idx->n_images && !found; m++) {
                const ap_index_image *im = &idx->images[m];
                if (strcmp(im->manifest.digest, x->manifests[k]))
                    continue;
                found = true;
                for (size_t n = 0; n < x->n_names && found; n++) {
                    bool has = false;
                    for (size_t q = 0; q < im->n_names; q++)
                        has |= !strcmp(im->names[q], x->names[n]);
                    found = has;
                }
            }
            if (!found)
                return ap_fail(err, AP_ERR_FORMAT, "%s: manifest %s is no image of the index carrying its names",
                               where, x->manifests[k]);
        }
    }
    return 0;
}

static int parse_indexes(json_t *root, ap_bundle_index *out, ap_error *err)
{
    void *items = NULL;
    int rc = parse_optional_array(root, "indexes", sizeof *out->indexes, &items, &out->n_indexes, parse_index_entry, err);
    out->indexes = items;
    return rc;
}

static int put(json_t *obj, const char *key, json_t *v);
static json_t *size_value(uint64_t n);

static json_t *indexes_json(const ap_bundle_index *idx)
{
    json_t *xs = json_array();
    for (size_t i = 0; xs && i < idx->n_indexes; i++) {
        const ap_index_index *x = &idx->indexes[i];
        json_t *o = json_object(), *names = json_array(), *ms = json_array();
        for (size_t k = 0; names && k < x->n_names; k++)
            json_array_append_new(names, json_string(x->names[k]));
        for (size_t k = 0; ms && k < x->n_manifests; k++)
            json_array_append_new(ms, json_string(x->manifests[k]));
        if (!o || put(o, "names", names) < 0 || put(o, "digest", json_string(x->blob.digest)) < 0 ||
            put(o, "size", size_value(x->blob.size)) < 0 ||
            put(o, "media_type", json_string(x->media_type ? x->media_type : "")) < 0 ||
            put(o, "manifests", ms) < 0 || (x->carried && put(o, "carried", json_true()) < 0) ||
            json_array_append_new(xs, o) < 0) {
            json_decref(xs);
            return NULL;
        }
    }
    return xs;
}

/* ---- "referrers": signatures, attestations, SBOMs carried with their subjects ---- */

static int parse_referrer(json_t *x, void *items, size_t i, ap_error *err)
{
    ap_index_referrer *out = (ap_index_referrer *)items + i;
    static const char *const keys[] = {"subject", "tag", "media_type", "manifest", "blobs"};
    char where[64];
    snprintf(where, sizeof where, "referrers[%zu]", i);
    if (!json_is_object(x))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    if (ap_json_check_keys(x, keys, 5, where, err) < 0 || get_digest(x, "subject", out->subject, where, err) < 0 ||
        get_dup_string(x, "tag", &out->tag, where, err) < 0 ||
        get_dup_string(x, "media_type", &out->media_type, where, err) < 0 ||
        parse_blob(x, "manifest", &out->manifest, where, err) < 0)
        return -1;
    /* "" (an OCI 1.1 referrer, by digest), sha256-<hex> (its fallback tag's index) or cosign's */
    size_t tl = strlen(out->tag);
    if (tl && (tl < 7 + AP_HEX_LEN || strncmp(out->tag, "sha256-", 7) ||
               strncmp(out->tag + 7, out->subject + 7, AP_HEX_LEN) ||
               (tl != 7 + AP_HEX_LEN && strcmp(out->tag + 7 + AP_HEX_LEN, ".sig") &&
                strcmp(out->tag + 7 + AP_HEX_LEN, ".att") && strcmp(out->tag + 7 + AP_HEX_LEN, ".sbom"))))
        return ap_fail(err, AP_ERR_FORMAT, "%s: tag \"%.200s\" is not sha256-<subject hex>[.sig|.att|.sbom]", where,
                       out->tag);
    bool fallback = tl == 7 + AP_HEX_LEN;
    if (fallback ? strcmp(out->media_type, AP_OCI_INDEX_MEDIA_TYPE)
                 : strcmp(out->media_type, AP_OCI_MANIFEST_MEDIA_TYPE) &&
                       strcmp(out->media_type, AP_DOCKER_MANIFEST_MEDIA_TYPE))
        return ap_fail(err, AP_ERR_FORMAT, "%s: media_type \"%.200s\" is not an image %s's", where,
                       out->media_type, fallback ? "index" : "manifest");
    json_t *bs = get_typed(x, "blobs", JSON_ARRAY, "an array", where, err);
    if (!bs)
        return -1;
    size_t n = json_array_size(bs);
    if (!(out->blobs = calloc(n ? n : 1, sizeof *out->blobs)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        json_t *b = json_array_get(bs, k);
        static const char *const bkeys[] = {"digest", "size"};
        if (!json_is_object(b) || ap_json_check_keys(b, bkeys, 2, where, err) < 0 ||
            get_digest(b, "digest", out->blobs[k].digest, where, err) < 0 ||
            get_size(b, "size", &out->blobs[k].size, where, err) < 0)
            return json_is_object(b) ? -1 : ap_fail(err, AP_ERR_FORMAT, "%s: blobs[%zu] is not an object", where, k);
        out->n_blobs = k + 1;
    }
    return 0;
}

static int parse_referrers(json_t *root, ap_bundle_index *out, ap_error *err)
{
    void *items = NULL;
    int rc = parse_optional_array(root, "referrers", sizeof *out->referrers, &items, &out->n_referrers, parse_referrer, err);
    out->referrers = items;
    return rc;
}

/* Each referrer's subject is an image's manifest or an index of the bundle; its manifest
 * and blobs are listed entries. */
static int check_referrers(const ap_bundle_index *idx, const ap_index_entry **s, ap_error *err)
{
    for (size_t i = 0; i < idx->n_referrers; i++) {
        const ap_index_referrer *x = &idx->referrers[i];
        char where[160];
        snprintf(where, sizeof where, "referrers[%zu] (%.80s)", i, x->tag);
        bool found = false;
        for (size_t m = 0; m < idx->n_images && !found; m++)
            found = !strcmp(idx->images[m].manifest.digest, x->subject);
        for (size_t m = 0; m < idx->n_indexes && !found; m++)
            found = !strcmp(idx->indexes[m].blob.digest, x->subject);
        if (!found)
            return ap_fail(err, AP_ERR_FORMAT, "%s: subject %s is no image or index of the bundle", where, x->subject);
        if (check_blob_listed(s, idx->n_entries, x->manifest.digest, x->manifest.size, where, err) < 0)
            return -1;
        for (size_t k = 0; k < x->n_blobs; k++)
            if (check_blob_listed(s, idx->n_entries, x->blobs[k].digest, x->blobs[k].size, where, err) < 0)
                return -1;
    }
    return 0;
}

static int put(json_t *obj, const char *key, json_t *v);
static json_t *size_value(uint64_t n);
static json_t *blob_json(const ap_index_blob *b);

static json_t *referrers_json(const ap_bundle_index *idx)
{
    json_t *xs = json_array();
    for (size_t i = 0; xs && i < idx->n_referrers; i++) {
        const ap_index_referrer *x = &idx->referrers[i];
        json_t *o = json_object(), *bs = json_array();
        for (size_t k = 0; bs && k < x->n_blobs; k++)
            json_array_append_new(bs, blob_json(&x->blobs[k]));
        if (!o || put(o, "subject", json_string(x->subject)) < 0 || put(o, "tag", json_string(x->tag ? x->tag : "")) < 0 ||
            put(o, "media_type", json_string(x->media_type ? x->media_type : "")) < 0 ||
            put(o, "manifest", blob_json(&x->manifest)) < 0 || put(o, "blobs", bs) < 0 ||
            json_array_append_new(xs, o) < 0) {
            json_decref(xs);
            return NULL;
        }
    }
    return xs;
}

static int parse_root(json_t *root, ap_bundle_index *out, ap_error *err)
{
    static const char *const keys[] = {"airpack_bundle", "created", "tool", "compression", "images",
                                       "entries", "dense", "trust", "indexes", "referrers"};
    if (!json_is_object(root))
        return ap_fail(err, AP_ERR_FORMAT, "not a JSON object");
    /* The version first: an index from a newer airpack is refused as such. */
    json_t *ver = json_object_get(root, "airpack_bundle");
    if (!ver)
        return ap_fail(err, AP_ERR_FORMAT, "not an airpack bundle index (no \"airpack_bundle\")");
    if (!json_is_integer(ver) || (json_integer_value(ver) != AP_BUNDLE_FORMAT_VERSION &&
                                  json_integer_value(ver) != AP_BUNDLE_FORMAT_DELTA_VERSION &&
                                  json_integer_value(ver) != AP_BUNDLE_FORMAT_DENSE)) {
        char *v = json_dumps(ver, JSON_COMPACT | JSON_ENCODE_ANY);
        ap_fail(err, AP_ERR_FORMAT, "unknown bundle format version %.40s (this airpack reads versions %d, %d and %d)",
                v ? v : "?", AP_BUNDLE_FORMAT_VERSION, AP_BUNDLE_FORMAT_DELTA_VERSION, AP_BUNDLE_FORMAT_DENSE);
        free(v);
        return -1;
    }
    out->version = (int)json_integer_value(ver);
    json_t *dense = json_object_get(root, "dense");
    if ((out->version == AP_BUNDLE_FORMAT_DENSE) != (dense != NULL))
        return ap_fail(err, AP_ERR_FORMAT, "index: \"dense\" must be present exactly in a version %d bundle",
                       AP_BUNDLE_FORMAT_DENSE);
    if (dense) {
        static const char *const dkeys[] = {"window_log", "unique_bytes", "zstd", "blob_level"};
        uint64_t wl;
        json_t *bl = json_object_get(dense, "blob_level");
        if (!json_is_integer(bl) || json_integer_value(bl) < -7 || json_integer_value(bl) > 19)
            return ap_fail(err, AP_ERR_FORMAT, "index: dense: blob_level must be an integer from -7 to 19");
        out->dense_blob_level = (int)json_integer_value(bl);
        if (!json_is_object(dense))
            return ap_fail(err, AP_ERR_FORMAT, "index: dense: not an object");
        if (ap_json_check_keys(dense, dkeys, 4, "dense", err) < 0 || get_size(dense, "window_log", &wl, "dense", err) < 0 ||
            get_size(dense, "unique_bytes", &out->dense_unique_bytes, "dense", err) < 0 ||
            get_dup_string(dense, "zstd", &out->dense_zstd, "dense", err) < 0)
            return -1;
        if (strlen(out->dense_zstd) > 32)
            return ap_fail(err, AP_ERR_FORMAT, "index: dense: zstd version is too long");
        if (wl < 10 || wl > 31)
            return ap_fail(err, AP_ERR_FORMAT, "index: dense: window_log %llu is outside 10..31",
                           (unsigned long long)wl);
        out->dense_window_log = (unsigned)wl;
    }
    if (ap_json_check_keys(root, keys, 10, "index", err) < 0 ||
        get_dup_string(root, "created", &out->created, "index", err) < 0 ||
        get_dup_string(root, "tool", &out->tool, "index", err) < 0 ||
        get_dup_string(root, "compression", &out->compression, "index", err) < 0 ||
        parse_trust(root, out, err) < 0)
        return -1;
    if (!ap_str_in_list(out->compression, compressions, 3))
        return ap_fail(err, AP_ERR_FORMAT, "index: unknown compression \"%.40s\"", out->compression);
    if (out->dense_window_log && !strcmp(out->compression, "gzip"))
        return ap_fail(err, AP_ERR_FORMAT, "index: a dense bundle's compression is zstd or none, not gzip");

    json_t *images = get_typed(root, "images", JSON_ARRAY, "an array", "index", err);
    if (!images)
        return -1;
    size_t ni = json_array_size(images);
    if (ni > AP_MAX_IMAGES)
        return ap_fail(err, AP_ERR_FORMAT, "index: %zu images, over the limit of %u images a bundle may hold",
                       ni, AP_MAX_IMAGES);
    if (ni > 0 && !(out->images = calloc(ni, sizeof *out->images)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ni; i++) {
        out->n_images = i + 1;
        if (parse_image(json_array_get(images, i), &out->images[i], out->version, i, err) < 0)
            return -1;
    }

    if (parse_indexes(root, out, err) < 0 || parse_referrers(root, out, err) < 0)
        return -1;
    json_t *entries = get_typed(root, "entries", JSON_ARRAY, "an array", "index", err);
    if (!entries)
        return -1;
    size_t ne = json_array_size(entries);
    if (ne > AP_MAX_ENTRIES)
        return ap_fail(err, AP_ERR_FORMAT, "index: %zu entries, over the limit of %u entries a bundle may hold",
                       ne, AP_MAX_ENTRIES);
    if (ne > 0 && !(out->entries = calloc(ne, sizeof *out->entries)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ne; i++) {
        out->n_entries = i + 1;
        if (parse_entry(json_array_get(entries, i), &out->entries[i], i, err) < 0)
            return -1;
    }
    if (out->version == AP_BUNDLE_FORMAT_DELTA_VERSION && ap_bundle_index_n_expected(out) == 0)
        return ap_fail(err, AP_ERR_FORMAT, "index: version %d is a delta bundle's, but no layer is expected in "
                       "the target", AP_BUNDLE_FORMAT_DELTA_VERSION);
    return check_references(out, err);
}

int ap_bundle_index_parse(const char *buf, size_t len, ap_bundle_index *out, ap_error *err)
{
    memset(out, 0, sizeof *out);
    /* Only ASCII whitespace may follow the object (padding). jansson allows
     * exactly space, tab, CR and LF after the value, which is that. */
    json_t *root = ap_json_load_strict(buf, len, AP_INDEX_MAX_SIZE, AP_JSON_MAX_DEPTH, "bundle index", err);
    if (!root)
        return -1;
    int rc = parse_root(root, out, err);
    json_decref(root);
    if (rc < 0) {
        if (err && strncmp(err->msg, "bundle index", 12))
            ap_error_prefix(err, "bundle index");
        if (err && err->code != AP_ERR_NOMEM)
            err->code = AP_ERR_FORMAT;
        ap_bundle_index_free(out);
        return -1;
    }
    return 0;
}

void ap_bundle_index_free(ap_bundle_index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->n_images; i++) {
        ap_index_image *im = &idx->images[i];
        for (size_t k = 0; k < im->n_names; k++)
            free(im->names[k]);
        free(im->names);
        free(im->platform);
        free(im->manifest_media_type);
        for (size_t k = 0; k < im->n_layers; k++)
            free(im->layers[k].media_type);
        free(im->layers);
    }
    free(idx->images);
    for (size_t i = 0; i < idx->n_indexes; i++) {
        for (size_t k = 0; k < idx->indexes[i].n_names; k++)
            free(idx->indexes[i].names[k]);
        free(idx->indexes[i].names);
        free(idx->indexes[i].manifests);
        free(idx->indexes[i].media_type);
    }
    free(idx->indexes);
    for (size_t i = 0; i < idx->n_referrers; i++) {
        free(idx->referrers[i].tag);
        free(idx->referrers[i].media_type);
        free(idx->referrers[i].blobs);
    }
    free(idx->referrers);
    for (size_t i = 0; i < idx->n_entries; i++)
        free(idx->entries[i].path);
    free(idx->entries);
    free(idx->created);
    free(idx->tool);
    free(idx->compression);
    free(idx->dense_zstd);
    free(idx->channel);
    free(idx->expires);
    memset(idx, 0, sizeof *idx);
}

static const char *const expected_media_types[] = {
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
};

/* An expected layer is the blob the target holds, whatever its compression. */
bool ap_bundle_index_expected_media_type(const char *media_type)
{
    return ap_str_in_list(media_type, expected_media_types,
                          sizeof expected_media_types / sizeof expected_media_types[0]);
}

size_t ap_bundle_index_n_expected(const ap_bundle_index *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < idx->n_images; i++)
        for (size_t k = 0; k < idx->images[i].n_layers; k++)
            n += idx->images[i].layers[k].expected;
    return n;
}

const ap_index_entry *ap_bundle_index_find(const ap_bundle_index *idx, const char *path)
{
    for (size_t i = 0; i < idx->n_entries; i++)
        if (!strcmp(idx->entries[i].path, path))
            return &idx->entries[i];
    return NULL;
}

/* ---- writing ---------------------------------------------------------------- */

/* Adds key: value to obj, taking the reference; a NULL value (allocation failure) fails. */
static int put(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *size_value(uint64_t n)
{
    return n > (uint64_t)INT64_MAX ? NULL : json_integer((json_int_t)n);
}

static json_t *blob_json(const ap_index_blob *b)
{
    json_t *o = json_object();
    if (!o || put(o, "digest", json_string(b->digest)) < 0 || put(o, "size", size_value(b->size)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *image_json(const ap_index_image *im)
{
    json_t *o = json_object(), *names = json_array(), *layers = json_array();
    if (!o || !names || !layers)
        goto fail;
    for (size_t k = 0; k < im->n_names; k++)
        if (json_array_append_new(names, json_string(im->names[k])) < 0)
            goto fail;
    for (size_t k = 0; k < im->n_layers; k++) {
        const ap_index_layer *l = &im->layers[k];
        json_t *lo = json_object();
        if (!lo || json_array_append_new(layers, lo) < 0 || put(lo, "digest", json_string(l->digest)) < 0 ||
            put(lo, "size", size_value(l->size)) < 0 || put(lo, "diff_id", json_string(l->diff_id)) < 0 ||
            put(lo, "uncompressed_size", size_value(l->uncompressed_size)) < 0 ||
            put(lo, "media_type", json_string(l->media_type ? l->media_type : "")) < 0 ||
            (l->expected && put(lo, "expected", json_true()) < 0))
            goto fail;
    }
    if (put(o, "names", names) < 0) {
        names = NULL;
        goto fail;
    }
    names = NULL;
    if (put(o, "manifest", blob_json(&im->manifest)) < 0 || put(o, "config", blob_json(&im->config)) < 0)
        goto fail;
    if (im->platform && put(o, "platform", json_string(im->platform)) < 0)
        goto fail;
    json_t *l = layers;
    layers = NULL;
    if (put(o, "layers", l) < 0)
        goto fail;
    if (im->manifest_media_type && put(o, "manifest_media_type", json_string(im->manifest_media_type)) < 0)
        goto fail;
    if (im->source_manifest[0] && put(o, "source_manifest", json_string(im->source_manifest)) < 0)
        goto fail;
    return o;
fail:
    json_decref(names);
    json_decref(layers);
    json_decref(o);
    return NULL;
}

/* "trust" only when a field differs from its default (sequence = created in seconds). */
static int put_trust(json_t *root, const ap_bundle_index *idx)
{
    if (!idx->sequence_set && !idx->channel && !idx->expires && !idx->base_sequence)
        return 0;
    uint64_t seq = idx->sequence;
    if (!idx->sequence_set || !seq) {
        int64_t c = ap_bundle_index_created(idx);
        seq = c > 0 ? (uint64_t)c : 0;
    }
    json_t *t = json_object();
    if (put(root, "trust", t) < 0 || put(t, "channel", json_string(ap_bundle_index_channel(idx))) < 0 ||
        put(t, "sequence", size_value(seq)) < 0 || (idx->expires && put(t, "expires", json_string(idx->expires)) < 0) ||
        (idx->base_sequence && put(t, "base_sequence", size_value(idx->base_sequence)) < 0))
        return -1;
    return 0;
}

char *ap_bundle_index_write(const ap_bundle_index *idx, size_t *len, ap_error *err)
{
    json_t *root = json_object(), *images = json_array(), *entries = json_array();
    char *out = NULL;
    if (!root || !images || !entries)
        goto fail;
    int version = idx->version ? idx->version : AP_BUNDLE_FORMAT_VERSION;
    if (idx->dense_window_log)
        version = AP_BUNDLE_FORMAT_DENSE;
    else if (ap_bundle_index_n_expected(idx) > 0)
        version = AP_BUNDLE_FORMAT_DELTA_VERSION;
    else if (version != AP_BUNDLE_FORMAT_VERSION)
        version = AP_BUNDLE_FORMAT_VERSION;
    if (put(root, "airpack_bundle", json_integer(version)) < 0 ||
        put(root, "created", json_string(idx->created ? idx->created : "")) < 0 ||
        put(root, "tool", json_string(idx->tool ? idx->tool : "")) < 0 ||
        put(root, "compression", json_string(idx->compression ? idx->compression : "")) < 0)
        goto fail;
    if (idx->dense_window_log) {
        json_t *d = json_object();
        if (put(root, "dense", d) < 0 || put(d, "window_log", json_integer(idx->dense_window_log)) < 0 ||
            put(d, "unique_bytes", size_value(idx->dense_unique_bytes)) < 0 ||
            put(d, "zstd", json_string(idx->dense_zstd ? idx->dense_zstd : "")) < 0 ||
            put(d, "blob_level", json_integer(idx->dense_blob_level)) < 0)
            goto fail;
    }
    if (put_trust(root, idx) < 0)
        goto fail;
    for (size_t i = 0; i < idx->n_images; i++)
        if (json_array_append_new(images, image_json(&idx->images[i])) < 0)
            goto fail;
    for (size_t i = 0; i < idx->n_entries; i++) {
        const ap_index_entry *e = &idx->entries[i];
        json_t *eo = json_object();
        if (!eo || json_array_append_new(entries, eo) < 0 ||
            put(eo, "path", json_string(e->path ? e->path : "")) < 0 ||
            put(eo, "size", size_value(e->size)) < 0 || put(eo, "sha256", json_string(e->sha256)) < 0)
            goto fail;
    }
    json_t *tmp = images;
    images = NULL;
    if (put(root, "images", tmp) < 0)
        goto fail;
    if (idx->n_indexes && put(root, "indexes", indexes_json(idx)) < 0)
        goto fail;
    if (idx->n_referrers && put(root, "referrers", referrers_json(idx)) < 0)
        goto fail;
    tmp = entries;
    entries = NULL;
    if (put(root, "entries", tmp) < 0)
        goto fail;
    out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!out) {
        ap_fail(err, AP_ERR_NOMEM, "bundle index: out of memory while writing");
        return NULL;
    }
    size_t n = strlen(out);
    /* What we write must be what a reader accepts. */
    ap_bundle_index check;
    if (ap_bundle_index_parse(out, n, &check, err) < 0) {
        ap_error_prefix(err, "refusing to write an invalid index");
        free(out);
        return NULL;
    }
    ap_bundle_index_free(&check);
    if (len)
        *len = n;
    return out;
fail:
    json_decref(images);
    json_decref(entries);
    json_decref(root);
    ap_fail(err, AP_ERR_FORMAT,
            "bundle index: cannot write (out of memory, a size over 2^63, or a string that is not UTF-8)");
    return NULL;
}
