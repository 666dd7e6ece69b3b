/* test_digest.c: SHA-256 known answers, streaming equals one-shot, digest parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../formats/digest.h"

static void test_sha256_known_vectors(void **state)
{
    (void)state;
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ap_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ap_sha256_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_streaming_and_reuse(void **state)
{
    (void)state;
    ap_sha256 *h = ap_sha256_new();
    assert_non_null(h);
    /* one million 'a' in uneven pieces: the FIPS 180-2 long vector */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    size_t done = 0, step = 1;
    while (done < 1000000) {
        size_t n = step < 1000000 - done ? step : 1000000 - done;
        ap_error err;
        assert_int_equal(ap_sha256_sink(h, a + done, n, &err), 0);
        done += n;
        step = step * 3 + 1;
    }
    char hex[AP_HEX_LEN + 1];
    ap_sha256_final_hex(h, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* final resets: the same object hashes "abc" afresh */
    ap_sha256_update(h, "ab", 2);
    ap_sha256_update(h, "c", 1);
    ap_sha256_final_hex(h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ap_sha256_free(h);
    free(a);
}

static void test_digest_parse_accepts(void **state)
{
    (void)state;
    char hex[AP_HEX_LEN + 1];
    ap_error err;
    const char *d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_int_equal(ap_digest_parse(d, hex, "config", &err), 0);
    assert_string_equal(hex, d + 7);
    assert_true(ap_hex_valid(d + 7));
}

static void test_digest_parse_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "sha256:",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:../../../../etc/passwd0000000000000000000000000000000000000000000",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        " sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char hex[AP_HEX_LEN + 1];
        ap_error err;
        ap_error_clear(&err);
        assert_int_equal(ap_digest_parse(bad[i], hex, "layer 2 of nginx:1.25", &err), -1);
        assert_int_equal(err.code, AP_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "layer 2 of nginx:1.25"));
        assert_non_null(strstr(err.msg, "is not a digest"));
    }
    /* control bytes in the input are escaped in the message */
    char hex[AP_HEX_LEN + 1];
    ap_error err;
    assert_int_equal(ap_digest_parse("sha256:\x1b[31m", hex, "x", &err), -1);
    assert_null(strchr(err.msg, '\x1b'));
    assert_false(ap_hex_valid("abc"));
}

static void test_hex_encode(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    ap_hex_encode(in, 4, out);
    assert_string_equal(out, "000fa5ff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_vectors),
        cmocka_unit_test(test_sha256_streaming_and_reuse),
        cmocka_unit_test(test_digest_parse_accepts),
        cmocka_unit_test(test_digest_parse_rejects),
        cmocka_unit_test(test_hex_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
