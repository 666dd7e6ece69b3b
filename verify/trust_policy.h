/* trust_policy.h: what `verify` and `load` check besides signature and digests:
 * revoked signing keys and expiry (issue 16; formats/BUNDLE-FORMAT.md).
 *
 * The verifier (verifier.h) applies a policy to the front of every bundle:
 * before the signature is checked, a signature naming a revoked key is refused
 * (the key ID is read from the signature; a forged one is refused either way);
 * after it verified, an expired bundle is refused unless allow_expired, and a
 * bundle with less than a tenth of its validity left gets a warning. Every
 * refusal is AP_ERR_VERIFY and names the key or the expiry and how long ago. */
#ifndef AIRPACK_TRUST_POLICY_H
#define AIRPACK_TRUST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"
#include "../formats/minisign.h"
#include "../formats/timefmt.h"

typedef struct {
    char key_id[2 * AP_KEYNUM_LEN + 1];   /* as minisign prints it */
    char revoked_at[AP_TIME_LEN + 1];
    char reason[256];                     /* may be empty */
} ap_revoked_key;

typedef struct {
    bool allow_expired;
    int64_t now;                          /* 0: the clock */
    const ap_revoked_key *revoked;
    size_t n_revoked;
} ap_trust_policy;

/* The signature names key_id: refused when that key is revoked. */
int ap_trust_check_signer(const ap_trust_policy *p, const char *key_id, ap_error *err);

/* The signed index verified: refuses it when expired (unless allow_expired; then the
 * warning says so); fills warning (empty when there is nothing to say). */
int ap_trust_check_expiry(const ap_trust_policy *p, const ap_bundle_index *idx, char *warning, size_t n,
                          ap_error *err);

#endif
