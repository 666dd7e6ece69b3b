/* loader.c: the verifier sink that drives a load target (see loader.h). */
#include "loader.h"

#include <stdio.h>
#include <string.h>

#include "delta_check.h"

typedef struct {
    load_target *t;
    const ap_load_opts *opts;
    ap_load_report *report;
    char key_id[2 * AP_KEYNUM_LEN + 1];
    bool skip;              /* the target did not want the current entry's data */
    bool completed;         /* the whole bundle verified (on_complete was called) */
    bool committed;
    bool aborted;
    load_result *results;
    size_t n_results;
    size_t n_referrers;
} load_sink_ctx;

static int sink_index(void *ctx, const ap_bundle_index *idx, const ap_sig_info *sig, ap_error *err)
{
    load_sink_ctx *c = ctx;
    snprintf(c->key_id, sizeof c->key_id, "%s", sig->key_id);
    load_state_signer signer = {sig->key_id, c->opts->successions, c->opts->n_successions};
    if (c->opts->state && load_state_check(c->opts->state, &signer, idx, c->opts->allow_rollback,
                                           c->report->note, sizeof c->report->note, err) < 0)
        return -1;
    if (delta_check_supported(idx, c->t->ops->kind, err) < 0)
        return -1;
    return c->t->ops->begin ? c->t->ops->begin(c->t, idx, err) : 0;
}

static int sink_entry_begin(void *ctx, const ap_index_entry *e, ap_error *err)
{
    load_sink_ctx *c = ctx;
    int want = c->t->ops->entry_begin ? c->t->ops->entry_begin(c->t, e, err) : 0;
    if (want < 0)
        return -1;
    c->skip = want == 0;
    /* The verifier still reads and hashes a skipped entry; we just do not pass it on. */
    return 0;
}

static int sink_entry_data(void *ctx, const void *buf, size_t n, ap_error *err)
{
    load_sink_ctx *c = ctx;
    if (c->skip || !c->t->ops->entry_data)
        return 0;
    return c->t->ops->entry_data(c->t, buf, n, err);
}

static int sink_entry_end(void *ctx, const ap_index_entry *e, ap_error *err)
{
    load_sink_ctx *c = ctx;
    bool skipped = c->skip;
    c->skip = false;
    if (skipped || !c->t->ops->entry_end)
        return 0;
    return c->t->ops->entry_end(c->t, e, err);
}

static int sink_complete(void *ctx, const ap_bundle_index *idx, ap_error *err)
{
    load_sink_ctx *c = ctx;
    c->completed = true;
    if (c->t->ops->commit(c->t, idx, &c->results, &c->n_results, err) < 0)
        return -1;
    load_results_set_manifests(c->results, c->n_results, idx);
    c->n_referrers = idx->n_referrers;
    c->committed = true;
    if (c->opts->state && load_state_record(c->opts->state, c->key_id, idx, err) < 0) {
        ap_error_prefix(err, "the images were loaded, but their sequence could not be recorded");
        err->code = AP_ERR_TARGET;
        return -1;
    }
    return 0;
}

static void sink_abort(void *ctx)
{
    load_sink_ctx *c = ctx;
    if (c->committed || c->aborted)
        return;
    c->aborted = true;
    if (c->t->ops->abort)
        c->t->ops->abort(c->t);
}

int ap_load_stream(ap_read_fn read, void *read_ctx, const char *name, load_target *t,
                   const ap_load_opts *opts, ap_load_report *report, ap_error *err)
{
    memset(report, 0, sizeof *report);
    load_sink_ctx c = {.t = t, .opts = opts, .report = report};
    ap_verify_sink sink = {
        .on_index = sink_index,
        .on_entry_begin = sink_entry_begin,
        .on_entry_data = sink_entry_data,
        .on_entry_end = sink_entry_end,
        .on_complete = sink_complete,
        .on_abort = sink_abort,
    };
    ap_verify_opts vopts = {
        .keys = opts->keys,
        .n_keys = opts->n_keys,
        /* every target checks what verify --deep checks before it commits: each layer's
         * diff_id and uncompressed size (decompressed in the hash pipe's tap thread, while
         * the bytes are copied), and the manifests, configs, index.json and manifest.json */
        .deep = true,
        .progress = opts->progress,
        .progress_ctx = opts->progress_ctx,
        .dense_rebuild = true,
        .spill_dir = opts->spill_dir,
        .window_log_max = opts->window_log_max,
        .policy = opts->policy,
    };
    int rc = ap_verify_stream(read, read_ctx, name, &vopts, &sink, &c, &report->verify, err);
    if (rc < 0 || !c.committed) {
        if (rc == 0)    /* the verifier said yes but never called on_complete: treat as failure */
            ap_fail(err, AP_ERR_VERIFY, "%s: the verifier did not complete", name);
        sink_abort(&c);
        load_results_free(c.results, c.n_results);
        report->verified = c.completed;
        /* once the whole bundle verified, a failure is the target's, not a verdict on the bundle */
        if (c.completed && err && (err->code == AP_ERR_VERIFY || err->code == AP_ERR_FORMAT ||
                                   err->code == AP_ERR_CRYPTO))
            err->code = AP_ERR_TARGET;
        return -1;
    }
    report->verified = true;
    report->results = c.results;
    report->n_results = c.n_results;
    report->n_referrers = c.n_referrers;
    return 0;
}
