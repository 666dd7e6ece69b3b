/* have_source.c: see have_source.h. */
#include "have_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/bundle_index.h"
#include "../formats/stream.h"
#include "../formats/tar_reader.h"

int have_read_small_file(const char *path, size_t max, char **out, size_t *len, ap_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ap_fail(err, AP_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return ap_fail(err, AP_ERR_FORMAT, "%s: %lld bytes, over the %zu byte limit", path,
                       (long long)st.st_size, max);
    }
    int rc = ap_read_fd_whole(fd, (size_t)st.st_size, out);
    int saved = errno;
    close(fd);
    errno = saved;
    if (rc == AP_READ_NOMEM)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (rc == AP_READ_FAILED)
        return ap_fail_errno(err, AP_ERR_IO, "cannot read %s", path);
    if (rc == AP_READ_SHORT)
        return ap_fail(err, AP_ERR_IO, "%s: shorter than its size", path);
    *len = (size_t)st.st_size;
    return 0;
}

int have_load_file(const char *path, const ap_pubkey *keys, size_t n_keys, ap_have_list *out,
                   ap_error *err)
{
    char *buf = NULL, *sig = NULL;
    size_t len = 0, sig_len = 0;
    memset(out, 0, sizeof *out);
    if (have_read_small_file(path, AP_HAVE_MAX_SIZE, &buf, &len, err) < 0)
        return -1;
    if (n_keys > 0) {
        char sig_path[4200];
        snprintf(sig_path, sizeof sig_path, "%s.minisig", path);
        ap_sig_info info;
        if (have_read_small_file(sig_path, AP_SIG_MAX_SIZE, &sig, &sig_len, err) < 0) {
            ap_error_prefix(err, "%s: a public key was given but the signature cannot be read", path);
            err->code = AP_ERR_VERIFY;
            free(buf);
            return -1;
        }
        int rc = ap_verify(keys, n_keys, buf, len, sig, sig_len, &info, err);
        free(sig);
        if (rc < 0) {
            ap_error_prefix(err, "%s: signature does not verify", path);
            err->code = AP_ERR_VERIFY;
            free(buf);
            return -1;
        }
    }
    int rc = ap_have_parse(buf, len, out, err);
    free(buf);
    if (rc < 0)
        ap_error_prefix(err, "%s", path);
    return rc;
}

/* Reads the current tar entry whole (size checked by the caller). */
static int read_entry(ap_tar_reader *r, const ap_tar_entry *e, char **out, const char *name, ap_error *err)
{
    char *buf = malloc(e->size + 1);
    if (!buf)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    size_t have = 0;
    while (have < e->size) {
        ssize_t n = ap_tar_read(r, buf + have, e->size - have, err);
        if (n < 0 || n == 0) {
            free(buf);
            return n < 0 ? -1 : ap_fail(err, AP_ERR_FORMAT, "%s: %s truncated", name, e->path);
        }
        have += (size_t)n;
    }
    buf[have] = '\0';
    *out = buf;
    return 0;
}

int have_load_since(const char *bundle, const ap_pubkey *keys, size_t n_keys, ap_have_list *out,
                    ap_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(bundle, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "cannot open %s", bundle);
    ap_fd_reader fr = {.fd = fd, .name = bundle};
    ap_tar_reader *r = ap_tar_reader_new(ap_fd_read, &fr, bundle, AP_TAR_STRICT, err);
    char *index = NULL, *sig = NULL;
    size_t index_len = 0;
    int rc = -1;
    ap_tar_entry e;
    ap_bundle_index idx;
    memset(&idx, 0, sizeof idx);
    if (!r)
        goto out;
    int got = ap_tar_next(r, &e, err);
    if (got < 0)
        goto out;
    if (got == 0 || strcmp(e.path, AP_INDEX_PATH) || e.size > AP_INDEX_MAX_SIZE) {
        ap_fail(err, AP_ERR_FORMAT, "%s: not an airpack bundle (its first entry is not %s of at most %u MiB)",
                bundle, AP_INDEX_PATH, AP_INDEX_MAX_SIZE >> 20);
        goto out;
    }
    index_len = e.size;
    if (read_entry(r, &e, &index, bundle, err) < 0)
        goto out;
    if (n_keys > 0) {
        got = ap_tar_next(r, &e, err);
        if (got < 0)
            goto out;
        if (got == 0 || strcmp(e.path, AP_SIG_PATH) || e.size > AP_SIG_MAX_SIZE) {
            ap_fail(err, AP_ERR_VERIFY, "%s: unsigned bundle (no %s after the index)", bundle, AP_SIG_PATH);
            goto out;
        }
        ap_sig_info info;
        if (read_entry(r, &e, &sig, bundle, err) < 0)
            goto out;
        if (ap_verify(keys, n_keys, index, index_len, sig, e.size, &info, err) < 0) {
            ap_error_prefix(err, "%s: index signature does not verify", bundle);
            err->code = AP_ERR_VERIFY;
            goto out;
        }
    }
    if (ap_bundle_index_parse(index, index_len, &idx, err) < 0) {
        ap_error_prefix(err, "%s", bundle);
        goto out;
    }
    rc = ap_have_from_index(out, &idx, bundle, err);
out:
    ap_bundle_index_free(&idx);
    free(index);
    free(sig);
    ap_tar_reader_free(r);
    close(fd);
    return rc;
}
