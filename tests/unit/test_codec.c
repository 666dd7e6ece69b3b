/* test_codec.c: compression round trips, determinism, interoperability with the
 * gzip/zstd/xz command-line tools, truncation and decompression-bomb refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../formats/codec.h"

typedef struct {
    unsigned char *p;
    size_t len, cap;
    size_t calls;
} membuf;

static int mem_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    (void)err;
    membuf *m = ctx;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n)
            cap *= 2;
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, n);
    m->len += n;
    m->calls++;
    return 0;
}

/* Data that compresses somewhat: random words from a small vocabulary plus noise. */
static unsigned char *make_data(size_t n, unsigned seed)
{
    unsigned char *d = malloc(n ? n : 1);
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d[i] = (i % 64 < 40) ? (unsigned char)("airpack layer "[i % 14]) : (unsigned char)x;
    }
    return d;
}

/* Writes buf in uneven pieces. */
static void compress_all(ap_codec c, int threads, const unsigned char *buf, size_t n, membuf *out)
{
    ap_error err;
    ap_compressor *z = ap_compressor_new(c, 0, threads, mem_sink, out, &err);
    assert_non_null(z);
    size_t done = 0, step = 1;
    while (done < n) {
        size_t k = step < n - done ? step : n - done;
        assert_int_equal(ap_compressor_write(z, buf + done, k, &err), 0);
        done += k;
        step = step * 7 + 3;
    }
    assert_int_equal(ap_compressor_finish(z, &err), 0);
    ap_compressor_free(z);
}

/* Decompresses in uneven pieces; returns the finish result, message in err. */
static int decompress_all(ap_codec c, uint64_t cap, const unsigned char *buf, size_t n,
                          membuf *out, ap_error *err)
{
    ap_decompressor *d = ap_decompressor_new(c, cap, mem_sink, out, err);
    if (!d)
        return -1;
    size_t done = 0, step = 5;
    int rc = 0;
    while (done < n && rc == 0) {
        size_t k = step < n - done ? step : n - done;
        rc = ap_decompressor_write(d, buf + done, k, err);
        done += k;
        step = step * 5 + 1;
    }
    if (rc == 0)
        rc = ap_decompressor_finish(d, err);
    if (rc == 0)
        assert_int_equal(ap_decompressor_total_out(d), out->len);
    ap_decompressor_free(d);
    return rc;
}

static void test_round_trips(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 511, 70000, 3 * 1024 * 1024 + 17};
    const ap_codec codecs[] = {AP_CODEC_NONE, AP_CODEC_GZIP, AP_CODEC_ZSTD};
    for (size_t c = 0; c < 3; c++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            unsigned char *data = make_data(sizes[s], (unsigned)(s + 1));
            membuf z = {0}, back = {0};
            compress_all(codecs[c], 2, data, sizes[s], &z);
            if (codecs[c] != AP_CODEC_NONE)
                assert_int_equal(ap_codec_detect(z.p, z.len), codecs[c]);
            ap_error err;
            int rc = decompress_all(codecs[c], 0, z.p, z.len, &back, &err);
            if (rc)
                fail_msg("%s size %zu: %s", ap_codec_name(codecs[c]), sizes[s], err.msg);
            assert_int_equal(back.len, sizes[s]);
            assert_memory_equal(back.p ? back.p : (unsigned char *)"", data, sizes[s]);
            free(data);
            free(z.p);
            free(back.p);
        }
    }
}

static void test_output_is_buffered(void **state)
{
    (void)state;
    /* 8 MiB of input written 4 KiB at a time must not reach the sink 4 KiB at a time. */
    size_t n = 8u << 20;
    unsigned char *data = make_data(n, 9);
    membuf z = {0};
    ap_error err;
    ap_compressor *c = ap_compressor_new(AP_CODEC_GZIP, 1, 1, mem_sink, &z, &err);
    assert_non_null(c);
    for (size_t i = 0; i < n; i += 4096)
        assert_int_equal(ap_compressor_write(c, data + i, 4096, &err), 0);
    assert_int_equal(ap_compressor_finish(c, &err), 0);
    ap_compressor_free(c);
    assert_true(z.calls <= z.len / (128 * 1024) + 2);
    free(data);
    free(z.p);
}

