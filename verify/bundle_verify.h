/* bundle_verify.h: `airpack verify` on a bundle input, start to end.
 *
 * Runs the streaming verifier (verifier.h) over a bundle_input (bundle_input.h): a failure
 * is named by the part at fault; a split bundle whose damaged parts its parity parts can
 * rebuild is read again through them (on_retry is called first, so the sink can forget
 * what it collected); and when the bundle verified, the damage found in its parts is
 * described. Returns 0 verified with nothing damaged, 1 verified through its parity parts
 * but with damaged parts (damage says which; err is AP_ERR_VERIFY with the same text), -1
 * failed (err; in->read_failed says whether reading failed, which is not a verification
 * failure). */
#ifndef AIRPACK_BUNDLE_VERIFY_H
#define AIRPACK_BUNDLE_VERIFY_H

#include <stddef.h>

#include "../formats/error.h"
#include "bundle_input.h"
#include "verifier.h"

int bundle_verify(bundle_input *in, const ap_verify_opts *opts, const ap_verify_sink *sink, void *sink_ctx,
                  void (*on_retry)(void *sink_ctx), ap_verify_report *rep, char *damage, size_t damage_size,
                  ap_error *err);

#endif
