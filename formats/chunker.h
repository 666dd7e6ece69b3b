/* chunker.h: content-defined chunking of a byte stream (dense bundles).
 *
 * Cuts a stream into chunks whose boundaries depend on the content (a gear
 * rolling hash with FastCDC's normalized cut masks), so the same bytes give
 * the same chunks wherever they occur, in any layer, at any offset. With
 * tar_aware, the stream is also read as a tar archive and cut before every
 * header group and where each file's data begins, so a file that recurs under
 * a different tar header (new mtime, other owner) still gives the same chunks.
 * A tar that does not parse only loses the extra cuts. Chunks are never
 * shorter than min (except at forced tar cuts and the end) nor longer than
 * max. Memory: one buffer of max bytes. Deterministic: the same bytes and
 * parameters give the same cuts on every machine. */
#ifndef AIRPACK_CHUNKER_H
#define AIRPACK_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define AP_CHUNK_AVG_DEFAULT (32u << 10)
#define AP_CHUNK_MAX_LIMIT (4u << 20)          /* the largest max a chunker accepts */

/* Receives each chunk, in order; the bytes are valid during the call only. */
typedef int (*ap_chunk_fn)(void *ctx, const unsigned char *data, size_t n, ap_error *err);

typedef struct ap_chunker ap_chunker;

/* avg: a power of two from 1 KiB to 1 MiB; min = avg/4, max = avg*4. */
ap_chunker *ap_chunker_new(size_t avg, bool tar_aware, ap_chunk_fn fn, void *ctx, ap_error *err);
int ap_chunker_write(ap_chunker *c, const void *buf, size_t n, ap_error *err);
/* During the callback: a key of the file the chunk belongs to (tar_aware), so a
 * packer can put like content together: the same for chunks of files with the
 * same path, close for the same base name and extension; 0 for tar headers and
 * for streams that are not tars. */
uint64_t ap_chunker_key(const ap_chunker *c);
/* Emits the last chunk; the chunker is then ready for a new stream. */
int ap_chunker_finish(ap_chunker *c, ap_error *err);
void ap_chunker_free(ap_chunker *c);

#endif
