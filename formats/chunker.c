/* chunker.c: gear-hash content-defined chunking with tar-entry cuts (see chunker.h). */
#include "chunker.h"
#include "tar_header.h"

#include <stdlib.h>
#include <string.h>

#define SLICE (64u << 10)     /* input is taken in slices, so the cut queue stays small */
#define CUTQ 512              /* >= 2 cuts per 1024 bytes of a slice, with room to spare */

static uint64_t gear[256];
static bool gear_ready;

static void gear_init(void)
{
    if (gear_ready)
        return;
    uint64_t x = 0x61697270616b2121ULL;     /* fixed: cuts must be the same on every machine */
    for (int i = 0; i < 256; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        gear[i] = z ^ (z >> 31);
    }
    gear_ready = true;
}

struct ap_chunker {
    size_t min, avg, max;
    uint64_t mask_s, mask_l;      /* before avg: harder to cut; after: easier (FastCDC normalization) */
    bool tar_aware;
    ap_chunk_fn fn;
    void *ctx;
    unsigned char *buf;
    size_t len, scan;
    uint64_t h;
    uint64_t start;               /* stream offset of buf[0] */
    uint64_t in_pos;              /* stream bytes taken so far */
    /* tar tracking */
    bool tar;
    bool prev_meta;               /* the last header was a pax / GNU long-name header */
    uint64_t next_hdr;
    unsigned char hdr[AP_TAR_BLOCK];
    size_t hdr_have;
    uint64_t cuts[CUTQ];          /* forced cuts, ascending, stream offsets */
    uint64_t cut_keys[CUTQ];      /* the file key of the bytes from each cut on (0: tar headers) */
    size_t cut_head, cut_n;
    uint64_t key;                 /* of the chunk being cut */
};

