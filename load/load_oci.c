/* load_oci.c: the oci:DIR target, an OCI image layout directory shared by many loads.
 *
 * Blobs stream into DIR/blobs/sha256/.airpack-tmp-XXXXXX; writeback starts
 * while they stream (sync_file_range), and once the verifier says a blob's
 * bytes matched the signed index it goes to a syncer thread that fsyncs it
 * while the next blob streams (file_syncer.h); a blob under 256 KiB is closed
 * unsynced instead, and one syncfs at commit makes them all durable (a bundle of
 * thousands of small configs and manifests paid one fsync each). Only when the whole bundle
 * verified (commit) and every fsync has returned are the blobs renamed to their
 * digest names, then the directory is fsynced. A blob already present (right
 * name and size; blobs are only ever renamed into place after verification
 * and fsync) is not written again.
 * index.json is rewritten last, by temp file + fsync + rename + directory
 * fsync, keeping every image already there; a descriptor with the same name
 * is replaced. One load at a time holds flock(DIR/.airpack.lock), so
 * concurrent loads never lose each other's names. abort() removes the temp
 * file and every blob this load created. Temp files left by a killed load are
 * removed by the next one. */
#include "load_target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../formats/stream.h"
#include "../formats/image_ref.h"
#include "delta_check.h"
#include "file_syncer.h"
#include "../formats/oci_json.h"

#define TMP_PREFIX AP_TMP_PREFIX  /* blobs and index.json alike (stream.h) */
#define BIG_PATH (PATH_MAX + 256)
#define SMALL_BLOB (256u << 10)       /* blobs under this are made durable by one syncfs at commit */
#define SYNC_PENDING 8                /* blobs waiting for their fsync (open files) at most */
#define WRITEBACK_KICK (8u << 20)     /* start writeback of each 8 MiB written */

typedef struct {
    char *tmp;                        /* verified, handed to the syncer, not yet renamed */
    char *final;
} pending_blob;

typedef struct {
    char *dir;
    char blobs[PATH_MAX];        /* DIR/blobs/sha256 */
    int lock_fd;
    char lock_path[BIG_PATH];
    bool created_dir;            /* DIR did not exist before this load */
    bool created_blobs;          /* DIR/blobs did not exist before this load */
    const load_options *opts;
    json_t *old_index;           /* DIR/index.json as found, or NULL */
    bool *sel;                   /* selected images */
    char (*want)[AP_HEX_LEN + 1];/* blobs the selected images need, sorted */
    size_t n_want;
    int tmp_fd;
    char tmp_path[BIG_PATH];
    uint64_t written, kicked;        /* bytes of the current blob written / handed to writeback */
    ap_file_syncer *syncer;
    bool need_syncfs;                 /* small blobs were closed unsynced: syncfs before publishing */
    pending_blob *pending;           /* verified blobs, fsync under way, renamed at commit */
    size_t n_pending;
    char **created;              /* blobs this load renamed into place */
    size_t n_created;
} oci_target;

static int target_fail_errno(ap_error *err, const char *what, const char *path)
{
    return ap_fail_errno(err, AP_ERR_TARGET, "%s %s", what, path);
}

static int mkdir_p(const char *path, bool *created, ap_error *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ap_fail(err, AP_ERR_USAGE, "path too long: %s", path);
    *created = false;
    struct stat st;
    if (stat(buf, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return ap_fail(err, AP_ERR_TARGET, "%s exists and is not a directory", path);
        return 0;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return target_fail_errno(err, "cannot create directory", buf);
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return target_fail_errno(err, "cannot create directory", buf);
    *created = true;
    return 0;
}

/* A store's failures are the target's (AP_ERR_TARGET), whatever the helper said. */
static int as_target_error(ap_error *err)
{
    err->code = AP_ERR_TARGET;
    return -1;
}

/* Removes temp files a killed load left behind (we hold the lock, so no live load owns them). */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

static int read_old_index(oci_target *o, ap_error *err)
{
    char path[BIG_PATH];
    snprintf(path, sizeof path, "%s/index.json", o->dir);
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return target_fail_errno(err, "cannot read", path);
    }
    if (st.st_size > (off_t)AP_INDEX_MAX_SIZE)
        return ap_fail(err, AP_ERR_TARGET, "%s: larger than %u bytes", path, AP_INDEX_MAX_SIZE);
    json_error_t je;
    o->old_index = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!o->old_index)
        return ap_fail(err, AP_ERR_TARGET, "%s: not valid JSON (line %d: %s)", path, je.line, je.text);
    json_t *m = json_object_get(o->old_index, "manifests");
    if (!json_is_object(o->old_index) || (m && !json_is_array(m)))
        return ap_fail(err, AP_ERR_TARGET, "%s: not an OCI image index", path);
    return 0;
}

