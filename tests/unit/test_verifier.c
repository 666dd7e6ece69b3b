/* test_verifier.c: the streaming verifier on an in-memory bundle: what the sink
 * sees, short reads, every byte of signed data covered, truncation, wrong keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../formats/tar_reader.h"
#include "../../verify/verifier.h"
#include "../tools/mem_bundle.c"

static ap_pubkey pk, other_pk;
static membuf bundle;
static mem_bundle_parts parts;

typedef struct {
    int index, begins, ends, completes, aborts;
    uint64_t data_bytes;
    char order[8][80];
    int fail_at_end;          /* on_entry_end of this entry number fails (1-based), 0 never */
} record;

static int on_index(void *ctx, const ap_bundle_index *idx, const ap_sig_info *sig, ap_error *err)
{
    (void)err;
    record *r = ctx;
    r->index++;
    assert_int_equal(idx->n_entries, 6);
    assert_non_null(strstr(sig->trusted_comment, "file:bundle.json"));
    return 0;
}
static int on_begin(void *ctx, const ap_index_entry *e, ap_error *err)
{
    (void)err;
    record *r = ctx;
    if (r->begins < 8)
        snprintf(r->order[r->begins], sizeof r->order[0], "%s", e->path);
    r->begins++;
    return 0;
}
static int on_data(void *ctx, const void *buf, size_t n, ap_error *err)
{
    (void)buf;
    (void)err;
    ((record *)ctx)->data_bytes += n;
    return 0;
}
static int on_end(void *ctx, const ap_index_entry *e, ap_error *err)
{
    (void)e;
    record *r = ctx;
    r->ends++;
    if (r->fail_at_end == r->ends)
        return ap_fail(err, AP_ERR_TARGET, "target refused");
    return 0;
}
static int on_complete(void *ctx, const ap_bundle_index *idx, ap_error *err)
{
    (void)idx;
    (void)err;
    ((record *)ctx)->completes++;
    return 0;
}
static void on_abort(void *ctx)
{
    ((record *)ctx)->aborts++;
}
static const ap_verify_sink sink = {on_index, on_begin, on_data, on_end, on_complete, on_abort};

static int verify(const unsigned char *data, size_t len, size_t chunk, bool deep, const ap_pubkey *key,
                  record *rec, ap_verify_report *rep, ap_error *err)
{
    memreader rd = {data, len, 0, chunk};
    ap_verify_opts opts = {.keys = key, .n_keys = 1, .deep = deep};
    memset(rec, 0, sizeof *rec);
    return ap_verify_stream(mem_read, &rd, "mem.tar", &opts, &sink, rec, rep, err);
}

static int setup(void **state)
{
    (void)state;
    ap_seckey sk, other_sk;
    ap_error err;
    assert_int_equal(ap_minisign_init(&err), 0);
    ap_keypair_generate(&pk, &sk);
    ap_keypair_generate(&other_pk, &other_sk);
    if (mem_bundle_make(&sk, &bundle, &parts, &err) < 0)
        fail_msg("mem_bundle_make: %s", err.msg);
    ap_seckey_wipe(&sk);
    ap_seckey_wipe(&other_sk);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(bundle.data);
    mem_bundle_parts_free(&parts);
    return 0;
}

static void test_good_bundle_and_sink_order(void **state)
{
    (void)state;
    record rec;
    ap_verify_report rep;
    ap_error err;
    for (int deep = 0; deep < 2; deep++) {
        if (verify(bundle.data, bundle.len, 0, deep, &pk, &rec, &rep, &err) != 0)
            fail_msg("deep=%d: %s", deep, err.msg);
        assert_int_equal(rec.index, 1);
        assert_int_equal(rec.begins, 6);
        assert_int_equal(rec.ends, 6);
        assert_int_equal(rec.completes, 1);
        assert_int_equal(rec.aborts, 0);
        assert_string_equal(rec.order[0] + 13, parts.layer_hex);
        assert_string_equal(rec.order[5], "manifest.json");
        assert_int_equal(rep.entries_checked, 6);
        assert_int_equal(rep.n_images, 1);
        assert_int_equal(rep.bytes, bundle.len);
        assert_int_equal(rec.data_bytes, parts.layer_zst.len + strlen(parts.config) + strlen(parts.manifest) +
                                             strlen(parts.oci_layout) + strlen(parts.index) + strlen(parts.docker));
        char kid[17];
        ap_pubkey_key_id(&pk, kid);
        assert_string_equal(rep.sig.key_id, kid);
    }
}

static void test_short_reads(void **state)
{
    (void)state;
    record rec;
    ap_verify_report rep;
    ap_error err;
    size_t chunks[] = {1, 7, 511, 513};
    for (size_t i = 0; i < 4; i++)
        if (verify(bundle.data, bundle.len, chunks[i], true, &pk, &rec, &rep, &err) != 0)
            fail_msg("chunk %zu: %s", chunks[i], err.msg);
}

