/* dense_pack.h: the writing side of dense bundles (pack --dense).
 *
 * Takes the uncompressed tars of a pack's layers one after another, cuts each
 * into content-defined chunks (formats/chunker.h) and keeps every distinct
 * chunk once (a table of 128-bit chunk hashes: about 60 bytes of memory per
 * distinct chunk, 4 per reference), raw, in a temporary file (unlinked at
 * once) in the output's directory: disk for the distinct bytes. At the end
 * (dense_pack_finish) the distinct chunks, in the order first met, are cut
 * into segments of at most 2^window_log bytes; dense_pack_write_entries then writes the
 * recipe and compresses each segment straight into the bundle: one zstd frame
 * per segment (long-distance matching, 2^window_log window), each decodable
 * alone. One zstd job per segment, single-threaded: the bytes do not depend on
 * the thread count, the frame is 2.5% smaller than with 16 MiB jobs, and memory
 * is one window plus level-12 tables (about 190 MiB at the default window)
 * per segment being compressed: `jobs` segments at once (default 1). */
#ifndef AIRPACK_DENSE_PACK_H
#define AIRPACK_DENSE_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"
#include "bundle_writer.h"

#define DENSE_WINDOW_LOG_DEFAULT 27
#define DENSE_LEVEL_DEFAULT 12
/* The zstd level of the layer blobs a loader makes (and the packer hashes): fast,
 * because every load makes them again. */
#define DENSE_BLOB_LEVEL 1

typedef struct {
    int level;                /* zstd level (0 = DENSE_LEVEL_DEFAULT) */
    int jobs;                 /* segments compressed at once, each in its own thread with
                               * about 2^window_log + 80 MiB of memory (0 = 1) */
    unsigned window_log;      /* 0 = DENSE_WINDOW_LOG_DEFAULT */
    size_t chunk_avg;         /* 0 = AP_CHUNK_AVG_DEFAULT */
    uint64_t segment_size;    /* 0 = 2^window_log */
} dense_pack_options;

typedef struct {
    uint64_t layer_bytes;     /* uncompressed bytes of the layers kept */
    uint64_t unique_bytes;    /* distinct chunk bytes stored */
    uint64_t n_chunks;        /* distinct chunks */
    uint64_t n_refs;          /* chunk references of the layers */
    uint64_t compressed_bytes;
    uint32_t n_segments;
    size_t recipe_bytes;
} dense_pack_stats;

typedef struct dense_pack dense_pack;

/* dir: where the temporary segment file goes (the output's directory). */
dense_pack *dense_pack_new(const char *dir, const dense_pack_options *o, ap_error *err);
int dense_pack_layer_begin(dense_pack *d, ap_error *err);
/* An ap_sink_fn: ctx is the dense_pack. */
int dense_pack_write(void *ctx, const void *buf, size_t n, ap_error *err);
/* diff_id: "sha256:<hex>" of the bytes written since layer_begin. keep=false forgets
 * the layer (its new chunks stay stored, unreferenced). */
int dense_pack_layer_end(dense_pack *d, const char *diff_id, bool keep, ap_error *err);
/* Closes the last segment and builds the recipe. */
int dense_pack_finish(dense_pack *d, ap_error *err);
/* After finish: 1 + n_segments entries (recipe, then segments). */
size_t dense_pack_n_entries(const dense_pack *d);
unsigned dense_pack_window_log(const dense_pack *d);
/* Writes the recipe and the segments into w, calling record for each entry. */
int dense_pack_write_entries(dense_pack *d, bundle_writer *w,
                             int (*record)(void *ctx, const ap_index_entry *e, ap_error *err), void *ctx,
                             ap_error *err);
void dense_pack_get_stats(const dense_pack *d, dense_pack_stats *s);
void dense_pack_free(dense_pack *d);

#endif
