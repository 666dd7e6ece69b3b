/* tar_reader.c: strict, streaming POSIX tar reader (ustar, pax; GNU long names
 * only when not strict).
 *
 * Bytes come from an ap_read_fn through a 256 KiB buffer; large reads of entry
 * data bypass the buffer. Every length taken from a header is checked before
 * use. In strict mode paths are remembered as 128-bit hashes (16 bytes per
 * entry), so memory grows with the entry count only. */
#include "tar_reader.h"
#include "tar_header.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK AP_TAR_BLOCK
#define BUF_SIZE (256u * 1024)
#define PAX_MAX (1u << 20)                      /* largest pax header data accepted */
#define SIZE_LIMIT ((uint64_t)1 << 62)          /* sizes above this are nonsense */

typedef struct {
    uint64_t a, b;
} path_hash;

struct ap_tar_reader {
    ap_read_fn read;
    void *read_ctx;
    char name[512];
    unsigned flags;

    unsigned char *buf;
    size_t pos, len;        /* unread bytes are buf[pos..len) */
    bool eof;
    uint64_t offset;        /* logical bytes consumed */

    /* current entry */
    bool in_entry;
    uint64_t remain;        /* unread data bytes */
    uint64_t pad;           /* padding after the data */
    char path[AP_TAR_PATH_MAX];

    bool at_end;            /* end-of-archive marker seen */
    bool failed;

    /* strict mode: hashes of the paths seen, open addressing */
    path_hash *seen;
    size_t seen_count, seen_cap;

    char *pax;              /* pax header data buffer, grown as needed up to PAX_MAX */
    size_t pax_cap;
};

/* ---- messages ---- */

/* Copies untrusted text for a message: control bytes escaped, at most 300 bytes. */
static const char *shown(const char *s, char *out, size_t outsz)
{
    size_t o = 0, i = 0;
    for (; s[i] && o + 8 < outsz && i < 300; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (s[i] && o + 4 < outsz) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

#define ENTRY_FAIL(r, err, path, at, ...)                                                   \
    do {                                                                                    \
        char why_[512], shown_[1300];                                                       \
        snprintf(why_, sizeof why_, __VA_ARGS__);                                           \
        (r)->failed = true;                                                                 \
        if ((path)[0])                                                                      \
            return ap_fail((err), AP_ERR_FORMAT, "%s: entry %s at offset %llu: %s", (r)->name, \
                           shown((path), shown_, sizeof shown_), (unsigned long long)(at), why_); \
        return ap_fail((err), AP_ERR_FORMAT, "%s: entry at offset %llu: %s", (r)->name,     \
                       (unsigned long long)(at), why_);                                     \
    } while (0)

static int fail_plain(ap_tar_reader *r, ap_error *err, const char *fmt, unsigned long long at)
{
    r->failed = true;
    char msg[256];
    snprintf(msg, sizeof msg, fmt, at);
    return ap_fail(err, AP_ERR_FORMAT, "%s: %s", r->name, msg);
}

static int fail_truncated(ap_tar_reader *r, ap_error *err, const char *inside)
{
    r->failed = true;
    char s[1300];
    if (inside && inside[0])
        return ap_fail(err, AP_ERR_FORMAT, "%s: truncated at offset %llu (inside entry %s)",
                       r->name, (unsigned long long)r->offset, shown(inside, s, sizeof s));
    return ap_fail(err, AP_ERR_FORMAT, "%s: truncated at offset %llu (inside a header)", r->name,
                   (unsigned long long)r->offset);
}

/* ---- buffered input ---- */

ap_tar_reader *ap_tar_reader_new(ap_read_fn read, void *read_ctx, const char *name,
                                 unsigned flags, ap_error *err)
{
    ap_tar_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->buf = malloc(BUF_SIZE))) {
        free(r);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->read = read;
    r->read_ctx = read_ctx;
    r->flags = flags;
    snprintf(r->name, sizeof r->name, "%s", name ? name : "tar");
    return r;
}

void ap_tar_reader_free(ap_tar_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->seen);
    free(r->pax);
    free(r);
}

uint64_t ap_tar_offset(const ap_tar_reader *r)
{
    return r->offset;
}

