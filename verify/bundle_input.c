/* bundle_input.c: see bundle_input.h. */
#include "bundle_input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_parts(bundle_input *in, ap_error *err);
static int open_damaged(bundle_input *in, ap_error *err);

static ssize_t fd_read_cancellable(void *ctx, void *buf, size_t n, ap_error *err)
{
    bundle_input *in = ctx;
    for (;;) {
        if (in->cancel && *in->cancel)
            return ap_fail(err, AP_ERR_INTERRUPTED, "interrupted");
        ssize_t got = read(in->fdr.fd, buf, n);
        if (got >= 0) {
            in->fdr.offset += (uint64_t)got;
            return got;
        }
        if (errno != EINTR)
            return ap_fail_errno(err, AP_ERR_IO, "reading %s", in->fdr.name);
    }
}

/* in->read: the source's read, noting when it failed (a read error, not a bad bundle). */
static ssize_t read_noting_failure(void *ctx, void *buf, size_t n, ap_error *err)
{
    bundle_input *in = ctx;
    ssize_t got = in->source_read(in->source_ctx, buf, n, err);
    if (got < 0 && (!err || err->code == AP_ERR_IO))
        in->read_failed = true;
    return got;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool bundle_input_is_later_part(const char *arg)
{
    char base[4096], other[4200];
    size_t index;
    if (ap_parity_split_name(arg, base, sizeof base, &index) && exists(arg)) {
        snprintf(other, sizeof other, "%s%s", base, AP_PARTS_SUFFIX);
        return exists(other);       /* a parity part: checked on its own */
    }
    if (!ap_part_split_name(arg, base, sizeof base, &index) || index == 0 || !exists(arg))
        return false;
    snprintf(other, sizeof other, "%s%s", base, AP_PARTS_SUFFIX);
    if (exists(other))
        return true;
    ap_part_name(other, sizeof other, base, 0);
    return exists(other);
}

int bundle_input_open(bundle_input *in, const char *arg, unsigned flags, volatile sig_atomic_t *cancel,
                      ap_error *err)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    in->cancel = cancel;
    in->name = arg;
    if (!strcmp(arg, "-")) {
        in->from_stdin = true;
        in->name = "stdin";
        in->fd = STDIN_FILENO;
    } else {
        char base[4096], first[4200];
        size_t index = 0;
        bool named_part = ap_part_split_name(arg, base, sizeof base, &index);
        bool split = false;
        if (named_part && index == 0) {
            split = true;
        } else if (!named_part && ap_parity_split_name(arg, base, sizeof base, &index) &&
                   bundle_input_is_later_part(arg)) {
            ap_part_name(first, sizeof first, base, 0);
            return ap_fail(err, AP_ERR_USAGE,
                           "%s is a parity part of a split bundle: give its first part, %s, or %s (or check this "
                           "part alone with 'airpack verify --part %s')",
                           arg, first, base, arg);
        } else if (named_part && bundle_input_is_later_part(arg)) {
            ap_part_name(first, sizeof first, base, 0);
            return ap_fail(err, AP_ERR_USAGE,
                           "%s is part %zu of a split bundle: give its first part, %s (or check this part alone "
                           "with 'airpack verify --part %s')",
                           arg, index + 1, first, arg);
        } else if (!exists(arg) && strlen(arg) < sizeof base) {
            char sc0[4200];
            ap_part_name(first, sizeof first, arg, 0);
            snprintf(sc0, sizeof sc0, "%s%s", arg, AP_PARTS_SUFFIX);
            if (exists(first) || exists(sc0)) {
                snprintf(base, sizeof base, "%s", arg);
                split = true;
            }
        }
        if (split) {
            char sc[4200];
            snprintf(sc, sizeof sc, "%s%s", base, AP_PARTS_SUFFIX);
            size_t len = 0;
            bool missing = false;
            char *text = ap_read_small_file(sc, AP_PARTS_SIDECAR_MAX, &len, &missing, err);
            if (text) {
                int rc = ap_parts_parse(text, len, &in->sidecar, err);
                free(text);
                if (rc < 0) {
                    ap_error_prefix(err, "%s", sc);
                    size_t used = strlen(err->msg);
                    snprintf(err->msg + used, sizeof err->msg - used,
                             " (copy it again, or move it away to read the parts without it)");
                    if (err->code == AP_ERR_FORMAT)
                        err->code = AP_ERR_VERIFY;
                    return -1;
                }
                in->have_sidecar = true;
            } else if (!missing) {
                return -1;
            }
            snprintf(in->base, sizeof in->base, "%s", base);
            in->flags = flags;
            if (in->have_sidecar && in->sidecar.n_parity && open_damaged(in, err) < 0) {
                bundle_input_close(in);
                return -1;
            }
            if (open_parts(in, err) < 0) {
                bundle_input_close(in);
                return -1;
            }
            if ((flags & BUNDLE_INPUT_ALL_PARTS) && ap_part_reader_check_all(in->parts, err) < 0) {
                bundle_input_close(in);
                return -1;
            }
            in->split = true;
            in->total = ap_part_reader_total(in->parts);
            in->n_parts = ap_part_reader_count(in->parts);
            in->source_read = ap_part_read;
            in->source_ctx = in->parts;
            in->read = read_noting_failure;
            in->read_ctx = in;
            return 0;
        }
        in->fd = open(arg, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0)
            return ap_fail_errno(err, AP_ERR_IO, "cannot open %s", arg);
    }
    struct stat st;
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->total = (uint64_t)st.st_size;
        posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    in->fdr.fd = in->fd;
    in->fdr.name = in->name;
    in->source_read = fd_read_cancellable;
    in->source_ctx = in;
    in->read = read_noting_failure;
    in->read_ctx = in;
    return 0;
}

