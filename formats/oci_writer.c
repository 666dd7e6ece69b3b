/* oci_writer.c: see oci_writer.h. */
#include "oci_writer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "image_ref.h"
#include "oci_json.h"

#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* ---- platforms ---------------------------------------------------------------- */

void oci_host_platform(char *out, size_t n)
{
    struct utsname u;
    const char *arch = "amd64";
    if (uname(&u) == 0) {
        if (!strcmp(u.machine, "aarch64"))
            arch = "arm64";
        else if (!strncmp(u.machine, "arm", 3))
            arch = "arm";
        else if (!strcmp(u.machine, "ppc64le"))
            arch = "ppc64le";
        else if (!strcmp(u.machine, "s390x"))
            arch = "s390x";
    }
    snprintf(out, n, "linux/%s", arch);
}

bool oci_platform_matches(const char *want, const char *have)
{
    if (!want || !have)
        return false;
    if (!strcmp(want, have))
        return true;
    /* "linux/arm64" takes "linux/arm64/v8"; "linux/arm64/v8" takes "linux/arm64" */
    size_t wl = strlen(want), hl = strlen(have);
    int wslash = 0, hslash = 0;
    for (const char *p = want; *p; p++)
        wslash += *p == '/';
    for (const char *p = have; *p; p++)
        hslash += *p == '/';
    if (wslash == 1 && hslash == 2 && hl > wl && !strncmp(want, have, wl) && have[wl] == '/')
        return true;
    if (wslash == 2 && hslash == 1 && wl > hl && !strncmp(want, have, hl) && want[hl] == '/' &&
        !strcmp(want + hl, "/v8") && strstr(have, "/arm64"))
        return true;
    return false;
}

/* ---- names -------------------------------------------------------------------- */

static bool has_name(const oci_w_image *im, const char *name)
{
    for (size_t k = 0; k < im->n_names; k++)
        if (!strcmp(im->names[k], name))
            return true;
    return false;
}

/* Every (name, image) pair sorted by name, then image: what the questions below ask is a
 * binary search and a walk over one name's images, not a scan of every image per name
 * (12,800 images took minutes). */
typedef struct {
    const char *name;
    size_t image;
} name_ref;

typedef struct {
    const oci_w_image *imgs;
    name_ref *r;
    size_t n;
} names_tab;

static int cmp_name_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->image < y->image ? -1 : x->image > y->image;
}

static int names_tab_make(names_tab *t, const oci_w_image *imgs, size_t n, ap_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += imgs[i].n_names;
    t->imgs = imgs;
    t->n = 0;
    t->r = malloc((total ? total : 1) * sizeof *t->r);
    if (!t->r)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < imgs[i].n_names; k++)
            t->r[t->n++] = (name_ref){imgs[i].names[k], i};
    qsort(t->r, t->n, sizeof *t->r, cmp_name_ref);
    return 0;
}

/* The first pair with name (the images that carry it follow, in image order); t->n if none. */
static size_t names_first(const names_tab *t, const char *name)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->r[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && !strcmp(t->r[lo].name, name) ? lo : t->n;
}

/* Is image i the first that carries name? */
static bool first_with(const names_tab *t, size_t i, const char *name)
{
    size_t f = names_first(t, name);
    return f == t->n || t->r[f].image >= i;
}

/* Do images of more than one platform carry name? */
static bool multi_platform(const names_tab *t, const char *name)
{
    const char *plat = NULL;
    for (size_t f = names_first(t, name); f < t->n && !strcmp(t->r[f].name, name); f++) {
        const oci_w_image *im = &t->imgs[t->r[f].image];
        const char *p = im->platform ? im->platform : "";
        if (plat && strcmp(plat, p))
            return true;
        plat = p;
    }
    return false;
}

size_t oci_count_multi_platform_names(const oci_w_image *imgs, size_t n)
{
    names_tab t;
    ap_error e;
    if (names_tab_make(&t, imgs, n, &e) < 0)
        return 0;
    size_t c = 0;
    for (size_t f = 0; f < t.n; f++)
        c += (f == 0 || strcmp(t.r[f - 1].name, t.r[f].name)) && multi_platform(&t, t.r[f].name);
    free(t.r);
    return c;
}

/* The image Docker gets `name` on: the first of the default platform, else the first
 * (t->imgs' count if no image carries it). */
