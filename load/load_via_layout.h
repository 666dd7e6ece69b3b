/* load_via_layout.h: a target that hands verified images to an engine's own import tool.
 *
 * Verified blobs of the selected images go into a private temporary OCI image
 * layout ($TMPDIR/airpack-load-XXXXXX, written by the oci: target, so a blob is
 * only ever there once its bytes matched the signed index). commit() first
 * completes that layout (index.json), then calls the import function, which
 * runs the engine's tool (ctr, skopeo) on it. The temporary layout is removed
 * after commit, on abort and on close, whatever happened. */
#ifndef AIRPACK_LOAD_VIA_LAYOUT_H
#define AIRPACK_LOAD_VIA_LAYOUT_H

#include <stdbool.h>

#include "load_target.h"

/* Imports the complete layout at dir: sel[i] says which idx images to import. */
typedef int (*layout_import_fn)(void *ctx, const char *dir, const ap_bundle_index *idx, const bool *sel,
                                load_result **results, size_t *n_results, ap_error *err);

/* Checks, in begin() before any blob is read, that the engine can be reached (may be NULL). */
typedef int (*layout_check_fn)(void *ctx, ap_error *err);

/* Takes ownership of ctx (freed with free_ctx at close, even on failure). */
load_target *layout_target_open(const char *kind, const load_options *opts, layout_check_fn check,
                                layout_import_fn import, void *ctx, void (*free_ctx)(void *),
                                ap_error *err);

/* Streams a tar of the layout at dir (oci-layout, index.json, every blob)
 * into fd: the OCI archive `ctr images import` and `podman load` read. */
int layout_write_tar(const char *dir, int fd, ap_error *err);

/* Adds one result (name may be NULL). */
int layout_add_result(load_result **res, size_t *n, const char *name, const char *id, bool is_new,
                      ap_error *err);

#endif
