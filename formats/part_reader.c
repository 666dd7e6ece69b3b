/* part_reader.c: see part_reader.h. */
#include "part_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "parity.h"
#include "stream.h"

enum fail_kind { FAIL_NONE, FAIL_STRUCTURE, FAIL_DAMAGED };

struct ap_part_reader {
    char *base;
    bool have_manifest;
    ap_parts_manifest m;        /* parts copied; without a sidecar, the sizes found on disk */
    size_t cur;                 /* part being read */
    int fd;
    uint64_t cur_read;          /* bytes of the current part read */
    uint64_t cur_start;         /* bundle offset of the current part */
    ap_sha256 *hash;
    bool at_end;
    enum fail_kind failed;
    size_t fail_part;
    char fail_msg[1024];
    volatile sig_atomic_t *cancel;
    /* healing (a sidecar with parity parts): bad data parts rebuilt a stripe at a time */
    bool *heal;                 /* n_parts */
    size_t n_healed;
    size_t *src;                /* the n_parts parts (data, then parity) rebuilt from */
    int *src_fd;
    unsigned char **sbuf;       /* a stripe of each source */
    unsigned char *out;         /* a stripe of the part being rebuilt */
    size_t stripe;
    uint64_t out_off;
    size_t out_len;
    bool out_valid;
    ap_rs *dec;                 /* for the current part, when healed */
};

static bool healed(const ap_part_reader *r, size_t i)
{
    return r->heal && i < r->m.n_parts && r->heal[i];
}

static void name_of(const ap_part_reader *r, size_t i, char *out, size_t n)
{
    if (ap_part_name(out, n, r->base, i) < 0)
        snprintf(out, n, "%s.(part %zu)", r->base, i);
}

/* Data parts, then parity parts. */
static void ap_parts_any_name_of(const ap_part_reader *r, size_t i, char *out, size_t n)
{
    if (i < r->m.n_parts)
        name_of(r, i, out, n);
    else if (ap_parity_name(out, n, r->base, i - r->m.n_parts) < 0)
        snprintf(out, n, "%s.(parity part %zu)", r->base, i - r->m.n_parts);
}

static const char *sidecar_label(const ap_part_reader *r, char *out, size_t n)
{
    snprintf(out, n, "%s%s", r->base, AP_PARTS_SUFFIX);
    return out;
}

/* Records a failure of part i (and sets err). */
static int part_fail(ap_part_reader *r, size_t i, enum fail_kind kind, ap_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int part_fail(ap_part_reader *r, size_t i, enum fail_kind kind, ap_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fail_msg, sizeof r->fail_msg, fmt, ap);
    va_end(ap);
    r->failed = kind;
    r->fail_part = i;
    if (kind == FAIL_DAMAGED) {
        char name[4200];
        name_of(r, i, name, sizeof name);
        return ap_fail(err, AP_ERR_VERIFY, "%s (copy %.300s again)", r->fail_msg, name);
    }
    return ap_fail(err, AP_ERR_VERIFY, "%s", r->fail_msg);
}

ap_part_reader *ap_part_reader_open(const char *base, const ap_parts_manifest *manifest, ap_error *err)
{
    ap_part_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->base = strdup(base)) || !(r->hash = ap_sha256_new())) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        ap_part_reader_free(r);
        return NULL;
    }
    r->fd = -1;
    char name[4200];
    if (manifest) {
        r->have_manifest = true;
        if (ap_parts_copy(&r->m, manifest, err) < 0) {
            ap_part_reader_free(r);
            return NULL;
        }
    } else {
        /* the parts on disk now, for the progress total and for locating offsets */
        r->m.parts = calloc(AP_PARTS_MAX, sizeof *r->m.parts);
        if (!r->m.parts) {
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
            ap_part_reader_free(r);
            return NULL;
        }
        for (size_t i = 0; i < AP_PARTS_MAX; i++) {
            struct stat st;
            name_of(r, i, name, sizeof name);
            if (stat(name, &st) < 0 || !S_ISREG(st.st_mode))
                break;
            const char *slash = strrchr(name, '/');
            const char *bn = slash ? slash + 1 : name;
            size_t bl = strlen(bn);
            if (bl >= sizeof r->m.parts[i].name)
                bl = sizeof r->m.parts[i].name - 1;
            memcpy(r->m.parts[i].name, bn, bl);
            r->m.parts[i].name[bl] = '\0';
            r->m.parts[i].size = (uint64_t)st.st_size;
            r->m.size += (uint64_t)st.st_size;
            r->m.n_parts = i + 1;
        }
    }
    name_of(r, 0, name, sizeof name);
    r->fd = open(name, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 && r->have_manifest && errno == ENOENT)
        return r;   /* missing: named by check_all or the first read (exit 1), or rebuilt (heal) */
    if (r->fd < 0) {
        ap_fail_errno(err, AP_ERR_IO, "cannot open %s", name);
        ap_part_reader_free(r);
        return NULL;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return r;
}