static void test_untrusted_key(void **state)
{
    (void)state;
    record rec;
    ap_verify_report rep;
    ap_error err;
    assert_int_equal(verify(bundle.data, bundle.len, 0, false, &other_pk, &rec, &rep, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "mem.tar: entry airpack/bundle.json.minisig at offset "));
    assert_non_null(strstr(err.msg, "which is not trusted"));
    assert_int_equal(rec.index, 0);
    assert_int_equal(rec.aborts, 1);
}

/* Flipping any byte of any entry's data (index, signature, blobs) is refused. */
static void test_every_data_byte_covered(void **state)
{
    (void)state;
    unsigned char *copy = malloc(bundle.len);
    memreader rd = {bundle.data, bundle.len, 0, 0};
    ap_error err;
    ap_tar_reader *r = ap_tar_reader_new(mem_read, &rd, "scan", AP_TAR_STRICT, &err);
    ap_tar_entry e;
    int checked = 0;
    while (ap_tar_next(r, &e, &err) == 1) {
        /* every byte of small entries, a spread of bytes of the layer */
        uint64_t step = e.size > 600 ? e.size / 97 + 1 : 1, k = 0;
        if (!strcmp(e.path, AP_SIG_PATH))   /* its first line is the untrusted comment */
            k = (uint64_t)((unsigned char *)memchr(parts.sig.data, '\n', parts.sig.len) - parts.sig.data) + 1;
        for (; k < e.size; k += step) {
            memcpy(copy, bundle.data, bundle.len);
            copy[e.data_offset + k] ^= 0x20;
            record rec;
            ap_verify_report rep;
            ap_error verr;
            if (verify(copy, bundle.len, 0, false, &pk, &rec, &rep, &verr) == 0)
                fail_msg("flip at %s +%llu accepted", e.path, (unsigned long long)k);
            if (rec.completes != 0 || rec.aborts != 1)
                fail_msg("flip at %s: completes %d aborts %d", e.path, rec.completes, rec.aborts);
            checked++;
        }
    }
    ap_tar_reader_free(r);
    free(copy);
    assert_true(checked > 1000);
}

static void test_truncation_everywhere(void **state)
{
    (void)state;
    /* every cut short of the end-of-archive marker fails */
    for (size_t cut = 0; cut + AP_TAR_END_SIZE < bundle.len; cut += 128) {
        record rec;
        ap_verify_report rep;
        ap_error err;
        if (verify(bundle.data, cut, 0, false, &pk, &rec, &rep, &err) == 0)
            fail_msg("cut at %zu accepted", cut);
        assert_int_equal(err.code, AP_ERR_VERIFY);
        assert_int_equal(rec.completes, 0);
        assert_int_equal(rec.aborts, 1);
        assert_memory_equal(err.msg, "mem.tar: ", 9);
    }
}

static void test_sink_failure_keeps_its_code(void **state)
{
    (void)state;
    memreader rd = {bundle.data, bundle.len, 0, 0};
    ap_verify_opts opts = {.keys = &pk, .n_keys = 1};
    record rec = {.fail_at_end = 3};
    ap_error err;
    assert_int_equal(ap_verify_stream(mem_read, &rd, "mem.tar", &opts, &sink, &rec, NULL, &err), -1);
    assert_int_equal(err.code, AP_ERR_TARGET);
    assert_non_null(strstr(err.msg, "target refused"));
    assert_int_equal(rec.completes, 0);
    assert_int_equal(rec.aborts, 1);
}

static void test_trailing_garbage_and_extra_entry(void **state)
{
    (void)state;
    membuf b = {0};
    membuf_put(&b, bundle.data, bundle.len - AP_TAR_END_SIZE);
    ap_error err;
    tar_add(&b, "oci-layout2", "x", 1, &err);
    static const unsigned char end[AP_TAR_END_SIZE];
    membuf_put(&b, end, sizeof end);
    record rec;
    ap_verify_report rep;
    assert_int_equal(verify(b.data, b.len, 0, false, &pk, &rec, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "entry oci-layout2 at offset"));
    assert_non_null(strstr(err.msg, "not listed in the signed index"));
    assert_int_equal(rec.ends, 6);
    assert_int_equal(rec.completes, 0);
    free(b.data);

    memset(&b, 0, sizeof b);
    membuf_put(&b, bundle.data, bundle.len);
    membuf_put(&b, "junk", 4);
    assert_int_equal(verify(b.data, b.len, 0, false, &pk, &rec, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "data after the end of the archive"));
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_bundle_and_sink_order),
        cmocka_unit_test(test_short_reads),
        cmocka_unit_test(test_untrusted_key),
        cmocka_unit_test(test_every_data_byte_covered),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_sink_failure_keeps_its_code),
        cmocka_unit_test(test_trailing_garbage_and_extra_entry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