/* Refills the empty buffer. Returns bytes now buffered (0 at end of stream) or -1. */
static ssize_t refill(ap_tar_reader *r, ap_error *err)
{
    r->pos = r->len = 0;
    if (r->eof)
        return 0;
    ssize_t got = r->read(r->read_ctx, r->buf, BUF_SIZE, err);
    if (got < 0) {
        r->failed = true;
        return -1;
    }
    if (got == 0)
        r->eof = true;
    r->len = (size_t)got;
    return got;
}

/* Reads up to n bytes into dst (or discards them when dst is NULL).
 * Returns the count, 0 at end of stream, -1 on error. */
static ssize_t pull(ap_tar_reader *r, void *dst, size_t n, ap_error *err)
{
    if (n == 0)
        return 0;
    if (r->pos == r->len) {
        if (dst && n >= BUF_SIZE / 2 && !r->eof) {
            /* Large read: straight into the caller's buffer. */
            ssize_t got = r->read(r->read_ctx, dst, n, err);
            if (got < 0) {
                r->failed = true;
                return -1;
            }
            if (got == 0)
                r->eof = true;
            r->offset += (uint64_t)got;
            return got;
        }
        ssize_t got = refill(r, err);
        if (got <= 0)
            return got;
    }
    size_t take = r->len - r->pos;
    if (take > n)
        take = n;
    if (dst)
        memcpy(dst, r->buf + r->pos, take);
    r->pos += take;
    r->offset += take;
    return (ssize_t)take;
}