static size_t docker_owner(const names_tab *t, size_t n, const char *name, const char *want)
{
    size_t first = n;
    for (size_t f = names_first(t, name); f < t->n && !strcmp(t->r[f].name, name); f++) {
        size_t i = t->r[f].image;
        if (oci_platform_matches(want, t->imgs[i].platform))
            return i;
        if (first == n)
            first = i;
    }
    return first;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct {
    oci_w_opts *o;
    json_t *seen;                /* hex digests of the blobs put, as keys (a hash table) */
    const names_tab *names;
} writer;

/* bytes as blob (once); its digest and size out */
static int put_blob(writer *w, const void *data, size_t len, char digest[AP_DIGEST_LEN + 1], uint64_t *size,
                    ap_error *err)
{
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(data, len, hex);
    snprintf(digest, AP_DIGEST_LEN + 1, "sha256:%s", hex);
    *size = len;
    if (json_object_get(w->seen, hex))
        return 0;
    if (json_object_set_new(w->seen, hex, json_true()) < 0)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    char path[AP_HEX_LEN + 16];
    snprintf(path, sizeof path, "blobs/sha256/%s", hex);
    return w->o->put(w->o->ctx, path, data, len, err);
}

/* JSON written once, canonically (compact, keys as built), as a blob or a named file */
static int put_json(writer *w, json_t *j, const char *path, char digest[AP_DIGEST_LEN + 1], uint64_t *size,
                    ap_error *err)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory writing %s", path ? path : "a manifest");
    int rc = path ? w->o->put(w->o->ctx, path, text, strlen(text), err)
                  : put_blob(w, text, strlen(text), digest, size, err);
    free(text);
    return rc;
}

static json_t *new_manifest(const oci_w_image *im)
{
    json_t *m = json_object(), *ls = json_array();
    json_object_set_new(m, "schemaVersion", json_integer(2));
    json_object_set_new(m, "mediaType", json_string(OCI_W_MANIFEST));
    json_object_set_new(m, "config", oci_descriptor(OCI_W_CONFIG, im->config_digest, im->config_size));
    for (size_t k = 0; k < im->n_layers; k++)
        json_array_append_new(ls, oci_descriptor(im->layers[k].media_type, im->layers[k].digest,
                                                 im->layers[k].size));
    json_object_set_new(m, "layers", ls);
    return m;
}