/* flock(DIR/.airpack.lock). The file is removed when a load ends (while still
 * locked), so after locking, check that the path is still the file we locked. */
static int take_lock(oci_target *o, ap_error *err)
{
    snprintf(o->lock_path, sizeof o->lock_path, "%s/.airpack.lock", o->dir);
    for (;;) {
        o->lock_fd = open(o->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (o->lock_fd < 0)
            return target_fail_errno(err, "cannot open the lock file", o->lock_path);
        while (flock(o->lock_fd, LOCK_EX) < 0) {
            if (errno != EINTR)
                return target_fail_errno(err, "cannot lock", o->lock_path);
        }
        struct stat held, now;
        if (fstat(o->lock_fd, &held) == 0 && stat(o->lock_path, &now) == 0 &&
            held.st_dev == now.st_dev && held.st_ino == now.st_ino)
            return 0;
        close(o->lock_fd);
        o->lock_fd = -1;
    }
}

static int cmp_hex(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Delta: the layout holds an expected layer blob when the file is there with
 * its size (blobs are renamed into place only after verification). */
static int oci_holds(void *ctx, const ap_index_image *im, size_t k, ap_error *err)
{
    oci_target *o = ctx;
    char hex[AP_HEX_LEN + 1], path[BIG_PATH];
    if (ap_digest_parse(im->layers[k].digest, hex, "layer digest", err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", o->blobs, hex);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == im->layers[k].size;
}

/* The name a referrer is kept under: its subject's first loaded name with the referrer's
 * tag ("docker.io/library/nginx:sha256-<hex>.sig"); false when its subject is not loaded. */
static bool referrer_name(const ap_bundle_index *idx, const bool *sel, const ap_index_referrer *f, char *out,
                          size_t n)
{
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        for (size_t k = 0; sel[i] && k < im->n_names; k++) {
            const ap_index_index *x = load_index_for(idx, sel, im->names[k]);
            if (strcmp(f->subject, im->manifest.digest) && !(x && !strcmp(f->subject, x->blob.digest)))
                continue;
            const char *tag = image_ref_tag(im->names[k]);
            if (out)
                snprintf(out, n, "%.*s%s", (int)(tag - im->names[k]), im->names[k], f->tag);
            return true;
        }
    }
    return false;
}

static int oci_begin(load_target *t, const ap_bundle_index *idx, ap_error *err)
{
    oci_target *o = t->impl;
    free(o->sel);
    free(o->want);
    o->n_want = 0;
    o->sel = calloc(idx->n_images ? idx->n_images : 1, sizeof *o->sel);
    size_t cap = idx->n_indexes;
    for (size_t i = 0; i < idx->n_referrers; i++)
        cap += 1 + idx->referrers[i].n_blobs;
    for (size_t i = 0; i < idx->n_images; i++)
        cap += 2 + idx->images[i].n_layers;
    o->want = calloc(cap ? cap : 1, sizeof *o->want);
    if (!o->sel || !o->want)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (load_select_images(idx, o->opts, o->sel, err) < 0)
        return -1;
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!o->sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        if (ap_digest_parse(im->manifest.digest, o->want[o->n_want++], "manifest digest", err) < 0 ||
            ap_digest_parse(im->config.digest, o->want[o->n_want++], "config digest", err) < 0)
            return -1;
        for (size_t k = 0; k < im->n_layers; k++)
            if (!im->layers[k].expected &&
                ap_digest_parse(im->layers[k].digest, o->want[o->n_want++], "layer digest", err) < 0)
                return -1;
    }
    for (size_t i = 0; i < idx->n_indexes; i++)   /* the indexes the names will point to */
        if (load_index_for(idx, o->sel, idx->indexes[i].names[0]) == &idx->indexes[i] &&
            ap_digest_parse(idx->indexes[i].blob.digest, o->want[o->n_want++], "index digest", err) < 0)
            return -1;
    for (size_t i = 0; i < idx->n_referrers; i++) {   /* signatures of what is loaded */
        const ap_index_referrer *f = &idx->referrers[i];
        if (!referrer_name(idx, o->sel, f, NULL, 0))
            continue;
        if (ap_digest_parse(f->manifest.digest, o->want[o->n_want++], "referrer digest", err) < 0)
            return -1;
        for (size_t k = 0; k < f->n_blobs; k++)
            if (ap_digest_parse(f->blobs[k].digest, o->want[o->n_want++], "referrer blob digest", err) < 0)
                return -1;
    }
    qsort(o->want, o->n_want, sizeof *o->want, cmp_hex);
    char name[BIG_PATH];
    snprintf(name, sizeof name, "oci:%s", o->dir);
    return delta_check_expected(idx, o->sel, name, oci_holds, o, err);
}

static int oci_entry_begin(load_target *t, const ap_index_entry *e, ap_error *err)
{
    oci_target *o = t->impl;
    const char *prefix = "blobs/sha256/";
    if (strncmp(e->path, prefix, strlen(prefix)))
        return 0;   /* oci-layout, index.json, manifest.json: we write our own */
    const char *hex = e->path + strlen(prefix);
    if (!bsearch(hex, o->want, o->n_want, sizeof *o->want, cmp_hex))
        return 0;   /* not needed by the selected images */
    if (strcmp(hex, e->sha256))
        return ap_fail(err, AP_ERR_VERIFY, "entry %s: its sha256 in the index is %s, not its name",
                       e->path, e->sha256);
    char final[BIG_PATH];
    snprintf(final, sizeof final, "%s/%s", o->blobs, hex);
    struct stat st;
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == e->size)
        return 0;   /* already present; the verifier still checks the bundle's copy */
    snprintf(o->tmp_path, sizeof o->tmp_path, "%s/" TMP_PREFIX "XXXXXX", o->blobs);
    o->tmp_fd = mkostemp(o->tmp_path, O_CLOEXEC);
    if (o->tmp_fd < 0) {
        o->tmp_path[0] = '\0';
        return target_fail_errno(err, "cannot create a temporary file in", o->blobs);
    }
    if (fchmod(o->tmp_fd, 0644) < 0)
        return target_fail_errno(err, "cannot chmod", o->tmp_path);
    o->written = o->kicked = 0;
    return 1;
}

static int oci_entry_data(load_target *t, const void *buf, size_t n, ap_error *err)
{
    oci_target *o = t->impl;
    if (o->tmp_fd < 0)
        return 0;
    if (ap_write_all(o->tmp_fd, buf, n, o->tmp_path, err) < 0) {
        err->code = AP_ERR_TARGET;
        return -1;
    }
    o->written += n;
    if (o->written - o->kicked >= WRITEBACK_KICK) {
        /* Start writing these pages to disk now, so the fsync later has little left
         * to wait for. Only a hint: durability comes from that fsync. */
        sync_file_range(o->tmp_fd, (off_t)o->kicked, (off_t)(o->written - o->kicked), SYNC_FILE_RANGE_WRITE);
        o->kicked = o->written;
    }
    return 0;
}

static void drop_temp(oci_target *o)
{
    if (o->tmp_fd >= 0)
        close(o->tmp_fd);
    o->tmp_fd = -1;
    if (o->tmp_path[0])
        unlink(o->tmp_path);
    o->tmp_path[0] = '\0';
}

/* The blob verified: hand it to the syncer and go on with the next one. It keeps
 * its temporary name until commit, when every fsync has returned. */
static int oci_entry_end(load_target *t, const ap_index_entry *e, ap_error *err)
{
    oci_target *o = t->impl;
    if (o->tmp_fd < 0)
        return 0;
    char final[BIG_PATH];
    snprintf(final, sizeof final, "%s/%s", o->blobs, e->path + strlen("blobs/sha256/"));
    pending_blob *grown = realloc(o->pending, (o->n_pending + 1) * sizeof *grown);
    if (grown)
        o->pending = grown;
    pending_blob b = {.tmp = strdup(o->tmp_path), .final = strdup(final)};
    if (!grown || !b.tmp || !b.final) {
        free(b.tmp);
        free(b.final);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    o->pending[o->n_pending++] = b;   /* from here on abort() removes it by this name */
    o->tmp_path[0] = '\0';
    int fd = o->tmp_fd;
    o->tmp_fd = -1;
    if (e->size < SMALL_BLOB) {
        /* thousands of small blobs (configs, manifests, tiny layers): one syncfs at commit
         * makes them all durable, instead of one fsync each */
        o->need_syncfs = true;
        if (close(fd) < 0)
            return target_fail_errno(err, "cannot write", b.tmp);
        return 0;
    }
    return ap_file_syncer_add(o->syncer, fd, b.tmp, err);
}

/* Every verified blob is durable: give each its digest name, then make the names durable. */
static int publish_blobs(oci_target *o, ap_error *err)
{
    if (ap_file_syncer_wait(o->syncer, err) < 0)
        return -1;
    if (o->need_syncfs) {
        int dfd = open(o->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || syncfs(dfd) < 0) {
            int e = errno;
            if (dfd >= 0)
                close(dfd);
            errno = e;
            return target_fail_errno(err, "cannot sync the blobs written to", o->blobs);
        }
        close(dfd);
        o->need_syncfs = false;
    }
    size_t n0 = o->n_created;
    for (size_t i = 0; i < o->n_pending; i++) {
        char **grown = realloc(o->created, (o->n_created + 1) * sizeof *grown);
        if (!grown)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        o->created = grown;
        pending_blob *b = &o->pending[i];
        if (rename(b->tmp, b->final) < 0)
            return target_fail_errno(err, "cannot rename a blob into", b->final);
        o->created[o->n_created++] = b->final;   /* abort() now removes it by its final name */
        b->final = NULL;
        free(b->tmp);
        b->tmp = NULL;
    }
    o->n_pending = 0;
    if (o->n_created > n0 && ap_fsync_dir(o->blobs, err) < 0)
        return as_target_error(err);
    return 0;
}

static const char *annotation(json_t *desc, const char *key)
{
    return json_string_value(json_object_get(json_object_get(desc, "annotations"), key));
}

/* Whether descriptor d is the one a new one named `full` (or unnamed with `digest`) replaces. */
static bool replaces(json_t *d, const char *full, const char *digest)
{
    const char *name = annotation(d, OCI_NAME_ANNOTATION), *ref = annotation(d, OCI_REF_ANNOTATION);
    if (full)
        return name ? !strcmp(name, full) : (ref && (!strcmp(ref, full) || !strcmp(ref, image_ref_tag(full))));
    if (name || ref)
        return false;
    const char *dg = json_string_value(json_object_get(d, "digest"));
    return dg && !strcmp(dg, digest);
}

/* Where each descriptor is, by the keys `replaces` compares: "n NAME", "r REF", "d DIGEST"
 * (unnamed) -> the first index with it. A hash table, so a load of many images into a store
 * of many images does not scan the store once per name. */
static void where_add(json_t *where, const char *kind, const char *key, size_t i)
{
    char *k = NULL;
    if (!key || asprintf(&k, "%s %s", kind, key) < 0)
        return;
    if (!json_object_get(where, k))
        json_object_set_new(where, k, json_integer((json_int_t)i));
    free(k);
}

static void where_add_descriptor(json_t *where, json_t *d, size_t i)
{
    const char *name = annotation(d, OCI_NAME_ANNOTATION), *ref = annotation(d, OCI_REF_ANNOTATION);
    if (name)
        where_add(where, "n", name, i);
    else if (ref)
        where_add(where, "r", ref, i);
    else
        where_add(where, "d", json_string_value(json_object_get(d, "digest")), i);
}

static ssize_t where_get(json_t *where, const char *kind, const char *key)
{
    char *k = NULL;
    if (asprintf(&k, "%s %s", kind, key) < 0)
        return -1;
    json_t *v = json_object_get(where, k);
    free(k);
    return v ? (ssize_t)json_integer_value(v) : -1;
}

/* The existing descriptor that a new one named `full` (or unnamed with `digest`) replaces:
 * the first that `replaces` accepts. Candidates come from `where`; a candidate that no longer
 * matches (its descriptor was replaced) sends us to a scan, as does a missing table. */
static ssize_t find_descriptor(json_t *manifests, json_t *where, const char *full, const char *digest)
{
    if (where) {
        ssize_t c[3] = {-1, -1, -1}, best = -1;
        if (full) {
            c[0] = where_get(where, "n", full);
            c[1] = where_get(where, "r", full);
            c[2] = where_get(where, "r", image_ref_tag(full));
        } else
            c[0] = where_get(where, "d", digest);
        bool stale = false;
        for (int k = 0; k < 3; k++) {
            if (c[k] < 0)
                continue;
            if (!replaces(json_array_get(manifests, (size_t)c[k]), full, digest))
                stale = true;
            else if (best < 0 || c[k] < best)
                best = c[k];
        }
        if (!stale)
            return best;
    }
    size_t i;
    json_t *d;
    json_array_foreach(manifests, i, d) {
        if (replaces(d, full, digest))
            return (ssize_t)i;
    }
    return -1;
}

/* A name's descriptor: its image index when the bundle has one for it, else the image's manifest. */
static json_t *descriptor(const ap_index_image *im, const char *full, const ap_index_index *x)
{
    json_t *d = x ? oci_descriptor(x->media_type, x->blob.digest, x->blob.size)
                  : oci_descriptor(ap_index_image_manifest_type(im), im->manifest.digest, im->manifest.size);
    if (full)
        oci_annotate_full_name(d, full);
    json_t *p = x ? NULL : oci_platform_json(im->platform);
    if (p)
        json_object_set_new(d, "platform", p);
    return d;
}

/* Writes DIR/NAME atomically: temp file, fsync, rename, directory fsync (stream.c). */
static int write_atomic(oci_target *o, const char *name, const char *data, size_t len, ap_error *err)
{
    char final[BIG_PATH];
    snprintf(final, sizeof final, "%s/%s", o->dir, name);
    if (ap_write_file_atomic(final, data, len, 0644, err) < 0)
        return as_target_error(err);
    return 0;
}

/* Each referrer of a loaded image (a signature) under its name; true when index.json changed. */
static bool keep_referrers(const oci_target *o, const ap_bundle_index *idx, json_t *manifests)
{
    bool changed = false;
    for (size_t i = 0; i < idx->n_referrers; i++) {   /* kept, each under its name */
        const ap_index_referrer *f = &idx->referrers[i];
        char full[1024];
        if (!referrer_name(idx, o->sel, f, full, sizeof full))
            continue;
        json_t *d = oci_descriptor(f->media_type, f->manifest.digest, f->manifest.size);
        if (f->tag[0]) {   /* an OCI 1.1 referrer has no name: its subject field says what it refers to */
            json_t *a = json_object();
            json_object_set_new(a, OCI_REF_ANNOTATION, json_string(full));
            json_object_set_new(d, "annotations", a);
        }
        ssize_t at = -1;
        size_t q;
        json_t *e;
        json_array_foreach(manifests, q, e) {
            const char *ref = annotation(e, OCI_REF_ANNOTATION);
            const char *dg = json_string_value(json_object_get(e, "digest"));
            if (f->tag[0] ? (ref && !strcmp(ref, full)) : (!ref && dg && !strcmp(dg, f->manifest.digest)))
                at = (ssize_t)q;
        }
        if (at >= 0 && json_equal(json_array_get(manifests, (size_t)at), d)) {
            json_decref(d);
            continue;
        }
        if (at >= 0)
            json_array_set_new(manifests, (size_t)at, d);
        else
            json_array_append_new(manifests, d);
        changed = true;
    }
    return changed;
}

static int oci_commit(load_target *t, const ap_bundle_index *idx, load_result **results,
                      size_t *n_results, ap_error *err)
{
    oci_target *o = t->impl;
    *results = NULL;
    *n_results = 0;
    if (publish_blobs(o, err) < 0)
        return -1;
    json_t *index = o->old_index ? json_deep_copy(o->old_index) : NULL;
    if (!index) {
        index = json_object();
        json_object_set_new(index, "schemaVersion", json_integer(2));
        json_object_set_new(index, "mediaType", json_string(OCI_INDEX_MEDIA_TYPE));
    }
    json_t *manifests = json_object_get(index, "manifests");
    if (!manifests) {
        manifests = json_array();
        json_object_set_new(index, "manifests", manifests);
    }
    bool changed = !o->old_index;
    int rc = -1;
    /* names an earlier airpack gave by their tag alone: by their full name now, as new ones */
    size_t di;
    json_t *dd;
    json_array_foreach(manifests, di, dd) changed |= oci_upgrade_ref_name(dd);
    json_t *where = json_object();   /* NULL (no memory): find_descriptor scans */
    json_array_foreach(manifests, di, dd) where_add_descriptor(where, dd, di);
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!o->sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        for (size_t k = 0; k < (im->n_names ? im->n_names : 1); k++) {
            const char *full = im->n_names ? im->names[k] : NULL;
            const ap_index_index *x = load_index_for(idx, o->sel, full);
            bool later = false;   /* a name an index stands for: one descriptor, at its first image */
            for (size_t j = 0; x && j < i && !later; j++)
                for (size_t q = 0; o->sel[j] && q < idx->images[j].n_names && !later; q++)
                    later = !strcmp(idx->images[j].names[q], full);
            if (later) {
                if (load_results_add(results, n_results, full, im->config.digest, false, err) < 0)
                    goto out;
                continue;
            }
            json_t *d = descriptor(im, full, x);
            ssize_t at = find_descriptor(manifests, where, full, im->manifest.digest);
            bool is_new = true;
            if (at >= 0) {
                json_t *old = json_array_get(manifests, (size_t)at);
                if (json_equal(old, d)) {
                    is_new = false;
                    json_decref(d);
                } else {
                    json_array_set_new(manifests, (size_t)at, d);
                    if (where)
                        where_add_descriptor(where, d, (size_t)at);
                    changed = true;
                }
            } else {
                json_array_append_new(manifests, d);
                if (where)
                    where_add_descriptor(where, d, json_array_size(manifests) - 1);
                changed = true;
            }
            if (load_results_add(results, n_results, full, im->config.digest, is_new, err) < 0)
                goto out;
        }
    }
    changed |= keep_referrers(o, idx, manifests);
    char layout_path[BIG_PATH];
    snprintf(layout_path, sizeof layout_path, "%s/oci-layout", o->dir);
    if (access(layout_path, F_OK) < 0) {
        const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
        if (write_atomic(o, "oci-layout", layout, strlen(layout), err) < 0)
            goto out;
    }
    if (changed) {
        char *text = json_dumps(index, JSON_COMPACT);
        if (!text) {
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
            goto out;
        }
        int w = write_atomic(o, "index.json", text, strlen(text), err);
        free(text);
        if (w < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(where);
    json_decref(index);
    if (rc < 0) {
        load_results_free(*results, *n_results);
        *results = NULL;
        *n_results = 0;
    } else {
        /* committed: the blobs are the store's now */
        for (size_t i = 0; i < o->n_created; i++)
            free(o->created[i]);
        o->n_created = 0;
    }
    return rc;
}

static void oci_abort(load_target *t)
{
    oci_target *o = t->impl;
    drop_temp(o);
    ap_file_syncer_free(o->syncer);   /* closes what it still holds */
    o->syncer = NULL;
    for (size_t i = 0; i < o->n_pending; i++) {
        if (o->pending[i].tmp)
            unlink(o->pending[i].tmp);
        free(o->pending[i].tmp);
        free(o->pending[i].final);
    }
    o->n_pending = 0;
    for (size_t i = 0; i < o->n_created; i++) {
        unlink(o->created[i]);
        free(o->created[i]);
    }
    o->n_created = 0;
    if (o->created_blobs) {
        char path[BIG_PATH];
        rmdir(o->blobs);
        snprintf(path, sizeof path, "%s/blobs", o->dir);
        rmdir(path);
    }
    if (o->created_dir) {
        if (o->lock_fd >= 0)
            unlink(o->lock_path);
        rmdir(o->dir);
    }
}

static void oci_close(load_target *t)
{
    if (!t)
        return;
    oci_target *o = t->impl;
    if (o) {
        drop_temp(o);
        ap_file_syncer_free(o->syncer);
        for (size_t i = 0; i < o->n_pending; i++) {
            if (o->pending[i].tmp)
                unlink(o->pending[i].tmp);   /* never committed */
            free(o->pending[i].tmp);
            free(o->pending[i].final);
        }
        free(o->pending);
        for (size_t i = 0; i < o->n_created; i++)
            free(o->created[i]);
        free(o->created);
        if (o->lock_fd >= 0) {
            unlink(o->lock_path);   /* still locked: a waiting load sees it gone and retries */
            close(o->lock_fd);
        }
        json_decref(o->old_index);
        free(o->sel);
        free(o->want);
        free(o->dir);
        free(o);
    }
    free(t);
}

static const load_target_ops oci_ops = {
    .kind = "oci",
    .begin = oci_begin,
    .entry_begin = oci_entry_begin,
    .entry_data = oci_entry_data,
    .entry_end = oci_entry_end,
    .commit = oci_commit,
    .abort = oci_abort,
    .close = oci_close,
};

load_target *load_oci_open(const char *dir, const load_options *opts, ap_error *err)
{
    load_target *t = calloc(1, sizeof *t);
    oci_target *o = calloc(1, sizeof *o);
    if (!t || !o || !(o->dir = strdup(dir))) {
        free(t);
        free(o);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->ops = &oci_ops;
    t->impl = o;
    o->opts = opts;
    o->lock_fd = -1;
    o->tmp_fd = -1;
    if (!(o->syncer = ap_file_syncer_new(SYNC_PENDING, err))) {
        oci_close(t);
        return NULL;
    }
    size_t len = strlen(o->dir);
    while (len > 1 && o->dir[len - 1] == '/')
        o->dir[--len] = '\0';
    if (len + 80 >= PATH_MAX) {
        ap_fail(err, AP_ERR_USAGE, "oci:%s: path too long", dir);
        goto fail;
    }
    bool made;
    if (mkdir_p(o->dir, &o->created_dir, err) < 0)
        goto fail;
    if (take_lock(o, err) < 0)
        goto fail;
    char path[BIG_PATH];
    snprintf(path, sizeof path, "%s/blobs", o->dir);
    if (mkdir_p(path, &o->created_blobs, err) < 0)
        goto fail;
    snprintf(o->blobs, sizeof o->blobs, "%s/blobs/sha256", o->dir);
    if (mkdir_p(o->blobs, &made, err) < 0)
        goto fail;
    remove_stale_temps(o->blobs);
    remove_stale_temps(o->dir);
    if (read_old_index(o, err) < 0)
        goto fail;
    return t;
fail:
    if (err->code == AP_ERR_IO)
        err->code = AP_ERR_TARGET;
    oci_abort(t);
    oci_close(t);
    return NULL;
}
