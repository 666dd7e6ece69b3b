/* pack.c: see pack.h. */
#include "pack.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "../formats/bundle_index.h"
#include "../formats/digest.h"
#include "bundle_writer.h"
#include "dense_pack.h"
#include "../formats/image_ref.h"
#include "../formats/gunzip_fast.h"
#include "../formats/oci_writer.h"
#include "layer_store.h"
#include "source.h"

#define LAYER_CHUNK (1u << 20)
#define TOOL_NAME "airpack 0.1.0"
#define UNTRUSTED_COMMENT "signature from airpack secret key"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"

typedef struct {
    source_image *src;
    size_t source;
    char **names;                 /* borrowed from the sources */
    size_t n_names;
    bool had_names;
    bool by_id;                   /* selected by --image ID */
    bool faithful;                /* carried with its source manifest, byte for byte */
    stored_layer **layers;
    char manifest_digest[AP_DIGEST_LEN + 1];
    uint64_t manifest_size;
} pack_image;

typedef struct {
    const pack_options *opts;
    source *sources;
    size_t n_sources;
    pack_image *images;
    size_t n_images;
    layer_store store;
    bundle_writer *w;
    ap_compressor *z;
    size_t current;               /* the source being streamed */
    uint64_t done_before;         /* bytes of earlier sources, for progress */
    ap_sha256 *diff_hash;
    uint64_t usize;
    ap_index_entry *entries;
    size_t n_entries;
    json_t *entry_paths;          /* the entries' paths as keys: written once, looked up in O(1) */
    json_t *image_keys;           /* config (faithful: + manifest) digest -> 1 + index in images */
    json_t *store_paths;          /* "p SOURCE PATH" and "c SOURCE DIFFHEX" -> the store's layers there, in order */
    size_t store_paths_n;         /* the store's size when store_paths was built */
    oci_w_index *w_indexes;       /* the indexes write_metadata wrote (names several platforms carry) */
    size_t n_w_indexes;
    unsigned char *chunk;
    dense_pack *dense;            /* pack --dense: layers go here, not to blobs */
    ap_sha256 *blob_hash;         /* --dense: the zstd blob a loader will make of the layer */
    uint64_t blob_size;
    int blob_level;
    char expires[32];             /* opts->expires as RFC 3339 */
} packer;

/* ---- choosing images -------------------------------------------------- */

static bool matches_filter(const packer *p, const source_image *img, bool *by_id)
{
    const pack_options *o = p->opts;
    *by_id = false;
    if (o->n_images == 0)
        return true;
    for (size_t f = 0; f < o->n_images; f++) {
        const char *want = o->images[f];
        const char *hex = !strncmp(want, "sha256:", 7) ? want + 7 : want;
        size_t hl = strlen(hex);
        if (hl >= 12 && hl <= AP_HEX_LEN && !strncmp(img->config_digest + 7, hex, hl)) {
            *by_id = true;
            return true;
        }
        char full[512];
        if (image_ref_normalize(want, full, sizeof full, NULL) < 0)
            continue;
        for (size_t k = 0; k < img->n_names; k++)
            if (!strcmp(img->names[k], full))
                return true;
    }
    return false;
}