void ap_part_reader_free(ap_part_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    ap_sha256_free(r->hash);
    for (size_t j = 0; r->src_fd && j < r->m.n_parts; j++)
        if (r->src_fd[j] >= 0)
            close(r->src_fd[j]);
    for (size_t j = 0; r->sbuf && j < r->m.n_parts; j++)
        free(r->sbuf[j]);
    free(r->sbuf);
    free(r->src_fd);
    free(r->src);
    free(r->heal);
    free(r->out);
    ap_rs_free(r->dec);
    ap_parts_free(&r->m);
    free(r->base);
    free(r);
}

void ap_part_reader_set_cancel(ap_part_reader *r, volatile sig_atomic_t *cancel)
{
    r->cancel = cancel;
}

uint64_t ap_part_reader_total(const ap_part_reader *r)
{
    return r->m.size;
}

size_t ap_part_reader_count(const ap_part_reader *r)
{
    return r->m.n_parts;
}

int ap_part_reader_check_all(ap_part_reader *r, ap_error *err)
{
    if (!r->have_manifest)
        return 0;
    char name[4200], sc[4200];
    sidecar_label(r, sc, sizeof sc);
    for (size_t i = 0; i <= r->m.n_parts && i < AP_PARTS_MAX; i++) {
        struct stat st;
        name_of(r, i, name, sizeof name);
        int s = stat(name, &st);
        if (i == r->m.n_parts) {
            if (s == 0)
                return part_fail(r, i, FAIL_STRUCTURE, err,
                                 "%s: not listed in %s, which lists %zu parts (a part of another pack? remove it)",
                                 name, sc, r->m.n_parts);
            break;
        }
        if (healed(r, i))
            continue;
        if (s < 0)
            return part_fail(r, i, FAIL_STRUCTURE, err, "%s: missing (%s lists %zu parts; copy it again)", name, sc,
                             r->m.n_parts);
        if (!S_ISREG(st.st_mode))
            return part_fail(r, i, FAIL_STRUCTURE, err, "%s: not a regular file", name);
        if ((uint64_t)st.st_size != r->m.parts[i].size)
            return part_fail(r, i, FAIL_STRUCTURE, err,
                             "%s: %llu bytes, but %s lists %llu (%s; copy it again)", name,
                             (unsigned long long)st.st_size, sc, (unsigned long long)r->m.parts[i].size,
                             (uint64_t)st.st_size < r->m.parts[i].size ? "truncated"
                                                                       : "too long, or another part under its name");
    }
    return 0;
}

