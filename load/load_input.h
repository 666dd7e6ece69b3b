/* load_input.h: `airpack load` from a bundle input (verify/bundle_input.h), start to end.
 *
 * Opens the target (load_target.h) and its rollback state (load_state.h), then loads the
 * bundle in one pass (loader.h). A split bundle whose damaged parts its parity parts can
 * rebuild is loaded again, into a fresh target, through them (nothing was committed the
 * first time). A dense bundle's rebuild spills next to an oci:DIR target unless told where.
 * Returns 0 loaded, -1 failed: err says why (AP_ERR_VERIFY / AP_ERR_FORMAT only while the
 * bundle had not verified; after that a failure is the target's), rep->verified whether
 * the bundle verified, in->read_failed whether reading the bundle failed (a read error is
 * not a verification failure). damage: when the load went through parity parts, the damage
 * found (to mend with airpack repair), else "". */
#ifndef AIRPACK_LOAD_INPUT_H
#define AIRPACK_LOAD_INPUT_H

#include <stddef.h>

#include "../formats/error.h"
#include "../verify/bundle_input.h"
#include "load_target.h"
#include "loader.h"

typedef struct {
    const char *into;                   /* the target, as --into names it */
    const load_options *target_opts;    /* how to open it */
    const char *state_dir;              /* --state-dir: the rollback state of targets other than oci: */
    ap_load_opts opts;                  /* keys, progress, window, policy, allow_rollback; spill_dir
                                           NULL: next to an oci:DIR target; state is set here */
} ap_load_request;

int ap_load_input(bundle_input *in, const ap_load_request *req, ap_load_report *rep, char *damage,
                  size_t damage_size, ap_error *err);

#endif