static int add_image(packer *p, size_t s, source_image *img, bool by_id, ap_error *err)
{
    /* the image with the same config (kept as their sources signed them, one config under
     * two manifests is two images), through a hash table rather than a scan of every image */
    char key[2 * AP_DIGEST_LEN + 4];
    snprintf(key, sizeof key, "%s %s", img->config_digest, p->opts->faithful ? img->manifest_digest : "");
    if (!p->image_keys && !(p->image_keys = json_object()))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    json_t *at = json_object_get(p->image_keys, key);
    for (size_t i = at ? (size_t)json_integer_value(at) - 1 : p->n_images; i < p->n_images; i = p->n_images) {
        pack_image *pi = &p->images[i];
        /* the same image again: merge its names */
        for (size_t k = 0; k < img->n_names; k++) {
            bool have = false;
            for (size_t j = 0; j < pi->n_names; j++)
                have |= !strcmp(pi->names[j], img->names[k]);
            if (have)
                continue;
            char **grown = realloc(pi->names, (pi->n_names + 1) * sizeof *grown);
            if (!grown)
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
            pi->names = grown;
            pi->names[pi->n_names++] = img->names[k];
        }
        pi->had_names |= img->n_names > 0;
        pi->by_id |= by_id;
        return 0;
    }
    pack_image *grown = realloc(p->images, (p->n_images + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    p->images = grown;
    if (json_object_set_new(p->image_keys, key, json_integer((json_int_t)p->n_images + 1)) < 0)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    pack_image *pi = &p->images[p->n_images++];
    memset(pi, 0, sizeof *pi);
    pi->src = img;
    pi->source = s;
    pi->by_id = by_id;
    pi->had_names = img->n_names > 0;
    if (img->n_names) {
        pi->names = malloc(img->n_names * sizeof *pi->names);
        if (!pi->names)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        memcpy(pi->names, img->names, img->n_names * sizeof *pi->names);
        pi->n_names = img->n_names;
    }
    return 0;
}

static void drop_name(pack_image *pi, const char *name)
{
    for (size_t j = 0; j < pi->n_names; j++)
        if (!strcmp(pi->names[j], name)) {
            memmove(&pi->names[j], &pi->names[j + 1], (pi->n_names - j - 1) * sizeof *pi->names);
            pi->n_names--;
            return;
        }
}

static bool all_platforms(const packer *p)
{
    return p->opts->source_opts && p->opts->source_opts->all_platforms;
}

static void default_platform(const packer *p, char *out, size_t n)
{
    if (p->opts->source_opts && p->opts->source_opts->platform)
        snprintf(out, n, "%s", p->opts->source_opts->platform);
    else
        source_host_platform(out, n);
}

/* The images as the OCI metadata writer sees them; layers and names borrowed (free with
 * free_w_images). */
static oci_w_image *w_images(const packer *p, ap_error *err);
static void free_w_images(oci_w_image *w, size_t n);

static bool has_name(const pack_image *pi, const char *name)
{
    for (size_t k = 0; k < pi->n_names; k++)
        if (!strcmp(pi->names[k], name))
            return true;
    return false;
}

/* Do images of more than one platform carry name? */
static bool multi_name(const packer *p, const char *name)
{
    const char *plat = NULL;
    for (size_t i = 0; i < p->n_images; i++)
        if (has_name(&p->images[i], name)) {
            if (plat && strcmp(plat, p->images[i].src->platform))
                return true;
            plat = p->images[i].src->platform;
        }
    return false;
}

/* How many indexes index.json needs (one per name that several platforms carry). */
static size_t count_nested(const packer *p)
{
    ap_error e;
    oci_w_image *w = w_images(p, &e);
    size_t n = w ? oci_count_multi_platform_names(w, p->n_images) : 0;
    free_w_images(w, p->n_images);
    return n;
}

/* Does any name belong to more than one image? (One pass with a hash table; when none
 * does, there is no conflict to resolve and the pairwise pass below is skipped.) */
static int names_shared(const packer *p, bool *shared, ap_error *err)
{
    json_t *seen = json_object();
    if (!seen)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    *shared = false;
    for (size_t i = 0; i < p->n_images && !*shared; i++)
        for (size_t k = 0; k < p->images[i].n_names && !*shared; k++) {
            json_t *owner = json_object_get(seen, p->images[i].names[k]);
            if (owner)
                *shared = (size_t)json_integer_value(owner) != i;
            else if (json_object_set_new(seen, p->images[i].names[k], json_integer((json_int_t)i)) < 0) {
                json_decref(seen);
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
            }
        }
    json_decref(seen);
    return 0;
}

static int resolve_conflicts(packer *p, ap_error *err)
{
    bool shared;
    if (names_shared(p, &shared, err) < 0)
        return -1;
    for (size_t a = 0; shared && a < p->n_images; a++)
        for (size_t b = a + 1; b < p->n_images; b++)
            for (size_t j = 0; j < p->images[b].n_names; j++) {
                const char *name = p->images[b].names[j];
                bool clash = false;
                if (all_platforms(p) && strcmp(p->images[a].src->platform, p->images[b].src->platform))
                    continue; /* one name, one image per platform */
                for (size_t k = 0; k < p->images[a].n_names; k++)
                    clash |= !strcmp(p->images[a].names[k], name);
                if (!clash)
                    continue;
                switch (p->opts->on_conflict) {
                case PACK_CONFLICT_ERROR:
                    return ap_fail(err, AP_ERR_USAGE,
                                   "image name %s is given to two different images: %s from %s and %s "
                                   "from %s; say which wins with --on-conflict first or --on-conflict last",
                                   name, p->images[a].src->config_digest, p->sources[p->images[a].source].spec,
                                   p->images[b].src->config_digest, p->sources[p->images[b].source].spec);
                case PACK_CONFLICT_FIRST:
                    drop_name(&p->images[b], name);
                    j--;
                    break;
                case PACK_CONFLICT_LAST:
                    drop_name(&p->images[a], name);
                    break;
                }
            }
    /* an image that lost every name to a conflict is no longer wanted */
    size_t kept = 0;
    for (size_t i = 0; i < p->n_images; i++) {
        pack_image *pi = &p->images[i];
        if (pi->had_names && pi->n_names == 0 && !pi->by_id) {
            free(pi->names);
            continue;
        }
        p->images[kept++] = *pi;
    }
    p->n_images = kept;
    return 0;
}

/* Delta: a layer is left out when the far side holds it for every image that
 * uses it (for a Docker engine that depends on the chain below it). */
static int mark_expected(packer *p, ap_error *err)
{
    for (size_t i = 0; i < p->n_images; i++) {
        pack_image *pi = &p->images[i];
        size_t n = pi->src->n_layers;
        const char **ids = calloc(n ? n : 1, sizeof *ids);
        if (!ids)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < n; k++)
            ids[k] = pi->src->layers[k].diff_id;
        for (size_t k = 0; k < n; k++) {
            stored_layer *l = pi->layers[k];
            ap_have_layer held;
            if (!ap_have_holds(p->opts->have, ids, k, &held) ||
                (l->faithful && strcmp(held.digest, l->blob_digest))) {
                l->not_held = true;   /* a faithful manifest names its own blob: only that one is held */
            } else if (!l->media_type) {
                snprintf(l->digest, sizeof l->digest, "%s", held.digest);
                l->size = held.size;
                l->media_type = held.media_type;
            }
        }
        free(ids);
    }
    for (size_t i = 0; i < p->store.n; i++) {
        stored_layer *l = p->store.layers[i];
        if (l->not_held || !l->media_type) {
            l->media_type = NULL;
            l->digest[0] = '\0';
            l->size = 0;
            continue;
        }
        l->expected = true;
        l->packed = true;
        l->uncompressed_size = 0;
    }
    return 0;
}

/* Layer media types a faithful bundle may carry (formats/bundle_index.c lists the same). */
static bool carried_layer_type(const char *mt)
{
    static const char *const types[] = {
        "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar"};
    for (size_t i = 0; mt && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(mt, types[i]))
            return true;
    return false;
}

static bool carried_manifest_type(const char *mt)
{
    return !strcmp(mt, OCI_MANIFEST) || !strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json");
}

/* Are source s's chosen images carried as the source has them? Only when every one
 * has a manifest whose layers are of types a bundle carries; else all are recompressed. */
static bool source_faithful(const packer *p, size_t s)
{
    if (!p->opts->faithful)
        return false;
    for (size_t i = 0; i < p->n_images; i++) {
        const source_image *img = p->images[i].src;
        if (p->images[i].source != s)
            continue;
        if (!img->manifest || !carried_manifest_type(img->manifest_media_type))
            return false;
        for (size_t k = 0; k < img->n_layers; k++)
            if (!carried_layer_type(img->layers[k].media_type))
                return false;
    }
    return true;
}

static int choose_images(packer *p, ap_error *err)
{
    const pack_options *o = p->opts;
    for (size_t s = 0; s < p->n_sources; s++)
        for (size_t i = 0; i < p->sources[s].n_images; i++) {
            bool by_id;
            source_image *img = &p->sources[s].images[i];
            if (matches_filter(p, img, &by_id) && add_image(p, s, img, by_id, err) < 0)
                return -1;
        }
    for (size_t f = 0; f < o->n_images; f++) {
        bool found = false;
        for (size_t s = 0; s < p->n_sources && !found; s++)
            for (size_t i = 0; i < p->sources[s].n_images && !found; i++) {
                packer one = *p;
                pack_options fo = *o;
                fo.images = &o->images[f];
                fo.n_images = 1;
                one.opts = &fo;
                bool by_id;
                found = matches_filter(&one, &p->sources[s].images[i], &by_id);
            }
        if (!found)
            return ap_fail(err, AP_ERR_USAGE, "--image %s: no input has an image of that name or ID",
                           o->images[f]);
    }
    if (resolve_conflicts(p, err) < 0)
        return -1;
    if (p->n_images == 0)
        return ap_fail(err, AP_ERR_USAGE, "no images to pack");
    for (size_t i = 0; i < p->n_images; i++) {
        pack_image *pi = &p->images[i];
        pi->layers = calloc(pi->src->n_layers ? pi->src->n_layers : 1, sizeof *pi->layers);
        if (!pi->layers)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    /* whether each source is kept byte for byte: asked once per source, not once per image */
    signed char *faithful = malloc(p->n_sources ? p->n_sources : 1);
    if (!faithful)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    memset(faithful, -1, p->n_sources ? p->n_sources : 1);
    for (size_t i = 0; i < p->n_images; i++) {
        pack_image *pi = &p->images[i];
        const char *label = pi->n_names ? pi->names[0] : pi->src->config_digest;
        if (faithful[pi->source] < 0)
            faithful[pi->source] = source_faithful(p, pi->source);
        pi->faithful = faithful[pi->source];
        for (size_t k = 0; k < pi->src->n_layers; k++) {
            source_layer *sl = &pi->src->layers[k];
            pi->layers[k] = pi->faithful ? layer_store_add_blob(&p->store, sl->diff_id, sl->blob_digest, sl->blob_size,
                                                                sl->media_type, pi->source, sl->path, label, k + 1)
                                         : layer_store_add(&p->store, sl->diff_id, pi->source, sl->path, label, k + 1);
            if (!pi->layers[k]) {
                free(faithful);
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
            }
        }
    }
    free(faithful);
    return o->have ? mark_expected(p, err) : 0;
}

/* ---- the index -------------------------------------------------------- */

static void format_time(int64_t epoch, char out[32])
{
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A dummy digest, unique for n, of the full width: "sha256:" + 64 hex digits. */
static void placeholder_digest(size_t n, char out[AP_DIGEST_LEN + 1])
{
    snprintf(out, AP_DIGEST_LEN + 1, "sha256:%064zx", n);
}

/* The index's "indexes": what write_metadata wrote, or (placeholder) as wide as it can be:
 * one per name that several platforms carry, with a dummy digest numbered from `first`. */
static int index_indexes(packer *p, bool placeholder, ap_bundle_index *idx, ap_error *err)
{
    size_t n = placeholder ? count_nested(p) : p->n_w_indexes;
    if (n == 0)
        return 0;
    if (!(idx->indexes = calloc(n, sizeof *idx->indexes)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    idx->n_indexes = n;
    size_t j = 0;
    for (size_t i = 0; i < p->n_images && j < n; i++)
        for (size_t k = 0; k < p->images[i].n_names && j < n; k++) {
            const char *name = p->images[i].names[k];
            const oci_w_index *x = NULL;
            for (size_t q = 0; q < p->n_w_indexes && !placeholder; q++)
                if (!strcmp(p->w_indexes[q].name, name))
                    x = &p->w_indexes[q];
            bool seen = false;
            for (size_t q = 0; q < j; q++)
                seen |= !strcmp(idx->indexes[q].names[0], name);
            if (seen || (placeholder ? !multi_name(p, name) : !x))
                continue;
            ap_index_index *o = &idx->indexes[j];
            if (!(o->names = malloc(sizeof *o->names)) ||
                !(o->manifests = calloc(p->n_images, sizeof *o->manifests)))
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
            o->names[0] = (char *)name;
            o->n_names = 1;
            for (size_t m = 0; m < p->n_images; m++)
                if (has_name(&p->images[m], name))
                    strcpy(o->manifests[o->n_manifests++], idx->images[m].manifest.digest);
            if (placeholder) {
                placeholder_digest(p->store.n + p->n_images + j, o->blob.digest);
                o->blob.size = 9223372036854775807ULL;
                o->media_type = AP_DOCKER_LIST_MEDIA_TYPE;   /* the longer */
                o->carried = true;
            } else {
                snprintf(o->blob.digest, sizeof o->blob.digest, "%s", x->digest);
                o->blob.size = x->size;
                o->media_type = (char *)x->media_type;
                o->carried = x->carried;
            }
            j++;
        }
    idx->n_indexes = j;
    return 0;
}

/* ---- referrers (signatures, attestations, SBOMs) ---------------------------------- */

/* Does referrer x travel? Only with the manifest or index it signs, carried byte for byte
 * (after -c its subject's digest changed). Before the metadata is written (`early`), an
 * index of a packed name may still be carried. */
static bool referrer_wanted(const packer *p, const source_referrer *x, bool early)
{
    for (size_t i = 0; i < p->n_images; i++)
        if (p->images[i].faithful && !strcmp(p->images[i].src->manifest_digest, x->subject))
            return true;
    if (!early) {
        for (size_t q = 0; q < p->n_w_indexes; q++)
            if (p->w_indexes[q].carried && !strcmp(p->w_indexes[q].digest, x->subject))
                return true;
        return false;
    }
    for (size_t s = 0; p->opts->faithful && s < p->n_sources; s++)
        for (size_t i = 0; i < p->sources[s].n_indexes; i++)
            if (!strcmp(p->sources[s].indexes[i].digest, x->subject))
                return true;
    return false;
}

/* Calls fn for each referrer that travels. */
#define FOR_REFERRERS(p, early, x)                                                                         \
    for (size_t s_ = 0; s_ < (p)->n_sources; s_++)                                                        \
        for (size_t r_ = 0; r_ < (p)->sources[s_].n_referrers; r_++)                                     \
            for (const source_referrer *x = &(p)->sources[s_].referrers[r_]; x && referrer_wanted(p, x, early); \
                 x = NULL)

static bool path_listed(char (*paths)[AP_HEX_LEN + 16], size_t n, const char *hex)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(paths[i] + 13, hex))
            return true;
    return false;
}

/* The distinct blob paths of the referrers that may travel (an upper bound), written to
 * paths when given; returns how many. */
static size_t referrer_paths(const packer *p, char (*paths)[AP_HEX_LEN + 16])
{
    size_t n = 0;
    FOR_REFERRERS(p, true, x) {
        for (size_t k = 0; k <= x->n_blobs; k++) {
            const char *d = k == 0 ? x->manifest_digest : x->blobs[k - 1].digest;
            bool config = false;   /* an image's config is listed already */
            for (size_t i = 0; i < p->n_images && !config; i++)
                config = !strcmp(p->images[i].src->config_digest, d);
            if (config || (paths && path_listed(paths, n, d + 7)))
                continue;
            if (paths)
                snprintf(paths[n], sizeof paths[n], "blobs/sha256/%s", d + 7);
            n++;
        }
    }
    return n;
}

/* In the placeholder index a subject is its image's or index's dummy digest. */
static void placeholder_subject(const packer *p, const ap_bundle_index *idx, char subject[AP_DIGEST_LEN + 1])
{
    for (size_t i = 0; i < p->n_images; i++)
        if (!strcmp(p->images[i].src->manifest_digest, subject)) {
            memcpy(subject, idx->images[i].manifest.digest, AP_DIGEST_LEN + 1);
            return;
        }
    for (size_t s = 0; s < p->n_sources; s++)
        for (size_t i = 0; i < p->sources[s].n_indexes; i++) {
            const source_index *si = &p->sources[s].indexes[i];
            if (strcmp(si->digest, subject) || !si->name)
                continue;
            for (size_t j = 0; j < idx->n_indexes; j++)
                if (!strcmp(idx->indexes[j].names[0], si->name)) {
                    memcpy(subject, idx->indexes[j].blob.digest, AP_DIGEST_LEN + 1);
                    return;
                }
        }
}

static int index_referrers(packer *p, bool placeholder, ap_bundle_index *idx, ap_error *err)
{
    const uint64_t wide = 9223372036854775807ULL;
    size_t n = 0;
    FOR_REFERRERS(p, placeholder, x) n++;
    if (n == 0)
        return 0;
    if (!(idx->referrers = calloc(n, sizeof *idx->referrers)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    FOR_REFERRERS(p, placeholder, x) {
        ap_index_referrer *o = &idx->referrers[idx->n_referrers++];
        snprintf(o->subject, sizeof o->subject, "%s", x->subject);
        if (placeholder)
            placeholder_subject(p, idx, o->subject);
        o->tag = (char *)x->tag;
        if (placeholder) {   /* names the dummy subject, same length */
            if (!(o->tag = malloc(sizeof x->tag)))
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
            if (x->tag[0])
                snprintf(o->tag, sizeof x->tag, "sha256-%s%s", o->subject + 7, x->tag + 7 + AP_HEX_LEN);
            else
                o->tag[0] = '\0';
        }
        o->media_type = (char *)x->media_type;
        snprintf(o->manifest.digest, sizeof o->manifest.digest, "%s", x->manifest_digest);
        o->manifest.size = placeholder ? wide : x->manifest_len;
        if (!(o->blobs = calloc(x->n_blobs + 1, sizeof *o->blobs)))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < x->n_blobs; k++) {
            snprintf(o->blobs[k].digest, sizeof o->blobs[k].digest, "%s", x->blobs[k].digest);
            o->blobs[k].size = placeholder ? wide : x->blobs[k].len;
        }
        o->n_blobs = x->n_blobs;
    }
    return 0;
}

static int put_entry(void *ctx, const char *path, const void *data, size_t len, ap_error *err);

/* The referrers' blobs and manifests, each once, before the layout's metadata (the writer
 * calls this once it wrote the indexes, so a referrer of an index goes only with it). */
static int write_referrers(void *ctx, oci_w_opts *o, ap_error *err)
{
    packer *p = ctx;
    p->w_indexes = o->indexes;
    p->n_w_indexes = o->n_indexes;
    FOR_REFERRERS(p, false, x) {
        for (size_t k = 0; k < x->n_blobs; k++) {
            char path[AP_HEX_LEN + 16];
            snprintf(path, sizeof path, "blobs/sha256/%s", x->blobs[k].digest + 7);
            if (put_entry(p, path, x->blobs[k].data, x->blobs[k].len, err) < 0)
                return -1;
        }
        char path[AP_HEX_LEN + 16];
        snprintf(path, sizeof path, "blobs/sha256/%s", x->manifest_digest + 7);
        if (put_entry(p, path, x->manifest, x->manifest_len, err) < 0)
            return -1;
    }
    return 0;
}

/* The placeholder index's entries: layers, then each image's config and manifest, the
 * indexes, then the three fixed files, every size as wide as it can be. */
static int placeholder_entries(packer *p, ap_bundle_index *idx, size_t n_layer_entries, size_t n_nested,
                               size_t n_entries, ap_error *err)
{
    const uint64_t wide = 9223372036854775807ULL;
    char (*paths)[AP_HEX_LEN + 16] = calloc(n_entries, sizeof *paths);
    if (!paths)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    size_t e = 0;
    for (size_t i = 0; i < n_layer_entries; i++, e++) {
        char d[AP_DIGEST_LEN + 1];
        placeholder_digest(i, d);
        if (p->dense)   /* the recipe, then the segments */
            snprintf(paths[e], sizeof paths[e], i ? "airpack/dense/%06zu.zst" : "airpack/dense/recipe", i - 1);
        else
            snprintf(paths[e], sizeof paths[e], "blobs/sha256/%s", d + 7);
    }
    json_t *configs = json_object();   /* the configs listed so far (a hash table, not a scan) */
    if (!configs) {
        free(paths);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n_images; i++) {
        /* one config under two manifests (faithful): listed once */
        bool again = json_object_get(configs, p->images[i].src->config_digest) != NULL;
        if (!again && json_object_set_new(configs, p->images[i].src->config_digest, json_true()) < 0) {
            json_decref(configs);
            free(paths);
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        }
        char d[AP_DIGEST_LEN + 1];
        placeholder_digest(p->store.n + p->n_images + n_nested + i, d);
        snprintf(paths[e++], sizeof paths[0], "blobs/sha256/%s",
                 again ? d + 7 : p->images[i].src->config_digest + 7);
        snprintf(paths[e++], sizeof paths[0], "blobs/sha256/%s", idx->images[i].manifest.digest + 7);
    }
    json_decref(configs);
    for (size_t j = 0; j < n_nested; j++) {
        char d[AP_DIGEST_LEN + 1];
        placeholder_digest(p->store.n + p->n_images + j, d);
        snprintf(paths[e++], sizeof paths[0], "blobs/sha256/%s", d + 7);
    }
    e += referrer_paths(p, paths + e);
    strcpy(paths[e++], "oci-layout");
    strcpy(paths[e++], "index.json");
    strcpy(paths[e++], "manifest.json");
    for (size_t k = 0; k < n_entries; k++) {
        idx->entries[k].path = paths[k];
        idx->entries[k].size = wide;
        if (!strncmp(paths[k], "blobs/sha256/", 13))
            memcpy(idx->entries[k].sha256, paths[k] + 13, AP_HEX_LEN);
        else
            memset(idx->entries[k].sha256, 'f', AP_HEX_LEN);
    }
    idx->n_entries = n_entries;
    return 0;
}

/* Fills idx from the packer's state. With `placeholder`, every number is as
 * wide as it can be and every digest not yet known a unique dummy of the same
 * width, consistently listed as entries, so the JSON is an upper bound on the
 * real index's size. */
static int build_index(packer *p, bool placeholder, ap_bundle_index *idx, char *created, ap_error *err)
{
    const uint64_t wide = 9223372036854775807ULL;
    memset(idx, 0, sizeof *idx);
    idx->version = AP_BUNDLE_FORMAT_VERSION;
    format_time(p->opts->epoch, created);
    idx->created = created;
    idx->tool = TOOL_NAME;
    idx->compression = (char *)ap_codec_name(p->opts->codec);   /* --dense: zstd or none, the blobs' */
    /* trust over time: the writer leaves out what has its default */
    idx->sequence = p->opts->sequence;
    idx->sequence_set = p->opts->sequence > 0;
    idx->channel = (char *)p->opts->channel;
    idx->base_sequence = p->opts->base_sequence;
    if (p->opts->expires) {
        format_time(p->opts->expires, p->expires);
        idx->expires = p->expires;
    }
    if (p->dense) {
        dense_pack_stats ds;
        dense_pack_get_stats(p->dense, &ds);
        idx->dense_window_log = dense_pack_window_log(p->dense);
        idx->dense_unique_bytes = ds.unique_bytes;
        idx->dense_zstd = (char *)ZSTD_versionString();
        idx->dense_blob_level = p->blob_level;
    }
    idx->images = calloc(p->n_images, sizeof *idx->images);
    if (!idx->images)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    idx->n_images = p->n_images;
    size_t n_nested = count_nested(p);
    size_t n_layer_entries = p->dense ? dense_pack_n_entries(p->dense) : p->store.n;
    size_t n_ref_paths = referrer_paths(p, NULL);
    size_t n_entries = n_layer_entries + 2 * p->n_images + n_nested + n_ref_paths + 3;
    if (placeholder) {
        idx->entries = calloc(n_entries, sizeof *idx->entries);
        if (!idx->entries)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n_images; i++) {
        pack_image *pi = &p->images[i];
        ap_index_image *im = &idx->images[i];
        im->names = pi->names;
        im->n_names = pi->n_names;
        if (placeholder)
            placeholder_digest(p->store.n + i, im->manifest.digest);
        else
            strcpy(im->manifest.digest, pi->manifest_digest);
        im->manifest.size = placeholder ? wide : pi->manifest_size;
        if (pi->faithful && strcmp(pi->src->manifest_media_type, OCI_MANIFEST))
            im->manifest_media_type = pi->src->manifest_media_type;
        if (!pi->faithful && pi->src->manifest)
            strcpy(im->source_manifest, pi->src->manifest_digest);
        strcpy(im->config.digest, pi->src->config_digest);
        im->config.size = placeholder ? wide : pi->src->config_len;
        im->platform = pi->src->platform;
        im->layers = calloc(pi->src->n_layers ? pi->src->n_layers : 1, sizeof *im->layers);
        if (!im->layers)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        im->n_layers = pi->src->n_layers;
        for (size_t k = 0; k < pi->src->n_layers; k++) {
            stored_layer *l = pi->layers[k];
            ap_index_layer *il = &im->layers[k];
            if (placeholder && !l->expected && !p->dense)
                placeholder_digest(l->index, il->digest);
            else
                strcpy(il->digest, l->digest);
            il->size = placeholder && !p->dense ? wide : l->size;
            strcpy(il->diff_id, l->diff_id);
            il->uncompressed_size = placeholder && !p->dense ? wide : l->uncompressed_size;
            il->media_type = (char *)(l->expected ? l->media_type
                                      : l->faithful ? l->blob_media_type
                                      : ap_codec_layer_media_type(p->opts->codec));
            il->expected = l->expected;
        }
    }
    if (index_indexes(p, placeholder, idx, err) < 0 || index_referrers(p, placeholder, idx, err) < 0)
        return -1;
    if (!placeholder) {
        idx->entries = p->entries;
        idx->n_entries = p->n_entries;
        return 0;
    }
    return placeholder_entries(p, idx, n_layer_entries, n_nested, n_entries, err);
}

static void free_built_index(ap_bundle_index *idx, bool placeholder)
{
    for (size_t i = 0; i < idx->n_referrers; i++) {
        free(idx->referrers[i].blobs);
        if (placeholder)
            free(idx->referrers[i].tag);
    }
    free(idx->referrers);
    for (size_t i = 0; i < idx->n_indexes; i++) {
        free(idx->indexes[i].names);
        free(idx->indexes[i].manifests);
    }
    free(idx->indexes);
    for (size_t i = 0; i < idx->n_images; i++)
        free(idx->images[i].layers);
    free(idx->images);
    if (placeholder && idx->entries) {
        free(idx->entries[0].path);   /* the paths array */
        free(idx->entries);
    }
}

static char *index_json(packer *p, bool placeholder, size_t *len, ap_error *err)
{
    ap_bundle_index idx;
    char created[32];
    char *json = NULL;
    if (build_index(p, placeholder, &idx, created, err) == 0) {
        /* what every reader refuses, refused here in its words (formats/bundle_index.h) */
        if (idx.n_images > AP_MAX_IMAGES)
            ap_fail(err, AP_ERR_USAGE, "index: %zu images, over the limit of %u images a bundle may hold",
                    idx.n_images, AP_MAX_IMAGES);
        else if (idx.n_entries > AP_MAX_ENTRIES)
            ap_fail(err, AP_ERR_USAGE, "index: %zu entries, over the limit of %u entries a bundle may hold",
                    idx.n_entries, AP_MAX_ENTRIES);
        else if ((json = ap_bundle_index_write(&idx, len, err)) && *len > AP_INDEX_MAX_SIZE) {
            ap_fail(err, AP_ERR_USAGE, "entry %s: %zu bytes, over the %u-byte limit", AP_INDEX_PATH, *len,
                    AP_INDEX_MAX_SIZE);
            free(json);
            json = NULL;
        }
    }
    free_built_index(&idx, placeholder);
    return json;
}

static void trusted_comment(const packer *p, char *out, size_t n)
{
    snprintf(out, n, "timestamp:%lld\tfile:bundle.json\thashed", (long long)p->opts->epoch);
}

/* The --split sidecar's signature: same key, its own file name in the trusted comment. */
static int sign_sidecar(void *ctx, const char *text, size_t len, const char *file, char **sig, size_t *sig_len,
                        ap_error *err)
{
    const packer *p = ctx;
    char tc[400];
    snprintf(tc, sizeof tc, "timestamp:%lld\tfile:%.300s\thashed", (long long)p->opts->epoch, file);
    return ap_sign(p->opts->key, text, len, UNTRUSTED_COMMENT, tc, sig, sig_len, err);
}

/* ---- streaming layers ------------------------------------------------- */

static int record_entry(packer *p, const ap_index_entry *e, ap_error *err)
{
    ap_index_entry *grown = realloc(p->entries, (p->n_entries + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    p->entries = grown;
    p->entries[p->n_entries++] = *e;
    if (!p->entry_paths && !(p->entry_paths = json_object()))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (json_object_set_new(p->entry_paths, e->path, json_true()) < 0)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    return 0;
}

static bool entry_written(const packer *p, const char *path)
{
    if (p->entry_paths)
        return json_object_get(p->entry_paths, path) != NULL;
    for (size_t i = 0; i < p->n_entries; i++)
        if (!strcmp(p->entries[i].path, path))
            return true;
    return false;
}

/* The store's layers of the current source at path (kind 'p') or with diff_id hex (kind 'c'),
 * in store order: a hash table built once the store is complete, so streaming thousands of
 * layers does not scan the store for each. NULL: none (or no memory: callers then scan). */
static json_t *store_at(packer *p, char kind, const char *key, bool *scan)
{
    *scan = false;
    if (!p->store_paths || p->store_paths_n != p->store.n) {
        json_decref(p->store_paths);
        p->store_paths = json_object();
        p->store_paths_n = p->store.n;
        for (size_t i = 0; p->store_paths && i < p->store.n; i++) {
            const stored_layer *l = p->store.layers[i];
            for (int k = 0; k < 2; k++) {
                char *name = NULL;
                if (asprintf(&name, "%c %zu %s", k ? 'c' : 'p', l->source, k ? l->diff_id + 7 : l->path) < 0) {
                    json_decref(p->store_paths);
                    p->store_paths = NULL;
                    break;
                }
                json_t *list = json_object_get(p->store_paths, name);
                if (!list) {
                    list = json_array();
                    json_object_set_new(p->store_paths, name, list);
                }
                json_array_append_new(list, json_integer((json_int_t)i));
                free(name);
            }
        }
    }
    if (!p->store_paths) {
        *scan = true;
        return NULL;
    }
    char *name = NULL;
    if (asprintf(&name, "%c %zu %s", kind, p->current, key) < 0) {
        *scan = true;
        return NULL;
    }
    json_t *list = json_object_get(p->store_paths, name);
    free(name);
    return list;
}

/* for (each store layer i of the current source at key): over the hash table's list, or
 * every layer when it could not be built */
#define FOR_STORE_AT(p, kind, key, i)                                                                   \
    bool scan_##i;                                                                                      \
    json_t *list_##i = store_at(p, kind, key, &scan_##i);                                               \
    size_t n_##i = scan_##i ? (p)->store.n : json_array_size(list_##i);                                 \
    for (size_t q_##i = 0, i = 0; q_##i < n_##i &&                                                      \
         ((i = scan_##i ? q_##i : (size_t)json_integer_value(json_array_get(list_##i, q_##i))), 1);    \
         q_##i++)

static bool layer_wanted(void *ctx, const char *path)
{
    packer *p = ctx;
    FOR_STORE_AT(p, 'p', path, i) {
        stored_layer *l = p->store.layers[i];
        if (!l->packed && l->source == p->current && !strcmp(l->path, path))
            return true;
    }
    return false;
}

static int uncompressed_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    packer *p = ctx;
    ap_sha256_update(p->diff_hash, buf, n);
    p->usize += n;
    if (p->dense && dense_pack_write(p->dense, buf, n, err) < 0)
        return -1;
    return ap_compressor_write(p->z, buf, n, err);
}

/* --dense: the layer's blob is only hashed and counted (a loader makes the same bytes again).
 * With --compression none the blob is the tar: its hash is the diff_id, not taken twice. */
static int blob_hash_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    (void)err;
    packer *p = ctx;
    if (p->opts->codec != AP_CODEC_NONE)
        ap_sha256_update(p->blob_hash, buf, n);
    p->blob_size += n;
    return 0;
}

static int dense_layer_end(packer *p, const char *path, ap_error *err);

/* The layer just read as `path` of the current source, whose content hashes to
 * sha256:`hex`, is now in the bundle as blob sha256:`blob_hex` of `blob_size`
 * bytes: marks packed every wanted layer of that source it is (by path, or by
 * content for an input that names layers by content) and sets *matched if
 * any. A layer whose content does not match its diff_id is AP_ERR_FORMAT. */
static int mark_packed(packer *p, const char *path, const char *hex, const char *blob_hex, uint64_t blob_size,
                       bool *matched, ap_error *err)
{
    const char *spec = p->sources[p->current].spec;
    bool by_content = p->sources[p->current].layers_by_content;
    FOR_STORE_AT(p, by_content ? 'c' : 'p', by_content ? hex : path, i) {
        stored_layer *l = p->store.layers[i];
        if (l->packed || l->source != p->current)
            continue;
        if (by_content ? strcmp(l->diff_id + 7, hex) : strcmp(l->path, path))
            continue;
        if (strcmp(l->diff_id + 7, hex))
            return ap_fail(err, AP_ERR_FORMAT,
                           "%s: image %s: layer %zu (%s) does not match its diff_id: the config declares "
                           "%s but the content hashes to sha256:%s",
                           spec, l->image_name, l->layer_number, path, l->diff_id, hex);
        if (l->faithful && (strcmp(l->blob_digest + 7, blob_hex) || l->blob_size != blob_size))
            return ap_fail(err, AP_ERR_FORMAT,
                           "%s: image %s: layer %zu (%s) is not the blob its manifest names (%s, %llu bytes): "
                           "it hashes to sha256:%s (%llu bytes)",
                           spec, l->image_name, l->layer_number, path, l->blob_digest,
                           (unsigned long long)l->blob_size, blob_hex, (unsigned long long)blob_size);
        *matched = true;
        l->packed = true;
        snprintf(l->digest, sizeof l->digest, "sha256:%s", blob_hex);
        l->size = blob_size;
        l->uncompressed_size = p->usize;
    }
    return 0;
}

static void pack_progress(void *ctx, uint64_t done)
{
    packer *p = ctx;
    if (p->opts->progress)
        p->opts->progress(p->opts->progress_ctx, p->done_before + done);
}

/* The faithful layer of the current source stored as `path` and not packed yet, or NULL. */
static stored_layer *faithful_wanted(packer *p, const char *path)
{
    FOR_STORE_AT(p, 'p', path, i) {
        stored_layer *l = p->store.layers[i];
        if (l->faithful && !l->packed && l->source == p->current && !strcmp(l->path, path))
            return l;
    }
    return NULL;
}

static int diff_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    (void)err;
    packer *p = ctx;
    ap_sha256_update(p->diff_hash, buf, n);
    p->usize += n;
    return 0;
}

/* The source's blob into the bundle as it is; decompressed on the way (by its media
 * type) only to check its diff_id. */
static int copy_layer(packer *p, const stored_layer *l, const char *path, ap_read_fn read, void *read_ctx,
                      ap_error *err)
{
    const char *spec = p->sources[p->current].spec;
    ap_codec codec;
    if (ap_codec_from_media_type(l->blob_media_type, &codec, err) < 0)
        return -1;
    /* gzip, the commonest, through ISA-L's igzip (about twice zlib's speed) */
    ap_gunzip_fast *gz = NULL;
    ap_decompressor *d = NULL;
    if (codec == AP_CODEC_GZIP && ap_gunzip_fast_available() ? !(gz = ap_gunzip_fast_new(diff_sink, p, err))
                               : codec != AP_CODEC_NONE && !(d = ap_decompressor_new(codec, 0, diff_sink, p, err)))
        return -1;
    p->usize = 0;
    int rc = bundle_writer_begin(p->w, err);
    while (rc == 0) {
        ssize_t got = read(read_ctx, p->chunk, LAYER_CHUNK, err);
        if (got <= 0) {
            rc = got < 0 ? -1 : 0;
            break;
        }
        rc = bundle_writer_sink(p->w, p->chunk, (size_t)got, err);
        if (rc == 0)
            rc = gz ? ap_gunzip_fast_write(gz, p->chunk, (size_t)got, err)
                 : d ? ap_decompressor_write(d, p->chunk, (size_t)got, err)
                     : diff_sink(p, p->chunk, (size_t)got, err);
        if (rc == 0 && p->opts->cancel && *p->opts->cancel)
            rc = ap_fail(err, AP_ERR_INTERRUPTED, "interrupted");
    }
    if (rc == 0 && (d || gz))
        rc = gz ? ap_gunzip_fast_finish(gz, err) : ap_decompressor_finish(d, err);
    ap_gunzip_fast_free(gz);
    ap_decompressor_free(d);
    if (rc < 0) {
        ap_error_prefix(err, "%s: layer %s (%s)", spec, path, l->blob_media_type);
        return -1;
    }
    ap_index_entry e;
    if (bundle_writer_end(p->w, NULL, &e, err) < 0)
        return -1;
    char hex[AP_HEX_LEN + 1];
    ap_sha256_final_hex(p->diff_hash, hex);
    bool matched = false;
    int rc2 = mark_packed(p, path, hex, e.sha256, e.size, &matched, err);
    if (rc2 == 0 && !matched)
        rc2 = ap_fail(err, AP_ERR_FORMAT, "%s: layer %s: read twice", spec, path);
    if (rc2 < 0) {
        free(e.path);
        return -1;
    }
    return record_entry(p, &e, err);
}

static int pack_layer(void *ctx, const char *path, ap_read_fn read, void *read_ctx, ap_error *err)
{
    packer *p = ctx;
    const char *spec = p->sources[p->current].spec;
    stored_layer *fl = faithful_wanted(p, path);
    if (fl)
        return copy_layer(p, fl, path, read, read_ctx, err);
    /* read a little to see how the layer is compressed */
    size_t have = 0;
    while (have < 8) {
        ssize_t got = read(read_ctx, p->chunk + have, LAYER_CHUNK - have, err);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        have += (size_t)got;
    }
    ap_codec codec = ap_codec_detect(p->chunk, have);
    ap_decompressor *d = NULL;
    if (codec != AP_CODEC_NONE) {
        d = ap_decompressor_new(codec, 0, uncompressed_sink, p, err);
        if (!d)
            return -1;
    }
    p->usize = 0;
    p->blob_size = 0;
    int rc = p->dense ? dense_pack_layer_begin(p->dense, err) : bundle_writer_begin(p->w, err);
    if (rc == 0)
        rc = p->dense ? ap_compressor_reset(p->z, blob_hash_sink, p, err)
                      : ap_compressor_reset(p->z, bundle_writer_sink, p->w, err);
    while (rc == 0 && have > 0) {
        rc = d ? ap_decompressor_write(d, p->chunk, have, err) : uncompressed_sink(p, p->chunk, have, err);
        if (rc < 0)
            break;
        if (p->opts->cancel && *p->opts->cancel) {
            rc = ap_fail(err, AP_ERR_INTERRUPTED, "interrupted");
            break;
        }
        ssize_t got = read(read_ctx, p->chunk, LAYER_CHUNK, err);
        if (got < 0)
            rc = -1;
        else
            have = (size_t)got;
    }
    if (rc == 0 && d)
        rc = ap_decompressor_finish(d, err);
    ap_decompressor_free(d);
    if (rc < 0) {
        ap_error_prefix(err, "%s: layer %s", spec, path);
        return -1;
    }
    if (p->dense)
        return dense_layer_end(p, path, err);
    ap_index_entry e;
    if (ap_compressor_finish(p->z, err) < 0 || bundle_writer_end(p->w, NULL, &e, err) < 0)
        return -1;
    char hex[AP_HEX_LEN + 1];
    ap_sha256_final_hex(p->diff_hash, hex);
    bool matched = false;
    bool by_content = p->sources[p->current].layers_by_content;
    if (mark_packed(p, path, hex, e.sha256, e.size, &matched, err) < 0) {
        free(e.path);
        return -1;
    }
    if (!matched && by_content) {
        /* a layer packed from another input already, or not one this pack wants */
        free(e.path);
        return bundle_writer_drop_last(p->w, err);
    }
    if (!matched) {
        free(e.path);
        return ap_fail(err, AP_ERR_FORMAT, "%s: layer %s: read twice", spec, path);
    }
    if (entry_written(p, e.path)) {
        /* two different diff_ids cannot compress to one blob; keep the tar valid anyway */
        free(e.path);
        return ap_fail(err, AP_ERR_FORMAT, "%s: layer %s: its blob was already written", spec, path);
    }
    return record_entry(p, &e, err);
}

/* pack --dense: the layer went into the chunk store; keep its recipe if it is wanted. */
static int dense_layer_end(packer *p, const char *path, ap_error *err)
{
    const char *spec = p->sources[p->current].spec;
    char hex[AP_HEX_LEN + 1], diff_id[AP_DIGEST_LEN + 1], blob[AP_HEX_LEN + 1];
    if (ap_compressor_finish(p->z, err) < 0)
        return -1;
    ap_sha256_final_hex(p->diff_hash, hex);
    if (p->opts->codec == AP_CODEC_NONE)
        memcpy(blob, hex, sizeof blob);   /* the blob is the tar */
    else
        ap_sha256_final_hex(p->blob_hash, blob);
    snprintf(diff_id, sizeof diff_id, "sha256:%s", hex);
    bool matched = false;
    bool by_content = p->sources[p->current].layers_by_content;
    if (mark_packed(p, path, hex, blob, p->blob_size, &matched, err) < 0)
        return -1;
    if (!matched && !by_content)
        return ap_fail(err, AP_ERR_FORMAT, "%s: layer %s: read twice", spec, path);
    return dense_pack_layer_end(p->dense, diff_id, matched, err);
}

static int record_entry_cb(void *ctx, const ap_index_entry *e, ap_error *err)
{
    return record_entry(ctx, e, err);
}

/* ---- the small JSON entries ------------------------------------------- */

static const char *layer_media_type(const packer *p, const stored_layer *l)
{
    return l->expected ? l->media_type : l->faithful ? l->blob_media_type : ap_codec_layer_media_type(p->opts->codec);
}

static oci_w_image *w_images(const packer *p, ap_error *err)
{
    oci_w_image *w = calloc(p->n_images ? p->n_images : 1, sizeof *w);
    if (!w) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < p->n_images; i++) {
        const pack_image *pi = &p->images[i];
        oci_w_image *im = &w[i];
        oci_w_layer *ls = calloc(pi->src->n_layers ? pi->src->n_layers : 1, sizeof *ls);
        if (!ls) {
            free_w_images(w, i);
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
            return NULL;
        }
        for (size_t k = 0; k < pi->src->n_layers; k++)
            ls[k] = (oci_w_layer){pi->layers[k]->digest, pi->layers[k]->size, layer_media_type(p, pi->layers[k])};
        *im = (oci_w_image){.names = pi->names, .n_names = pi->n_names, .platform = pi->src->platform,
                            .config_digest = pi->src->config_digest, .config_size = pi->src->config_len,
                            .config = pi->src->config, .config_len = pi->src->config_len,
                            .layers = ls, .n_layers = pi->src->n_layers};
        if (pi->faithful) {
            im->manifest = pi->src->manifest;
            im->manifest_len = pi->src->manifest_len;
            im->manifest_type = pi->src->manifest_media_type;
        }
    }
    return w;
}

static void free_w_images(oci_w_image *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++)
        free((void *)w[i].layers);
    free(w);
}

/* The writer's put: an entry, each path once. */
static int put_entry(void *ctx, const char *path, const void *data, size_t len, ap_error *err)
{
    packer *p = ctx;
    if (entry_written(p, path))
        return 0;
    if (len > AP_SMALL_JSON_MAX)   /* verify --deep and every load refuse it, in these words */
        return ap_fail(err, AP_ERR_USAGE, "entry %s: %zu bytes, too large for a manifest, config or index (limit %u MiB)",
                       path, len, AP_SMALL_JSON_MAX >> 20);
    ap_index_entry e;
    if (bundle_writer_add(p->w, path, data, len, &e, err) < 0)
        return -1;
    return record_entry(p, &e, err);
}

/* The sources' indexes, as the writer carries them. */
static oci_w_source_index *w_sources(const packer *p, size_t *n, ap_error *err)
{
    size_t total = 0, k = 0;
    for (size_t s = 0; s < p->n_sources; s++)
        total += p->sources[s].n_indexes;
    oci_w_source_index *x = calloc(total ? total : 1, sizeof *x);
    if (!x) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t s = 0; s < p->n_sources; s++)
        for (size_t i = 0; i < p->sources[s].n_indexes; i++) {
            const source_index *si = &p->sources[s].indexes[i];
            x[k++] = (oci_w_source_index){si->name, si->bytes, si->len, si->media_type, si->manifests,
                                          si->n_manifests};
        }
    *n = k;
    return x;
}

/* Configs byte for byte, manifests (the sources' or new), indexes, oci-layout,
 * index.json and manifest.json, last: formats/oci_writer.c. */
static int write_metadata(packer *p, ap_error *err)
{
    for (size_t i = 0; i < p->n_images; i++)
        if (!p->images[i].src->config)
            return ap_fail(err, AP_ERR_FORMAT, "%s: the config of image %s never arrived",
                           p->sources[p->images[i].source].spec, p->images[i].src->config_digest);
    char want[128];
    default_platform(p, want, sizeof want);
    size_t n_sources = 0;
    oci_w_image *w = w_images(p, err);
    oci_w_source_index *srcs = w ? w_sources(p, &n_sources, err) : NULL;
    if (!srcs) {
        free_w_images(w, p->n_images);
        return -1;
    }
    oci_w_opts o = {.put = put_entry, .ctx = p, .default_platform = want, .docker_manifest = true,
                    .before_layout = write_referrers,
                    .sources = srcs, .n_sources = n_sources};
    int rc = oci_write_metadata(w, p->n_images, &o, err);
    for (size_t i = 0; rc == 0 && i < p->n_images; i++) {
        snprintf(p->images[i].manifest_digest, sizeof p->images[i].manifest_digest, "%s", w[i].manifest_digest);
        p->images[i].manifest_size = w[i].manifest_size;
    }
    p->w_indexes = o.indexes;
    p->n_w_indexes = o.n_indexes;
    free(srcs);
    free_w_images(w, p->n_images);
    return rc;
}

/* ---- the whole run ---------------------------------------------------- */

/* Reserves the head from an upper bound of the index and opens the bundle. */
static int open_writer(packer *p, const char *tc, size_t *head_size, ap_error *err)
{
    const pack_options *o = p->opts;
    size_t head_len;
    char *head = index_json(p, true, &head_len, err);
    if (!head)
        return -1;
    free(head);
    *head_size = head_len + 1;
    size_t sig_size = o->key ? ap_signature_size(UNTRUSTED_COMMENT, tc) : 0;
    p->w = bundle_writer_open_split(o->output, o->split_size, o->parity, o->epoch, *head_size, sig_size, err);
    if (!p->w)
        return -1;
    if (o->split_size && o->key)
        bundle_writer_set_sidecar_signer(p->w, sign_sidecar, p);
    if (o->on_temp)
        o->on_temp(bundle_writer_temp_path(p->w));
    return 0;
}

/* Which source indexes went in as they are, which names got a new one (or none). */
static void index_report(const packer *p, pack_report *report)
{
    for (size_t q = 0; q < p->n_w_indexes; q++)
        report->n_indexes_carried += p->w_indexes[q].carried;
    for (size_t s = 0; s < p->n_sources; s++) {
        report->n_attestations_skipped += p->sources[s].n_skipped_attestations;
        report->n_referrers_skipped += p->sources[s].n_skipped_referrers;
        for (size_t i = 0; i < p->sources[s].n_indexes; i++) {
            const source_index *si = &p->sources[s].indexes[i];
            bool packed = false, carried = false;
            for (size_t m = 0; si->name && m < p->n_images; m++)
                packed |= has_name(&p->images[m], si->name);
            for (size_t q = 0; q < p->n_w_indexes; q++)
                carried |= p->w_indexes[q].carried && !strcmp(p->w_indexes[q].digest, si->digest);
            report->n_indexes_new += packed && !carried;
        }
    }
}

/* Every wanted layer of every input, once, in the order each input stores them. */
static int stream_sources(packer *p, ap_error *err)
{
    for (size_t s = 0; s < p->n_sources; s++) {
        p->current = s;
        /* a daemon's configs come in its stream: always read it */
        bool any = p->sources[s].layers_by_content;
        for (size_t i = 0; i < p->store.n; i++)
            any |= p->store.layers[i]->source == s;
        if (any && source_stream(&p->sources[s], layer_wanted, pack_layer, p, pack_progress, err) < 0)
            return -1;
        p->done_before += p->sources[s].size;
        for (size_t i = 0; i < p->store.n; i++) {
            stored_layer *l = p->store.layers[i];
            if (l->source == s && !l->packed)
                return ap_fail(err, AP_ERR_FORMAT, "%s: image %s: layer %zu (%s) is missing from the input",
                               p->sources[s].spec, l->image_name, l->layer_number, l->path);
        }
    }
    return 0;
}

/* The index, padded to its reserved room, signed, and the bundle committed. */
static int commit_bundle(packer *p, const char *tc, size_t head_size, pack_report *report, ap_error *err)
{
    const pack_options *o = p->opts;
    size_t len;
    char *json = index_json(p, false, &len, err);
    if (!json)
        return -1;
    if (len >= head_size) {
        free(json);
        return ap_fail(err, AP_ERR_FORMAT, "internal error: the index outgrew its reserved room");
    }
    char *padded = malloc(head_size);
    if (!padded) {
        free(json);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    memcpy(padded, json, len);
    memset(padded + len, ' ', head_size - len);
    padded[head_size - 1] = '\n';
    free(json);
    char *sig = NULL;
    size_t sig_len = 0;
    int rc = 0;
    if (o->key)
        rc = ap_sign(o->key, padded, head_size, UNTRUSTED_COMMENT, tc, &sig, &sig_len, err);
    if (rc == 0)
        rc = bundle_writer_commit(p->w, padded, head_size, sig, sig_len, err);
    report->bundle_bytes = bundle_writer_offset(p->w);
    if (o->split_size)
        report->n_parts = (size_t)((report->bundle_bytes + o->split_size - 1) / o->split_size);
    free(padded);
    free(sig);
    return rc;
}

static void fill_report(const packer *p, pack_report *report)
{
    report->n_images = p->n_images;
    for (size_t i = 0; i < p->store.n; i++) {
        report->uncompressed_bytes += p->store.layers[i]->uncompressed_size;
        report->n_layers_expected += p->store.layers[i]->expected;
    }
    report->n_layers_stored = p->store.n - report->n_layers_expected;
    json_t *seen = json_object();   /* diff_ids of earlier layers: a hash table, not a scan */
    for (size_t i = 0; seen && i < p->store.n; i++) {
        const stored_layer *l = p->store.layers[i];
        if (!l->expected && json_object_get(seen, l->diff_id)) {
            report->n_layers_twice++;
            report->twice_bytes += l->size;
        }
        json_object_set_new(seen, l->diff_id, json_true());
    }
    json_decref(seen);
    index_report(p, report);
    FOR_REFERRERS(p, false, x) report->n_referrers++;
    for (size_t i = 0; i < p->n_images; i++) {
        report->n_faithful += p->images[i].faithful;
        report->n_rewritten += !p->images[i].faithful && p->images[i].src->manifest;
        report->n_layers_referenced += p->images[i].src->n_layers;
        for (size_t k = 0; k < p->images[i].src->n_layers; k++)
            report->referenced_bytes += p->images[i].layers[k]->uncompressed_size;
    }
}

/* --dense: the chunk store, next to the output (the index lists the segments, known only
 * at the end: stream first, then open the bundle). */
static int open_dense(packer *p, ap_error *err)
{
    const pack_options *o = p->opts;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", o->output);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");
    dense_pack_options dopts = {.level = o->level, .jobs = o->dense_jobs, .window_log = o->dense_window_log,
                                .chunk_avg = o->dense_chunk};
    return (p->dense = dense_pack_new(dir, &dopts, err)) ? 0 : -1;
}

static int run(packer *p, pack_report *report, ap_error *err)
{
    const pack_options *o = p->opts;
    p->sources = calloc(o->n_inputs, sizeof *p->sources);
    if (!p->sources)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n_inputs; i++) {
        p->n_sources = i + 1;
        if (source_open_opts(o->inputs[i], o->source_opts, &p->sources[i], err) < 0)
            return -1;
        report->input_bytes += p->sources[i].size;
    }
    if (choose_images(p, err) < 0)
        return -1;
    if (o->progress_total)
        o->progress_total(o->progress_ctx, report->input_bytes);

    size_t head_size = 0;
    char tc[128];
    trusted_comment(p, tc, sizeof tc);
    if (o->dense ? open_dense(p, err) < 0 : open_writer(p, tc, &head_size, err) < 0)
        return -1;
    /* --dense: layer blobs are made (and hashed here) at a fast level, as loaders remake them;
     * with --compression none they are the tars themselves */
    if (p->dense)
        p->blob_level = o->codec == AP_CODEC_NONE ? 0 : DENSE_BLOB_LEVEL;
    if (!(p->z = ap_compressor_new(o->codec, p->dense ? p->blob_level : o->level, o->threads,
                                   p->dense ? blob_hash_sink : bundle_writer_sink, p->dense ? (void *)p : p->w, err)))
        return -1;
    if (p->dense && !(p->blob_hash = ap_sha256_new()))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    p->diff_hash = ap_sha256_new();
    p->chunk = malloc(LAYER_CHUNK);
    if (!p->diff_hash || !p->chunk)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (stream_sources(p, err) < 0)
        return -1;
    if (p->dense) {
        /* the layer compressor's buffers go before the segments' window and tables come */
        ap_compressor_free(p->z);
        p->z = NULL;
    }
    if (p->dense && (dense_pack_finish(p->dense, err) < 0 || open_writer(p, tc, &head_size, err) < 0 ||
                     dense_pack_write_entries(p->dense, p->w, record_entry_cb, p, err) < 0))
        return -1;
    if (write_metadata(p, err) < 0 || commit_bundle(p, tc, head_size, report, err) < 0)
        return -1;
    fill_report(p, report);
    return 0;
}

int pack_run(const pack_options *opts, pack_report *report, ap_error *err)
{
    packer p;
    memset(&p, 0, sizeof p);
    memset(report, 0, sizeof *report);
    p.opts = opts;
    if (opts->n_inputs == 0)
        return ap_fail(err, AP_ERR_USAGE, "no inputs given");
    int rc = run(&p, report, err);
    if (rc < 0)
        bundle_writer_abort(p.w);
    bundle_writer_free(p.w);
    ap_compressor_free(p.z);
    if (p.dense) {
        dense_pack_stats ds;
        dense_pack_get_stats(p.dense, &ds);
        report->dense_unique_bytes = ds.unique_bytes;
        report->dense_chunks = ds.n_chunks;
        report->dense_segments = ds.n_segments;
    }
    dense_pack_free(p.dense);
    ap_sha256_free(p.blob_hash);
    ap_sha256_free(p.diff_hash);
    free(p.chunk);
    for (size_t i = 0; i < p.n_entries; i++)
        free(p.entries[i].path);
    free(p.entries);
    json_decref(p.entry_paths);
    json_decref(p.store_paths);
    json_decref(p.image_keys);
    free(p.w_indexes);
    for (size_t i = 0; i < p.n_images; i++) {
        free(p.images[i].names);
        free(p.images[i].layers);
    }
    free(p.images);
    layer_store_free(&p.store);
    for (size_t i = 0; i < p.n_sources; i++)
        source_close(&p.sources[i]);
    free(p.sources);
    return rc;
}
