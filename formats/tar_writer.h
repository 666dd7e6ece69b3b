/* tar_writer.h: writes tar entry headers for bundles, deterministically.
 *
 * Every entry is a regular file with mode 0644, uid and gid 0, empty user and
 * group names and the given mtime, so the same inputs give the same bytes.
 * Paths up to 100 bytes and sizes below 8 GiB use a single ustar header; larger
 * ones are preceded by a pax extended header ("path", "size"), which every tar
 * reader that matters (Docker, podman, containerd, GNU tar, libarchive) reads. */
#ifndef AIRPACK_TAR_WRITER_H
#define AIRPACK_TAR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tar_header.h"

#define AP_TAR_HEADER_MAX (3 * AP_TAR_BLOCK)   /* pax header + its data + ustar header */

/* Bytes the header(s) for this entry take: 512, or more with a pax header. */
size_t ap_tar_header_size(const char *path, uint64_t size);

/* Writes the header(s) into out (at least ap_tar_header_size() bytes) and
 * returns the count written, or 0 with *err set (path too long, empty, ...). */
size_t ap_tar_header_write(unsigned char *out, const char *path, uint64_t size,
                           int64_t mtime, ap_error *err);

/* Zero bytes needed after `size` data bytes to reach the next 512 boundary. */
size_t ap_tar_padding(uint64_t size);

/* Total bytes one entry takes: headers + data + padding. */
uint64_t ap_tar_entry_span(const char *path, uint64_t size);

/* Writes exactly one 512-byte ustar header (path at most 100 bytes). A size of
 * 8 GiB or more is stored in GNU base-256 form, which Go's archive/tar (Docker,
 * containerd, podman), GNU tar and libarchive read. Used where the header must
 * have a fixed length before the size is known (the packer fills it in later).
 * Returns 0, or -1 with *err set. (formats/tar_block.c) */
int ap_tar_header_block(unsigned char out[512], const char *path, uint64_t size, int64_t mtime,
                        ap_error *err);

/* The end-of-archive marker: two zero blocks. */
#define AP_TAR_END_SIZE (2 * AP_TAR_BLOCK)

#endif
