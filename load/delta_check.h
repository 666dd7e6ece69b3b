/* delta_check.h: before a delta bundle loads, the target must hold every layer
 * the bundle left out (its "expected" layers, see formats/BUNDLE-FORMAT.md).
 *
 * delta_check_expected asks `held` about each expected layer of each selected
 * image and, when any is missing, fails with AP_ERR_TARGET naming every
 * missing one (image name, layer number, diff_id, blob digest), so nothing is
 * committed. Targets call it from begin(), before any entry is written.
 * delta_check_supported refuses a delta for a target kind that cannot check. */
#ifndef AIRPACK_DELTA_CHECK_H
#define AIRPACK_DELTA_CHECK_H

#include <stdbool.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"

/* 1 held, 0 missing, -1 error. */
typedef int (*delta_held_fn)(void *ctx, const ap_index_image *im, size_t layer, ap_error *err);

int delta_check_expected(const ap_bundle_index *idx, const bool *sel, const char *target,
                         delta_held_fn held, void *ctx, ap_error *err);

/* 0 when idx is not a delta or the target kind ("oci", "docker-daemon", "docker") checks deltas. */
int delta_check_supported(const ap_bundle_index *idx, const char *kind, ap_error *err);

/* For verify and ls: NULL when idx is no delta, else malloc'd lines
 * "delta: carries N layer blob(s); expects the target to hold M layer(s):\n"
 * then "  IMAGE layer K: diff_id D, blob B (MEDIA TYPE)\n" per expected layer. */
char *delta_describe(const ap_bundle_index *idx);

#endif