/* The current part's last byte has been read: check its length and sha256. */
static int finish_part(ap_part_reader *r, ap_error *err)
{
    char name[4200], sc[4200], hex[AP_HEX_LEN + 1];
    name_of(r, r->cur, name, sizeof name);
    sidecar_label(r, sc, sizeof sc);
    const ap_part_info *pi = &r->m.parts[r->cur];
    unsigned char extra;
    ssize_t got = 0;
    if (healed(r, r->cur)) {
        ap_sha256_final_hex(r->hash, hex);
        if (strcmp(hex, pi->sha256))
            return part_fail(r, r->cur, FAIL_DAMAGED, err,
                             "%s: rebuilt from the parity parts, its sha256 is %.16s..., %s lists %.16s...: a part it "
                             "was rebuilt from is damaged too",
                             name, hex, sc, pi->sha256);
        return 0;
    }
    while (r->fd >= 0 && (got = read(r->fd, &extra, 1)) < 0 && errno == EINTR)
        ;
    if (got < 0)
        return ap_fail_errno(err, AP_ERR_IO, "reading %s", name);
    if (got > 0)
        return part_fail(r, r->cur, FAIL_STRUCTURE, err, "%s: longer than the %llu bytes %s lists (copy it again)",
                         name, (unsigned long long)pi->size, sc);
    ap_sha256_final_hex(r->hash, hex);
    if (strcmp(hex, pi->sha256)) {
        for (size_t j = 0; j < r->m.n_parts; j++)
            if (j != r->cur && !strcmp(hex, r->m.parts[j].sha256)) {
                char other[4200];
                name_of(r, j, other, sizeof other);
                return part_fail(r, r->cur, FAIL_STRUCTURE, err,
                                 "%s: holds the bytes %s lists for %s (parts swapped or misnamed; copy %s again)",
                                 name, sc, other, name);
            }
        return part_fail(r, r->cur, FAIL_DAMAGED, err, "%s: damaged: its sha256 is %.16s..., %s lists %.16s...",
                         name, hex, sc, pi->sha256);
    }
    return 0;
}

/* Starts rebuilding the current part: a decoder from the sources to it. */
static int heal_begin(ap_part_reader *r, ap_error *err)
{
    ap_rs_free(r->dec);
    r->out_valid = false;
    r->dec = ap_rs_decoder(r->m.n_parts, r->m.n_parity, r->src, &r->cur, 1, err);
    return r->dec ? 0 : -1;
}

/* Bytes of the current (healed) part from cur_read on: the stripe holding them is
 * rebuilt from the same stripe of the sources. */
static ssize_t heal_read(ap_part_reader *r, void *buf, size_t want, ap_error *err)
{
    uint64_t off = r->cur_read;
    uint64_t s_off = off - off % r->stripe;
    if (!r->out_valid || r->out_off != s_off) {
        size_t len = r->m.part_size - s_off < r->stripe ? (size_t)(r->m.part_size - s_off) : r->stripe;
        for (size_t j = 0; j < r->m.n_parts; j++) {
            const ap_part_info *pi = ap_parts_any(&r->m, r->src[j]);
            char name[4200];
            ap_parts_any_name_of(r, r->src[j], name, sizeof name);
            if (r->src_fd[j] < 0) {
                r->src_fd[j] = open(name, O_RDONLY | O_CLOEXEC);
                if (r->src_fd[j] < 0)
                    return ap_fail_errno(err, AP_ERR_IO, "cannot open %s (to rebuild a bad part from it)", name);
            }
            size_t n = s_off >= pi->size ? 0 : pi->size - s_off < len ? (size_t)(pi->size - s_off) : len;
            if (n && ap_pread_all(r->src_fd[j], r->sbuf[j], n, s_off, name, err) < 0)
                return part_fail(r, r->cur, FAIL_DAMAGED, err, "%s (needed to rebuild a bad part)", err->msg);
            memset(r->sbuf[j] + n, 0, len - n);
        }
        ap_rs_run(r->dec, len, r->sbuf, &r->out);
        r->out_off = s_off;
        r->out_len = len;
        r->out_valid = true;
    }
    size_t avail = (size_t)(r->out_off + r->out_len - off);
    uint64_t left = r->m.parts[r->cur].size - off;
    if (want > avail)
        want = avail;
    if (want > left)
        want = (size_t)left;
    memcpy(buf, r->out + (off - r->out_off), want);
    return (ssize_t)want;
}

