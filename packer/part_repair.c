/* part_repair.c: see part_repair.h. */
#include "part_repair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../formats/parity.h"
#include "../formats/part_scan.h"
#include "../formats/part_stripes.h"
#include "../formats/parts.h"
#include "../formats/stream.h"

static int base_of(const char *arg, char *base, size_t n, ap_error *err)
{
    size_t index, len = strlen(arg), sl = strlen(AP_PARTS_SUFFIX);
    if (ap_part_split_name(arg, base, n, &index) || ap_parity_split_name(arg, base, n, &index))
        return 0;
    if (len > sl && !strcmp(arg + len - sl, AP_PARTS_SUFFIX) && len - sl < n) {
        memcpy(base, arg, len - sl);
        base[len - sl] = '\0';
        return 0;
    }
    if (len >= n)
        return ap_fail(err, AP_ERR_USAGE, "%s: name too long", arg);
    memcpy(base, arg, len + 1);
    return 0;
}

/* The signed list: read, signature checked, parsed. */
static int read_list(const char *base, const ap_pubkey *keys, size_t n_keys, ap_parts_manifest *m,
                     ap_sig_info *sig_info, ap_error *err)
{
    int missing;
    if (ap_parts_read_signed(base, keys, n_keys, m, sig_info, &missing, err) == 0)
        return 0;
    if (missing == AP_PARTS_LIST_MISSING)
        ap_fail(err, AP_ERR_IO, "%s: no parts list %s%s: only a split bundle packed with --parity can be repaired",
                base, base, AP_PARTS_SUFFIX);
    else if (missing == AP_PARTS_SIG_MISSING)
        ap_fail(err, AP_ERR_VERIFY, "%s%s is not signed (no %s%s), so rebuilt parts could not be checked against it",
                base, AP_PARTS_SUFFIX, base, AP_PARTS_SIG_SUFFIX);
    return -1;
}

static int rebuild(const char *base, const ap_parts_manifest *m, const ap_parts_damage *d, part_repair_result *res,
                   volatile sig_atomic_t *cancel, ap_error *err)
{
    size_t k = m->n_parts, total = k + m->n_parity;
    size_t *have = calloc(k, sizeof *have), *want = calloc(total, sizeof *want);
    ap_stripe_file *in = calloc(k, sizeof *in), *out = calloc(total, sizeof *out);
    char (*names)[4200] = calloc(total, sizeof *names), (*temps)[4300] = calloc(total, sizeof *temps);
    size_t n_have = 0, n_want = 0, made = 0;
    ap_rs *rs = NULL;
    int rc = -1;
    if (!have || !want || !in || !out || !names || !temps) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < total; i++) {
        ap_parts_any_name(base, m, i, names[i], sizeof names[i]);
        if (ap_part_bad(d->st[i].state))
            want[n_want++] = i;
        else if (n_have < k)
            have[n_have++] = i;
    }
    if (n_have < k || n_want > m->n_parity) {
        ap_fail(err, AP_ERR_VERIFY, "%s", res->damage);
        goto out;
    }
    if (!(rs = ap_rs_decoder(k, m->n_parity, have, want, n_want, err)))
        goto out;
    for (size_t i = 0; i < k; i++)
        in[i] = (ap_stripe_file){.path = names[have[i]], .size = ap_parts_any(m, have[i])->size, .hash = false};
    for (size_t w = 0; w < n_want; w++) {
        /* a temporary name in the part's directory (stream.h's convention) */
        const char *slash = strrchr(names[want[w]], '/');
        int dl = slash ? (int)(slash - names[want[w]]) : 1;
        snprintf(temps[w], sizeof temps[w], "%.*s/" AP_TMP_PREFIX "XXXXXX", dl, slash ? names[want[w]] : ".");
        int fd = mkstemp(temps[w]);
        if (fd < 0) {
            ap_fail_errno(err, AP_ERR_IO, "creating a temporary file next to %s", names[want[w]]);
            goto out;
        }
        close(fd);
        made = w + 1;
        out[w] = (ap_stripe_file){.path = temps[w], .size = ap_parts_any(m, want[w])->size, .hash = true};
    }
    if (ap_stripes_run(in, k, rs, out, n_want, m->part_size, cancel, err) < 0)
        goto out;
    for (size_t w = 0; w < n_want; w++)
        if (strcmp(out[w].hex, ap_parts_any(m, want[w])->sha256)) {
            ap_fail(err, AP_ERR_VERIFY,
                    "%s: the rebuilt part's sha256 is %.16s..., the signed list says %.16s...; nothing was replaced",
                    names[want[w]], out[w].hex, ap_parts_any(m, want[w])->sha256);
            goto out;
        }
    for (size_t w = 0; w < n_want; w++) {
        if (rename(temps[w], names[want[w]]) < 0) {
            ap_fail_errno(err, AP_ERR_IO, "renaming %s to %s", temps[w], names[want[w]]);
            goto out;
        }
        temps[w][0] = '\0';
        size_t used = strlen(res->rebuilt);
        snprintf(res->rebuilt + used, sizeof res->rebuilt - used, "%s%.300s", w ? ", " : "", names[want[w]]);
    }
    rc = ap_fsync_parent_dir(names[0], err);
out:
    for (size_t w = 0; temps && w < made; w++)
        if (temps[w][0])
            unlink(temps[w]);
    ap_rs_free(rs);
    free(have);
    free(want);
    free(in);
    free(out);
    free(names);
    free(temps);
    return rc;
}

int part_repair(const char *arg, const ap_pubkey *keys, size_t n_keys, part_repair_result *res,
                volatile sig_atomic_t *cancel, ap_error *err)
{
    memset(res, 0, sizeof *res);
    if (base_of(arg, res->base, sizeof res->base, err) < 0)
        return -1;
    ap_parts_manifest m;
    memset(&m, 0, sizeof m);
    if (read_list(res->base, keys, n_keys, &m, &res->sig, err) < 0)
        return -1;
    int rc = -1;
    ap_parts_damage d;
    memset(&d, 0, sizeof d);
    res->n_parts = m.n_parts;
    res->n_parity = m.n_parity;
    if (m.n_parity == 0) {
        ap_fail(err, AP_ERR_USAGE,
                "%s%s lists no parity parts (packed without --parity): a bad part must be copied again", res->base,
                AP_PARTS_SUFFIX);
        goto out;
    }
    if (ap_parts_scan(res->base, &m, AP_SCAN_HASH_ALL, &d, cancel, err) < 0)
        goto out;
    res->n_bad = ap_parts_damage_bad(&d, NULL, NULL);
    ap_parts_damage_describe(res->base, &m, &d, res->damage, sizeof res->damage);
    if (res->n_bad == 0) {
        rc = 0;
        goto out;
    }
    if (!ap_parts_damage_repairable(&d)) {
        ap_fail(err, AP_ERR_VERIFY, "%s", res->damage);
        goto out;
    }
    rc = rebuild(res->base, &m, &d, res, cancel, err);
out:
    ap_parts_damage_free(&d);
    ap_parts_free(&m);
    return rc;
}