static void test_zstd_deterministic_across_threads(void **state)
{
    (void)state;
    size_t n = 12u << 20;   /* several zstd jobs */
    unsigned char *data = make_data(n, 3);
    membuf one = {0}, two = {0}, four = {0};
    compress_all(AP_CODEC_ZSTD, 1, data, n, &one);
    compress_all(AP_CODEC_ZSTD, 2, data, n, &two);
    compress_all(AP_CODEC_ZSTD, 4, data, n, &four);
    assert_int_equal(one.len, two.len);
    assert_memory_equal(one.p, two.p, one.len);
    assert_int_equal(one.len, four.len);
    assert_memory_equal(one.p, four.p, one.len);
    free(data);
    free(one.p);
    free(two.p);
    free(four.p);
}

static void test_gzip_deterministic_header(void **state)
{
    (void)state;
    unsigned char *data = make_data(100000, 4);
    membuf a = {0}, b = {0};
    compress_all(AP_CODEC_GZIP, 1, data, 100000, &a);
    sleep(1);
    compress_all(AP_CODEC_GZIP, 1, data, 100000, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    assert_int_equal(a.p[0], 0x1f);
    assert_int_equal(a.p[1], 0x8b);
    assert_int_equal(a.p[4] | a.p[5] | a.p[6] | a.p[7], 0);   /* mtime 0 */
    free(data);
    free(a.p);
    free(b.p);
}

static void test_reset_reuses_settings(void **state)
{
    (void)state;
    const ap_codec codecs[] = {AP_CODEC_GZIP, AP_CODEC_ZSTD};
    for (size_t c = 0; c < 2; c++) {
        unsigned char *data = make_data(50000, 5);
        membuf first = {0}, second = {0};
        ap_error err;
        ap_compressor *z = ap_compressor_new(codecs[c], 0, 2, mem_sink, &first, &err);
        assert_non_null(z);
        assert_int_equal(ap_compressor_write(z, data, 50000, &err), 0);
        assert_int_equal(ap_compressor_finish(z, &err), 0);
        assert_int_equal(ap_compressor_reset(z, mem_sink, &second, &err), 0);
        assert_int_equal(ap_compressor_write(z, data, 50000, &err), 0);
        assert_int_equal(ap_compressor_finish(z, &err), 0);
        ap_compressor_free(z);
        assert_int_equal(first.len, second.len);
        assert_memory_equal(first.p, second.p, first.len);
        free(data);
        free(first.p);
        free(second.p);
    }
}

static void test_truncated_streams_refused(void **state)
{
    (void)state;
    const ap_codec codecs[] = {AP_CODEC_GZIP, AP_CODEC_ZSTD};
    unsigned char *data = make_data(200000, 6);
    for (size_t c = 0; c < 2; c++) {
        membuf z = {0};
        compress_all(codecs[c], 1, data, 200000, &z);
        const size_t cuts[] = {0, 1, 5, z.len / 2, z.len - 4, z.len - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            membuf back = {0};
            ap_error err;
            ap_error_clear(&err);
            assert_int_equal(decompress_all(codecs[c], 0, z.p, cuts[i], &back, &err), -1);
            assert_int_equal(err.code, AP_ERR_FORMAT);
            if (!strstr(err.msg, "truncated") && !strstr(err.msg, "empty"))
                fail_msg("%s cut at %zu: %s", ap_codec_name(codecs[c]), cuts[i], err.msg);
            free(back.p);
        }
        free(z.p);
    }
    free(data);
}

static void test_corrupt_stream_refused(void **state)
{
    (void)state;
    unsigned char *data = make_data(200000, 7);
    const ap_codec codecs[] = {AP_CODEC_GZIP, AP_CODEC_ZSTD};
    for (size_t c = 0; c < 2; c++) {
        membuf z = {0}, back = {0};
        compress_all(codecs[c], 1, data, 200000, &z);
        z.p[z.len / 2] ^= 0x55;
        z.p[z.len - 3] ^= 0x55;     /* the checksum in both formats */
        ap_error err;
        assert_int_equal(decompress_all(codecs[c], 0, z.p, z.len, &back, &err), -1);
        assert_int_equal(err.code, AP_ERR_FORMAT);
        assert_non_null(strstr(err.msg, ap_codec_name(codecs[c])));
        free(z.p);
        free(back.p);
    }
    free(data);
}

static void test_bomb_cap(void **state)
{
    (void)state;
    size_t n = 64u << 20;
    unsigned char *zeros = calloc(1, n);
    const ap_codec codecs[] = {AP_CODEC_GZIP, AP_CODEC_ZSTD, AP_CODEC_NONE};
    for (size_t c = 0; c < 3; c++) {
        membuf z = {0}, back = {0};
        compress_all(codecs[c], 1, zeros, n, &z);
        ap_error err;
        assert_int_equal(decompress_all(codecs[c], 1000000, z.p, z.len, &back, &err), -1);
        assert_int_equal(err.code, AP_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "decompresses past its declared size of 1000000 bytes"));
        assert_true(back.len <= 1000000);
        /* exactly at the cap is fine */
        membuf ok = {0};
        assert_int_equal(decompress_all(codecs[c], n, z.p, z.len, &ok, &err), 0);
        assert_int_equal(ok.len, n);
        free(z.p);
        free(back.p);
        free(ok.p);
    }
    free(zeros);
}

