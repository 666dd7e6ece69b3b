/* test_dense.c: the content-defined chunker (boundaries, sizes, resynchronisation,
 * tar-entry cuts) and the dense recipe parser (round trip and hostile input:
 * counts past the end, offsets out of range, overlapping and gapped chunks,
 * references past the chunk table, sizes that do not add up). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../formats/chunker.h"
#include "../../formats/dense_recipe.h"

/* ---- chunker ---------------------------------------------------------------- */

typedef struct {
    size_t n;
    size_t len[65536];
    unsigned char hash[65536][AP_DENSE_HASH_LEN];
    size_t total;
} cuts;

static int collect(void *ctx, const unsigned char *data, size_t n, ap_error *err)
{
    (void)err;
    cuts *c = ctx;
    if (c->n < 65536) {
        c->len[c->n] = n;
        ap_dense_chunk_hash(data, n, c->hash[c->n]);
    }
    c->n++;
    c->total += n;
    return 0;
}

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

static cuts *chunk_all(const unsigned char *p, size_t n, size_t piece, bool tar)
{
    cuts *c = calloc(1, sizeof *c);
    ap_error err;
    ap_chunker *ch = ap_chunker_new(8192, tar, collect, c, &err);
    assert_non_null(ch);
    for (size_t at = 0; at < n; at += piece)
        assert_int_equal(ap_chunker_write(ch, p + at, n - at < piece ? n - at : piece, &err), 0);
    assert_int_equal(ap_chunker_finish(ch, &err), 0);
    ap_chunker_free(ch);
    return c;
}

static void test_chunker_sizes_and_determinism(void **state)
{
    (void)state;
    size_t n = 4 << 20;
    unsigned char *p = malloc(n);
    fill_random(p, n, 1);
    cuts *a = chunk_all(p, n, n, false);
    cuts *b = chunk_all(p, n, 777, false);    /* any write sizes give the same cuts */
    assert_int_equal(a->total, n);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->len[i], b->len[i]);
        assert_true(a->len[i] <= 4 * 8192);
        if (i + 1 < a->n)
            assert_true(a->len[i] >= 2048);
    }
    /* the average is near what was asked */
    assert_true(n / a->n > 4096 && n / a->n < 16384);
    free(a);
    free(b);
    free(p);
}

static void test_chunker_resynchronises_after_insert(void **state)
{
    (void)state;
    size_t n = 2 << 20;
    unsigned char *p = malloc(n), *q = malloc(n + 100);
    fill_random(p, n, 2);
    memcpy(q, p, n / 2);
    memset(q + n / 2, 'x', 100);            /* 100 bytes inserted in the middle */
    memcpy(q + n / 2 + 100, p + n / 2, n / 2);
    cuts *a = chunk_all(p, n, 65536, false);
    cuts *b = chunk_all(q, n + 100, 65536, false);
    size_t same = 0;
    for (size_t i = 0; i < b->n; i++)
        for (size_t j = 0; j < a->n; j++)
            if (!memcmp(a->hash[j], b->hash[i], AP_DENSE_HASH_LEN)) {
                same++;
                break;
            }
    assert_true(same + 3 >= a->n);           /* all but the chunks around the insert recur */
    free(a);
    free(b);
    free(p);
    free(q);
}

