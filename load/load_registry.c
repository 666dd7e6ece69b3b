/* load_registry.c: the docker://HOST[:PORT][/PREFIX] target, a registry (OCI distribution API).
 *
 * Names are mapped as a mirror would: the source registry host is dropped and
 * the path kept under PREFIX ("docker.io/library/nginx:1.25" ->
 * HOST:PORT/PREFIX/library/nginx:1.25). For each blob a selected image needs,
 * every repository that needs it is asked first (HEAD); a blob already there
 * is skipped, one present in a sibling repository is mounted from it, and only
 * the rest is received: spooled to an unlinked temporary file in $TMPDIR and
 * uploaded (POST + monolithic PUT) once the verifier says its bytes matched the
 * signed index. Manifests (the bundle's bytes, unchanged) are held in memory
 * and pushed only in commit(), first by digest, then under their tags: nothing
 * is visible on the registry before the whole bundle verified.
 *
 * abort() cannot take back blobs already uploaded: they are harmless (no
 * manifest refers to them, so no name shows them) and the registry's garbage
 * collection removes them; a registry without delete enabled allows nothing
 * else. Error messages of this target say how many such blobs there are. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "load_target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../formats/image_ref.h"
#include "../formats/oci_json.h"
#include "delta_check.h"
#include "inventory.h"
#include "../remote/registry_client.h"

typedef struct {
    char *repo;                 /* "mirror/library/nginx" */
    char *tag;                  /* "1.25" */
    size_t image;               /* index into idx->images */
    const char *source;         /* the bundle's name, for messages (owned by names_src) */
} reg_name;

typedef struct {
    char digest[AP_DIGEST_LEN + 1];
    uint64_t size;
    const char *kind;           /* "layer", "config", "manifest" */
    size_t image;               /* first image that needs it (messages) */
    char **repos;               /* repositories that need it (distinct) */
    size_t n_repos;
    bool *missing;              /* per repo: must be uploaded or mounted */
    unsigned char *data;        /* manifest bytes (kind "manifest") */
    size_t data_len;
    bool verified;              /* manifest: bytes matched the index */
} reg_blob;

typedef struct {
    reg_client *client;
    char *host;
    char *prefix;               /* NULL or "mirror" */
    const load_options *opts;
    bool *sel;
    char **image_label;         /* per image: first name or config digest */
    size_t n_images;
    reg_name *names;
    size_t n_names;
    reg_blob *blobs;            /* every blob a selected image needs */
    size_t n_blobs;
    reg_blob *cur;              /* entry being received */
    int spool_fd;
    uint64_t spooled;
    size_t n_uploaded, n_present, n_mounted;
    uint64_t bytes_uploaded;
} registry_target;

static const char *NOTE_FMT =
    " (%zu blob(s) already uploaded stay on the registry unreferenced: no manifest or tag was pushed, "
    "so no image is visible; the registry's garbage collection removes them)";

static void add_upload_note(registry_target *r, ap_error *err)
{
    if (!err || r->n_uploaded == 0)
        return;
    size_t used = strlen(err->msg);
    snprintf(err->msg + used, sizeof err->msg - used, NOTE_FMT, r->n_uploaded);
}

/* ---------- names ---------- */