static void test_concatenated_members(void **state)
{
    (void)state;
    const ap_codec codecs[] = {AP_CODEC_GZIP, AP_CODEC_ZSTD};
    unsigned char *a = make_data(30000, 11), *b = make_data(2000000, 12);
    for (size_t c = 0; c < 2; c++) {
        membuf z = {0}, back = {0};
        compress_all(codecs[c], 1, a, 30000, &z);
        compress_all(codecs[c], 1, b, 2000000, &z);
        ap_error err;
        if (decompress_all(codecs[c], 0, z.p, z.len, &back, &err))
            fail_msg("%s: %s", ap_codec_name(codecs[c]), err.msg);
        assert_int_equal(back.len, 2030000);
        assert_memory_equal(back.p, a, 30000);
        assert_memory_equal(back.p + 30000, b, 2000000);
        free(z.p);
        free(back.p);
    }
    /* garbage after a complete gzip member is refused */
    membuf z = {0}, back = {0};
    compress_all(AP_CODEC_GZIP, 1, a, 30000, &z);
    mem_sink(&z, "garbage", 7, NULL);
    ap_error err;
    assert_int_equal(decompress_all(AP_CODEC_GZIP, 0, z.p, z.len, &back, &err), -1);
    assert_non_null(strstr(err.msg, "gzip"));
    free(z.p);
    free(back.p);
    free(a);
    free(b);
}

/* Runs `cmd` with `in` on stdin and collects stdout. */
static int run_filter(const char *cmd, const unsigned char *in, size_t n, membuf *out)
{
    char inpath[] = "/tmp/test_codec_in.XXXXXX", outpath[] = "/tmp/test_codec_out.XXXXXX";
    int fi = mkstemp(inpath), fo = mkstemp(outpath);
    assert_true(fi >= 0 && fo >= 0);
    assert_int_equal(write(fi, in, n), (ssize_t)n);
    close(fi);
    close(fo);
    char full[1024];
    snprintf(full, sizeof full, "%s <%s >%s 2>/dev/null", cmd, inpath, outpath);
    int rc = system(full);
    FILE *f = fopen(outpath, "rb");
    assert_non_null(f);
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        mem_sink(out, buf, got, NULL);
    fclose(f);
    unlink(inpath);
    unlink(outpath);
    return rc;
}

static void test_interop_with_cli_tools(void **state)
{
    (void)state;
    size_t n = 1500000;
    unsigned char *data = make_data(n, 13);
    struct {
        ap_codec c;
        const char *decode, *encode;
    } tools[] = {
        {AP_CODEC_GZIP, "gzip -dc", "gzip -c"},
        {AP_CODEC_ZSTD, "zstd -dc", "zstd -c -T2"},
    };
    for (size_t i = 0; i < 2; i++) {
        if (system("command -v zstd >/dev/null && command -v gzip >/dev/null") != 0)
            skip();
        membuf z = {0}, plain = {0}, theirs = {0}, back = {0};
        compress_all(tools[i].c, 2, data, n, &z);
        assert_int_equal(run_filter(tools[i].decode, z.p, z.len, &plain), 0);
        assert_int_equal(plain.len, n);
        assert_memory_equal(plain.p, data, n);
        assert_int_equal(run_filter(tools[i].encode, data, n, &theirs), 0);
        ap_error err;
        if (decompress_all(tools[i].c, 0, theirs.p, theirs.len, &back, &err))
            fail_msg("%s: %s", tools[i].encode, err.msg);
        assert_int_equal(back.len, n);
        assert_memory_equal(back.p, data, n);
        free(z.p);
        free(plain.p);
        free(theirs.p);
        free(back.p);
    }
    free(data);
}