static int next_part(ap_part_reader *r, ap_error *err)
{
    close(r->fd);
    r->fd = -1;
    r->cur_start += r->cur_read;
    r->cur_read = 0;
    r->cur++;
    char name[4200], sc[4200];
    name_of(r, r->cur, name, sizeof name);
    if (r->have_manifest && r->cur >= r->m.n_parts) {
        r->at_end = true;
        return 0;
    }
    if (r->cur >= AP_PARTS_MAX) {
        r->at_end = true;
        return 0;
    }
    if (healed(r, r->cur))
        return heal_begin(r, err);
    r->fd = open(name, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        if (errno == ENOENT && !r->have_manifest) {
            r->at_end = true;
            return 0;
        }
        if (errno == ENOENT)
            return part_fail(r, r->cur, FAIL_STRUCTURE, err, "%s: missing (%s lists %zu parts; copy it again)", name,
                             sidecar_label(r, sc, sizeof sc), r->m.n_parts);
        return ap_fail_errno(err, AP_ERR_IO, "cannot open %s", name);
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return 0;
}

ssize_t ap_part_read(void *ctx, void *buf, size_t n, ap_error *err)
{
    ap_part_reader *r = ctx;
    char name[4200], sc[4200];
    if (r->failed)
        return ap_fail(err, AP_ERR_VERIFY, "%s", r->fail_msg);
    for (;;) {
        if (r->cancel && *r->cancel)
            return ap_fail(err, AP_ERR_INTERRUPTED, "interrupted");
        if (r->at_end || n == 0)
            return 0;
        size_t want = n;
        if (r->have_manifest) {
            uint64_t left = r->m.parts[r->cur].size - r->cur_read;
            if (left == 0) {
                if (finish_part(r, err) < 0 || next_part(r, err) < 0)
                    return -1;
                continue;
            }
            if (want > left)
                want = (size_t)left;
        }
        if (healed(r, r->cur)) {
            ssize_t made = heal_read(r, buf, want, err);
            if (made < 0)
                return -1;
            ap_sha256_update(r->hash, buf, (size_t)made);
            r->cur_read += (uint64_t)made;
            return made;
        }
        if (r->fd < 0) {
            name_of(r, r->cur, name, sizeof name);
            return part_fail(r, r->cur, FAIL_STRUCTURE, err, "%s: missing (%s lists %zu parts; copy it again)", name,
                             sidecar_label(r, sc, sizeof sc), r->m.n_parts);
        }
        ssize_t got = read(r->fd, buf, want);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            name_of(r, r->cur, name, sizeof name);
            return ap_fail_errno(err, AP_ERR_IO, "reading %s", name);
        }
        if (got == 0) {
            if (r->have_manifest) {
                name_of(r, r->cur, name, sizeof name);
                return part_fail(r, r->cur, FAIL_STRUCTURE, err,
                                 "%s: truncated: it ends after %llu bytes, %s lists %llu (copy it again)", name,
                                 (unsigned long long)r->cur_read, sidecar_label(r, sc, sizeof sc),
                                 (unsigned long long)r->m.parts[r->cur].size);
            }
            if (next_part(r, err) < 0)
                return -1;
            continue;
        }
        if (r->have_manifest)
            ap_sha256_update(r->hash, buf, (size_t)got);
        r->cur_read += (uint64_t)got;
        return got;
    }
}

int ap_part_reader_locate(const ap_part_reader *r, uint64_t offset, char *name, size_t n, uint64_t *in_part)
{
    size_t i;
    if (ap_parts_locate(&r->m, offset, &i, in_part) < 0)
        return -1;
    name_of(r, i, name, n);
    return 0;
}

