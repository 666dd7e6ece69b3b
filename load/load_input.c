/* load_input.c: see load_input.h. */
#include "load_input.h"

#include <stdio.h>
#include <string.h>

#include "../formats/part_scan.h"
#include "load_state.h"

/* A dense bundle's rebuild spills next to an oci:DIR target: DIR's parent directory. */
static void spill_next_to(const char *dir, char *out, size_t n)
{
    snprintf(out, n, "%s", dir);
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        out[--len] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, n, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* The target's rollback state, locked until the load ends (taken after the target's own lock). */
static int open_state(const ap_load_request *req, load_state **state, ap_error *err)
{
    char path[4096];
    *state = NULL;
    int has = load_state_path(req->into, req->state_dir, path, sizeof path, err);
    if (has <= 0)
        return has;
    *state = load_state_open(path, req->into, !strncmp(req->into, "oci:", 4), true, err);
    if (*state)
        return 0;
    /* a state file that cannot be used (corrupt, a symbolic link) is the target's failure,
     * not a verdict on the bundle */
    if (err && (err->code == AP_ERR_FORMAT || err->code == AP_ERR_VERIFY || err->code == AP_ERR_CRYPTO))
        err->code = AP_ERR_TARGET;
    return -1;
}

/* Damaged parts found on the way (nothing was committed), fewer than the parity parts rebuild:
 * load again into a fresh target, rebuilding them. */
static int load_again(bundle_input *in, const ap_load_request *req, const ap_load_opts *opts, load_target **t,
                      ap_load_report *rep, ap_error *err)
{
    load_results_free(rep->results, rep->n_results);
    (*t)->ops->close(*t);
    *t = NULL;
    ap_error retry_err;
    ap_error_clear(&retry_err);
    if (bundle_input_retry(in, &retry_err) != 1 || !(*t = load_target_open(req->into, req->target_opts, &retry_err))) {
        memset(rep, 0, sizeof *rep);
        *err = retry_err;
        return -1;
    }
    ap_error_clear(err);
    int r = ap_load_stream(in->read, in->read_ctx, in->name, *t, opts, rep, err);
    if (r < 0 && !rep->verified)
        bundle_input_explain(in, &rep->verify, err);
    return r;
}

int ap_load_input(bundle_input *in, const ap_load_request *req, ap_load_report *rep, char *damage,
                  size_t damage_size, ap_error *err)
{
    memset(rep, 0, sizeof *rep);
    damage[0] = '\0';
    ap_load_opts opts = req->opts;
    char spill[4096];
    if (!opts.spill_dir && !strncmp(req->into, "oci:", 4)) {
        spill_next_to(req->into + 4, spill, sizeof spill);
        opts.spill_dir = spill;
    }
    load_target *t = load_target_open(req->into, req->target_opts, err);
    if (!t)
        return -1;
    load_state *state = NULL;
    if (open_state(req, &state, err) < 0) {
        t->ops->abort(t);
        t->ops->close(t);
        return -1;
    }
    opts.state = state;
    int r = ap_load_stream(in->read, in->read_ctx, in->name, t, &opts, rep, err);
    if (r < 0 && !rep->verified)
        bundle_input_explain(in, &rep->verify, err);
    if (r < 0 && !rep->verified && in->retry)
        r = load_again(in, req, &opts, &t, rep, err);
    if (r == 0 && bundle_input_healed(in) && in->have_damage)
        ap_parts_damage_describe(in->base, &in->sidecar, &in->damage, damage, damage_size);
    load_state_close(state);
    if (t)
        t->ops->close(t);
    return r;
}
