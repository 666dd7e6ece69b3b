/* verifier.h: the streaming bundle verifier that `verify` and `load` both run.
 *
 * Reads a bundle once, front to back, from any ap_read_fn (file, pipe), in
 * bounded memory. The index and its signature come first; nothing else is
 * believed until the signature verifies with a trusted key. Then every entry
 * must be the next one the index lists, with its size and sha256; at the end
 * every listed entry must have been seen and the archive must end cleanly.
 * With `deep`, layers are also decompressed (capped at their declared
 * uncompressed size) and checked against their diff_ids, and manifests,
 * configs, index.json and manifest.json are checked against the index.
 *
 * A sink sees the bytes as they are verified. Data of an entry arrives in
 * chunks (not yet known good); on_entry_end is called only once that entry's
 * size and digest matched. on_complete is called only when the whole bundle
 * verified; on_abort whenever it did not, so a loader commits in on_complete
 * and rolls back in on_abort. Every error names the entry, its byte offset and
 * the reason. */
#ifndef AIRPACK_VERIFIER_H
#define AIRPACK_VERIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"
#include "../formats/minisign.h"
#include "../formats/stream.h"
#include "trust_policy.h"

typedef struct {
    /* After the signed index verified, before any later entry is read. */
    int (*on_index)(void *ctx, const ap_bundle_index *idx, const ap_sig_info *sig, ap_error *err);
    int (*on_entry_begin)(void *ctx, const ap_index_entry *e, ap_error *err);
    int (*on_entry_data)(void *ctx, const void *buf, size_t n, ap_error *err);
    /* The entry's size and sha256 matched the signed index. */
    int (*on_entry_end)(void *ctx, const ap_index_entry *e, ap_error *err);
    /* Everything verified and the archive ended cleanly: commit now. */
    int (*on_complete)(void *ctx, const ap_bundle_index *idx, ap_error *err);
    /* Verification (or a sink callback) failed: undo anything not committed. */
    void (*on_abort)(void *ctx);
} ap_verify_sink;   /* any callback may be NULL */

typedef struct {
    const ap_pubkey *keys;
    size_t n_keys;
    bool deep;
    /* Called now and then with bytes read so far (may be NULL). */
    void (*progress)(void *ctx, uint64_t done);
    void *progress_ctx;
    /* Dense bundles (dense_reader.h): rebuild every layer (implied by deep; a loader
     * sets it), where to spill (NULL: $TMPDIR or /var/tmp), the largest zstd window
     * allowed, log2 (0: 27). The sink then sees each rebuilt layer as a plain tar entry. */
    bool dense_rebuild;
    const char *spill_dir;
    unsigned window_log_max;
    /* Revoked keys and expiry (trust_policy.h); NULL: refuse expired bundles, no revocations. */
    const ap_trust_policy *policy;
} ap_verify_opts;

typedef struct {
    ap_sig_info sig;
    size_t n_images;
    size_t entries_checked;
    uint64_t bytes;         /* bytes of the bundle read */
    double seconds;
    /* Where a verification failure was found in the bundle's bytes, when it was:
     * fail_located, the entry at fault (empty when no entry is) and the bundle
     * offset of its header (or of the fault). For split bundles (part_reader.h). */
    bool fail_located;
    char fail_entry[320];
    uint64_t fail_offset;
    /* The policy's warning (expiry near, or accepted though expired); empty when none. */
    char warning[320];
    /* From the signed index, once it verified (sequence 0 before): see bundle_index.h */
    uint64_t sequence;
    char channel[AP_CHANNEL_MAX + 1];
    char expires[AP_TIME_LEN + 1];    /* empty: never */
} ap_verify_report;

/* Returns 0 when the bundle verified. On failure returns -1 with err->code
 * AP_ERR_VERIFY (the bundle is bad), AP_ERR_IO (could not read) or the sink's
 * own code (AP_ERR_TARGET ...). `name` names the bundle in messages. */
int ap_verify_stream(ap_read_fn read, void *read_ctx, const char *name,
                     const ap_verify_opts *opts, const ap_verify_sink *sink, void *sink_ctx,
                     ap_verify_report *report, ap_error *err);

#endif
