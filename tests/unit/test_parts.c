/* test_parts.c: split bundles: the --split size parser, part names, the sidecar,
 * the splitting bundle writer (same bytes as unsplit, head rewritten across parts,
 * entries taken back across parts, nothing left on failure) and the part reader
 * (one stream, missing / short / swapped / damaged parts named). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../formats/digest.h"
#include "../../formats/parity.h"
#include "../../formats/part_reader.h"
#include "../../formats/part_scan.h"
#include "../../formats/part_stripes.h"
#include "../../formats/parts.h"
#include "../../packer/bundle_writer.h"

#define MiB (1ull << 20)

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/airpack-parts-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static size_t count_files(void)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    fstat(fd, &st);
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    close(fd);
    *len = got;
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* ---- the size parser and names ---------------------------------------------------- */

static void test_parse_split_size(void **state)
{
    (void)state;
    ap_error err;
    uint64_t v;
    assert_int_equal(ap_parse_split_size("4G", &v, "--split", &err), 0);
    assert_int_equal(v, 4ull << 30);
    assert_int_equal(ap_parse_split_size("4480M", &v, "--split", &err), 0);
    assert_int_equal(v, 4480ull << 20);
    assert_int_equal(ap_parse_split_size("700m", &v, "--split", &err), 0);
    assert_int_equal(v, 700ull << 20);
    assert_int_equal(ap_parse_split_size("1024K", &v, "--split", &err), 0);
    assert_int_equal(v, MiB);
    assert_int_equal(ap_parse_split_size("1048576", &v, "--split", &err), 0);
    assert_int_equal(v, MiB);
    assert_int_equal(ap_parse_split_size("1M", &v, "--split", &err), 0);

    assert_int_equal(ap_parse_split_size("1048575", &v, "--split", &err), -1);
    assert_non_null(strstr(err.msg, "at least 1M"));
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_int_equal(ap_parse_split_size("512K", &v, "--split", &err), -1);
    assert_non_null(strstr(err.msg, "at least 1M"));
    assert_int_equal(ap_parse_split_size("0", &v, "--split", &err), -1);
    static const char *bad[] = {"", "G", "4T", "4GB", "4 G", "-4G", "+4G", "4.5G", "0x10M", "4G ", "M4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ap_parse_split_size(bad[i], &v, "--split", &err), -1);
        assert_non_null(strstr(err.msg, "--split"));
    }
    assert_int_equal(ap_parse_split_size("99999999999999999999", &v, "--split", &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
    assert_int_equal(ap_parse_split_size("17179869184G", &v, "--split", &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
}

static void test_part_names(void **state)
{
    (void)state;
    char buf[64], base[64];
    size_t i;
    assert_int_equal(ap_part_name(buf, sizeof buf, "dir/site.tar", 7), 0);
    assert_string_equal(buf, "dir/site.tar.007");
    assert_int_equal(ap_part_name(buf, sizeof buf, "x", 999), 0);
    assert_string_equal(buf, "x.999");
    assert_int_equal(ap_part_name(buf, sizeof buf, "x", 1000), -1);
    assert_int_equal(ap_part_name(buf, 5, "long", 1), -1);
    assert_true(ap_part_split_name("dir/site.tar.012", base, sizeof base, &i));
    assert_string_equal(base, "dir/site.tar");
    assert_int_equal(i, 12);
    assert_false(ap_part_split_name("site.tar", base, sizeof base, &i));
    assert_false(ap_part_split_name("site.12", base, sizeof base, &i));
    assert_false(ap_part_split_name("site.1234x", base, sizeof base, &i));
    assert_false(ap_part_split_name("dir/.000", base, sizeof base, &i));
    assert_false(ap_part_split_name(".000", base, sizeof base, &i));
}

/* ---- the sidecar ---------------------------------------------------------------- */

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const char valid_sidecar[] =
    "{\"airpack_parts\":1,\"bundle\":\"b.tar\",\"size\":1048586,\"part_size\":1048576,\"parts\":["
    "{\"name\":\"b.tar.000\",\"size\":1048576,\"sha256\":\"" HEX_A "\"},"
    "{\"name\":\"b.tar.001\",\"size\":10,\"sha256\":\"" HEX_B "\"}]}\n";

#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
static const char parity_sidecar[] =
    "{\"airpack_parts\":2,\"bundle\":\"b.tar\",\"size\":1048586,\"part_size\":1048576,\"parts\":["
    "{\"name\":\"b.tar.000\",\"size\":1048576,\"sha256\":\"" HEX_A "\"},"
    "{\"name\":\"b.tar.001\",\"size\":10,\"sha256\":\"" HEX_B "\"}],"
    "\"parity\":{\"code\":\"reed-solomon-cauchy-gf256\",\"data_parts\":2,\"parity_parts\":1},"
    "\"parity_parts\":[{\"name\":\"b.tar.p00\",\"size\":1048576,\"sha256\":\"" HEX_C "\"}]}\n";

static void test_sidecar_round_trip(void **state)
{
    (void)state;
    ap_error err;
    ap_parts_manifest m;
    assert_int_equal(ap_parts_parse(valid_sidecar, sizeof valid_sidecar - 1, &m, &err), 0);
    assert_int_equal(m.n_parts, 2);
    assert_string_equal(m.bundle, "b.tar");
    assert_int_equal(m.size, 1048586);
    assert_string_equal(m.parts[1].name, "b.tar.001");
    assert_string_equal(m.parts[1].sha256, HEX_B);
    size_t at;
    uint64_t off;
    assert_int_equal(ap_parts_locate(&m, 1048577, &at, &off), 0);
    assert_int_equal(at, 1);
    assert_int_equal(off, 1);
    assert_int_equal(ap_parts_locate(&m, 1048586, &at, &off), -1);
    size_t len;
    char *text = ap_parts_write(&m, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, sizeof valid_sidecar - 1);
    assert_memory_equal(text, valid_sidecar, len);    /* canonical */
    free(text);
    ap_parts_free(&m);
}

static void expect_refused_in(const char *base, const char *from, const char *to, const char *why)
{
    char buf[2048];
    const char *at = strstr(base, from);
    assert_non_null(at);
    size_t pre = (size_t)(at - base);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, base, to, at + strlen(from));
    ap_error err;
    ap_parts_manifest m;
    assert_int_equal(ap_parts_parse(buf, strlen(buf), &m, &err), -1);
    if (!strstr(err.msg, why))
        fail_msg("for %s -> %s: message \"%s\" lacks \"%s\"", from, to, err.msg, why);
    assert_int_equal(err.code == AP_ERR_FORMAT || err.code == AP_ERR_NOMEM, 1);
}

static void expect_refused(const char *from, const char *to, const char *why)
{
    expect_refused_in(valid_sidecar, from, to, why);
}

/* version 2: the parity parts and the code's parameters, written back byte for byte */
static void test_parity_sidecar_round_trip(void **state)
{
    (void)state;
    ap_error err;
    ap_parts_manifest m, c;
    assert_int_equal(ap_parts_parse(parity_sidecar, sizeof parity_sidecar - 1, &m, &err), 0);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.n_parity, 1);
    assert_string_equal(m.parity[0].name, "b.tar.p00");
    assert_string_equal(ap_parts_any(&m, 2)->sha256, HEX_C);
    assert_null(ap_parts_any(&m, 3));
    assert_int_equal(ap_parts_copy(&c, &m, &err), 0);
    ap_parts_free(&m);
    size_t len;
    char *text = ap_parts_write(&c, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, sizeof parity_sidecar - 1);
    assert_memory_equal(text, parity_sidecar, len);
    free(text);
    ap_parts_free(&c);
}

/* hostile parity parameters: refused by the parser, before anything is decoded */
static void test_parity_sidecar_hostile(void **state)
{
    (void)state;
    const char *P = parity_sidecar;
    expect_refused_in(P, "\"parity_parts\":1}", "\"parity_parts\":0}", "out of range");
    expect_refused_in(P, "\"parity_parts\":1}", "\"parity_parts\":9223372036854775807}", "out of range");
    expect_refused_in(P, "\"parity_parts\":1}", "\"parity_parts\":-1}", "non-negative");
    expect_refused_in(P, "\"parity_parts\":1}", "\"parity_parts\":2}", "must list the 2 parity parts");
    expect_refused_in(P, "\"data_parts\":2", "\"data_parts\":0", "says 0 data parts");
    expect_refused_in(P, "\"data_parts\":2", "\"data_parts\":3", "says 3 data parts");
    expect_refused_in(P, "\"data_parts\":2", "\"data_parts\":18446744073709551615", "");
    expect_refused_in(P, "\"data_parts\":2", "\"data_parts\":1e300", "non-negative");
    expect_refused_in(P, "\"name\":\"b.tar.p00\",\"size\":1048576", "\"name\":\"b.tar.p00\",\"size\":10",
                      "a parity part is part_size");
    expect_refused_in(P, "\"name\":\"b.tar.p00\",\"size\":1048576",
                      "\"name\":\"b.tar.p00\",\"size\":99999999999999", "a parity part is part_size");
    expect_refused_in(P, "\"name\":\"b.tar.p00\"", "\"name\":\"b.tar.p01\"", "expected \"b.tar.p00\"");
    expect_refused_in(P, "reed-solomon-cauchy-gf256", "reed-solomon-vandermonde", "not known");
    expect_refused_in(P, "\"airpack_parts\":2", "\"airpack_parts\":1", "version 1 has no parity");
    expect_refused_in(P, "\"airpack_parts\":2", "\"airpack_parts\":3", "version 3 is not known");
    expect_refused_in(P, "\"parity\":{", "\"parity\":{\"stripe\":0,", "unknown key");
    expect_refused_in(P, "\"parity\":{\"code\":\"reed-solomon-cauchy-gf256\",\"data_parts\":2,\"parity_parts\":1},",
                      "", "needs");
    expect_refused_in(P, "\"parity_parts\":[{", "\"parity_parts\":{\"x\":[{", "");
    expect_refused(HEX_B "\"}]}", HEX_B "\"}],\"parity_parts\":[]}", "version 1 has no parity");
}

/* the code itself: parity from data, and any k of k + n parts give back the rest */
static void test_parity_code(void **state)
{
    (void)state;
    enum { K = 5, N = 3, LEN = 4096 };
    ap_error err;
    unsigned char *parts[K + N];
    for (size_t i = 0; i < K + N; i++) {
        parts[i] = malloc(LEN);
        for (size_t j = 0; j < LEN; j++)
            parts[i][j] = (unsigned char)(i < K ? (i * 131 + j * 7 + (j >> 5)) : 0);
    }
    ap_rs *enc = ap_rs_encoder(K, N, &err);
    assert_non_null(enc);
    ap_rs_run(enc, LEN, parts, parts + K);
    ap_rs_free(enc);
    /* lose parts 0, 3 and parity 1 (index K + 1): rebuild them from the other five */
    size_t have[K] = {1, 2, 4, K, K + 2}, want[3] = {0, 3, K + 1};
    ap_rs *dec = ap_rs_decoder(K, N, have, want, 3, &err);
    assert_non_null(dec);
    unsigned char *in[K], *out[3];
    for (size_t i = 0; i < K; i++)
        in[i] = parts[have[i]];
    for (size_t w = 0; w < 3; w++)
        out[w] = malloc(LEN);
    ap_rs_run(dec, LEN, in, out);
    for (size_t w = 0; w < 3; w++) {
        assert_memory_equal(out[w], parts[want[w]], LEN);
        free(out[w]);
    }
    ap_rs_free(dec);
    assert_null(ap_rs_encoder(200, 57, &err));          /* more than 256 parts */
    assert_null(ap_rs_encoder(3, 0, &err));
    assert_null(ap_rs_encoder(3, AP_PARITY_MAX + 1, &err));
    size_t dup[K] = {1, 1, 2, 3, 4};
    assert_null(ap_rs_decoder(K, N, dup, want, 1, &err));
    assert_null(ap_rs_decoder(K, N, have, want, N + 1, &err));
    assert_true(ap_rs_stripe(10, 2) == AP_PARITY_STRIPE);
    assert_true(ap_rs_stripe(250, 6) * 256 <= AP_PARITY_BUDGET);
    for (size_t i = 0; i < K + N; i++)
        free(parts[i]);
}

static void test_sidecar_hostile(void **state)
{
    (void)state;
    expect_refused("\"airpack_parts\":1", "\"airpack_parts\":2", "version 2");
    expect_refused("\"airpack_parts\":1,", "", "version");
    expect_refused("\"size\":1048586", "\"size\":1048587", "add up");
    expect_refused("\"size\":1048586", "\"size\":-1", "non-negative");
    expect_refused("\"part_size\":1048576", "\"part_size\":1024", "out of range");
    expect_refused("\"name\":\"b.tar.001\"", "\"name\":\"b.tar.002\"", "expected \"b.tar.001\"");
    expect_refused("\"name\":\"b.tar.000\"", "\"name\":\"../etc.000\"", "expected");
    expect_refused("\"bundle\":\"b.tar\"", "\"bundle\":\"../b.tar\"", "plain file name");
    expect_refused("\"size\":10,", "\"size\":0,", "the last part must be");
    expect_refused("\"size\":1048576,\"sha256\"", "\"size\":1048575,\"sha256\"", "every part but the last");
    expect_refused(HEX_B, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", "lowercase hex");
    expect_refused("\"parts\":[", "\"extra\":1,\"parts\":[", "unknown key");
    expect_refused("\"name\":\"b.tar.001\"", "\"name\":\"b.tar.001\",\"name\":\"b.tar.001\"", "not valid JSON");
    expect_refused("{\"name\":\"b.tar.000\"", "[[[[[[{\"name\":\"b.tar.000\"", "nest");
    expect_refused("\"bundle\":\"b.tar\"", "\"bundle\":\"b.tar\\u0000x\"", "NUL");
    ap_error err;
    ap_parts_manifest m;
    assert_int_equal(ap_parts_parse("[]", 2, &m, &err), -1);
    assert_int_equal(ap_parts_parse("", 0, &m, &err), -1);
    char *huge = calloc(1, AP_PARTS_SIDECAR_MAX + 2);
    memset(huge, ' ', AP_PARTS_SIDECAR_MAX + 1);
    assert_int_equal(ap_parts_parse(huge, AP_PARTS_SIDECAR_MAX + 1, &m, &err), -1);
    assert_non_null(strstr(err.msg, "limit"));
    free(huge);
}

/* ---- the splitting writer ---------------------------------------------------------- */

/* Writes the same bundle (a head of head_size bytes of index, two streamed entries
 * of which one is taken back, a big one spanning parts) to `out`, split or not. */
static void write_bundle(const char *out, uint64_t part_size, size_t head_size)
{
    ap_error err;
    bundle_writer *w = bundle_writer_open_split(out, part_size, 0, 1700000000, head_size, 0, &err);
    assert_non_null(w);
    unsigned char *data = malloc(3 * MiB);
    for (size_t i = 0; i < 3 * MiB; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 12));
    /* an entry larger than the writer's buffer, so its header is rewritten on disk */
    assert_int_equal(bundle_writer_begin(w, &err), 0);
    for (size_t off = 0; off < 3 * MiB; off += 300000)
        assert_int_equal(bundle_writer_write(w, data + off, off + 300000 <= 3 * MiB ? 300000 : 3 * MiB - off, &err),
                         0);
    assert_int_equal(bundle_writer_end(w, NULL, NULL, &err), 0);
    /* an entry taken back, past a part boundary */
    assert_int_equal(bundle_writer_begin(w, &err), 0);
    assert_int_equal(bundle_writer_write(w, data, (size_t)(2 * MiB), &err), 0);
    assert_int_equal(bundle_writer_end(w, NULL, NULL, &err), 0);
    assert_int_equal(bundle_writer_drop_last(w, &err), 0);
    assert_int_equal(bundle_writer_add(w, "manifest.json", "[]", 2, NULL, &err), 0);
    char *index = malloc(head_size);
    memset(index, 'i', head_size);
    index[0] = '{';
    index[1] = '}';
    assert_int_equal(bundle_writer_commit(w, index, 2, NULL, 0, &err), 0);
    bundle_writer_free(w);
    free(index);
    free(data);
}

static void check_split_equals_whole(size_t head_size)
{
    char whole[300], base[300], part[320];
    snprintf(whole, sizeof whole, "%s/whole.tar", dir);
    snprintf(base, sizeof base, "%s/s.tar", dir);
    write_bundle(whole, 0, head_size);
    write_bundle(base, MiB, head_size);
    size_t wlen;
    unsigned char *w = read_file(whole, &wlen);
    assert_non_null(w);
    size_t n = (wlen + MiB - 1) / MiB;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        ap_part_name(part, sizeof part, base, i);
        size_t plen;
        unsigned char *p = read_file(part, &plen);
        assert_non_null(p);
        assert_int_equal(plen, i + 1 < n ? MiB : wlen - at);
        assert_memory_equal(p, w + at, plen);
        at += plen;
        free(p);
    }
    ap_part_name(part, sizeof part, base, n);
    assert_int_equal(access(part, F_OK), -1);
    /* the sidecar lists each part's sha256 */
    char sc[320];
    snprintf(sc, sizeof sc, "%s.parts", base);
    size_t sclen;
    char *text = (char *)read_file(sc, &sclen);
    assert_non_null(text);
    ap_parts_manifest m;
    ap_error err;
    assert_int_equal(ap_parts_parse(text, sclen, &m, &err), 0);
    assert_int_equal(m.n_parts, n);
    assert_int_equal(m.size, wlen);
    at = 0;
    for (size_t i = 0; i < n; i++) {
        char hex[AP_HEX_LEN + 1];
        ap_sha256_hex(w + at, m.parts[i].size, hex);
        assert_string_equal(m.parts[i].sha256, hex);
        at += m.parts[i].size;
    }
    snprintf(sc, sizeof sc, "%s.parts.minisig", base);
    assert_int_equal(access(sc, F_OK), -1);   /* no signer: unsigned sidecar */
    ap_parts_free(&m);
    free(text);
    free(w);
    /* n parts + sidecar + whole; no temporary directory left */
    assert_int_equal(count_files(), n + 2);
}

static void test_split_writer_same_bytes(void **state)
{
    (void)state;
    check_split_equals_whole(100);
}

/* An index reservation larger than a part: the head rewrite spans parts 000 and 001. */
static void test_split_writer_head_spans_parts(void **state)
{
    (void)state;
    check_split_equals_whole((size_t)(MiB + MiB / 2));
}

static void test_split_writer_failure_leaves_nothing(void **state)
{
    (void)state;
    char base[300];
    snprintf(base, sizeof base, "%s/f.tar", dir);
    ap_error err;
    bundle_writer *w = bundle_writer_open_split(base, MiB, 0, 0, 4, 0, &err);
    assert_non_null(w);
    unsigned char *data = calloc(1, 3 * MiB);
    assert_int_equal(bundle_writer_add(w, "oci-layout", data, 3 * MiB, NULL, &err), 0);
    assert_int_equal(bundle_writer_commit(w, "{\"toolong\":1}", 13, NULL, 0, &err), -1);
    bundle_writer_free(w);
    free(data);
    assert_int_equal(count_files(), 0);
}

/* ---- the part reader ------------------------------------------------------------- */

static unsigned char content[3 * MiB - 1000];

/* Writes `content` as parts of 1 MiB under dir/r.tar and its sidecar; returns the manifest. */
static void make_parts(ap_parts_manifest *m)
{
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (unsigned char)(i * 17 + (i >> 9) + (i >> 20) * 101);
    memset(m, 0, sizeof *m);
    m->version = 1;
    snprintf(m->bundle, sizeof m->bundle, "r.tar");
    m->size = sizeof content;
    m->part_size = MiB;
    m->n_parts = 3;
    m->parts = calloc(3, sizeof *m->parts);
    char base[300], name[320];
    snprintf(base, sizeof base, "%s/r.tar", dir);
    for (size_t i = 0; i < 3; i++) {
        size_t len = i < 2 ? MiB : sizeof content - 2 * MiB;
        ap_part_name(name, sizeof name, base, i);
        write_file(name, content + i * MiB, len);
        ap_part_name(m->parts[i].name, sizeof m->parts[i].name, "r.tar", i);
        m->parts[i].size = len;
        ap_sha256_hex(content + i * MiB, len, m->parts[i].sha256);
    }
}

/* Reads everything; returns 0 with the bytes compared to `content`, or -1 with err. */
static int read_all(const ap_parts_manifest *m, ap_part_reader **out, ap_error *err)
{
    char base[300];
    snprintf(base, sizeof base, "%s/r.tar", dir);
    ap_part_reader *r = ap_part_reader_open(base, m, err);
    if (!r)
        return -1;
    *out = r;
    unsigned char *buf = malloc(sizeof content + 10);
    size_t got = 0;
    uint64_t part_end = MiB;
    for (;;) {
        ssize_t n = ap_part_read(r, buf + got, 700000, err);
        if (n < 0) {
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        /* never the bytes of two parts in one call */
        assert_true(got >= part_end || got + (size_t)n <= part_end);
        got += (size_t)n;
        if (got >= part_end)
            part_end += MiB;
    }
    assert_int_equal(got, sizeof content);
    assert_memory_equal(buf, content, got);
    free(buf);
    return 0;
}

static void test_part_reader_good(void **state)
{
    (void)state;
    ap_parts_manifest m;
    make_parts(&m);
    ap_error err;
    ap_part_reader *r = NULL;
    assert_int_equal(read_all(&m, &r, &err), 0);
    assert_int_equal(ap_part_reader_total(r), sizeof content);
    char name[400];
    uint64_t off;
    assert_int_equal(ap_part_reader_locate(r, MiB + 5, name, sizeof name, &off), 0);
    assert_non_null(strstr(name, "r.tar.001"));
    assert_int_equal(off, 5);
    ap_part_reader_free(r);
    /* without a sidecar: the same bytes, reading until r.tar.003 does not exist */
    r = NULL;
    assert_int_equal(read_all(NULL, &r, &err), 0);
    assert_int_equal(ap_part_reader_total(r), sizeof content);
    assert_int_equal(ap_part_reader_count(r), 3);
    ap_part_reader_free(r);
    ap_parts_free(&m);
}

static void expect_read_fails(const ap_parts_manifest *m, const char *want1, const char *want2)
{
    ap_error err;
    ap_part_reader *r = NULL;
    if (read_all(m, &r, &err) != -1)
        fail_msg("reading did not fail (wanted \"%s\")", want1);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, want1, want2 ? want2 : "");
    assert_int_equal(err.code, AP_ERR_VERIFY);
    ap_part_reader_free(r);
}

static void test_part_reader_hostile(void **state)
{
    (void)state;
    ap_parts_manifest m;
    make_parts(&m);
    char base[300], p0[320], p1[320], p2[320], p3[320];
    snprintf(base, sizeof base, "%s/r.tar", dir);
    ap_part_name(p0, sizeof p0, base, 0);
    ap_part_name(p1, sizeof p1, base, 1);
    ap_part_name(p2, sizeof p2, base, 2);
    ap_part_name(p3, sizeof p3, base, 3);
    ap_error err;

    /* truncated */
    assert_int_equal(truncate(p1, 1000), 0);
    expect_read_fails(&m, "r.tar.001: truncated", "1048576");
    ap_part_reader *r = ap_part_reader_open(base, &m, &err);
    assert_int_equal(ap_part_reader_check_all(r, &err), -1);
    assert_non_null(strstr(err.msg, "r.tar.001: 1000 bytes"));
    ap_part_reader_free(r);
    write_file(p1, content + MiB, MiB);

    /* swapped (same sizes) */
    assert_int_equal(rename(p0, p3), 0);
    assert_int_equal(rename(p1, p0), 0);
    assert_int_equal(rename(p3, p1), 0);
    expect_read_fails(&m, "r.tar.000: holds the bytes", "r.tar.001");
    assert_int_equal(rename(p0, p3), 0);
    assert_int_equal(rename(p1, p0), 0);
    assert_int_equal(rename(p3, p1), 0);

    /* one flipped byte */
    content[MiB + 77] ^= 1;
    write_file(p1, content + MiB, MiB);
    content[MiB + 77] ^= 1;
    expect_read_fails(&m, "r.tar.001: damaged", NULL);
    write_file(p1, content + MiB, MiB);

    /* longer than listed */
    write_file(p2, content, sizeof content - 2 * MiB + 1);
    expect_read_fails(&m, "r.tar.002: longer than", NULL);
    write_file(p2, content + 2 * MiB, sizeof content - 2 * MiB);

    /* missing, and a stale extra part */
    assert_int_equal(unlink(p2), 0);
    expect_read_fails(&m, "r.tar.002: missing", NULL);
    r = ap_part_reader_open(base, &m, &err);
    assert_int_equal(ap_part_reader_check_all(r, &err), -1);
    assert_non_null(strstr(err.msg, "r.tar.002: missing"));
    ap_part_reader_free(r);
    write_file(p2, content + 2 * MiB, sizeof content - 2 * MiB);
    write_file(p3, "x", 1);
    r = ap_part_reader_open(base, &m, &err);
    assert_int_equal(ap_part_reader_check_all(r, &err), -1);
    assert_non_null(strstr(err.msg, "r.tar.003: not listed"));
    ap_part_reader_free(r);
    unlink(p3);

    /* no first part: with a sidecar, a missing part like any other (verification, exit 1) */
    assert_int_equal(unlink(p0), 0);
    r = ap_part_reader_open(base, &m, &err);
    assert_non_null(r);
    assert_int_equal(ap_part_reader_check_all(r, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "r.tar.000: missing"));
    char one[16];
    assert_true(ap_part_read(r, one, sizeof one, &err) < 0);
    assert_non_null(strstr(err.msg, "r.tar.000: missing"));
    ap_part_reader_free(r);
    /* without one, there is nothing to read */
    assert_null(ap_part_reader_open(base, NULL, &err));
    assert_int_equal(err.code, AP_ERR_IO);
    assert_non_null(strstr(err.msg, "r.tar.000"));
    ap_parts_free(&m);
}

/* explain(): a fault found downstream in a part that turns out damaged names the
 * part, the entry and where the entry starts in that part. */
static void test_part_reader_explain(void **state)
{
    (void)state;
    ap_parts_manifest m;
    make_parts(&m);
    char base[300], p1[320];
    snprintf(base, sizeof base, "%s/r.tar", dir);
    ap_part_name(p1, sizeof p1, base, 1);
    content[MiB + 600000] ^= 1;
    write_file(p1, content + MiB, MiB);
    content[MiB + 600000] ^= 1;
    ap_error err;
    ap_part_reader *r = ap_part_reader_open(base, &m, &err);
    unsigned char buf[65536];
    uint64_t got = 0;
    while (got < MiB + 100000) {    /* the consumer stops inside part 001 */
        ssize_t n = ap_part_read(r, buf, sizeof buf, &err);
        assert_true(n > 0);
        got += (uint64_t)n;
    }
    ap_fail(&err, AP_ERR_VERIFY, "b: entry blobs/sha256/x at offset %llu: sha256 mismatch",
            (unsigned long long)(MiB + 512));
    ap_part_reader_explain(r, "blobs/sha256/x", MiB + 512, true, &err);
    assert_non_null(strstr(err.msg, "r.tar.001: damaged"));
    assert_non_null(strstr(err.msg, "entry blobs/sha256/x, which starts at byte 512 of"));
    assert_non_null(strstr(err.msg, "copy"));
    assert_non_null(strstr(err.msg, "sha256 mismatch"));
    ap_part_reader_free(r);

    /* parts all good: the offset is only placed in its part */
    write_file(p1, content + MiB, MiB);
    r = ap_part_reader_open(base, &m, &err);
    assert_true(ap_part_read(r, buf, sizeof buf, &err) > 0);
    ap_fail(&err, AP_ERR_VERIFY, "b: signed by an untrusted key");
    ap_part_reader_explain(r, "airpack/bundle.json", 2 * MiB + 3, true, &err);
    assert_non_null(strstr(err.msg, "untrusted key (bundle offset 2097155 is byte 3 of"));
    assert_non_null(strstr(err.msg, "r.tar.002)"));
    ap_part_reader_free(r);
    ap_parts_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_split_size),
        cmocka_unit_test(test_part_names),
        cmocka_unit_test(test_sidecar_round_trip),
        cmocka_unit_test(test_sidecar_hostile),
        cmocka_unit_test(test_parity_sidecar_round_trip),
        cmocka_unit_test(test_parity_sidecar_hostile),
        cmocka_unit_test(test_parity_code),
        cmocka_unit_test_setup_teardown(test_split_writer_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_writer_head_spans_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_writer_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_part_reader_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_part_reader_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_part_reader_explain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
