/* bundle_writer.c: see bundle_writer.h. */
#include "bundle_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/digest.h"
#include "../formats/stream.h"
#include "../formats/tar_writer.h"
#include "split_output.h"

#define OUT_BUF (4u << 20)

struct bundle_writer {
    char *output;
    char *temp;
    int fd;
    int64_t mtime;
    size_t head_index_size;
    size_t sig_size;
    uint64_t head_size;     /* bytes reserved at the start */
    uint64_t offset;        /* logical end of what has been written */
    unsigned char *buf;     /* write buffer; holds bytes from buf_start */
    size_t buf_len;
    uint64_t buf_start;
    uint64_t entry_header;  /* offset of the current entry's header block */
    uint64_t entry_size;
    bool in_entry;
    ap_sha256 *hash;
    bool committed;
    split_output *split;    /* --split: parts instead of one file (fd unused) */
    bundle_sidecar_sign_fn sign_sidecar;
    void *sign_ctx;
};

/* --split: what is on disk before the current (or last, which drop_last may take back)
 * entry's header is final, but for the head written at commit. */
static void mark_stable(bundle_writer *w)
{
    if (w->split)
        split_output_stable(w->split, w->head_size, w->buf_start < w->entry_header ? w->buf_start : w->entry_header);
}

/* All writes to the output go through here: one file, or the parts. */
static ssize_t out_pwrite(bundle_writer *w, const void *buf, size_t n, uint64_t off, ap_error *err)
{
    if (w->split)
        return split_output_pwrite(w->split, buf, n, off, err) < 0 ? -1 : (ssize_t)n;
    ssize_t put = pwrite(w->fd, buf, n, (off_t)off);
    if (put < 0 && errno != EINTR)
        ap_fail_errno(err, AP_ERR_IO, "writing %s", w->output);
    return put;
}

