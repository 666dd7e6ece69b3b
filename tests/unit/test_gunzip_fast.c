/* test_gunzip_fast.c: the igzip-based gzip reader of faithful packs, against zlib's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "../../formats/gunzip_fast.h"

typedef struct {
    unsigned char *buf;
    size_t len, cap;
} sink_buf;

static int to_buf(void *ctx, const void *p, size_t n, ap_error *err)
{
    (void)err;
    sink_buf *b = ctx;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->buf = realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

/* data gzip-compressed by zlib as one member; *n its size */
static unsigned char *gz(const unsigned char *data, size_t len, size_t *n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* feeds in pieces of `step` bytes; returns the rc of the last call */
static int run(const unsigned char *in, size_t n, size_t step, sink_buf *out, ap_error *err)
{
    ap_gunzip_fast *g = ap_gunzip_fast_new(to_buf, out, err);
    assert_non_null(g);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += step)
        rc = ap_gunzip_fast_write(g, in + off, n - off < step ? n - off : step, err);
    if (rc == 0)
        rc = ap_gunzip_fast_finish(g, err);
    ap_gunzip_fast_free(g);
    return rc;
}

static void test_members_and_damage(void **state)
{
    (void)state;
    assert_true(ap_gunzip_fast_available());   /* ./airpack links libisal */
    size_t len = 3 << 20;
    unsigned char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)((i * 2654435761u) >> 13) % 7 + 'a';
    size_t n1, n2;
    unsigned char *a = gz(data, len / 3, &n1), *b = gz(data + len / 3, len - len / 3, &n2);
    unsigned char *two = malloc(n1 + n2 + 8);
    memcpy(two, a, n1);
    memcpy(two + n1, b, n2);
    ap_error err;
    size_t steps[] = {1, 7, 4096, 1 << 20, n1 + n2};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        sink_buf out = {0};
        assert_int_equal(run(two, n1 + n2, steps[s], &out, &err), 0);   /* two members: one stream */
        assert_int_equal(out.len, len);
        assert_memory_equal(out.buf, data, len);
        free(out.buf);
    }
    sink_buf out = {0};
    memcpy(two + n1 + n2, "garbage!", 8);   /* not gzip after the end */
    assert_int_equal(run(two, n1 + n2 + 8, 4096, &out, &err), -1);
    assert_non_null(strstr(err.msg, "not gzip after its end"));
    free(out.buf);
    memset(&out, 0, sizeof out);
    assert_int_equal(run(a, n1 - 5, 4096, &out, &err), -1);   /* cut inside the member */
    assert_non_null(strstr(err.msg, "ends inside a member"));
    free(out.buf);
    memset(&out, 0, sizeof out);
    a[n1 / 2] ^= 0xff;   /* damaged: an error, or output that is not the data */
    int rc = run(a, n1, 4096, &out, &err);
    assert_true(rc < 0 || out.len != len / 3 || memcmp(out.buf, data, len / 3) != 0);
    free(out.buf);
    free(a);
    free(b);
    free(two);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_and_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
