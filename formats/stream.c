#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t ap_fd_read(void *ctx, void *buf, size_t n, ap_error *err)
{
    ap_fd_reader *r = ctx;
    for (;;) {
        ssize_t got = read(r->fd, buf, n);
        if (got >= 0) {
            r->offset += (uint64_t)got;
            return got;
        }
        if (errno == EINTR)
            continue;
        return ap_fail_errno(err, AP_ERR_IO, "reading %s", r->name);
    }
}

int ap_write_all(int fd, const void *buf, size_t n, const char *name, ap_error *err)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t put = write(fd, p, n);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            return ap_fail_errno(err, AP_ERR_IO, "writing %s", name);
        }
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

int ap_pread_all(int fd, void *buf, size_t n, uint64_t off, const char *name, ap_error *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return ap_fail_errno(err, AP_ERR_IO, "reading %s", name);
        }
        if (got == 0)
            return ap_fail(err, AP_ERR_IO, "%s is short", name);
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

int ap_read_exact(ap_read_fn read, void *ctx, void *buf, size_t n,
                  const char *what, ap_error *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = read(ctx, p, n, err);
        if (got < 0)
            return -1;
        if (got == 0)
            return ap_fail(err, AP_ERR_FORMAT, "%s: truncated (unexpected end of data)", what);
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

int ap_fsync_dir(const char *dir, ap_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "cannot open directory %s", dir);
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc < 0 && saved != EINVAL) {
        errno = saved;
        return ap_fail_errno(err, AP_ERR_IO, "cannot sync directory %s", dir);
    }
    return 0;
}

/* The directory part of `path` into buf ("." for a bare name); -1 when it does not fit. */
static int parent_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(buf, size, ".") < (int)size ? 0 : -1;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= size)
        return -1;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return 0;
}

int ap_fsync_parent_dir(const char *path, ap_error *err)
{
    char dir[PATH_MAX];
    if (parent_of(path, dir, sizeof dir) < 0)
        return ap_fail(err, AP_ERR_IO, "%s: path too long", path);
    return ap_fsync_dir(dir, err);
}

int ap_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, ap_error *err)
{
    char dir[PATH_MAX], tmp[PATH_MAX + sizeof "/" AP_TMP_PREFIX "XXXXXX"];
    if (parent_of(path, dir, sizeof dir) < 0)
        return ap_fail(err, AP_ERR_IO, "cannot write %s: path too long", path);
    snprintf(tmp, sizeof tmp, "%s/" AP_TMP_PREFIX "XXXXXX", dir);
    int fd = mkostemp(tmp, O_CLOEXEC);   /* created 0600 */
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "cannot create a temporary file next to %s", path);
    ap_error_clear(err);
    if (fchmod(fd, mode) < 0 || ap_write_all(fd, data, len, path, err) < 0) {
        if (err->code == AP_OK)
            ap_fail_errno(err, AP_ERR_IO, "cannot write %s", path);
        close(fd);
        unlink(tmp);
        return -1;
    }
    bool renamed = false;
    if (ap_commit_temp_file(fd, tmp, path, &renamed, err) < 0) {
        if (!renamed)
            unlink(tmp);
        return -1;
    }
    return 0;
}

int ap_commit_temp_file(int fd, const char *tmp, const char *final, bool *renamed, ap_error *err)
{
    *renamed = false;
    if (fsync(fd) < 0) {
        ap_fail_errno(err, AP_ERR_IO, "cannot write %s", final);
        close(fd);
        return -1;
    }
    if (close(fd) < 0)
        return ap_fail_errno(err, AP_ERR_IO, "cannot write %s", final);
    if (rename(tmp, final) < 0)
        return ap_fail_errno(err, AP_ERR_IO, "cannot rename %s to %s", tmp, final);
    *renamed = true;
    return ap_fsync_parent_dir(final, err);
}

int ap_read_fd_whole(int fd, size_t size, char **out)
{
    *out = NULL;
    char *buf = malloc(size + 1);
    if (!buf)
        return AP_READ_NOMEM;
    size_t have = 0;
    while (have < size) {
        ssize_t n = read(fd, buf + have, size - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = errno;
            free(buf);
            errno = saved;
            return n < 0 ? AP_READ_FAILED : AP_READ_SHORT;
        }
        have += (size_t)n;
    }
    buf[have] = '\0';
    *out = buf;
    return 0;
}

int ap_sha256_fd(int fd, char hex[AP_HEX_LEN + 1], uint64_t *size)
{
    ap_sha256 *h = ap_sha256_new();
    unsigned char *buf = malloc(1u << 20);
    uint64_t total = 0;
    int rc = 0;
    if (!h || !buf) {
        rc = AP_READ_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t got = read(fd, buf, 1u << 20);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = AP_READ_FAILED;
            goto out;
        }
        if (got == 0)
            break;
        ap_sha256_update(h, buf, (size_t)got);
        total += (uint64_t)got;
    }
    ap_sha256_final_hex(h, hex);
    *size = total;
out:;
    int saved = errno;
    free(buf);
    ap_sha256_free(h);
    errno = saved;
    return rc;
}
