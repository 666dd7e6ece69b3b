/* part_repair.h: `airpack repair NAME`: rebuilds the bad parts of a split bundle
 * in place from its parity parts (pack --split --parity N).
 *
 * Reads NAME.parts and checks NAME.parts.minisig with the trusted keys (the
 * signed list is what a rebuilt part must match), hashes every data and parity
 * part (formats/part_scan.h), and when at most N are bad rebuilds them all in
 * one streaming pass (formats/part_stripes.h, bounded memory): each under a
 * temporary name next to it, renamed over the bad one only when every rebuilt
 * part's size and sha256 match the signed list. Beyond N nothing is written and
 * the error names the parts to bring again. */
#ifndef AIRPACK_PART_REPAIR_H
#define AIRPACK_PART_REPAIR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "../formats/error.h"
#include "../formats/minisign.h"

typedef struct {
    char base[4096];          /* the bundle's path without ".NNN" */
    size_t n_parts, n_parity;
    size_t n_bad;             /* bad parts found (and, on success, rebuilt) */
    char damage[4096];        /* ap_parts_damage_describe of what was found */
    char rebuilt[4096];       /* "site.tar.004, site.tar.p01" */
    ap_sig_info sig;
} part_repair_result;

/* arg: NAME, NAME.000 (any part) or NAME.parts. 0: repaired, or nothing was
 * bad; -1: AP_ERR_VERIFY (signature, beyond N: res->damage says which to bring
 * again), AP_ERR_IO, AP_ERR_USAGE (no parity parts) ... */
int part_repair(const char *arg, const ap_pubkey *keys, size_t n_keys, part_repair_result *res,
                volatile sig_atomic_t *cancel, ap_error *err);

#endif