static int flush(bundle_writer *w, ap_error *err)
{
    size_t done = 0;
    while (done < w->buf_len) {
        ssize_t put = out_pwrite(w, w->buf + done, w->buf_len - done, w->buf_start + done, err);
        if (put < 0) {
            if (!w->split && errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)put;
    }
    w->buf_start += w->buf_len;
    w->buf_len = 0;
    mark_stable(w);
    return 0;
}

static int put(bundle_writer *w, const void *data, size_t n, ap_error *err)
{
    const unsigned char *p = data;
    while (n > 0) {
        if (w->buf_len == OUT_BUF && flush(w, err) < 0)
            return -1;
        size_t take = OUT_BUF - w->buf_len;
        if (take > n)
            take = n;
        memcpy(w->buf + w->buf_len, p, take);
        w->buf_len += take;
        w->offset += take;
        p += take;
        n -= take;
    }
    return 0;
}

static int put_zeros(bundle_writer *w, size_t n, ap_error *err)
{
    static const unsigned char zeros[AP_TAR_BLOCK * 2];
    while (n > 0) {
        size_t take = n < sizeof zeros ? n : sizeof zeros;
        if (put(w, zeros, take, err) < 0)
            return -1;
        n -= take;
    }
    return 0;
}

/* Writes bytes at an absolute offset already passed: in the buffer or on disk. */
static int put_at(bundle_writer *w, uint64_t off, const void *data, size_t n, ap_error *err)
{
    if (off >= w->buf_start) {
        memcpy(w->buf + (off - w->buf_start), data, n);
        return 0;
    }
    if (off + n > w->buf_start && flush(w, err) < 0)
        return -1;
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t r = out_pwrite(w, p, n, off, err);
        if (r < 0) {
            if (!w->split && errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static uint64_t span(size_t size)
{
    return AP_TAR_BLOCK + (uint64_t)size + ap_tar_padding(size);
}

bundle_writer *bundle_writer_open(const char *output, int64_t mtime, size_t head_index_size,
                                  size_t sig_size, ap_error *err)
{
    return bundle_writer_open_split(output, 0, 0, mtime, head_index_size, sig_size, err);
}

bundle_writer *bundle_writer_open_split(const char *output, uint64_t part_size, size_t n_parity, int64_t mtime,
                                        size_t head_index_size, size_t sig_size, ap_error *err)
{
    bundle_writer *w = calloc(1, sizeof *w);
    if (!w) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->fd = -1;
    w->mtime = mtime;
    w->head_index_size = head_index_size;
    w->sig_size = sig_size;
    w->output = strdup(output);
    w->buf = malloc(OUT_BUF);
    w->hash = ap_sha256_new();
    char *dir_copy = strdup(output);
    char *base_copy = strdup(output);
    if (!w->output || !w->buf || !w->hash || !dir_copy || !base_copy) {
        free(dir_copy);
        free(base_copy);
        bundle_writer_free(w);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t tlen = strlen(output) + 64;
    w->temp = malloc(tlen);
    if (w->temp)
        snprintf(w->temp, tlen, "%s/.%s.airpack-tmp-XXXXXX", dirname(dir_copy), basename(base_copy));
    free(dir_copy);
    free(base_copy);
    if (!w->temp) {
        bundle_writer_free(w);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (part_size) {
        w->split = split_output_open(output, part_size, n_parity, err);
        if (!w->split) {
            bundle_writer_free(w);
            return NULL;
        }
        snprintf(w->temp, tlen, "%s", split_output_temp_dir(w->split));
    } else {
        w->fd = mkstemp(w->temp);
    }
    if (!w->split && w->fd < 0) {
        ap_fail_errno(err, AP_ERR_IO, "creating a temporary file next to %s", output);
        free(w->temp);
        w->temp = NULL;
        bundle_writer_free(w);
        return NULL;
    }
    if (!w->split)
        fchmod(w->fd, 0644);
    w->head_size = span(head_index_size) + (sig_size ? span(sig_size) : 0);
    /* the head is filled at commit; the buffer starts right after it */
    w->buf_start = w->head_size;
    w->offset = w->head_size;
    return w;
}

int bundle_writer_begin(bundle_writer *w, ap_error *err)
{
    if (w->in_entry)
        return ap_fail(err, AP_ERR_USAGE, "bundle writer: entry already open");
    w->in_entry = true;
    w->entry_header = w->offset;
    w->entry_size = 0;
    mark_stable(w);
    return put_zeros(w, AP_TAR_BLOCK, err);
}

int bundle_writer_write(bundle_writer *w, const void *buf, size_t n, ap_error *err)
{
    ap_sha256_update(w->hash, buf, n);
    w->entry_size += n;
    return put(w, buf, n, err);
}

int bundle_writer_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    return bundle_writer_write(ctx, buf, n, err);
}

int bundle_writer_end(bundle_writer *w, const char *path, ap_index_entry *out, ap_error *err)
{
    char hex[AP_HEX_LEN + 1];
    ap_sha256_final_hex(w->hash, hex);
    char blob[AP_HEX_LEN + 16];
    if (!path) {
        snprintf(blob, sizeof blob, "blobs/sha256/%s", hex);
        path = blob;
    }
    unsigned char header[AP_TAR_BLOCK];
    if (ap_tar_header_block(header, path, w->entry_size, w->mtime, err) < 0 ||
        put_at(w, w->entry_header, header, sizeof header, err) < 0 ||
        put_zeros(w, ap_tar_padding(w->entry_size), err) < 0)
        return -1;
    w->in_entry = false;
    if (out) {
        out->path = strdup(path);
        if (!out->path)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        out->size = w->entry_size;
        memcpy(out->sha256, hex, sizeof hex);
    }
    return 0;
}

int bundle_writer_drop_last(bundle_writer *w, ap_error *err)
{
    if (w->in_entry)
        return ap_fail(err, AP_ERR_USAGE, "bundle writer: entry still open");
    uint64_t to = w->entry_header;
    if (to >= w->buf_start) {
        w->buf_len = (size_t)(to - w->buf_start);
    } else {
        w->buf_len = 0;
        w->buf_start = to;
        if (w->split) {
            if (split_output_truncate(w->split, to, err) < 0)
                return -1;
        } else if (ftruncate(w->fd, (off_t)to) < 0) {
            return ap_fail_errno(err, AP_ERR_IO, "writing %s", w->output);
        }
    }
    w->offset = to;
    return 0;
}

int bundle_writer_add(bundle_writer *w, const char *path, const void *data, size_t n,
                      ap_index_entry *out, ap_error *err)
{
    if (bundle_writer_begin(w, err) < 0 || bundle_writer_write(w, data, n, err) < 0)
        return -1;
    return bundle_writer_end(w, path, out, err);
}

static int write_head_entry(bundle_writer *w, uint64_t off, const char *path, const char *data,
                            size_t len, ap_error *err)
{
    unsigned char header[AP_TAR_BLOCK];
    if (ap_tar_header_block(header, path, len, w->mtime, err) < 0 ||
        put_at(w, off, header, sizeof header, err) < 0 ||
        put_at(w, off + AP_TAR_BLOCK, data, len, err) < 0)
        return -1;
    static const unsigned char zeros[AP_TAR_BLOCK];
    return put_at(w, off + AP_TAR_BLOCK + len, zeros, ap_tar_padding(len), err);
}

/* The parts are complete: the sidecar lists them, signed when a signer was set. */
static int commit_split(bundle_writer *w, ap_error *err)
{
    ap_parts_manifest m;
    if (split_output_finish(w->split, w->offset, &m, err) < 0) {
        ap_parts_free(&m);
        return -1;
    }
    size_t len = 0, sig_len = 0;
    char *text = ap_parts_write(&m, &len, err), *sig = NULL;
    int rc = text ? 0 : -1;
    if (rc == 0 && w->sign_sidecar) {
        char file[300];
        snprintf(file, sizeof file, "%.250s%s", m.bundle, AP_PARTS_SUFFIX);
        rc = w->sign_sidecar(w->sign_ctx, text, len, file, &sig, &sig_len, err);
    }
    if (rc == 0)
        rc = split_output_commit(w->split, text, len, sig, sig_len, err);
    if (rc == 0)
        w->committed = true;
    free(text);
    free(sig);
    ap_parts_free(&m);
    return rc;
}

int bundle_writer_commit(bundle_writer *w, const char *index, size_t index_len, const char *sig,
                         size_t sig_len, ap_error *err)
{
    if (w->in_entry)
        return ap_fail(err, AP_ERR_USAGE, "bundle writer: entry still open");
    if (index_len > w->head_index_size)
        return ap_fail(err, AP_ERR_FORMAT, "bundle index grew past its reserved %zu bytes (%zu)",
                       w->head_index_size, index_len);
    if (sig_len != w->sig_size)
        return ap_fail(err, AP_ERR_FORMAT, "signature is %zu bytes, %zu were reserved", sig_len,
                       w->sig_size);
    if (put_zeros(w, AP_TAR_END_SIZE, err) < 0 || flush(w, err) < 0)
        return -1;
    /* the index, padded with spaces and a final newline to exactly the reserved size */
    char *padded = malloc(w->head_index_size);
    if (!padded)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    memcpy(padded, index, index_len);
    memset(padded + index_len, ' ', w->head_index_size - index_len);
    if (w->head_index_size > index_len)
        padded[w->head_index_size - 1] = '\n';
    int rc = write_head_entry(w, 0, AP_INDEX_PATH, padded, w->head_index_size, err);
    free(padded);
    if (rc == 0 && w->sig_size)
        rc = write_head_entry(w, span(w->head_index_size), AP_SIG_PATH, sig, sig_len, err);
    if (rc < 0)
        return -1;
    if (w->split)
        return commit_split(w, err);
    bool renamed = false;
    rc = ap_commit_temp_file(w->fd, w->temp, w->output, &renamed, err);
    w->fd = -1;
    w->committed = renamed;   /* abort() removes the temporary file unless it was renamed */
    return rc;
}

void bundle_writer_abort(bundle_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->split) {
        if (!w->committed)
            split_output_abort(w->split);
        return;
    }
    if (w->temp && !w->committed)
        unlink(w->temp);
}

void bundle_writer_set_sidecar_signer(bundle_writer *w, bundle_sidecar_sign_fn sign, void *ctx)
{
    w->sign_sidecar = sign;
    w->sign_ctx = ctx;
}

void bundle_writer_free(bundle_writer *w)
{
    if (!w)
        return;
    bundle_writer_abort(w);
    free(w->output);
    free(w->temp);
    free(w->buf);
    ap_sha256_free(w->hash);
    split_output_free(w->split);
    free(w);
}

const char *bundle_writer_temp_path(const bundle_writer *w)
{
    return w->temp;
}

uint64_t bundle_writer_offset(const bundle_writer *w)
{
    return w->offset;
}
