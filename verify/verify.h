/* verify.h: what verify/ offers: checking bundles, and nothing else. Below it remote/
 * and formats/; load/ builds on it.
 *
 *   bundle_input.h  where a bundle is read from: a file, standard input, or the parts of a
 *                   split bundle (and which part a failure lies in)
 *   bundle_peek.h   the index at the front of a bundle, not verified (airpack ls)
 *   bundle_verify.h verify a bundle_input start to end: failures named by part, damaged
 *                   parts read again through the parity parts, the damage described
 *   verifier.h      the one-pass streaming verifier: signature, index, every entry's digest,
 *                   (--deep) every layer's diff_id; a sink sees what verified as it streams
 *   part_check.h    one part of a split bundle against its signed sidecar (verify --part)
 *   trust_policy.h  what a verified bundle must also meet (expiry, revoked keys)
 *   trust_store.h   the trusted-keys directory as a store of keys that change (airpack trust) */
#ifndef AIRPACK_VERIFY_H
#define AIRPACK_VERIFY_H

#include "bundle_input.h"
#include "bundle_peek.h"
#include "bundle_verify.h"
#include "verifier.h"
#include "part_check.h"
#include "trust_policy.h"
#include "trust_store.h"

#endif