static void test_xz_decoding(void **state)
{
    (void)state;
    size_t n = 400000;
    unsigned char *data = make_data(n, 14);
    ap_error err;
#ifdef AP_HAVE_LZMA
    if (system("command -v xz >/dev/null") != 0)
        skip();
    membuf x = {0}, back = {0};
    assert_int_equal(run_filter("xz -c", data, n, &x), 0);
    assert_int_equal(ap_codec_detect(x.p, x.len), AP_CODEC_XZ);
    if (decompress_all(AP_CODEC_XZ, 0, x.p, x.len, &back, &err))
        fail_msg("xz: %s", err.msg);
    assert_int_equal(back.len, n);
    assert_memory_equal(back.p, data, n);
    membuf cut = {0};
    assert_int_equal(decompress_all(AP_CODEC_XZ, 0, x.p, x.len - 10, &cut, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    free(x.p);
    free(back.p);
    free(cut.p);
#else
    membuf back = {0};
    assert_null(ap_decompressor_new(AP_CODEC_XZ, 0, mem_sink, &back, &err));
    assert_non_null(strstr(err.msg, "xz"));
#endif
    free(data);
}

static void test_detect_and_names(void **state)
{
    (void)state;
    assert_int_equal(ap_codec_detect("\x1f\x8b\x08\0\0\0", 6), AP_CODEC_GZIP);
    assert_int_equal(ap_codec_detect("\x28\xb5\x2f\xfd\0\0", 6), AP_CODEC_ZSTD);
    assert_int_equal(ap_codec_detect("\xfd" "7zXZ\0", 6), AP_CODEC_XZ);
    assert_int_equal(ap_codec_detect("ustar\0", 6), AP_CODEC_NONE);
    assert_int_equal(ap_codec_detect("\x1f", 1), AP_CODEC_NONE);
    assert_int_equal(ap_codec_detect("", 0), AP_CODEC_NONE);

    ap_codec c;
    ap_error err;
    assert_int_equal(ap_codec_parse("zstd", &c, &err), 0);
    assert_int_equal(c, AP_CODEC_ZSTD);
    assert_int_equal(ap_codec_parse("gzip", &c, &err), 0);
    assert_int_equal(c, AP_CODEC_GZIP);
    assert_int_equal(ap_codec_parse("none", &c, &err), 0);
    assert_int_equal(c, AP_CODEC_NONE);
    assert_int_equal(ap_codec_parse("brotli", &c, &err), -1);
    assert_non_null(strstr(err.msg, "brotli"));

    assert_string_equal(ap_codec_layer_media_type(AP_CODEC_ZSTD), "application/vnd.oci.image.layer.v1.tar+zstd");
    assert_string_equal(ap_codec_layer_media_type(AP_CODEC_GZIP), "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_string_equal(ap_codec_layer_media_type(AP_CODEC_NONE), "application/vnd.oci.image.layer.v1.tar");

    struct {
        const char *mt;
        ap_codec c;
    } ok[] = {
        {"application/vnd.oci.image.layer.v1.tar", AP_CODEC_NONE},
        {"application/vnd.oci.image.layer.v1.tar+gzip", AP_CODEC_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", AP_CODEC_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", AP_CODEC_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", AP_CODEC_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar.zstd", AP_CODEC_ZSTD},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(ap_codec_from_media_type(ok[i].mt, &c, &err), 0);
        assert_int_equal(c, ok[i].c);
    }
    assert_int_equal(ap_codec_from_media_type("application/vnd.oci.image.config.v1+json", &c, &err), -1);
    assert_int_equal(err.code, AP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "application/vnd.oci.image.config.v1+json"));

    assert_null(ap_compressor_new(AP_CODEC_XZ, 0, 1, mem_sink, NULL, &err));
    assert_null(ap_compressor_new(AP_CODEC_ZSTD, 99, 1, mem_sink, NULL, &err));
    assert_non_null(strstr(err.msg, "level"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_output_is_buffered),
        cmocka_unit_test(test_zstd_deterministic_across_threads),
        cmocka_unit_test(test_gzip_deterministic_header),
        cmocka_unit_test(test_reset_reuses_settings),
        cmocka_unit_test(test_truncated_streams_refused),
        cmocka_unit_test(test_corrupt_stream_refused),
        cmocka_unit_test(test_bomb_cap),
        cmocka_unit_test(test_concatenated_members),
        cmocka_unit_test(test_interop_with_cli_tools),
        cmocka_unit_test(test_xz_decoding),
        cmocka_unit_test(test_detect_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