static int open_parts(bundle_input *in, ap_error *err)
{
    in->parts = ap_part_reader_open(in->base, in->have_sidecar ? &in->sidecar : NULL, err);
    if (!in->parts)
        return -1;
    ap_part_reader_set_cancel(in->parts, in->cancel);
    if (in->have_damage && ap_parts_damage_bad(&in->damage, NULL, NULL)) {
        size_t total = in->damage.k + in->damage.n;
        bool *bad = calloc(total, sizeof *bad);
        if (!bad)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < total; i++)
            bad[i] = ap_part_bad(in->damage.st[i].state);
        int rc = ap_part_reader_heal(in->parts, bad, err);
        free(bad);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Parity parts: which parts are missing or of the wrong size (no reading yet);
 * beyond what the parity parts rebuild, refused here, naming the parts to bring. */
static int open_damaged(bundle_input *in, ap_error *err)
{
    if (ap_parts_scan(in->base, &in->sidecar, AP_SCAN_STAT, &in->damage, in->cancel, err) < 0)
        return -1;
    in->have_damage = true;
    if (ap_parts_damage_repairable(&in->damage))
        return 0;
    char desc[sizeof err->msg];
    ap_parts_damage_describe(in->base, &in->sidecar, &in->damage, desc, sizeof desc);
    return ap_fail(err, AP_ERR_VERIFY, "%s", desc);
}

size_t bundle_input_healed(const bundle_input *in)
{
    return in->parts ? ap_part_reader_healed(in->parts) : 0;
}

int bundle_input_retry(bundle_input *in, ap_error *err)
{
    if (!in->retry)
        return 0;
    in->retry = false;
    ap_part_reader_free(in->parts);
    in->parts = NULL;
    if (open_parts(in, err) < 0)
        return -1;
    if ((in->flags & BUNDLE_INPUT_ALL_PARTS) && ap_part_reader_check_all(in->parts, err) < 0)
        return -1;
    in->source_ctx = in->parts;
    in->read_failed = false;
    return 1;
}

int bundle_input_damage(bundle_input *in, char *out, size_t n, ap_error *err)
{
    out[0] = '\0';
    if (!in->have_damage)
        return 0;
    if (!in->hashed_all) {
        /* the data parts read were checked on the way; the parity parts are hashed now */
        ap_parts_damage d;
        if (ap_parts_scan(in->base, &in->sidecar, AP_SCAN_HASH_PARITY, &d, in->cancel, err) < 0)
            return -1;
        for (size_t i = 0; i < d.k + d.n; i++)
            if (i >= d.k || ap_part_bad(in->damage.st[i].state))
                in->damage.st[i] = d.st[i];
        ap_parts_damage_free(&d);
    }
    size_t bad = ap_parts_damage_bad(&in->damage, NULL, NULL);
    if (bad)
        ap_parts_damage_describe(in->base, &in->sidecar, &in->damage, out, n);
    return (int)bad;
}

void bundle_input_close(bundle_input *in)
{
    if (in->fd >= 0 && !in->from_stdin)
        close(in->fd);
    in->fd = -1;
    ap_part_reader_free(in->parts);
    in->parts = NULL;
    if (in->have_sidecar)
        ap_parts_free(&in->sidecar);
    in->have_sidecar = false;
    if (in->have_damage)
        ap_parts_damage_free(&in->damage);
    in->have_damage = false;
}

void bundle_input_explain(bundle_input *in, const ap_verify_report *rep, ap_error *err)
{
    if (!in->split || !in->parts || !err)
        return;
    if (err->code == AP_ERR_TARGET || err->code == AP_ERR_USAGE)
        return;
    ap_part_reader_explain(in->parts, rep && rep->fail_entry[0] ? rep->fail_entry : NULL,
                           rep ? rep->fail_offset : 0, rep && rep->fail_located, err);
    if (!in->have_damage || err->code == AP_ERR_INTERRUPTED || err->code == AP_ERR_NOMEM)
        return;
    /* which parts are bad, hashing every one, and whether the parity parts rebuild them */
    ap_parts_damage d;
    ap_error scan_err;
    if (ap_parts_scan(in->base, &in->sidecar, AP_SCAN_HASH_ALL, &d, in->cancel, &scan_err) < 0)
        return;
    size_t healed_before = 0, bad_data = 0;
    bool more = false;
    for (size_t i = 0; i < d.k; i++) {
        bool was = ap_part_bad(in->damage.st[i].state), is = ap_part_bad(d.st[i].state);
        healed_before += was;
        bad_data += is;
        more |= is && !was;
    }
    ap_parts_damage_free(&in->damage);
    in->damage = d;
    in->hashed_all = true;
    char desc[sizeof err->msg];
    ap_parts_damage_describe(in->base, &in->sidecar, &in->damage, desc, sizeof desc);
    in->retry = more && ap_parts_damage_repairable(&in->damage);
    if (in->retry)
        return;     /* read again, rebuilding them; the caller says so only if that fails too */
    if (ap_parts_damage_bad(&in->damage, NULL, NULL) == 0)
        return;     /* every part is as signed: the fault is in the bundle itself, as err says */
    char original[sizeof err->msg];
    snprintf(original, sizeof original, "%s", err->msg);
    ap_fail(err, AP_ERR_VERIFY, "%s (%.900s)", desc, original);
    (void)healed_before;
    (void)bad_data;
}
