/* bundle_verify.c: see bundle_verify.h. */
#include "bundle_verify.h"

#include <string.h>

int bundle_verify(bundle_input *in, const ap_verify_opts *opts, const ap_verify_sink *sink, void *sink_ctx,
                  void (*on_retry)(void *sink_ctx), ap_verify_report *rep, char *damage, size_t damage_size,
                  ap_error *err)
{
    damage[0] = '\0';
    int r = ap_verify_stream(in->read, in->read_ctx, in->name, opts, sink, sink_ctx, rep, err);
    if (r < 0)
        bundle_input_explain(in, rep, err);
    if (r < 0 && bundle_input_retry(in, err) == 1) {
        /* damaged parts found on the way, fewer than the parity parts rebuild: again through them */
        if (on_retry)
            on_retry(sink_ctx);
        ap_error_clear(err);
        r = ap_verify_stream(in->read, in->read_ctx, in->name, opts, sink, sink_ctx, rep, err);
        if (r < 0)
            bundle_input_explain(in, rep, err);
    }
    if (r < 0)
        return -1;
    /* parity parts: the damage found (and whether it is repairable), even when the bundle verified */
    int n_bad = bundle_input_damage(in, damage, damage_size, err);
    if (n_bad < 0)
        return -1;
    if (n_bad > 0) {
        ap_fail(err, AP_ERR_VERIFY, "%s", damage);
        return 1;
    }
    return 0;
}
