/* stream.h: the two callback shapes that connect airpack's streaming stages.
 *
 * A reader pulls bytes (a file, standard input, a decompressor's output).
 * A sink takes bytes pushed into it (a hasher, a compressor, an output file).
 * Stages are chained sink to sink so each byte is touched once and nothing
 * larger than a buffer is ever held in memory. */
#ifndef AIRPACK_STREAM_H
#define AIRPACK_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "error.h"

/* Reads up to n bytes into buf. Returns the count (0 at end of stream) or -1
 * with *err set. Short reads are allowed. */
typedef ssize_t (*ap_read_fn)(void *ctx, void *buf, size_t n, ap_error *err);

/* Takes all n bytes. Returns 0, or -1 with *err set. */
typedef int (*ap_sink_fn)(void *ctx, const void *buf, size_t n, ap_error *err);

/* Reader over a file descriptor, naming `name` in its errors. */
typedef struct {
    int fd;
    const char *name;
    uint64_t offset;    /* bytes read so far */
} ap_fd_reader;

ssize_t ap_fd_read(void *ctx, void *buf, size_t n, ap_error *err);

/* Writes all n bytes to a file descriptor (retrying short writes and EINTR). */
int ap_write_all(int fd, const void *buf, size_t n, const char *name, ap_error *err);

/* Reads exactly n bytes at offset off (retrying short reads and EINTR); a file
 * that ends first is AP_ERR_IO "NAME is short". */
int ap_pread_all(int fd, void *buf, size_t n, uint64_t off, const char *name, ap_error *err);

/* Reads exactly `size` bytes (a regular file's fstat size) from fd into a new
 * buffer *out with a NUL after them, retrying EINTR. Returns 0, or
 * AP_READ_FAILED (errno set), AP_READ_SHORT (the file ended first) or
 * AP_READ_NOMEM, with *out NULL; the caller names the file in its error. */
enum { AP_READ_FAILED = -1, AP_READ_SHORT = -2, AP_READ_NOMEM = -3 };
int ap_read_fd_whole(int fd, size_t size, char **out);

/* Reads fd to its end, retrying EINTR: the sha256 of what it read in hex[]
 * and its length in *size. Returns 0, AP_READ_FAILED (errno set) or
 * AP_READ_NOMEM; the caller names the file in its error. */
int ap_sha256_fd(int fd, char hex[AP_HEX_LEN + 1], uint64_t *size);

/* fsyncs directory `dir`, so that names just created or renamed in it survive a
 * crash. A file system that cannot sync directories (EINVAL) counts as done.
 * Returns 0, or -1 with *err set (AP_ERR_IO, naming the directory). */
int ap_fsync_dir(const char *dir, ap_error *err);

/* ap_fsync_dir on the directory that holds `path` ("." for a bare name). */
int ap_fsync_parent_dir(const char *path, ap_error *err);

/* Finishes a file written under the temporary name `tmp` in the directory of `final`:
 * fsync, close (fd is closed whatever happens), rename over `final`, fsync of the
 * directory. *renamed says whether `final` is in place (tmp is then gone), which it is
 * also when only the directory fsync failed. Returns 0, or -1 with *err set (AP_ERR_IO,
 * naming the file); the caller removes tmp when it was not renamed. */
int ap_commit_temp_file(int fd, const char *tmp, const char *final, bool *renamed, ap_error *err);

/* The temporary names ap_write_file_atomic uses: DIR/.airpack-tmp-XXXXXX, next to
 * the file they become (loaders that hold a directory's lock remove stale ones). */
#define AP_TMP_PREFIX ".airpack-tmp-"

/* Writes `len` bytes to `path` atomically: a temporary file in the same directory
 * (AP_TMP_PREFIX), mode `mode`, fsync, rename over `path`, fsync of the directory.
 * Readers see the old file or the whole new one, never part of it. Returns 0, or
 * -1 with *err set (AP_ERR_IO, naming `path`) and no temporary file left. */
int ap_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, ap_error *err);

/* Reads exactly n bytes; fewer before end of stream is an error ("truncated"). */
int ap_read_exact(ap_read_fn read, void *ctx, void *buf, size_t n,
                  const char *what, ap_error *err);

#endif
