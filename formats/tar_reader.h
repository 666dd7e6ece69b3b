/* tar_reader.h: a strict, streaming reader of POSIX tar (ustar and pax), for bundles.
 *
 * Pulls bytes from an ap_read_fn and never seeks, so it reads files and pipes
 * alike in one pass. Every length read from a header is bounds-checked; header
 * checksums are verified; pax records are parsed with their lengths checked.
 * In strict mode (AP_TAR_STRICT) it refuses, naming the entry and its byte
 * offset: any entry that is not a regular file (links, devices, directories,
 * FIFOs, GNU extensions, global pax headers), absolute paths, ".." components,
 * empty paths, empty or "." components (so equal files have equal paths), and a
 * path seen twice. ap_tar_finish() checks that the archive ended with its two
 * zero blocks (one zero block then end of stream is accepted, as GNU tar does)
 * and that nothing but zero padding follows.
 * Messages: "NAME: entry PATH at offset N: REASON", "NAME: truncated at offset N
 * (inside entry PATH)", "NAME: data after the end of the archive at offset N".
 * Not strict: every entry type is returned (links with linkname, header-only
 * types with size 0), GNU 'L'/'K' long names are applied, global headers skipped.
 * Pax headers carry path, linkpath, size and mtime; GNU sparse files are refused. */
#ifndef AIRPACK_TAR_READER_H
#define AIRPACK_TAR_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "stream.h"

#define AP_TAR_PATH_MAX 4096

enum {
    AP_TAR_STRICT = 1 << 0      /* bundle rules, see above */
};

typedef struct {
    char path[AP_TAR_PATH_MAX];
    char linkname[AP_TAR_PATH_MAX];
    char type;                  /* '0' regular, '2' symlink, '1' hard link, '5' dir, ... */
    uint64_t size;              /* data bytes that follow */
    uint64_t header_offset;     /* byte offset in the archive of this entry's first header block */
    uint64_t data_offset;       /* byte offset of its data */
    uint32_t mode;
    int64_t mtime;
} ap_tar_entry;

typedef struct ap_tar_reader ap_tar_reader;

/* `name` is used in messages ("site.tar: entry blobs/sha256/ab.. at offset 1536: ..."). */
ap_tar_reader *ap_tar_reader_new(ap_read_fn read, void *read_ctx, const char *name,
                                 unsigned flags, ap_error *err);
void ap_tar_reader_free(ap_tar_reader *r);

/* Advances to the next entry, skipping any unread data of the current one.
 * Returns 1 with *e filled, 0 at the end-of-archive marker, -1 on error. */
int ap_tar_next(ap_tar_reader *r, ap_tar_entry *e, ap_error *err);

/* Reads up to n bytes of the current entry's data. Returns the count, 0 when the
 * entry's data is exhausted, -1 on error (a truncated archive is an error). */
ssize_t ap_tar_read(ap_tar_reader *r, void *buf, size_t n, ap_error *err);

/* After ap_tar_next returned 0: the rest of the stream must be zero blocks only
 * (as tar writers pad to a record size). Anything else is "data after the end
 * of the archive". Returns 0 or -1. */
int ap_tar_finish(ap_tar_reader *r, ap_error *err);

/* Bytes consumed from the underlying stream so far. */
uint64_t ap_tar_offset(const ap_tar_reader *r);

#endif
