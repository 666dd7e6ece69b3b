/* pack.h: many images in, one deduplicated, signed bundle out.
 *
 * pack_run() opens every input (a cheap first pass over each), chooses the
 * images and checks their names, then streams every distinct layer once (by
 * diff_id) from the first input that has it: decompressed, hashed and checked
 * against the diff_id its config declares, recompressed, written. Configs are
 * copied byte for byte; manifests, index.json and manifest.json are written
 * by airpack; the signed index goes first. The bundle appears under its name
 * only when complete; on any error, or when *cancel becomes nonzero, nothing
 * is left behind. Memory stays bounded whatever the input size. */
#ifndef AIRPACK_PACK_H
#define AIRPACK_PACK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/codec.h"
#include "../formats/error.h"
#include "../formats/have_list.h"
#include "../formats/minisign.h"
#include "source.h"

typedef enum { PACK_CONFLICT_ERROR, PACK_CONFLICT_FIRST, PACK_CONFLICT_LAST } pack_conflict;

typedef struct {
    const char *const *inputs;
    size_t n_inputs;
    const char *output;
    ap_codec codec;
    int level;                      /* 0 = the codec's default */
    int threads;                    /* >= 1 */
    const char *const *images;      /* --image filters; NULL/0 = every image */
    size_t n_images;
    pack_conflict on_conflict;
    const ap_seckey *key;           /* NULL = unsigned bundle */
    int64_t epoch;                  /* tar mtime and index "created" */
    volatile sig_atomic_t *cancel;  /* may be NULL */
    /* told the temporary file's path as soon as it exists (for a signal handler) */
    void (*on_temp)(const char *path);
    /* progress: told the total input bytes once the inputs are open, then bytes done */
    void (*progress_total)(void *ctx, uint64_t total);
    void (*progress)(void *ctx, uint64_t done);
    void *progress_ctx;
    /* remote inputs (docker://, docker-daemon:) and platform choice; NULL = defaults.
     * With all_platforms, one name may name one image per platform; docker's
     * manifest.json then gives it only to the default platform's image. */
    const source_options *source_opts;
    /* delta: leave out every layer the far side holds (pack --have / --since); NULL = all */
    const ap_have_list *have;
    /* --split: parts OUTPUT.000, OUTPUT.001, ... of this many bytes and the
     * OUTPUT.parts sidecar, signed with key (0: one file). See formats/parts.h. */
    uint64_t split_size;
    /* --parity N (with split_size): N Reed-Solomon parity parts OUTPUT.p00 .. (formats/parity.h) */
    size_t parity;
    /* Keep what the source signed: an image from a source with manifests (registry, OCI
     * layout or archive) is carried with its manifest, config and layer blobs byte for byte,
     * so every target gets the same digests back. False (pack -c, --dense): every layer is
     * recompressed and airpack writes new manifests (the index records the source's digest). */
    bool faithful;
    /* pack --dense (packer/dense_pack.h): chunked, deduplicated, long-window layers */
    bool dense;
    unsigned dense_window_log;      /* 0 = default (27) */
    size_t dense_chunk;             /* average chunk size; 0 = default (32 KiB) */
    int dense_jobs;                 /* segments compressed at once; 0 = 1 (memory: see dense_pack.h) */
    /* trust over time (formats/bundle_index.h): 0 / NULL = the defaults (sequence = epoch,
     * channel "default", never expires, no base) */
    uint64_t sequence;
    const char *channel;
    int64_t expires;                /* seconds since the epoch */
    uint64_t base_sequence;         /* delta: the sequence of the bundle it builds on */
} pack_options;

typedef struct {
    size_t n_images;
    size_t n_layers_referenced;     /* layers as images use them */
    size_t n_layers_stored;         /* distinct diff_ids */
    uint64_t input_bytes;           /* sizes of the input files */
    uint64_t uncompressed_bytes;    /* distinct layers, uncompressed */
    uint64_t referenced_bytes;      /* layers as images use them, uncompressed */
    uint64_t bundle_bytes;
    size_t n_layers_expected;       /* delta: layers left out, expected in the target */
    size_t n_parts;                 /* with split_size: parts written */
    uint64_t dense_unique_bytes;    /* --dense: distinct chunk bytes stored */
    uint64_t dense_chunks;
    uint32_t dense_segments;
    size_t n_faithful;              /* images carried with their source manifest */
    size_t n_rewritten;             /* images that had a source manifest and got a new one */
    size_t n_indexes_carried;       /* source image indexes carried byte for byte */
    size_t n_indexes_new;           /* source indexes of packed names not carried as they are */
    size_t n_attestations_skipped;
    size_t n_referrers;             /* signatures, attestations, SBOMs carried */
    size_t n_referrers_skipped;     /* OCI layout manifests with a subject left out */  /* attestation manifests left out (not carried yet) */
    size_t n_layers_twice;          /* diff_ids stored as more than one blob (other compressions) */
    uint64_t twice_bytes;           /* what those extra blobs cost */
} pack_report;

int pack_run(const pack_options *opts, pack_report *report, ap_error *err);

#endif
