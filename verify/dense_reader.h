/* dense_reader.h: the reading side of dense bundles, inside the streaming verifier.
 *
 * The verifier hands every airpack/dense/ entry to a dense reader instead of
 * its sink. The recipe (the first dense entry) is parsed and checked against
 * the signed index once its digest matched. With rebuild (verify --deep and
 * every load), each segment is decompressed as it streams, with the zstd
 * window capped at the signed window_log, which must not exceed the caller's
 * limit (memory: 2^window_log bytes plus about 40 bytes per recipe chunk),
 * and the decompressed bytes are spilled to an unlinked temporary file in
 * spill_dir (disk: the index's dense.unique_bytes). After the last segment,
 * every layer is rebuilt from the spill, in recipe order, and passed to the
 * sink as its blob entry "blobs/sha256/<digest>" the manifests name: zstd at
 * the index's blob_level, or with compression "none" the tar itself. It
 * counts as verified (on_entry_end) only once the tar's sha256 equals its
 * diff_id and the blob's its digest. A damaged segment is reported with the
 * layers that depend on its damaged chunks, found by their hashes (without
 * rebuild: on any chunk of the segment). */
#ifndef AIRPACK_DENSE_READER_H
#define AIRPACK_DENSE_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"
#include "verifier.h"

#define DENSE_WINDOW_LIMIT_DEFAULT 27

typedef struct dense_reader dense_reader;

typedef struct {
    bool rebuild;
    const char *spill_dir;        /* NULL: $TMPDIR, else /var/tmp */
    unsigned window_log_max;      /* 0 = DENSE_WINDOW_LIMIT_DEFAULT */
} dense_reader_opts;

/* Checks the index's dense entries (the recipe, then segments 000000.. in order)
 * and, with rebuild, the window against the limit. name: the bundle, for messages. */
dense_reader *dense_reader_new(const ap_bundle_index *idx, const char *name, const dense_reader_opts *o,
                               ap_error *err);
bool dense_reader_owns(const ap_index_entry *e);
int dense_reader_begin(dense_reader *d, const ap_index_entry *e, ap_error *err);
/* Bytes of the current entry, not yet known good (errors are kept for the end). */
void dense_reader_data(dense_reader *d, const void *buf, size_t n);
/* The entry's sha256 matched the signed index. With rebuild, the recipe's end
 * starts a thread that rebuilds the layers into sink (may be NULL), in recipe
 * order, each as soon as every segment holding its chunks has ended well, while
 * the next segments stream; only that thread calls the sink until the last
 * segment's end, which waits for it and returns its result. */
int dense_reader_end(dense_reader *d, const ap_index_entry *e, const ap_verify_sink *sink, void *sink_ctx,
                     ap_error *err);
/* Stops and waits for the rebuild thread, if any: call it before anything else
 * touches the sink after a failure (dense_reader_free calls it too). */
void dense_reader_stop(dense_reader *d);
/* The entry's sha256 did not match: which layers depend on it (for the message). */
void dense_reader_damage(dense_reader *d, const ap_index_entry *e, char *out, size_t n);
void dense_reader_free(dense_reader *d);

#endif
