/* part_check.c: see part_check.h. */
#include "part_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../formats/digest.h"
#include "../formats/parity.h"
#include "../formats/parts.h"
#include "../formats/stream.h"

int part_check(const char *part_path, const ap_pubkey *keys, size_t n_keys, part_check_result *res, ap_error *err)
{
    memset(res, 0, sizeof *res);
    char base[4096], sc[4200], scsig[4200];
    size_t index;
    bool parity = false;
    if (!ap_part_split_name(part_path, base, sizeof base, &index)) {
        if (!ap_parity_split_name(part_path, base, sizeof base, &index))
            return ap_fail(err, AP_ERR_USAGE, "%s is not a part name (NAME.000, NAME.001, ..., or a parity part NAME.p00, ...)",
                           part_path);
        parity = true;
    }
    snprintf(sc, sizeof sc, "%s%s", base, AP_PARTS_SUFFIX);
    snprintf(scsig, sizeof scsig, "%s%s", base, AP_PARTS_SIG_SUFFIX);
    ap_parts_manifest m;
    int missing, rc = -1;
    if (ap_parts_read_signed(base, keys, n_keys, &m, &res->sig, &missing, err) < 0) {
        if (missing == AP_PARTS_LIST_MISSING)
            ap_fail(err, AP_ERR_IO, "%s: no sidecar %s next to it, so a single part cannot be checked "
                    "(copy %s too, or verify the whole bundle from its first part)", part_path, sc, sc);
        else if (missing == AP_PARTS_SIG_MISSING)
            ap_fail(err, AP_ERR_VERIFY, "%s: %s is not signed (no %s; packed with --unsigned?), so it "
                    "cannot vouch for %s", part_path, sc, scsig, part_path);
        return -1;
    }
    res->index = index;
    res->n_parts = m.n_parts;
    res->parity = parity;
    res->n_parity = m.n_parity;
    if (index >= (parity ? m.n_parity : m.n_parts)) {
        res->good = false;
        snprintf(res->why, sizeof res->why, "%.300s lists only %zu %sparts; this is not one of them", sc,
                 parity ? m.n_parity : m.n_parts, parity ? "parity " : "");
        rc = 0;
        goto out;
    }
    const ap_part_info *want = parity ? &m.parity[index] : &m.parts[index];
    size_t any = parity ? m.n_parts + index : index;
    res->size = want->size;
    int fd = open(part_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ap_fail_errno(err, AP_ERR_IO, "cannot open %s", part_path);
        res->read_failed = true;
        goto out;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t total = 0;
    char hex[AP_HEX_LEN + 1];
    int hashed = ap_sha256_fd(fd, hex, &total);
    if (hashed < 0) {
        if (hashed == AP_READ_NOMEM)
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
        else
            ap_fail_errno(err, AP_ERR_IO, "reading %s", part_path);
        res->read_failed = hashed != AP_READ_NOMEM;
        close(fd);
        goto out;
    }
    close(fd);
    rc = 0;
    if (total != want->size) {
        snprintf(res->why, sizeof res->why, "%llu bytes, %.300s lists %llu (%s)", (unsigned long long)total, sc,
                 (unsigned long long)want->size, total < want->size ? "truncated" : "too long");
        goto out;
    }
    if (strcmp(hex, want->sha256)) {
        for (size_t j = 0; j < m.n_parts + m.n_parity; j++)
            if (j != any && !strcmp(hex, ap_parts_any(&m, j)->sha256)) {
                snprintf(res->why, sizeof res->why, "it holds the bytes %.300s lists for part %.250s (swapped or misnamed)",
                         sc, ap_parts_any(&m, j)->name);
                goto out;
            }
        snprintf(res->why, sizeof res->why, "damaged%s: its sha256 is %s, %.300s lists %s",
                 parity ? " (or a parity part of another bundle)" : "", hex, sc, want->sha256);
        goto out;
    }
    res->good = true;
out:
    ap_parts_free(&m);
    return rc;
}