/* Reads the rest of the current part to learn whether it is damaged. */
static void settle_current(ap_part_reader *r)
{
    if (!r->have_manifest || r->failed || r->at_end || r->fd < 0 || healed(r, r->cur))
        return;
    unsigned char buf[1 << 16];
    ap_error ignored;
    for (;;) {
        uint64_t left = r->m.parts[r->cur].size - r->cur_read;
        if (left == 0) {
            finish_part(r, &ignored);
            return;
        }
        ssize_t got = read(r->fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return;   /* a short part: reported as such by whoever reads it next */
        ap_sha256_update(r->hash, buf, (size_t)got);
        r->cur_read += (uint64_t)got;
    }
}

void ap_part_reader_explain(ap_part_reader *r, const char *entry, uint64_t entry_offset, bool located, ap_error *err)
{
    if (!err || err->code == AP_OK || err->code == AP_ERR_INTERRUPTED || err->code == AP_ERR_NOMEM)
        return;
    settle_current(r);
    char where[4200] = "";
    uint64_t in_part = 0;
    bool have_where = located && ap_part_reader_locate(r, entry_offset, where, sizeof where, &in_part) == 0;
    char original[sizeof err->msg];
    snprintf(original, sizeof original, "%s", err->msg);
    if (r->failed == FAIL_STRUCTURE) {
        ap_fail(err, AP_ERR_VERIFY, "%s", r->fail_msg);
        return;
    }
    if (r->failed == FAIL_DAMAGED) {
        char bad[4200];
        name_of(r, r->fail_part, bad, sizeof bad);
        uint64_t bad_start = 0;
        for (size_t i = 0; i < r->fail_part && i < r->m.n_parts; i++)
            bad_start += r->m.parts[i].size;
        char clause[4600] = "";
        if (have_where && entry) {
            if (entry_offset >= bad_start)
                snprintf(clause, sizeof clause, "; the damage is in entry %.300s, which starts at byte %llu of %.300s",
                         entry, (unsigned long long)in_part, bad);
            else
                snprintf(clause, sizeof clause,
                         "; the damage is in entry %.300s, which covers %.300s from byte 0 (the entry starts at "
                         "byte %llu of %.300s)",
                         entry, bad, (unsigned long long)in_part, where);
        } else if (have_where) {
            snprintf(clause, sizeof clause, "; found at byte %llu of %.300s", (unsigned long long)in_part, where);
        }
        /* the reader's own failure is already in `original`; a verifier's finding adds detail */
        bool same = strstr(original, r->fail_msg) != NULL;
        ap_fail(err, AP_ERR_VERIFY, "%s%s; copy %.300s again%s%.900s%s", r->fail_msg, clause, bad,
                same ? "" : " (", same ? "" : original, same ? "" : ")");
        return;
    }
    if (have_where) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof err->msg - used, " (bundle offset %llu is byte %llu of %.300s)",
                 (unsigned long long)entry_offset, (unsigned long long)in_part, where);
    }
}

int ap_part_reader_heal(ap_part_reader *r, const bool *bad, ap_error *err)
{
    size_t k = r->m.n_parts, total = k + r->m.n_parity;
    if (!r->have_manifest || r->m.n_parity == 0)
        return ap_fail(err, AP_ERR_USAGE, "%s has no parity parts to rebuild from", r->base);
    if (r->cur != 0 || r->cur_read != 0)
        return ap_fail(err, AP_ERR_USAGE, "%s: healing must be set before reading", r->base);
    size_t n_bad_data = 0;
    for (size_t i = 0; i < k; i++)
        n_bad_data += bad[i];
    if (n_bad_data == 0)
        return 0;
    r->heal = calloc(k, sizeof *r->heal);
    r->src = calloc(k, sizeof *r->src);
    r->src_fd = calloc(k, sizeof *r->src_fd);
    r->sbuf = calloc(k, sizeof *r->sbuf);
    r->stripe = ap_rs_stripe(k, r->m.n_parity);
    r->out = aligned_alloc(64, r->stripe);
    if (!r->heal || !r->src || !r->src_fd || !r->sbuf || !r->out)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < k; j++)
        r->src_fd[j] = -1;
    size_t n_src = 0;
    for (size_t i = 0; i < total; i++) {
        if (i < k && bad[i]) {
            r->heal[i] = true;
            r->n_healed++;
        } else if (!bad[i] && n_src < k) {
            r->src[n_src++] = i;
        }
    }
    if (n_src < k)
        return ap_fail(err, AP_ERR_VERIFY, "%s: too many bad parts to rebuild from %zu parity parts", r->base,
                       r->m.n_parity);
    for (size_t j = 0; j < k; j++)
        if (!(r->sbuf[j] = aligned_alloc(64, r->stripe)))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (r->heal[0]) {
        if (r->fd >= 0)
            close(r->fd);
        r->fd = -1;
        return heal_begin(r, err);
    }
    return 0;
}

size_t ap_part_reader_healed(const ap_part_reader *r)
{
    return r->n_healed;
}