/* Reads exactly n bytes unless the stream ends. Returns bytes read or -1. */
static ssize_t pull_full(ap_tar_reader *r, void *dst, size_t n, ap_error *err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pull(r, dst ? (char *)dst + done : NULL, n - done, err);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

/* Discards n bytes; fewer available is truncation inside `path`. */
static int skip(ap_tar_reader *r, uint64_t n, const char *path, ap_error *err)
{
    while (n > 0) {
        size_t want = n > (uint64_t)1 << 30 ? (size_t)1 << 30 : (size_t)n;
        ssize_t got = pull(r, NULL, want, err);
        if (got < 0)
            return -1;
        if (got == 0)
            return fail_truncated(r, err, path);
        n -= (uint64_t)got;
    }
    return 0;
}

/* ---- header fields ---- */

static bool all_zero(const unsigned char *p, size_t n)
{
    /* word at a time; n is a multiple of 8 in every use */
    uint64_t acc = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (size_t i = n & ~(size_t)7; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Parses a numeric field: octal (space/NUL padded) or GNU base-256.
 * Returns 0 and *out, or -1 if malformed, negative or overflowing. */
static int parse_number(const unsigned char *f, size_t width, uint64_t *out)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] == 0xff)
            return -1;                      /* negative */
        v = f[0] & 0x7f;
        for (size_t i = 1; i < width; i++) {
            if (v > (UINT64_MAX >> 8))
                return -1;
            v = (v << 8) | f[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < width && f[i] == ' ')
        i++;
    size_t digits = 0;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v > (UINT64_MAX >> 3))
            return -1;
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    for (; i < width; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return -1;
    (void)digits;
    *out = v;
    return 0;
}

static bool checksum_ok(const struct ap_tar_header *h)
{
    uint64_t want;
    if (parse_number(h->chksum, sizeof h->chksum, &want))
        return false;
    const unsigned char *block = (const unsigned char *)h;
    unsigned long usum = 0;
    long ssum = 0;
    for (size_t i = 0; i < BLOCK; i++) {
        bool in_chksum = i >= AP_TAR_OFF(chksum) && i < AP_TAR_OFF(chksum) + AP_TAR_LEN(chksum);
        unsigned char c = in_chksum ? ' ' : block[i];
        usum += c;
        ssum += (signed char)c;
    }
    return want == usum || (int64_t)want == ssum;
}

/* Copies a possibly unterminated header field into out. */
static void field_string(const unsigned char *f, size_t width, char *out)
{
    size_t n = strnlen((const char *)f, width);
    memcpy(out, f, n);
    out[n] = '\0';
}

/* ---- pax records ---- */

typedef struct {
    bool has_path, has_linkpath, has_size, has_mtime;
    char path[AP_TAR_PATH_MAX];
    char linkpath[AP_TAR_PATH_MAX];
    uint64_t size;
    int64_t mtime;
    bool sparse;
} pax_attrs;

static int parse_decimal(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Parses pax data; `why` gets the reason on failure. */
static int parse_pax(const char *data, size_t n, pax_attrs *pa, char *why, size_t whysz)
{
    size_t at = 0;
    while (at < n) {
        /* A block of trailing NULs is tolerated. */
        if (data[at] == '\0' && all_zero((const unsigned char *)data + at, n - at))
            break;
        size_t rest = n - at;
        const char *rec = data + at;
        size_t d = 0;
        while (d < rest && d < 8 && rec[d] >= '0' && rec[d] <= '9')
            d++;
        uint64_t len;
        if (d == 0 || d >= rest || rec[d] != ' ' || parse_decimal(rec, d, &len)) {
            snprintf(why, whysz, "has a malformed pax record at byte %zu", at);
            return -1;
        }
        if (len > rest || len < d + 4 || rec[len - 1] != '\n') {
            snprintf(why, whysz, "has a pax record at byte %zu whose length %llu is wrong", at,
                     (unsigned long long)len);
            return -1;
        }
        const char *kv = rec + d + 1;
        size_t kvlen = (size_t)len - d - 2;     /* without the '\n' */
        const char *eq = memchr(kv, '=', kvlen);
        if (!eq || eq == kv) {
            snprintf(why, whysz, "has a pax record at byte %zu without key=value", at);
            return -1;
        }
        size_t klen = (size_t)(eq - kv);
        const char *val = eq + 1;
        size_t vlen = kvlen - klen - 1;
#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(kv, k, klen) == 0)
        if (KEY_IS("path") || KEY_IS("linkpath")) {
            bool is_path = KEY_IS("path");
            if (vlen >= AP_TAR_PATH_MAX) {
                snprintf(why, whysz, "has a pax %s of %zu bytes (limit %d)", is_path ? "path" : "linkpath",
                         vlen, AP_TAR_PATH_MAX - 1);
                return -1;
            }
            if (memchr(val, '\0', vlen)) {
                snprintf(why, whysz, "has a pax %s containing a NUL byte", is_path ? "path" : "linkpath");
                return -1;
            }
            char *dst = is_path ? pa->path : pa->linkpath;
            memcpy(dst, val, vlen);
            dst[vlen] = '\0';
            if (is_path)
                pa->has_path = vlen > 0;
            else
                pa->has_linkpath = vlen > 0;
        } else if (KEY_IS("size")) {
            if (parse_decimal(val, vlen, &pa->size) || pa->size > SIZE_LIMIT) {
                snprintf(why, whysz, "has an invalid pax size \"%.*s\"", (int)(vlen > 40 ? 40 : vlen), val);
                return -1;
            }
            pa->has_size = true;
        } else if (KEY_IS("mtime")) {
            size_t i = 0;
            bool neg = vlen > 0 && val[0] == '-';
            if (neg)
                i = 1;
            size_t j = i;
            while (j < vlen && val[j] >= '0' && val[j] <= '9')
                j++;
            uint64_t v;
            if (parse_decimal(val + i, j - i, &v) || v > (uint64_t)INT64_MAX) {
                snprintf(why, whysz, "has an invalid pax mtime");
                return -1;
            }
            pa->mtime = neg ? -(int64_t)v : (int64_t)v;
            pa->has_mtime = true;
        } else if (klen >= 11 && memcmp(kv, "GNU.sparse.", 11) == 0) {
            pa->sparse = true;
        }
#undef KEY_IS
        at += (size_t)len;
    }
    return 0;
}

/* ---- path rules ---- */

static void hash_path(const char *p, path_hash *h)
{
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL;
    for (const unsigned char *s = (const unsigned char *)p; *s; s++) {
        a = (a ^ *s) * 0x100000001b3ULL;
        b = (b + *s) * 0xff51afd7ed558ccdULL;
        b ^= b >> 29;
    }
    b ^= b >> 33;
    b *= 0xc4ceb9fe1a85ec53ULL;
    b ^= b >> 33;
    h->a = a;
    h->b = b | 1;       /* b == 0 marks an empty slot */
}

/* Returns 1 if the path was already seen, 0 after adding it, -1 on out of memory. */
static int seen_add(ap_tar_reader *r, const char *path)
{
    if ((r->seen_count + 1) * 2 > r->seen_cap) {
        size_t cap = r->seen_cap ? r->seen_cap * 2 : 1024;
        path_hash *n = calloc(cap, sizeof *n);
        if (!n)
            return -1;
        for (size_t i = 0; i < r->seen_cap; i++) {
            if (!r->seen[i].b)
                continue;
            size_t j = (size_t)r->seen[i].a & (cap - 1);
            while (n[j].b)
                j = (j + 1) & (cap - 1);
            n[j] = r->seen[i];
        }
        free(r->seen);
        r->seen = n;
        r->seen_cap = cap;
    }
    path_hash h;
    hash_path(path, &h);
    size_t j = (size_t)h.a & (r->seen_cap - 1);
    while (r->seen[j].b) {
        if (r->seen[j].a == h.a && r->seen[j].b == h.b)
            return 1;
        j = (j + 1) & (r->seen_cap - 1);
    }
    r->seen[j] = h;
    r->seen_count++;
    return 0;
}

static const char *path_problem(const char *p)
{
    if (!p[0])
        return "has an empty path";
    if (p[0] == '/')
        return "has an absolute path";
    for (const char *c = p;;) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return "has a '..' component";
        if (n == 0 || (n == 1 && c[0] == '.'))
            return "has an empty or '.' component";
        if (!end)
            return NULL;
        c = end + 1;
    }
}

static const char *type_problem(char type)
{
    switch (type) {
    case '0': return NULL;
    case '1': return "is a hard link";
    case '2': return "is a symbolic link";
    case '3': case '4': return "is a device";
    case '5': return "is a directory";
    case '6': return "is a FIFO";
    case 'g': return "is a global pax header";
    case 'L': case 'K': return "uses a GNU long name extension";
    case 'S': return "is a GNU sparse file";
    default: return "has an unsupported entry type";
    }
}

static bool header_only_type(char t)
{
    return t == '1' || t == '2' || t == '3' || t == '4' || t == '5' || t == '6';
}

/* ---- entries ---- */

/* Finishes the current entry: discards unread data and padding. */
static int leave_entry(ap_tar_reader *r, ap_error *err)
{
    if (!r->in_entry)
        return 0;
    if (skip(r, r->remain + r->pad, r->path, err))
        return -1;
    r->remain = r->pad = 0;
    r->in_entry = false;
    return 0;
}

/* Reads an extension header's data (pax or GNU long name), with its padding.
 * Returns bytes of data or -1. */
static int read_ext_data(ap_tar_reader *r, uint64_t size, char *out, const char *label,
                         ap_error *err)
{
    ssize_t got = pull_full(r, out, (size_t)size, err);
    if (got < 0)
        return -1;
    if ((uint64_t)got < size)
        return fail_truncated(r, err, label);
    return skip(r, (BLOCK - size % BLOCK) % BLOCK, label, err);
}

/* What the extension headers (pax 'x', GNU 'L'/'K') in front of an entry said. */
typedef struct {
    pax_attrs pa;
    bool have_pax, have_long, have_longlink;
    uint64_t first_header;      /* offset of the first header of this entry */
} ext_state;

static bool ext_pending(const ext_state *x)
{
    return x->have_pax || x->have_long || x->have_longlink;
}

/* After one zero block at hoff: the end-of-archive marker (1), or -1. */
static int read_end_marker(ap_tar_reader *r, const ext_state *x, uint64_t hoff, ap_error *err)
{
    if (ext_pending(x))
        return fail_plain(r, err, "extension header at offset %llu is not followed by an entry",
                          (unsigned long long)x->first_header);
    unsigned char h[BLOCK];
    ssize_t got = pull_full(r, h, BLOCK, err);
    if (got < 0)
        return -1;
    if (got == BLOCK && all_zero(h, BLOCK)) {
        r->at_end = true;
        return 1;
    }
    /* One zero block and then the end: GNU tar accepts it, but a bundle
     * always ends with two, so in strict mode it is a truncated bundle. */
    if ((r->flags & AP_TAR_STRICT) && got < BLOCK && all_zero(h, (size_t)got))
        return fail_plain(r, err, "truncated at offset %llu: the end-of-archive marker is cut short",
                          (unsigned long long)(hoff + BLOCK + (uint64_t)got));
    if (got == 0 || (got < BLOCK && all_zero(h, (size_t)got))) {
        r->at_end = true;   /* short zero tail: finish() accepts it */
        return 1;
    }
    return fail_plain(r, err, "a single zero block at offset %llu is followed by more data",
                      (unsigned long long)hoff);
}

/* Reads the next header block into h: 1 a header whose checksum matches, 0 the end of
 * the archive, -1 an error. */
static int read_header_block(ap_tar_reader *r, const ext_state *x, struct ap_tar_header *h,
                             uint64_t hoff, ap_error *err)
{
    ssize_t got = pull_full(r, h, BLOCK, err);
    if (got < 0)
        return -1;
    if (got == 0) {
        if (ext_pending(x))
            return fail_truncated(r, err, NULL);
        return fail_plain(r, err, "truncated at offset %llu: no end-of-archive marker",
                          (unsigned long long)hoff);
    }
    if (got < BLOCK)
        return fail_truncated(r, err, NULL);
    if (all_zero((const unsigned char *)h, BLOCK))
        return read_end_marker(r, x, hoff, err) < 0 ? -1 : 0;
    if (!checksum_ok(h)) {
        if (hoff == 0)
            return fail_plain(r, err, "not a tar archive (bad header checksum at offset %llu)",
                              (unsigned long long)hoff);
        return fail_plain(r, err, "corrupt header at offset %llu (checksum mismatch)",
                          (unsigned long long)hoff);
    }
    return 1;
}

/* The header's own path into hname (prefix "/" name for ustar), its type and size. */
static int decode_header(ap_tar_reader *r, const struct ap_tar_header *h, uint64_t hoff,
                         char hname[AP_TAR_LEN(prefix) + 1 + AP_TAR_LEN(name) + 1], char *type,
                         uint64_t *size, ap_error *err)
{
    bool ustar = memcmp(h->magic, AP_TAR_MAGIC_USTAR, sizeof h->magic) == 0;   /* "ustar\0" */
    bool gnu = memcmp(h->magic, AP_TAR_MAGIC_GNU, sizeof h->magic + sizeof h->version) == 0;
    *type = h->typeflag[0] ? (char)h->typeflag[0] : '0';
    field_string(h->name, sizeof h->name, hname);
    if (ustar && h->prefix[0]) {
        char name[AP_TAR_LEN(name) + 1];
        memcpy(name, hname, sizeof name);
        size_t plen = strnlen((const char *)h->prefix, sizeof h->prefix);
        memcpy(hname, h->prefix, plen);
        hname[plen] = '/';
        memcpy(hname + plen + 1, name, strlen(name) + 1);
    }
    if ((r->flags & AP_TAR_STRICT) && !ustar && !gnu)
        ENTRY_FAIL(r, err, hname, hoff, "is not a ustar header (old v7 tar?)");
    if (parse_number(h->size, sizeof h->size, size) || *size > SIZE_LIMIT)
        ENTRY_FAIL(r, err, hname, hoff, "has a corrupt size field");
    return 0;
}

/* A pax 'x' header: its records into x->pa. */
static int read_pax_header(ap_tar_reader *r, ext_state *x, uint64_t size, const char *hname,
                           uint64_t hoff, ap_error *err)
{
    if (size > PAX_MAX)
        ENTRY_FAIL(r, err, hname, hoff, "has %llu bytes of pax header data (limit %u)",
                   (unsigned long long)size, PAX_MAX);
    if (size > r->pax_cap) {
        size_t cap = size < 4096 ? 4096 : (size_t)size;
        char *p = realloc(r->pax, cap);
        if (!p)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        r->pax = p;
        r->pax_cap = cap;
    }
    if (read_ext_data(r, size, r->pax, hname, err))
        return -1;
    if (!x->have_pax)
        memset(&x->pa, 0, sizeof x->pa);
    x->have_pax = true;
    char why[256];
    if (parse_pax(r->pax, (size_t)size, &x->pa, why, sizeof why))
        ENTRY_FAIL(r, err, hname, hoff, "%s", why);
    return 0;
}

/* A GNU 'L' (long path) or 'K' (long link name) header: the name into e. */
static int read_gnu_long_name(ap_tar_reader *r, ext_state *x, ap_tar_entry *e, char type,
                              uint64_t size, const char *hname, uint64_t hoff, ap_error *err)
{
    if (r->flags & AP_TAR_STRICT)
        ENTRY_FAIL(r, err, hname, hoff, "uses a GNU long name extension");
    if (size == 0 || size > AP_TAR_PATH_MAX)
        ENTRY_FAIL(r, err, hname, hoff, "has a GNU long name of %llu bytes (limit %d)",
                   (unsigned long long)size, AP_TAR_PATH_MAX);
    char *dst = type == 'L' ? e->path : e->linkname;
    if (read_ext_data(r, size, dst, hname, err))
        return -1;
    if (size == AP_TAR_PATH_MAX && dst[size - 1] != '\0')
        ENTRY_FAIL(r, err, hname, hoff, "has a GNU long name of %llu bytes (limit %d)",
                   (unsigned long long)size, AP_TAR_PATH_MAX - 1);
    dst[size < AP_TAR_PATH_MAX ? size : AP_TAR_PATH_MAX - 1] = '\0';
    if (type == 'L')
        x->have_long = true;
    else
        x->have_longlink = true;
    return 0;
}

/* An extension header ('x', 'X', 'g', 'L', 'K') is read and remembered: 1. Any other
 * type is an entry: 0. -1 on error. */
static int read_extension(ap_tar_reader *r, ext_state *x, ap_tar_entry *e, char type,
                          uint64_t size, const char *hname, uint64_t hoff, ap_error *err)
{
    if (type == 'x' || type == 'X')
        return read_pax_header(r, x, size, hname, hoff, err) < 0 ? -1 : 1;
    if (type == 'g') {
        if (r->flags & AP_TAR_STRICT)
            ENTRY_FAIL(r, err, hname, hoff, "is a global pax header");
        if (size > PAX_MAX)
            ENTRY_FAIL(r, err, hname, hoff, "has %llu bytes of pax header data (limit %u)",
                       (unsigned long long)size, PAX_MAX);
        return skip(r, size + (BLOCK - size % BLOCK) % BLOCK, hname, err) ? -1 : 1;
    }
    if (type == 'L' || type == 'K')
        return read_gnu_long_name(r, x, e, type, size, hname, hoff, err) < 0 ? -1 : 1;
    return 0;
}

/* The entry's path, link name, mode and mtime from its header and the extensions before it. */
static int fill_entry(ap_tar_reader *r, const ext_state *x, const struct ap_tar_header *h,
                      const char *hname, ap_tar_entry *e, ap_error *err)
{
    const pax_attrs *pa = x->have_pax ? &x->pa : NULL;
    if (pa && pa->has_path)
        memcpy(e->path, pa->path, sizeof e->path);
    else if (!x->have_long)
        memcpy(e->path, hname, strlen(hname) + 1);
    if (pa && pa->has_linkpath)
        memcpy(e->linkname, pa->linkpath, sizeof e->linkname);
    else if (!x->have_longlink)
        field_string(h->linkname, sizeof h->linkname, e->linkname);
    uint64_t mode = 0, mtime = 0;
    if (parse_number(h->mode, sizeof h->mode, &mode))
        ENTRY_FAIL(r, err, e->path, x->first_header, "has a corrupt mode field");
    e->mode = (uint32_t)(mode & 07777);
    if (h->mtime[0] == 0xff) {
        e->mtime = 0;   /* negative base-256 time: not worth decoding */
    } else if (parse_number(h->mtime, sizeof h->mtime, &mtime) || mtime > (uint64_t)INT64_MAX) {
        ENTRY_FAIL(r, err, e->path, x->first_header, "has a corrupt mtime field");
    } else {
        e->mtime = (int64_t)mtime;
    }
    if (pa && pa->has_mtime)
        e->mtime = pa->mtime;
    if (pa && pa->sparse)
        ENTRY_FAIL(r, err, e->path, x->first_header, "is a GNU sparse file");
    return 0;
}

/* Strict mode: a supported type, a safe path, seen once. */
static int check_strict_entry(ap_tar_reader *r, const ap_tar_entry *e, uint64_t at, ap_error *err)
{
    const char *why = type_problem(e->type);
    if (why && strcmp(why, "has an unsupported entry type") == 0)
        ENTRY_FAIL(r, err, e->path, at, "%s '%c'", why, isprint((unsigned char)e->type) ? e->type : '?');
    if (!why)
        why = path_problem(e->path);
    if (why)
        ENTRY_FAIL(r, err, e->path, at, "%s", why);
    int dup = seen_add(r, e->path);
    if (dup < 0)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (dup)
        ENTRY_FAIL(r, err, e->path, at, "appears twice");
    return 0;
}

int ap_tar_next(ap_tar_reader *r, ap_tar_entry *e, ap_error *err)
{
    if (r->failed)
        return ap_fail(err, AP_ERR_USAGE, "%s: reading on after an error", r->name);
    if (r->at_end)
        return 0;
    if (leave_entry(r, err))
        return -1;
    ext_state x = {.first_header = r->offset};
    memset(e, 0, sizeof *e);
    struct ap_tar_header h;
    char hname[AP_TAR_LEN(prefix) + 1 + AP_TAR_LEN(name) + 1];   /* name, or prefix/name */
    char type;
    uint64_t size;
    for (;;) {
        uint64_t hoff = r->offset;
        int got = read_header_block(r, &x, &h, hoff, err);
        if (got <= 0)
            return got;
        if (decode_header(r, &h, hoff, hname, &type, &size, err) < 0)
            return -1;
        int ext = read_extension(r, &x, e, type, size, hname, hoff, err);
        if (ext < 0)
            return -1;
        if (ext == 0)
            break;
    }
    e->type = type;
    e->header_offset = x.first_header;
    if (fill_entry(r, &x, &h, hname, e, err) < 0)
        return -1;
    if (x.have_pax && x.pa.has_size)
        size = x.pa.size;
    if (header_only_type(type))
        size = 0;
    e->size = size;
    e->data_offset = r->offset;
    if ((r->flags & AP_TAR_STRICT) && check_strict_entry(r, e, x.first_header, err) < 0)
        return -1;
    r->in_entry = true;
    r->remain = size;
    r->pad = (BLOCK - size % BLOCK) % BLOCK;
    memcpy(r->path, e->path, sizeof r->path);
    return 1;
}

ssize_t ap_tar_read(ap_tar_reader *r, void *buf, size_t n, ap_error *err)
{
    if (r->failed)
        return ap_fail(err, AP_ERR_USAGE, "%s: reading on after an error", r->name);
    if (!r->in_entry || r->remain == 0 || n == 0)
        return 0;
    if (n > r->remain)
        n = (size_t)r->remain;
    ssize_t got = pull(r, buf, n, err);
    if (got < 0)
        return -1;
    if (got == 0)
        return fail_truncated(r, err, r->path);
    r->remain -= (uint64_t)got;
    return got;
}

int ap_tar_finish(ap_tar_reader *r, ap_error *err)
{
    if (r->failed)
        return ap_fail(err, AP_ERR_USAGE, "%s: finishing after an error", r->name);
    if (!r->at_end)
        return ap_fail(err, AP_ERR_USAGE, "%s: finish before the end of the archive", r->name);
    for (;;) {
        if (r->pos == r->len) {
            ssize_t got = refill(r, err);
            if (got < 0)
                return -1;
            if (got == 0)
                return 0;
        }
        size_t n = r->len - r->pos;
        const unsigned char *p = r->buf + r->pos;
        if (!all_zero(p, n)) {
            size_t i = 0;
            while (p[i] == 0)
                i++;
            return fail_plain(r, err, "data after the end of the archive at offset %llu",
                              (unsigned long long)(r->offset + i));
        }
        r->pos = r->len;
        r->offset += n;
    }
}