static int write_manifests(writer *w, oci_w_image *imgs, size_t n, ap_error *err)
{
    for (size_t i = 0; i < n; i++) {
        oci_w_image *im = &imgs[i];
        char cd[AP_DIGEST_LEN + 1];
        uint64_t cs;
        if (im->config && put_blob(w, im->config, im->config_len, cd, &cs, err) < 0)
            return -1;
        int rc = im->manifest ? put_blob(w, im->manifest, im->manifest_len, im->manifest_digest, &im->manifest_size, err)
                              : put_json(w, new_manifest(im), NULL, im->manifest_digest, &im->manifest_size, err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static const char *manifest_type(const oci_w_image *im)
{
    return im->manifest ? im->manifest_type : OCI_W_MANIFEST;
}

/* The source index for name whose every manifest is one of the images of name here. */
static const oci_w_source_index *carried_index(const oci_w_opts *o, const oci_w_image *imgs, size_t n,
                                               const char *name)
{
    for (size_t s = 0; s < o->n_sources; s++) {
        const oci_w_source_index *si = &o->sources[s];
        if (!si->name || strcmp(si->name, name))
            continue;
        bool all = si->n_manifests > 0;
        for (size_t k = 0; k < si->n_manifests && all; k++) {
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = has_name(&imgs[i], name) && imgs[i].manifest &&
                        !strcmp(imgs[i].manifest_digest, si->manifests[k]);
            all = found;
        }
        size_t carrying = 0;   /* and nothing of name that it does not list */
        for (size_t i = 0; i < n; i++)
            carrying += has_name(&imgs[i], name);
        if (all && carrying == si->n_manifests)
            return si;
    }
    return NULL;
}

/* A new index for name: the default platform's manifest first. */
static json_t *new_index(const names_tab *t, const oci_w_image *imgs, size_t n, const char *name,
                         const char *want)
{
    json_t *ni = json_object(), *ms = json_array();
    json_object_set_new(ni, "schemaVersion", json_integer(2));
    json_object_set_new(ni, "mediaType", json_string(OCI_W_INDEX));
    size_t owner = docker_owner(t, n, name, want);
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < n; j++) {
            if (!has_name(&imgs[j], name) || (j == owner) != (pass == 0))
                continue;
            json_t *d = oci_descriptor(manifest_type(&imgs[j]), imgs[j].manifest_digest, imgs[j].manifest_size);
            json_t *p = oci_platform_json(imgs[j].platform);
            if (p)
                json_object_set_new(d, "platform", p);
            json_array_append_new(ms, d);
        }
    json_object_set_new(ni, "manifests", ms);
    return ni;
}

static int write_indexes(writer *w, const oci_w_image *imgs, size_t n, ap_error *err)
{
    oci_w_opts *o = w->o;
    size_t want = oci_count_multi_platform_names(imgs, n);
    o->indexes = calloc(want ? want : 1, sizeof *o->indexes);
    if (!o->indexes)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < imgs[i].n_names; k++) {
            const char *name = imgs[i].names[k];
            if (!first_with(w->names, i, name) || !multi_platform(w->names, name))
                continue;
            oci_w_index *x = &o->indexes[o->n_indexes++];
            snprintf(x->name, sizeof x->name, "%s", name);
            const oci_w_source_index *si = carried_index(o, imgs, n, name);
            int rc;
            if (si) {
                x->carried = true;
                x->media_type = !strcmp(si->media_type, DOCKER_LIST) ? DOCKER_LIST : OCI_W_INDEX;
                rc = put_blob(w, si->bytes, si->len, x->digest, &x->size, err);
            } else {
                x->media_type = OCI_W_INDEX;
                rc = put_json(w, new_index(w->names, imgs, n, name, o->default_platform), NULL, x->digest, &x->size, err);
            }
            if (rc < 0)
                return -1;
        }
    return 0;
}

static const oci_w_index *index_of(const oci_w_opts *o, const char *name)
{
    for (size_t j = 0; j < o->n_indexes; j++)
        if (!strcmp(o->indexes[j].name, name))
            return &o->indexes[j];
    return NULL;
}

/* index.json: one descriptor per name (a name several platforms carry: its index) */
static json_t *index_json(const oci_w_opts *o, const names_tab *t, const oci_w_image *imgs, size_t n)
{
    json_t *index = json_object(), *mans = json_array();
    json_object_set_new(index, "schemaVersion", json_integer(2));
    json_object_set_new(index, "mediaType", json_string(OCI_W_INDEX));
    for (size_t i = 0; i < n; i++) {
        const oci_w_image *im = &imgs[i];
        for (size_t k = 0; k < (im->n_names ? im->n_names : 1); k++) {
            const char *name = im->n_names ? im->names[k] : NULL;
            const oci_w_index *x = name ? index_of(o, name) : NULL;
            if (x && !first_with(t, i, name))
                continue;   /* named once, by its index */
            json_t *d = x ? oci_descriptor(x->media_type, x->digest, x->size)
                          : oci_descriptor(manifest_type(im), im->manifest_digest, im->manifest_size);
            if (name && o->ref_full_name)
                oci_annotate_full_name(d, name);
            else if (name)
                oci_annotate_name(d, name);
            json_t *p = x ? NULL : oci_platform_json(im->platform);
            if (p)
                json_object_set_new(d, "platform", p);
            json_array_append_new(mans, d);
        }
    }
    json_object_set_new(index, "manifests", mans);
    return index;
}

/* manifest.json: Config, RepoTags (full names, each on one image), Layers */
static json_t *docker_json(const oci_w_opts *o, const names_tab *t, const oci_w_image *imgs, size_t n)
{
    json_t *dm = json_array();
    for (size_t i = 0; i < n; i++) {
        const oci_w_image *im = &imgs[i];
        json_t *tags = json_array();
        for (size_t k = 0; k < im->n_names; k++)
            if (docker_owner(t, n, im->names[k], o->default_platform) == i)
                json_array_append_new(tags, json_string(im->names[k]));
        if (im->n_names && json_array_size(tags) == 0) {
            json_decref(tags);
            continue;   /* another platform's image of its names: not for docker */
        }
        json_t *e = json_object(), *ls = json_array();
        char path[AP_HEX_LEN + 16];
        snprintf(path, sizeof path, "blobs/sha256/%s", im->config_digest + 7);
        json_object_set_new(e, "Config", json_string(path));
        if (im->n_names) {
            json_object_set_new(e, "RepoTags", tags);
        } else {
            json_decref(tags);
            json_object_set_new(e, "RepoTags", json_null());
        }
        for (size_t k = 0; k < im->n_layers; k++) {
            snprintf(path, sizeof path, "blobs/sha256/%s", im->layers[k].digest + 7);
            json_array_append_new(ls, json_string(path));
        }
        json_object_set_new(e, "Layers", ls);
        json_array_append_new(dm, e);
    }
    return dm;
}

int oci_write_metadata(oci_w_image *imgs, size_t n, oci_w_opts *o, ap_error *err)
{
    names_tab names;
    if (names_tab_make(&names, imgs, n, err) < 0)
        return -1;
    writer w = {.o = o, .seen = json_object(), .names = &names};
    o->indexes = NULL;
    o->n_indexes = 0;
    if (!w.seen) {
        free(names.r);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    int rc = write_manifests(&w, imgs, n, err);
    if (rc == 0)
        rc = write_indexes(&w, imgs, n, err);
    if (rc == 0 && o->before_layout)
        rc = o->before_layout(o->ctx, o, err);
    if (rc == 0) {
        const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
        rc = o->put(o->ctx, "oci-layout", layout, strlen(layout), err);
    }
    if (rc == 0)
        rc = put_json(&w, index_json(o, &names, imgs, n), "index.json", NULL, NULL, err);
    if (rc == 0 && o->docker_manifest)   /* last: what makes docker load commit */
        rc = put_json(&w, docker_json(o, &names, imgs, n), "manifest.json", NULL, NULL, err);
    json_decref(w.seen);
    free(names.r);
    return rc;
}