static void tar_header(unsigned char *h, const char *name, size_t size, long mtime)
{
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011zo", size);
    snprintf((char *)h + 136, 12, "%011lo", mtime);
    h[156] = '0';
    memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

/* A tar of the same small files, with the given mtime. */
static unsigned char *make_tar(long mtime, size_t *len)
{
    size_t cap = 200 * (512 + 3072) + 1024, at = 0;
    unsigned char *t = calloc(1, cap);
    for (int f = 0; f < 200; f++) {
        char name[32];
        size_t size = 700 + (size_t)f * 11;
        snprintf(name, sizeof name, "file%03d", f);
        tar_header(t + at, name, size, mtime);
        at += 512;
        fill_random(t + at, size, 100 + (uint64_t)f);
        at += (size + 511) & ~(size_t)511;
    }
    *len = at + 1024;
    return t;
}

static size_t shared_bytes(const cuts *a, const cuts *b)
{
    size_t same = 0;
    for (size_t i = 0; i < b->n; i++)
        for (size_t j = 0; j < a->n; j++)
            if (a->len[j] == b->len[i] && !memcmp(a->hash[j], b->hash[i], AP_DENSE_HASH_LEN)) {
                same += b->len[i];
                break;
            }
    return same;
}

static void test_chunker_tar_cuts_find_files_under_new_headers(void **state)
{
    (void)state;
    size_t la, lb;
    unsigned char *ta = make_tar(1000, &la), *tb = make_tar(2000, &lb);
    assert_int_equal(la, lb);
    cuts *plain_a = chunk_all(ta, la, 4096, false), *plain_b = chunk_all(tb, lb, 4096, false);
    cuts *tar_a = chunk_all(ta, la, 4096, true), *tar_b = chunk_all(tb, lb, 4096, true);
    size_t data = 0;
    for (int f = 0; f < 200; f++)
        data += 700 + (size_t)f * 11;
    /* small files between changed headers: plain chunking finds almost nothing again,
     * tar-aware chunking finds every file's data */
    assert_true(shared_bytes(plain_a, plain_b) < data / 4);
    assert_true(shared_bytes(tar_a, tar_b) >= data);
    assert_int_equal(tar_a->total, la);
    free(plain_a);
    free(plain_b);
    free(tar_a);
    free(tar_b);
    free(ta);
    free(tb);
}

static void test_chunker_not_a_tar_and_bad_sizes(void **state)
{
    (void)state;
    ap_error err;
    assert_null(ap_chunker_new(3000, false, collect, NULL, &err));
    assert_null(ap_chunker_new(512, false, collect, NULL, &err));
    assert_null(ap_chunker_new(4 << 20, false, collect, NULL, &err));
    /* random bytes with tar cuts asked: no header parses, plain chunking, all bytes out */
    size_t n = 300000;
    unsigned char *p = malloc(n);
    fill_random(p, n, 9);
    cuts *c = chunk_all(p, n, 1000, true);
    assert_int_equal(c->total, n);
    free(c);
    /* an empty stream: no chunk */
    cuts *e = chunk_all(p, 0, 1, true);
    assert_int_equal(e->n, 0);
    free(e);
    free(p);
}

/* ---- recipe ------------------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Two segments (100 and 50 bytes), three chunks (60+40 | 50), two layers. */
static unsigned char *valid_recipe(size_t *len)
{
    ap_dense_chunk chunks[3] = {{0, 60, 0, {1}}, {0, 40, 60, {2}}, {1, 50, 0, {3}}};
    uint32_t r1[] = {0, 1, 0}, r2[] = {2, 1};
    ap_dense_layer layers[2] = {{{0xaa}, 160, r1, 3}, {{0xbb}, 90, r2, 2}};
    uint64_t sizes[2] = {100, 50};
    ap_dense_recipe r = {.window_log = 20, .n_segments = 2, .segment_size = sizes, .chunks = chunks,
                         .n_chunks = 3, .layers = layers, .n_layers = 2};
    unsigned char *out;
    ap_error err;
    assert_int_equal(ap_dense_recipe_write(&r, &out, len, &err), 0);
    return out;
}

#define OFF_SEGS 32
#define OFF_CHUNKS (OFF_SEGS + 16)
#define OFF_LAYERS (OFF_CHUNKS + 3 * 32)

static void expect_refused(const unsigned char *buf, size_t len, const char *pattern)
{
    ap_dense_recipe r;
    ap_error err;
    ap_error_clear(&err);
    assert_int_equal(ap_dense_recipe_parse(buf, len, &r, &err), -1);
    if (!strstr(err.msg, pattern))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, pattern);
    assert_int_equal(err.code, AP_ERR_FORMAT);
}

static void test_recipe_round_trip(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = valid_recipe(&len);
    ap_dense_recipe r;
    ap_error err;
    assert_int_equal(ap_dense_recipe_parse(buf, len, &r, &err), 0);
    assert_int_equal(r.n_segments, 2);
    assert_int_equal(r.segment_base[1], 100);
    assert_int_equal(r.n_chunks, 3);
    assert_int_equal(r.chunks[1].offset, 60);
    assert_int_equal(r.n_layers, 2);
    assert_int_equal(r.layers[0].size, 160);
    assert_int_equal(r.layers[1].refs[0], 2);
    assert_int_equal(ap_dense_recipe_unique_bytes(&r), 150);
    ap_dense_recipe_free(&r);
    free(buf);
}

