/* loader.h: `airpack load` in one pass: verify a bundle and load it into a target.
 *
 * Connects the streaming verifier (verifier.h) to a load target
 * (load_target.h): the target sees the signed index once it verified, each
 * entry's bytes as they stream, each entry's end once its digest matched, and
 * commit() only after the whole bundle verified. On any failure the target is
 * aborted, so nothing is loaded. The bundle is read once, from any reader
 * (file or pipe); nothing is read twice. */
#ifndef AIRPACK_LOADER_H
#define AIRPACK_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/error.h"
#include "../formats/minisign.h"
#include "../formats/stream.h"
#include "load_state.h"
#include "load_target.h"
#include "../verify/verifier.h"

typedef struct {
    const ap_pubkey *keys;
    size_t n_keys;
    void (*progress)(void *ctx, uint64_t done);   /* may be NULL */
    void *progress_ctx;
    /* dense bundles: where the rebuild spills (NULL: $TMPDIR or /var/tmp) and the
     * largest zstd window allowed, log2 (0: 27); see dense_reader.h */
    const char *spill_dir;
    unsigned window_log_max;
    const ap_trust_policy *policy;  /* revoked keys, expiry (verify/trust_policy.h); may be NULL */
    /* no rollback (load_state.h): the target's open state, checked once the index verified
     * (before the target sees anything) and recorded after the commit; NULL: none */
    load_state *state;
    bool allow_rollback;
    const load_state_link *successions;   /* which keys succeed which (load_state.h); may be none */
    size_t n_successions;
} ap_load_opts;

typedef struct {
    ap_verify_report verify;    /* what the verifier saw (bytes, seconds, signer) */
    load_result *results;       /* per image name, as the target reports; free with load_results_free */
    size_t n_results;
    bool verified;              /* the whole bundle verified (a failure then is the target's) */
    char note[640];             /* what the state check had to say (rollback allowed, delta base); may be empty */
    size_t n_referrers;         /* signatures, attestations, SBOMs the bundle carries */
} ap_load_report;

/* Verifies the bundle from `read` and loads it into `t`. Returns 0 when the
 * bundle verified and the target committed. On failure returns -1 with err
 * naming what failed: AP_ERR_VERIFY / AP_ERR_FORMAT (the bundle is bad;
 * nothing was loaded; only before the whole bundle verified: after that every
 * failure is AP_ERR_TARGET), AP_ERR_TARGET (the target refused or failed),
 * AP_ERR_IO (a read error too), AP_ERR_INTERRUPTED. The target is aborted on
 * every failure. */
int ap_load_stream(ap_read_fn read, void *read_ctx, const char *name, load_target *t,
                   const ap_load_opts *opts, ap_load_report *report, ap_error *err);

#endif
