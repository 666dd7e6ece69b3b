/* have_source.h: where `pack --have` / `--since` learn what the far side holds.
 *
 * have_load_file reads a have.json (from `airpack inventory`) and, when keys
 * are given, requires FILE.minisig to verify with one of them: a missing or
 * bad signature, or a tampered file, is refused (AP_ERR_VERIFY). have_load_since
 * reads only the signed index at the front of an old bundle (the first two tar
 * entries), checks its signature when keys are given, and lists every layer
 * that bundle carried or expected (kind "bundle"). Both cap what they read. */
#ifndef AIRPACK_HAVE_SOURCE_H
#define AIRPACK_HAVE_SOURCE_H

#include <stddef.h>

#include "../formats/error.h"
#include "../formats/have_list.h"
#include "../formats/minisign.h"

int have_load_file(const char *path, const ap_pubkey *keys, size_t n_keys, ap_have_list *out,
                   ap_error *err);
int have_load_since(const char *bundle, const ap_pubkey *keys, size_t n_keys, ap_have_list *out,
                    ap_error *err);

/* Reads a whole small file (at most max bytes) into a NUL-terminated buffer. */
int have_read_small_file(const char *path, size_t max, char **out, size_t *len, ap_error *err);

#endif
