/* trust_policy.c: revoked keys and expiry (see trust_policy.h). */
#include "trust_policy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int ap_trust_check_signer(const ap_trust_policy *p, const char *key_id, ap_error *err)
{
    for (size_t i = 0; p && i < p->n_revoked; i++)
        if (!strcmp(p->revoked[i].key_id, key_id))
            return ap_fail(err, AP_ERR_VERIFY, "signed by key ID %s, which was revoked at %s%s%s%s", key_id,
                           p->revoked[i].revoked_at, p->revoked[i].reason[0] ? " (" : "", p->revoked[i].reason,
                           p->revoked[i].reason[0] ? ")" : "");
    return 0;
}

int ap_trust_check_expiry(const ap_trust_policy *p, const ap_bundle_index *idx, char *warning, size_t n,
                          ap_error *err)
{
    int64_t expires;
    if (n)
        warning[0] = '\0';
    if (!ap_bundle_index_expiry(idx, &expires))
        return 0;
    int64_t now = p && p->now ? p->now : (int64_t)time(NULL);
    int64_t created = ap_bundle_index_created(idx);
    char span[64];
    if (now >= expires) {
        ap_duration_format(now - expires, span, sizeof span);
        if (!p || !p->allow_expired)
            return ap_fail(err, AP_ERR_VERIFY, "the bundle expired at %s, %s ago (channel %s, sequence %llu); "
                           "--allow-expired accepts it", idx->expires, span, ap_bundle_index_channel(idx),
                           (unsigned long long)idx->sequence);
        snprintf(warning, n, "the bundle expired at %s, %s ago; accepted because of --allow-expired", idx->expires,
                 span);
        return 0;
    }
    if (created >= 0 && (expires - now) * 10 < expires - created) {
        char total[64];
        ap_duration_format(expires - now, span, sizeof span);
        ap_duration_format(expires - created, total, sizeof total);
        snprintf(warning, n, "the bundle expires at %s, in %s: less than a tenth of its validity (%s) is left",
                 idx->expires, span, total);
    }
    return 0;
}
