/* load_via_layout.c: verified blobs into a private OCI layout, then an engine's import tool. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "load_via_layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/tar_writer.h"
#include "../remote/run_tool.h"

typedef struct {
    load_target *inner;         /* the oci: target writing into tmpdir */
    char *tmpdir;
    const load_options *opts;
    layout_check_fn check;
    layout_import_fn import;
    void *ctx;
    void (*free_ctx)(void *);
} layout_target;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdir(layout_target *l)
{
    if (l->tmpdir) {
        nftw(l->tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(l->tmpdir);
        l->tmpdir = NULL;
    }
}

static int lay_begin(load_target *t, const ap_bundle_index *idx, ap_error *err)
{
    layout_target *l = t->impl;
    if (l->check && l->check(l->ctx, err) < 0) {
        if (err->code != AP_ERR_NOMEM)
            err->code = AP_ERR_TARGET;
        return -1;
    }
    return l->inner->ops->begin(l->inner, idx, err);
}

static int lay_entry_begin(load_target *t, const ap_index_entry *e, ap_error *err)
{
    layout_target *l = t->impl;
    return l->inner->ops->entry_begin(l->inner, e, err);
}

static int lay_entry_data(load_target *t, const void *buf, size_t n, ap_error *err)
{
    layout_target *l = t->impl;
    return l->inner->ops->entry_data(l->inner, buf, n, err);
}

static int lay_entry_end(load_target *t, const ap_index_entry *e, ap_error *err)
{
    layout_target *l = t->impl;
    return l->inner->ops->entry_end(l->inner, e, err);
}

static int lay_commit(load_target *t, const ap_bundle_index *idx, load_result **results, size_t *n_results,
                      ap_error *err)
{
    layout_target *l = t->impl;
    *results = NULL;
    *n_results = 0;
    if (!l->tmpdir)
        return ap_fail(err, AP_ERR_TARGET, "%s: the temporary layout is gone", t->ops->kind);
    load_result *tmp_res = NULL;
    size_t tmp_n = 0;
    if (l->inner->ops->commit(l->inner, idx, &tmp_res, &tmp_n, err) < 0)
        return -1;
    load_results_free(tmp_res, tmp_n);
    bool *sel = calloc(idx->n_images ? idx->n_images : 1, sizeof *sel);
    if (!sel)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    int rc = load_select_images(idx, l->opts, sel, err);
    if (rc == 0)
        rc = l->import(l->ctx, l->tmpdir, idx, sel, results, n_results, err);
    free(sel);
    remove_tmpdir(l);
    if (rc < 0 && err->code != AP_ERR_NOMEM)
        err->code = AP_ERR_TARGET;
    return rc;
}

static void lay_abort(load_target *t)
{
    layout_target *l = t->impl;
    if (l->inner)
        l->inner->ops->abort(l->inner);
    remove_tmpdir(l);
}

static void lay_close(load_target *t)
{
    if (!t)
        return;
    layout_target *l = t->impl;
    if (l) {
        if (l->inner)
            l->inner->ops->close(l->inner);
        remove_tmpdir(l);
        if (l->free_ctx)
            l->free_ctx(l->ctx);
        free(l);
    }
    free(t);
}

static const load_target_ops containerd_ops = {
    .kind = "containerd",
    .begin = lay_begin, .entry_begin = lay_entry_begin, .entry_data = lay_entry_data,
    .entry_end = lay_entry_end, .commit = lay_commit, .abort = lay_abort, .close = lay_close,
};
static const load_target_ops storage_ops = {
    .kind = "containers-storage",
    .begin = lay_begin, .entry_begin = lay_entry_begin, .entry_data = lay_entry_data,
    .entry_end = lay_entry_end, .commit = lay_commit, .abort = lay_abort, .close = lay_close,
};

load_target *layout_target_open(const char *kind, const load_options *opts, layout_check_fn check,
                                layout_import_fn import, void *ctx, void (*free_ctx)(void *),
                                ap_error *err)
{
    load_target *t = calloc(1, sizeof *t);
    layout_target *l = calloc(1, sizeof *l);
    if (!t || !l) {
        free(t);
        free(l);
        if (free_ctx)
            free_ctx(ctx);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->ops = strcmp(kind, "containerd") == 0 ? &containerd_ops : &storage_ops;
    t->impl = l;
    l->opts = opts;
    l->check = check;
    l->import = import;
    l->ctx = ctx;
    l->free_ctx = free_ctx;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/airpack-load-XXXXXX", dir && *dir ? dir : "/tmp");
    if (!mkdtemp(path)) {
        ap_fail_errno(err, AP_ERR_TARGET, "%s: cannot create a temporary directory %s", kind, path);
        lay_close(t);
        return NULL;
    }
    l->tmpdir = strdup(path);
    if (!l->tmpdir) {
        rmdir(path);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        lay_close(t);
        return NULL;
    }
    l->inner = load_oci_open(path, opts, err);
    if (!l->inner) {
        ap_error_prefix(err, "%s: temporary layout", kind);
        lay_close(t);
        return NULL;
    }
    return t;
}

int layout_add_result(load_result **res, size_t *n, const char *name, const char *id, bool is_new,
                      ap_error *err)
{
    load_result *grown = realloc(*res, (*n + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    *res = grown;
    load_result *x = &grown[*n];
    memset(x, 0, sizeof *x);
    if (name && !(x->name = strdup(name)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    snprintf(x->id, sizeof x->id, "%s", id);
    x->is_new = is_new;
    (*n)++;
    return 0;
}

/* ---------- the tar ---------- */

static int tar_file(int out, const char *dir, const char *rel, ap_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_TARGET, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return ap_fail_errno(err, AP_ERR_TARGET, "cannot stat %s", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    unsigned char hdr[AP_TAR_HEADER_MAX];
    size_t hn = ap_tar_header_write(hdr, rel, size, 0, err);
    if (hn == 0 || run_tool_write(out, hdr, hn, err) < 0) {
        close(fd);
        return -1;
    }
    static unsigned char buf[1 << 16];
    uint64_t left = size;
    while (left) {
        ssize_t got = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            close(fd);
            return ap_fail_errno(err, AP_ERR_TARGET, "cannot read %s", path);
        }
        if (run_tool_write(out, buf, (size_t)got, err) < 0) {
            close(fd);
            return -1;
        }
        left -= (uint64_t)got;
    }
    close(fd);
    static const unsigned char zeros[AP_TAR_BLOCK];
    size_t pad = ap_tar_padding(size);
    return pad ? run_tool_write(out, zeros, pad, err) : 0;
}

int layout_write_tar(const char *dir, int fd, ap_error *err)
{
    if (tar_file(fd, dir, "oci-layout", err) < 0 || tar_file(fd, dir, "index.json", err) < 0)
        return -1;
    char blobs[4096];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dir);
    DIR *d = opendir(blobs);
    if (!d)
        return ap_fail_errno(err, AP_ERR_TARGET, "cannot open %s", blobs);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;   /* ".", "..", temporary files */
        char rel[512];
        snprintf(rel, sizeof rel, "blobs/sha256/%.200s", de->d_name);
        rc = tar_file(fd, dir, rel, err);
    }
    closedir(d);
    if (rc < 0)
        return -1;
    static const unsigned char end[AP_TAR_END_SIZE];
    return run_tool_write(fd, end, sizeof end, err);
}