ap_chunker *ap_chunker_new(size_t avg, bool tar_aware, ap_chunk_fn fn, void *ctx, ap_error *err)
{
    unsigned bits = 0;
    while (((size_t)1 << bits) < avg)
        bits++;
    if (((size_t)1 << bits) != avg || bits < 10 || bits > 20) {
        ap_fail(err, AP_ERR_USAGE, "chunk size %zu: must be a power of two from 1 KiB to 1 MiB", avg);
        return NULL;
    }
    gear_init();
    ap_chunker *c = calloc(1, sizeof *c);
    if (c)
        c->buf = malloc(avg * 4);
    if (!c || !c->buf) {
        free(c);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->avg = avg;
    c->min = avg / 4;
    c->max = avg * 4;
    c->mask_s = ~0ULL << (64 - (bits + 2));
    c->mask_l = ~0ULL << (64 - (bits - 2));
    c->tar_aware = c->tar = tar_aware;
    c->fn = fn;
    c->ctx = ctx;
    return c;
}

void ap_chunker_free(ap_chunker *c)
{
    if (!c)
        return;
    free(c->buf);
    free(c);
}

static void push_cut(ap_chunker *c, uint64_t at, uint64_t key)
{
    if (c->cut_n == CUTQ)
        return;     /* cannot happen with SLICE input; losing a cut only costs dedup */
    if (c->cut_n && c->cuts[(c->cut_head + c->cut_n - 1) % CUTQ] >= at)
        return;
    c->cuts[(c->cut_head + c->cut_n) % CUTQ] = at;
    c->cut_keys[(c->cut_head + c->cut_n) % CUTQ] = key;
    c->cut_n++;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

/* A key that puts like files together: extension, then base name, then path. */
static uint64_t file_key(const unsigned char *block)
{
    const struct ap_tar_header *h = (const void *)block;
    char path[AP_TAR_LEN(prefix) + 1 + AP_TAR_LEN(name)];
    size_t n = 0;
    if (h->prefix[0]) {
        for (size_t i = 0; i < sizeof h->prefix && h->prefix[i]; i++)
            path[n++] = (char)h->prefix[i];
        path[n++] = '/';
    }
    for (size_t i = 0; i < sizeof h->name && h->name[i]; i++)
        path[n++] = (char)h->name[i];
    size_t base = n;
    while (base > 0 && path[base - 1] != '/')
        base--;
    size_t dot = n;
    while (dot > base && path[dot - 1] != '.')
        dot--;
    uint64_t ext = dot > base ? fnv(path + dot, n - dot) : 0;
    uint64_t key = (ext & 0xffff) << 48 | (fnv(path + base, n - base) & 0xffffff) << 24 | (fnv(path, n) & 0xffffff);
    return key ? key : 1;
}

uint64_t ap_chunker_key(const ap_chunker *c)
{
    return c->key;
}

static uint64_t octal_field(const unsigned char *p, size_t n, bool *ok)
{
    if (p[0] & 0x80) {  /* base-256 */
        uint64_t v = 0;
        for (size_t i = 1; i < n; i++) {
            if (v >> 56)
                *ok = false;
            v = (v << 8) | p[i];
        }
        if (p[0] & 0x40)
            *ok = false;
        return v;
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
        if (v >> 60)
            *ok = false;
        v = v * 8 + (uint64_t)(p[i] - '0');
    }
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != 0)
            *ok = false;
    return v;
}

static void parse_header(ap_chunker *c)
{
    const unsigned char *block = c->hdr;
    const struct ap_tar_header *h = (const void *)block;
    uint64_t H = c->next_hdr;
    bool zero = true;
    for (size_t i = 0; i < AP_TAR_BLOCK && zero; i++)
        zero = block[i] == 0;
    bool ok = !zero;
    uint64_t sum = 0;
    for (size_t i = 0; i < AP_TAR_BLOCK; i++) {
        bool in_chksum = i >= AP_TAR_OFF(chksum) && i < AP_TAR_OFF(chksum) + AP_TAR_LEN(chksum);
        sum += in_chksum ? ' ' : block[i];
    }
    uint64_t want = ok ? octal_field(h->chksum, sizeof h->chksum, &ok) : 0;
    uint64_t size = ok ? octal_field(h->size, sizeof h->size, &ok) : 0;
    if (!ok || sum != want || size > (1ULL << 50)) {
        c->tar = false;   /* end of archive, or not a tar: plain content-defined cuts from here */
        return;
    }
    char type = (char)h->typeflag[0];
    bool meta = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    if (!c->prev_meta)
        push_cut(c, H, 0);
    if ((type == '0' || type == 0 || type == '7') && size > 0)
        push_cut(c, H + AP_TAR_BLOCK, file_key(block));
    c->prev_meta = meta;
    c->next_hdr = H + AP_TAR_BLOCK + ((size + AP_TAR_BLOCK - 1) & ~(uint64_t)(AP_TAR_BLOCK - 1));
    c->hdr_have = 0;
}

/* Follows the tar structure over input bytes [in_pos, in_pos + n). */
static void track_tar(ap_chunker *c, const unsigned char *p, size_t n)
{
    uint64_t pos = c->in_pos, end = c->in_pos + n;
    while (c->tar) {
        uint64_t want = c->next_hdr + c->hdr_have;
        if (want >= end)
            return;
        if (want < pos) {   /* cannot happen: headers are tracked in order */
            c->tar = false;
            return;
        }
        size_t take = AP_TAR_BLOCK - c->hdr_have;
        if (take > end - want)
            take = (size_t)(end - want);
        memcpy(c->hdr + c->hdr_have, p + (want - pos), take);
        c->hdr_have += take;
        if (c->hdr_have == AP_TAR_BLOCK)
            parse_header(c);
    }
}

static int emit(ap_chunker *c, size_t cut, ap_error *err)
{
    int rc = c->fn(c->ctx, c->buf, cut, err);
    memmove(c->buf, c->buf + cut, c->len - cut);
    c->len -= cut;
    c->start += cut;
    c->scan = 0;
    c->h = 0;
    return rc;
}

/* Cuts as many chunks as the buffer allows; with `final`, also the rest. */
static int cut_chunks(ap_chunker *c, bool final, ap_error *err)
{
    for (;;) {
        while (c->cut_n && c->cuts[c->cut_head] <= c->start) {
            c->key = c->cut_keys[c->cut_head];
            c->cut_head = (c->cut_head + 1) % CUTQ;
            c->cut_n--;
        }
        if (c->len == 0)
            return 0;
        size_t forced = c->cut_n ? (size_t)(c->cuts[c->cut_head] - c->start) : (size_t)-1;
        size_t limit = c->len;
        if (limit > c->max)
            limit = c->max;
        if (limit > forced)
            limit = forced;
        size_t i = c->scan > c->min ? c->scan : c->min;
        size_t cut = 0;
        uint64_t h = c->h;
        size_t mid = c->avg < limit ? c->avg : limit;
        for (; i < mid; i++) {
            h = (h << 1) + gear[c->buf[i]];
            if (!(h & c->mask_s)) {
                cut = i + 1;
                break;
            }
        }
        if (!cut)
            for (; i < limit; i++) {
                h = (h << 1) + gear[c->buf[i]];
                if (!(h & c->mask_l)) {
                    cut = i + 1;
                    break;
                }
            }
        c->h = h;
        if (!cut) {
            if (forced <= c->len)
                cut = forced;
            else if (c->len >= c->max)
                cut = c->max;
            else if (final)
                cut = c->len;
            else {
                c->scan = i > c->scan ? i : c->scan;
                return 0;
            }
        }
        if (emit(c, cut, err) < 0)
            return -1;
    }
}

int ap_chunker_write(ap_chunker *c, const void *buf, size_t n, ap_error *err)
{
    const unsigned char *p = buf;
    while (n > 0) {
        size_t take = c->max - c->len;
        if (take > SLICE)
            take = SLICE;
        if (take > n)
            take = n;
        if (c->tar)
            track_tar(c, p, take);
        memcpy(c->buf + c->len, p, take);
        c->len += take;
        c->in_pos += take;
        p += take;
        n -= take;
        if (cut_chunks(c, false, err) < 0)
            return -1;
    }
    return 0;
}

int ap_chunker_finish(ap_chunker *c, ap_error *err)
{
    int rc = cut_chunks(c, true, err);
    c->len = c->scan = 0;
    c->h = 0;
    c->start = c->in_pos = 0;
    c->tar = c->tar_aware;
    c->prev_meta = false;
    c->next_hdr = 0;
    c->hdr_have = 0;
    c->cut_head = c->cut_n = 0;
    c->key = 0;
    return rc;
}