static void test_recipe_hostile(void **state)
{
    (void)state;
    size_t len;
    unsigned char *good = valid_recipe(&len), *b = malloc(len + 64);
#define FRESH() memcpy(b, good, len)
    FRESH();
    b[0] = 'X';
    expect_refused(b, len, "not a dense recipe");
    expect_refused(b, 10, "not a dense recipe");
    FRESH();
    put32(b + 8, 40);                                   /* window out of range */
    expect_refused(b, len, "window_log");
    FRESH();
    put32(b + 12, 0xffffffffu);                         /* huge segment count */
    expect_refused(b, len, "segments");
    FRESH();
    put64(b + 16, 1ULL << 60);                          /* huge chunk count */
    expect_refused(b, len, "chunks: more than");
    FRESH();
    put64(b + 24, 1ULL << 60);                          /* huge layer count */
    expect_refused(b, len, "layers: more than");
    FRESH();
    put64(b + OFF_SEGS, 0);                             /* empty segment */
    expect_refused(b, len, "out of range");
    FRESH();
    put32(b + OFF_CHUNKS + 32, 7);                      /* chunk 1 in a segment that does not exist */
    expect_refused(b, len, "segment 7");
    FRESH();
    put64(b + OFF_CHUNKS + 32 + 8, 50);                 /* chunk 1 overlaps chunk 0 */
    expect_refused(b, len, "overlap");
    FRESH();
    put64(b + OFF_CHUNKS + 32 + 8, 70);                 /* a gap */
    expect_refused(b, len, "overlap or leave a gap");
    FRESH();
    put32(b + OFF_CHUNKS + 32 + 4, 41);                 /* chunk 1 ends past its segment */
    expect_refused(b, len, "past its segment");
    FRESH();
    put32(b + OFF_CHUNKS + 32 + 4, 0);                  /* empty chunk */
    expect_refused(b, len, "length 0");
    FRESH();
    put64(b + OFF_CHUNKS + 64 + 8, 1ULL << 62);         /* offset far out of range */
    expect_refused(b, len, "offset");
    FRESH();
    put32(b + OFF_CHUNKS + 32 + 4, 30);                 /* segment 0 not filled before segment 1 */
    put32(b + OFF_CHUNKS + 4, 60);
    expect_refused(b, len, "before it is filled");
    FRESH();
    put32(b + OFF_LAYERS + 48, 3);                      /* a reference past the chunk table */
    expect_refused(b, len, "chunk 3");
    FRESH();
    put64(b + OFF_LAYERS + 32, 161);                    /* sizes do not add up */
    expect_refused(b, len, "add up");
    FRESH();
    put64(b + OFF_LAYERS + 40, 1ULL << 61);             /* huge reference count */
    expect_refused(b, len, "more than the recipe has room");
    expect_refused(good, len - 1, "");                  /* truncated anywhere */
    expect_refused(good, OFF_LAYERS + 10, "room");
    expect_refused(good, OFF_LAYERS + 48 + 4, "room");
    FRESH();
    memset(b + len, 0, 4);                              /* trailing bytes */
    expect_refused(b, len + 4, "after the last layer");
    FRESH();
    memcpy(b + OFF_LAYERS + 48 + 12, b + OFF_LAYERS, 32);   /* the same diff_id twice */
    put64(b + OFF_LAYERS + 48 + 12 + 32, 90);
    expect_refused(b, len, "two recipes");
    free(b);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunker_sizes_and_determinism),
        cmocka_unit_test(test_chunker_resynchronises_after_insert),
        cmocka_unit_test(test_chunker_tar_cuts_find_files_under_new_headers),
        cmocka_unit_test(test_chunker_not_a_tar_and_bad_sizes),
        cmocka_unit_test(test_recipe_round_trip),
        cmocka_unit_test(test_recipe_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