static int map_name(registry_target *r, const char *full, size_t image, ap_error *err)
{
    const char *slash = strchr(full, '/');
    const char *tag = image_ref_tag(full);
    if (!slash || !tag || tag <= slash + 1 || tag[-1] != ':')
        return ap_fail(err, AP_ERR_FORMAT, "image name %s is not a full reference HOST/PATH:TAG", full);
    const char *path = slash + 1;
    size_t path_len = (size_t)(tag - 1 - path);
    reg_name *grown = realloc(r->names, (r->n_names + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    r->names = grown;
    reg_name *n = &r->names[r->n_names];
    memset(n, 0, sizeof *n);
    size_t cap = (r->prefix ? strlen(r->prefix) + 1 : 0) + path_len + 1;
    n->repo = malloc(cap);
    n->tag = strdup(tag);
    if (!n->repo || !n->tag) {
        free(n->repo);
        free(n->tag);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    snprintf(n->repo, cap, "%s%s%.*s", r->prefix ? r->prefix : "", r->prefix ? "/" : "", (int)path_len,
             path);
    n->image = image;
    n->source = full;
    r->n_names++;
    return 0;
}

/* ---------- blobs ---------- */

static reg_blob *find_blob(registry_target *r, const char *digest)
{
    for (size_t i = 0; i < r->n_blobs; i++)   /* linear: bundles hold hundreds of blobs, not millions */
        if (strcmp(r->blobs[i].digest, digest) == 0)
            return &r->blobs[i];
    return NULL;
}

static int need_blob(registry_target *r, const char *digest, uint64_t size, const char *kind,
                     size_t image, const char *repo, ap_error *err)
{
    reg_blob *b = find_blob(r, digest);
    if (!b) {
        reg_blob *grown = realloc(r->blobs, (r->n_blobs + 1) * sizeof *grown);
        if (!grown)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        r->blobs = grown;
        b = &r->blobs[r->n_blobs++];
        memset(b, 0, sizeof *b);
        snprintf(b->digest, sizeof b->digest, "%s", digest);
        b->size = size;
        b->kind = kind;
        b->image = image;
    }
    for (size_t i = 0; i < b->n_repos; i++)
        if (strcmp(b->repos[i], repo) == 0)
            return 0;
    char **grown = realloc(b->repos, (b->n_repos + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    b->repos = grown;
    bool *m = realloc(b->missing, (b->n_repos + 1) * sizeof *m);
    if (!m)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    b->missing = m;
    if (!(b->repos[b->n_repos] = strdup(repo)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    b->missing[b->n_repos] = false;
    b->n_repos++;
    return 0;
}

static void free_blobs(registry_target *r)
{
    for (size_t i = 0; i < r->n_blobs; i++) {
        reg_blob *b = &r->blobs[i];
        for (size_t k = 0; k < b->n_repos; k++)
            free(b->repos[k]);
        free(b->repos);
        free(b->missing);
        free(b->data);
    }
    free(r->blobs);
    r->blobs = NULL;
    r->n_blobs = 0;
}

static void free_names(registry_target *r)
{
    for (size_t i = 0; i < r->n_names; i++) {
        free(r->names[i].repo);
        free(r->names[i].tag);
    }
    free(r->names);
    r->names = NULL;
    r->n_names = 0;
    for (size_t i = 0; i < r->n_images; i++)
        free(r->image_label[i]);
    free(r->image_label);
    r->image_label = NULL;
    free(r->sel);
    r->sel = NULL;
    r->n_images = 0;
}

static const char *label(registry_target *r, size_t image)
{
    return image < r->n_images && r->image_label[image] ? r->image_label[image] : "?";
}

/* ---------- ops ---------- */

/* ---------- delta: expected layers ---------- */

typedef struct {
    registry_target *r;
    const ap_bundle_index *idx;
    ap_have_list have;          /* the whole registry, listed once when a blob is not where it goes */
    bool have_listed;
    struct {
        const char *repo, *digest;
        char *from;
    } *mounts;
    size_t n_mounts;
} reg_delta;

/* Layer k of image im is held when every repository its names go to has the
 * blob, or another repository of the registry has it to mount from. */
static int reg_expected_held(void *ctx, const ap_index_image *im, size_t k, ap_error *err)
{
    reg_delta *x = ctx;
    registry_target *r = x->r;
    size_t image = (size_t)(im - x->idx->images);
    const char *digest = im->layers[k].digest;
    for (size_t n = 0; n < r->n_names; n++) {
        if (r->names[n].image != image)
            continue;
        const char *repo = r->names[n].repo;
        bool exists = false, planned = false;
        for (size_t m = 0; m < x->n_mounts; m++)
            planned |= !strcmp(x->mounts[m].repo, repo) && !strcmp(x->mounts[m].digest, digest);
        if (planned)
            continue;
        if (reg_blob_exists(r->client, repo, digest, &exists, err) < 0)
            return -1;
        if (exists)
            continue;
        if (!x->have_listed) {
            char spec[600];
            snprintf(spec, sizeof spec, "docker://%s", r->host);
            if (inventory_registry(spec, r->opts, 0, &x->have, err) < 0)
                return -1;
            x->have_listed = true;
        }
        const char *from = NULL;
        for (size_t h = 0; h < x->have.n_layers && !from; h++)
            if (!strcmp(x->have.layers[h].digest, digest) && x->have.layers[h].repository)
                from = x->have.layers[h].repository;
        if (!from)
            return 0;
        void *grown = realloc(x->mounts, (x->n_mounts + 1) * sizeof *x->mounts);
        if (!grown)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        x->mounts = grown;
        x->mounts[x->n_mounts].repo = repo;
        x->mounts[x->n_mounts].digest = digest;
        if (!(x->mounts[x->n_mounts].from = strdup(from)))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        x->n_mounts++;
    }
    return 1;
}

/* Checks every expected layer first; only when all are held, mounts those held
 * in another repository into the ones that need them. Nothing is pushed before. */
static int reg_check_expected(registry_target *r, const ap_bundle_index *idx, ap_error *err)
{
    reg_delta x = {.r = r, .idx = idx};
    char name[600];
    snprintf(name, sizeof name, "docker://%s%s%s", r->host, r->prefix ? "/" : "", r->prefix ? r->prefix : "");
    int rc = delta_check_expected(idx, r->sel, name, reg_expected_held, &x, err);
    for (size_t m = 0; rc == 0 && m < x.n_mounts; m++) {
        bool mounted = false;
        if (reg_blob_mount(r->client, x.mounts[m].repo, x.mounts[m].digest, x.mounts[m].from, &mounted, err) < 0)
            rc = -1;
        else if (!mounted)
            rc = ap_fail(err, AP_ERR_TARGET, "%s: blob %s expected by this delta could not be mounted into %s "
                         "from %s", name, x.mounts[m].digest, x.mounts[m].repo, x.mounts[m].from);
        else
            r->n_mounted++;
    }
    for (size_t m = 0; m < x.n_mounts; m++)
        free(x.mounts[m].from);
    free(x.mounts);
    if (x.have_listed)
        ap_have_free(&x.have);
    if (rc < 0 && err->code != AP_ERR_NOMEM)
        err->code = AP_ERR_TARGET;
    return rc;
}

static int reg_begin(load_target *t, const ap_bundle_index *idx, ap_error *err)
{
    registry_target *r = t->impl;
    free_blobs(r);
    free_names(r);
    r->n_images = idx->n_images;
    r->sel = calloc(idx->n_images ? idx->n_images : 1, sizeof *r->sel);
    r->image_label = calloc(idx->n_images ? idx->n_images : 1, sizeof *r->image_label);
    if (!r->sel || !r->image_label)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (load_select_images(idx, r->opts, r->sel, err) < 0)
        return -1;
    if (reg_client_ping(r->client, err) < 0) {
        err->code = AP_ERR_TARGET;
        return -1;
    }
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        r->image_label[i] = strdup(im->n_names ? im->names[0] : im->config.digest);
        if (!r->image_label[i])
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        if (!r->sel[i])
            continue;
        if (im->manifest.size > REG_MANIFEST_MAX)
            return ap_fail(err, AP_ERR_TARGET, "image %s: manifest %s is %llu bytes; registries take at most %u",
                           label(r, i), im->manifest.digest, (unsigned long long)im->manifest.size,
                           REG_MANIFEST_MAX);
        size_t first = r->n_names;
        for (size_t k = 0; k < im->n_names; k++)
            if (map_name(r, im->names[k], i, err) < 0)
                return -1;
        /* An image without a name has no repository to go to: nothing to push. */
        for (size_t k = first; k < r->n_names; k++) {
            const char *repo = r->names[k].repo;
            bool seen = false;
            for (size_t j = first; j < k; j++)
                seen = seen || strcmp(r->names[j].repo, repo) == 0;
            if (seen)
                continue;
            for (size_t l = 0; l < im->n_layers; l++)
                if (!im->layers[l].expected &&
                    need_blob(r, im->layers[l].digest, im->layers[l].size, "layer", i, repo, err) < 0)
                    return -1;
            if (need_blob(r, im->config.digest, im->config.size, "config", i, repo, err) < 0 ||
                need_blob(r, im->manifest.digest, im->manifest.size, "manifest", i, repo, err) < 0)
                return -1;
            /* the index its name points to (held and pushed as a manifest is) */
            const ap_index_index *x = load_index_for(idx, r->sel, r->names[k].source);
            if (x && need_blob(r, x->blob.digest, x->blob.size, "manifest", i, repo, err) < 0)
                return -1;
            /* what refers to it or its index (signatures): blobs uploaded, manifest held */
            for (size_t q = 0; q < idx->n_referrers; q++) {
                const ap_index_referrer *f = &idx->referrers[q];
                if (strcmp(f->subject, im->manifest.digest) && !(x && !strcmp(f->subject, x->blob.digest)))
                    continue;
                for (size_t b = 0; b < f->n_blobs; b++)
                    if (need_blob(r, f->blobs[b].digest, f->blobs[b].size, "signature", i, repo, err) < 0)
                        return -1;
                if (need_blob(r, f->manifest.digest, f->manifest.size, "manifest", i, repo, err) < 0)
                    return -1;
            }
        }
    }
    return ap_bundle_index_n_expected(idx) ? reg_check_expected(r, idx, err) : 0;
}

static int blob_fail(registry_target *r, const reg_blob *b, ap_error *err)
{
    ap_error_prefix(err, "image %s: %s blob %s", label(r, b->image), b->kind, b->digest);
    add_upload_note(r, err);
    if (err->code != AP_ERR_NOMEM)
        err->code = AP_ERR_TARGET;
    return -1;
}

static int reg_entry_begin(load_target *t, const ap_index_entry *e, ap_error *err)
{
    registry_target *r = t->impl;
    r->cur = NULL;
    const char *prefix = "blobs/sha256/";
    if (strncmp(e->path, prefix, strlen(prefix)) != 0)
        return 0;
    char digest[AP_DIGEST_LEN + 1];
    snprintf(digest, sizeof digest, "sha256:%s", e->path + strlen(prefix));
    reg_blob *b = find_blob(r, digest);
    if (!b)
        return 0;
    if (strcmp(e->path + strlen(prefix), e->sha256) != 0)
        return ap_fail(err, AP_ERR_VERIFY, "entry %s: its sha256 in the index is %s, not its name",
                       e->path, e->sha256);
    if (strcmp(b->kind, "manifest") == 0) {
        if (e->size > REG_MANIFEST_MAX)
            return ap_fail(err, AP_ERR_TARGET, "image %s: manifest %s is too large (%llu bytes)",
                           label(r, b->image), digest, (unsigned long long)e->size);
        free(b->data);
        b->data = malloc(e->size ? e->size : 1);
        if (!b->data)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        b->data_len = 0;
        b->size = e->size;
        b->verified = false;
        r->cur = b;
        return 1;
    }
    /* Which repositories lack it? */
    const char *have_in = NULL;
    size_t n_missing = 0;
    for (size_t k = 0; k < b->n_repos; k++) {
        bool exists = false;
        if (reg_blob_exists(r->client, b->repos[k], b->digest, &exists, err) < 0)
            return blob_fail(r, b, err);
        b->missing[k] = !exists;
        if (exists)
            have_in = have_in ? have_in : b->repos[k];
        else
            n_missing++;
    }
    if (n_missing && have_in) {
        for (size_t k = 0; k < b->n_repos; k++) {
            if (!b->missing[k])
                continue;
            bool mounted = false;
            if (reg_blob_mount(r->client, b->repos[k], b->digest, have_in, &mounted, err) < 0)
                return blob_fail(r, b, err);
            if (mounted) {
                b->missing[k] = false;
                n_missing--;
                r->n_mounted++;
            }
        }
    }
    if (n_missing == 0) {
        r->n_present++;
        return 0;
    }
    /* Receive it: an unlinked temporary file, so nothing outlives us. */
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/airpack-blob-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_TARGET, "image %s: %s blob %s: cannot create a temporary file %s",
                             label(r, b->image), b->kind, b->digest, path);
    unlink(path);
    r->spool_fd = fd;
    r->spooled = 0;
    r->cur = b;
    return 1;
}

static int reg_entry_data(load_target *t, const void *buf, size_t n, ap_error *err)
{
    registry_target *r = t->impl;
    reg_blob *b = r->cur;
    if (!b)
        return 0;
    if (b->data) {
        if (n > b->size - b->data_len)
            return ap_fail(err, AP_ERR_VERIFY, "image %s: manifest %s: more bytes than its size %llu",
                           label(r, b->image), b->digest, (unsigned long long)b->size);
        memcpy(b->data + b->data_len, buf, n);
        b->data_len += n;
        return 0;
    }
    if (ap_write_all(r->spool_fd, buf, n, "temporary blob file", err) < 0) {
        err->code = AP_ERR_TARGET;
        return blob_fail(r, b, err);
    }
    r->spooled += n;
    return 0;
}

static void drop_spool(registry_target *r)
{
    if (r->spool_fd >= 0)
        close(r->spool_fd);
    r->spool_fd = -1;
    r->spooled = 0;
}

static int reg_entry_end(load_target *t, const ap_index_entry *e, ap_error *err)
{
    registry_target *r = t->impl;
    reg_blob *b = r->cur;
    r->cur = NULL;
    if (!b)
        return 0;
    if (b->data) {
        if (b->data_len != e->size)
            return ap_fail(err, AP_ERR_VERIFY, "image %s: manifest %s: %zu bytes, index says %llu",
                           label(r, b->image), b->digest, b->data_len, (unsigned long long)e->size);
        b->verified = true;
        return 0;
    }
    /* Verified: upload to the first repository that lacks it, mount into the others. */
    const char *uploaded_to = NULL;
    int rc = 0;
    for (size_t k = 0; k < b->n_repos && rc == 0; k++) {
        if (!b->missing[k])
            continue;
        bool mounted = false;
        if (uploaded_to && reg_blob_mount(r->client, b->repos[k], b->digest, uploaded_to, &mounted, err) < 0) {
            rc = -1;
            break;
        }
        if (mounted) {
            r->n_mounted++;
        } else {
            if (reg_blob_upload_fd(r->client, b->repos[k], b->digest, r->spool_fd, r->spooled, err) < 0) {
                rc = -1;
                break;
            }
            r->n_uploaded++;
            r->bytes_uploaded += r->spooled;
            uploaded_to = b->repos[k];
        }
        b->missing[k] = false;
    }
    drop_spool(r);
    return rc < 0 ? blob_fail(r, b, err) : 0;
}

/* After their subjects: each referrer under its own tag (sha256-<hex>.sig) in every
 * repository its subject went to, once per repository. */
static int push_referrers(registry_target *r, const ap_bundle_index *idx, ap_error *err)
{
    for (size_t q = 0; q < idx->n_referrers; q++) {
        const ap_index_referrer *f = &idx->referrers[q];
        for (size_t i = 0; i < r->n_names; i++) {
            const reg_name *n = &r->names[i];
            const ap_index_image *im = &idx->images[n->image];
            const ap_index_index *x = load_index_for(idx, r->sel, n->source);
            if (strcmp(f->subject, im->manifest.digest) && !(x && !strcmp(f->subject, x->blob.digest)))
                continue;
            bool dup = false;
            for (size_t j = 0; j < i && !dup; j++) {
                const ap_index_image *jm = &idx->images[r->names[j].image];
                const ap_index_index *jx = load_index_for(idx, r->sel, r->names[j].source);
                dup = !strcmp(r->names[j].repo, n->repo) &&
                      (!strcmp(f->subject, jm->manifest.digest) || (jx && !strcmp(f->subject, jx->blob.digest)));
            }
            reg_blob *mb = dup ? NULL : find_blob(r, f->manifest.digest);
            if (dup)
                continue;
            if (!mb || !mb->data)
                return ap_fail(err, AP_ERR_TARGET, "image %s: %s (%s) missing", n->source, f->tag, f->manifest.digest);
            /* an OCI 1.1 referrer goes by digest (its fallback tag's index, after it, names it) */
            const char *ref = f->tag[0] ? f->tag : f->manifest.digest;
            if (reg_manifest_put(r->client, n->repo, ref, f->media_type, mb->data, mb->data_len, err) < 0) {
                ap_error_prefix(err, "image %s: %s", n->source, ref);
                return -1;
            }
        }
    }
    return 0;
}

/* OCI 1.1 referrers (tag "") of a subject whose fallback index the bundle does not carry
 * (they came from an OCI layout): a registry without the referrers API finds them through
 * the fallback tag sha256-<hex>, an index listing them, which this writes. */
static int push_fallback_index(registry_target *r, const ap_bundle_index *idx, const char *subject,
                               const char *repo, ap_error *err)
{
    char tag[AP_HEX_LEN + 8];
    snprintf(tag, sizeof tag, "sha256-%s", subject + 7);
    json_t *ix = json_object(), *ms = json_array();
    json_object_set_new(ix, "schemaVersion", json_integer(2));
    json_object_set_new(ix, "mediaType", json_string(AP_OCI_INDEX_MEDIA_TYPE));
    for (size_t q = 0; q < idx->n_referrers; q++) {
        const ap_index_referrer *f = &idx->referrers[q];
        if (!strcmp(f->subject, subject) && !f->tag[0])
            json_array_append_new(ms, oci_descriptor(f->media_type, f->manifest.digest, f->manifest.size));
    }
    json_object_set_new(ix, "manifests", ms);
    char *text = json_dumps(ix, JSON_COMPACT);
    json_decref(ix);
    if (!text)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    int rc = reg_manifest_put(r->client, repo, tag, AP_OCI_INDEX_MEDIA_TYPE, text, strlen(text), err);
    free(text);
    if (rc < 0)
        ap_error_prefix(err, "%s: the referrers fallback tag %s", repo, tag);
    return rc;
}

static int push_fallback_indexes(registry_target *r, const ap_bundle_index *idx, ap_error *err)
{
    for (size_t q = 0; q < idx->n_referrers; q++) {
        const ap_index_referrer *f = &idx->referrers[q];
        bool first = !f->tag[0], carried = false;
        for (size_t j = 0; j < idx->n_referrers && first; j++) {
            const ap_index_referrer *g = &idx->referrers[j];
            if (strcmp(g->subject, f->subject))
                continue;
            first &= j >= q || g->tag[0];   /* once per subject */
            carried |= g->tag[0] && strlen(g->tag) == 7 + AP_HEX_LEN;
        }
        if (!first || carried)
            continue;
        for (size_t i = 0; i < r->n_names; i++) {
            const reg_name *n = &r->names[i];
            if (strcmp(idx->images[n->image].manifest.digest, f->subject))
                continue;
            bool dup = false;
            for (size_t j = 0; j < i && !dup; j++)
                dup = !strcmp(r->names[j].repo, n->repo) && !strcmp(idx->images[r->names[j].image].manifest.digest, f->subject);
            if (!dup && push_fallback_index(r, idx, f->subject, n->repo, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int reg_commit(load_target *t, const ap_bundle_index *idx, load_result **results,
                      size_t *n_results, ap_error *err)
{
    registry_target *r = t->impl;
    *results = NULL;
    *n_results = 0;
    if (idx->n_images != r->n_images)
        return ap_fail(err, AP_ERR_TARGET, "registry %s: the index changed between begin and commit", r->host);
    /* Everything the manifests refer to must be there by now. */
    for (size_t i = 0; i < r->n_blobs; i++) {
        reg_blob *b = &r->blobs[i];
        if (strcmp(b->kind, "manifest") == 0) {
            if (!b->verified)
                return ap_fail(err, AP_ERR_VERIFY, "image %s: manifest %s was not in the bundle",
                               label(r, b->image), b->digest);
            continue;
        }
        for (size_t k = 0; k < b->n_repos; k++)
            if (b->missing[k]) {
                ap_fail(err, AP_ERR_TARGET, "image %s: %s blob %s never reached %s/%s", label(r, b->image),
                        b->kind, b->digest, r->host, b->repos[k]);
                add_upload_note(r, err);
                return -1;
            }
    }
    /* What each tag points to now, for is_new. */
    bool *same = calloc(r->n_names ? r->n_names : 1, sizeof *same);
    if (!same)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    int rc = -1;
    size_t pushed_tags = 0;
    for (size_t i = 0; i < r->n_names; i++) {
        reg_name *n = &r->names[i];
        const ap_index_image *im = &idx->images[n->image];
        bool exists = false;
        char cur[AP_DIGEST_LEN + 1];
        if (reg_manifest_digest(r->client, n->repo, n->tag, &exists, cur, err) < 0) {
            ap_error_prefix(err, "image %s", n->source);
            goto out;
        }
        same[i] = exists && strcmp(cur, im->manifest.digest) == 0;
    }
    /* Manifests by digest first (invisible to tag listings), then the tags. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->n_names; i++) {
            reg_name *n = &r->names[i];
            const ap_index_image *im = &idx->images[n->image];
            reg_blob *mb = find_blob(r, im->manifest.digest);
            if (!mb || !mb->data) {
                ap_fail(err, AP_ERR_TARGET, "image %s: manifest %s missing", n->source, im->manifest.digest);
                goto out;
            }
            if (pass == 0) {
                bool dup = false;   /* one PUT per (repo, digest) */
                for (size_t j = 0; j < i && !dup; j++)
                    dup = r->names[j].image == n->image && strcmp(r->names[j].repo, n->repo) == 0;
                if (dup)
                    continue;
            }
            const char *ref = pass == 0 ? im->manifest.digest : n->tag;
            const char *mtype = ap_index_image_manifest_type(im);
            const ap_index_index *x = pass == 1 ? load_index_for(idx, r->sel, n->source) : NULL;
            if (x) {
                /* the name is its image index: by digest, then under the tag, once per repo:tag */
                bool dup = false;
                for (size_t j = 0; j < i && !dup; j++)
                    dup = !strcmp(r->names[j].repo, n->repo) && !strcmp(r->names[j].tag, n->tag);
                if (dup)
                    continue;
                mb = find_blob(r, x->blob.digest);
                if (!mb || !mb->data) {
                    ap_fail(err, AP_ERR_TARGET, "image %s: index %s missing", n->source, x->blob.digest);
                    goto out;
                }
                mtype = x->media_type;
                if (reg_manifest_put(r->client, n->repo, x->blob.digest, mtype, mb->data, mb->data_len, err) < 0) {
                    ap_error_prefix(err, "image %s: index", n->source);
                    goto out;
                }
            }
            if (reg_manifest_put(r->client, n->repo, ref, mtype, mb->data, mb->data_len, err) < 0) {
                ap_error_prefix(err, "image %s", n->source);
                if (pushed_tags) {
                    size_t used = strlen(err->msg);
                    snprintf(err->msg + used, sizeof err->msg - used,
                             " (%zu of %zu tags were already pushed)", pushed_tags, r->n_names);
                } else {
                    add_upload_note(r, err);
                }
                goto out;
            }
            if (pass == 1)
                pushed_tags++;
        }
    }
    if (push_referrers(r, idx, err) < 0 || push_fallback_indexes(r, idx, err) < 0)
        goto out;
    for (size_t i = 0; i < r->n_names; i++) {
        reg_name *n = &r->names[i];
        char name[2048];
        snprintf(name, sizeof name, "%s/%s:%s", r->host, n->repo, n->tag);
        if (load_results_add(results, n_results, name, idx->images[n->image].config.digest, !same[i], err) < 0)
            goto out;
    }
    rc = 0;
out:
    free(same);
    if (rc < 0) {
        if (err->code != AP_ERR_NOMEM && err->code != AP_ERR_VERIFY)
            err->code = AP_ERR_TARGET;
        load_results_free(*results, *n_results);
        *results = NULL;
        *n_results = 0;
    }
    return rc;
}

static void reg_abort(load_target *t)
{
    registry_target *r = t->impl;
    drop_spool(r);
    r->cur = NULL;
    for (size_t i = 0; i < r->n_blobs; i++) {
        free(r->blobs[i].data);
        r->blobs[i].data = NULL;
        r->blobs[i].verified = false;
    }
}

static void reg_close(load_target *t)
{
    if (!t)
        return;
    registry_target *r = t->impl;
    if (r) {
        drop_spool(r);
        free_blobs(r);
        free_names(r);
        reg_client_free(r->client);
        free(r->host);
        free(r->prefix);
        free(r);
    }
    free(t);
}

static const load_target_ops registry_ops = {
    .kind = "docker",
    .begin = reg_begin,
    .entry_begin = reg_entry_begin,
    .entry_data = reg_entry_data,
    .entry_end = reg_entry_end,
    .commit = reg_commit,
    .abort = reg_abort,
    .close = reg_close,
};

static bool prefix_ok(const char *p)
{
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' ||
              *p == '/'))
            return false;
    return true;
}

load_target *load_registry_open(const char *spec, const load_options *opts, ap_error *err)
{
    const char *s = spec;
    if (strncmp(s, "docker://", 9) == 0)
        s += 9;
    size_t host_len = strcspn(s, "/");
    if (host_len == 0) {
        ap_fail(err, AP_ERR_USAGE, "target '%s': use docker://HOST[:PORT][/PREFIX]", spec);
        return NULL;
    }
    load_target *t = calloc(1, sizeof *t);
    registry_target *r = calloc(1, sizeof *r);
    if (!t || !r) {
        free(t);
        free(r);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->ops = &registry_ops;
    t->impl = r;
    r->spool_fd = -1;
    r->opts = opts;
    r->host = strndup(s, host_len);
    const char *p = s + host_len;
    while (*p == '/')
        p++;
    if (*p) {
        r->prefix = strdup(p);
        size_t n = r->prefix ? strlen(r->prefix) : 0;
        while (n && r->prefix[n - 1] == '/')
            r->prefix[--n] = '\0';
        if (r->prefix && (!prefix_ok(r->prefix) || strstr(r->prefix, "//"))) {
            ap_fail(err, AP_ERR_USAGE,
                    "target '%s': the prefix must be a lower-case repository path (no tag: names come from the bundle)",
                    spec);
            reg_close(t);
            return NULL;
        }
    }
    if (!r->host) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        reg_close(t);
        return NULL;
    }
    reg_client_opts co = {
        .tls_verify = opts ? opts->tls_verify : true,
        .authfile = opts ? opts->authfile : NULL,
        .creds = opts ? opts->creds : NULL,
    };
    r->client = reg_client_open(r->host, &co, err);
    if (!r->client) {
        reg_close(t);
        return NULL;
    }
    return t;
}
