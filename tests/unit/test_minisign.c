/* test_minisign.c: minisign keys and signatures (formats/minisign.c, formats/password.c)
 * and key lookup (cli/keys.c, compiled in here since it is not in libairpack.a).
 *
 * With AP_INTEROP_DIR set (tests/integration/minisign_interop.sh does that) it
 * runs only the interop cases, on files the real minisign program made there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "../../cli/keys.c"
#include "../../formats/minisign.h"

static char tmpdir[] = "/tmp/test_minisign.XXXXXX";
static const char msg[] = "{\"airpack\":\"bundle index\"}\n";

static char *tpath(const char *name)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
    return buf[i];
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 65536, used = 0, n;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((n = fread(buf + used, 1, cap - used - 1, f)) > 0) {
        used += n;
        if (cap - used - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* A fresh signature over msg; caller frees. */
__attribute__((noinline)) static char *sign_msg(const ap_seckey *sk, const char *tc, size_t *len)
{
    ap_error err;
    char *sig = NULL;
    assert_int_equal(ap_sign(sk, msg, strlen(msg), "airpack test", tc, &sig, len, &err), 0);
    return sig;
}

/* Verifies a copy of sig_text[0..len) in a buffer of exactly len bytes, so that
 * AddressSanitizer catches any read past the end. */
static int verify_exact(const ap_pubkey *keys, size_t n, const char *m, size_t mlen,
                        const char *sig_text, size_t len, ap_sig_info *info, ap_error *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, sig_text, len);
    int rc = ap_verify(keys, n, m, mlen, copy, len, info, err);
    free(copy);
    return rc;
}

static void test_sign_verify_round_trip(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    size_t len;
    char *sig = sign_msg(&sk, "timestamp:1700000000\tfile:bundle.json", &len);
    assert_int_equal(strlen(sig), len);
    ap_sig_info info;
    memset(&info, 0, sizeof info);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), sig, len, &info, &err), 0);
    char id[17];
    ap_pubkey_key_id(&pk, id);
    assert_string_equal(info.key_id, id);
    assert_string_equal(info.trusted_comment, "timestamp:1700000000\tfile:bundle.json");
    /* The text is exactly what minisign writes. */
    assert_memory_equal(sig, "untrusted comment: airpack test\nRU", 34);   /* base64("ED"...) starts "RU" */
    assert_non_null(strstr(sig, "\ntrusted comment: timestamp:1700000000\tfile:bundle.json\n"));
    /* ap_seckey_public gives the same public key. */
    ap_pubkey pk2;
    ap_seckey_public(&sk, &pk2);
    assert_memory_equal(&pk, &pk2, sizeof pk);
    free(sig);
    ap_seckey_wipe(&sk);
    for (size_t i = 0; i < sizeof sk.sk; i++)
        assert_int_equal(sk.sk[i], 0);
}

static void test_signature_size_matches(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    char long_tc[AP_TRUSTED_COMMENT_MAX + 1];
    memset(long_tc, 'x', AP_TRUSTED_COMMENT_MAX);
    long_tc[AP_TRUSTED_COMMENT_MAX] = '\0';
    char long_uc[AP_UNTRUSTED_COMMENT_MAX + 1];
    memset(long_uc, 'u', AP_UNTRUSTED_COMMENT_MAX);
    long_uc[AP_UNTRUSTED_COMMENT_MAX] = '\0';
    const char *ucs[] = {NULL, "", "signature from airpack", long_uc};
    const char *tcs[] = {NULL, "", "a", "timestamp:1\tfile:bundle.json", long_tc};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 5; j++) {
            char *sig = NULL;
            size_t len = 0;
            assert_int_equal(ap_sign(&sk, msg, strlen(msg), ucs[i], tcs[j], &sig, &len, &err), 0);
            assert_int_equal(len, ap_signature_size(ucs[i], tcs[j]));
            assert_int_equal(strlen(sig), len);
            assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), sig, len, NULL, &err), 0);
            free(sig);
        }
}

static void test_sign_rejects_bad_comments(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    char *sig = NULL;
    size_t len = 0;
    assert_int_equal(ap_sign(&sk, msg, strlen(msg), "a\nb", "tc", &sig, &len, &err), -1);
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_int_equal(ap_sign(&sk, msg, strlen(msg), "uc", "tc\r", &sig, &len, &err), -1);
    char too_long[AP_TRUSTED_COMMENT_MAX + 2];
    memset(too_long, 'x', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    assert_int_equal(ap_sign(&sk, msg, strlen(msg), "uc", too_long, &sig, &len, &err), -1);
    assert_non_null(strstr(err.msg, "trusted comment"));
    assert_null(sig);
}

static void test_tampered_message_fails(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    size_t len;
    char *sig = sign_msg(&sk, "tc", &len);
    char bad[sizeof msg];
    memcpy(bad, msg, sizeof msg);
    for (size_t i = 0; i < strlen(msg); i++) {
        bad[i] ^= 0x01;
        assert_int_equal(ap_verify(&pk, 1, bad, strlen(msg), sig, len, NULL, &err), -1);
        assert_int_equal(err.code, AP_ERR_VERIFY);
        assert_non_null(strstr(err.msg, "signature verification failed"));
        bad[i] ^= 0x01;
    }
    /* A shorter or longer message fails too. */
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg) - 1, sig, len, NULL, &err), -1);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg) + 1, sig, len, NULL, &err), -1);
    free(sig);
}

static void test_tampered_trusted_comment_fails(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    size_t len;
    char *sig = sign_msg(&sk, "timestamp:1700000000", &len);
    char *tc = strstr(sig, "timestamp:1700000000");
    assert_non_null(tc);
    tc[strlen("timestamp:")] = '2';   /* 1700000000 -> 2700000000 */
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), sig, len, NULL, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "trusted comment does not match its signature"));
    free(sig);

    /* Dropping the trusted comment entirely fails the same way. */
    sig = sign_msg(&sk, "x", &len);
    char *line3 = strstr(sig, "trusted comment: x\n");
    assert_non_null(line3);
    memmove(line3 + strlen("trusted comment: "), line3 + strlen("trusted comment: x"),
            strlen(line3 + strlen("trusted comment: x")) + 1);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), sig, strlen(sig), NULL, &err), -1);
    assert_non_null(strstr(err.msg, "trusted comment does not match its signature"));
    free(sig);
}

static void test_untrusted_key_fails(void **state)
{
    (void)state;
    ap_pubkey signer, other[2];
    ap_seckey sk, junk;
    ap_error err;
    ap_keypair_generate(&signer, &sk);
    ap_keypair_generate(&other[0], &junk);
    ap_keypair_generate(&other[1], &junk);
    size_t len;
    char *sig = sign_msg(&sk, "tc", &len);
    char id[17], expect[80];
    ap_pubkey_key_id(&signer, id);
    snprintf(expect, sizeof expect, "signed by key ID %s, which is not trusted", id);
    assert_int_equal(ap_verify(other, 2, msg, strlen(msg), sig, len, NULL, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    assert_non_null(strstr(err.msg, expect));
    assert_int_equal(ap_verify(NULL, 0, msg, strlen(msg), sig, len, NULL, &err), -1);
    assert_non_null(strstr(err.msg, expect));
    /* Among several trusted keys, the right one is found. */
    ap_pubkey three[3] = {other[0], signer, other[1]};
    ap_sig_info info;
    assert_int_equal(ap_verify(three, 3, msg, strlen(msg), sig, len, &info, &err), 0);
    assert_string_equal(info.key_id, id);
    /* Same key id, different public key: not a match. */
    ap_pubkey impostor = other[0];
    memcpy(impostor.keynum, signer.keynum, AP_KEYNUM_LEN);
    assert_int_equal(ap_verify(&impostor, 1, msg, strlen(msg), sig, len, NULL, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    free(sig);
}

/* Replaces line 2 of a signature with base64(bin). */
static char *with_sig_line(const char *sig, const uint8_t *bin, size_t n)
{
    const char *l2 = strchr(sig, '\n') + 1;
    const char *l3 = strchr(l2, '\n');
    char b64[256];
    sodium_bin2base64(b64, sizeof b64, bin, n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(strlen(sig) + 256);
    assert_non_null(out);
    sprintf(out, "%.*s%s%s", (int)(l2 - sig), sig, b64, l3);
    return out;
}

static void sig_line_bin(const char *sig, uint8_t bin[74])
{
    const char *l2 = strchr(sig, '\n') + 1;
    size_t bin_len;
    assert_int_equal(sodium_base642bin(bin, 74, l2, 100, NULL, &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(bin_len, 74);
}

static void test_unknown_algorithm_fails(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    size_t len;
    char *sig = sign_msg(&sk, "tc", &len);
    uint8_t bin[74];
    sig_line_bin(sig, bin);
    assert_memory_equal(bin, "ED", 2);
    memcpy(bin, "XX", 2);
    char *bad = with_sig_line(sig, bin, sizeof bin);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), bad, strlen(bad), NULL, &err), -1);
    assert_int_equal(err.code, AP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "unsupported signature algorithm"));
    free(bad);
    free(sig);
}

/* A legacy ("Ed", not prehashed) signature, built by hand as minisign -l does. */
static void test_legacy_signature_verifies(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    uint8_t bin[74], global[64], buf[64 + 2];
    memcpy(bin, "Ed", 2);
    memcpy(bin + 2, sk.keynum, 8);
    crypto_sign_detached(bin + 10, NULL, (const uint8_t *)msg, strlen(msg), sk.sk);
    memcpy(buf, bin + 10, 64);
    memcpy(buf + 64, "hi", 2);
    crypto_sign_detached(global, NULL, buf, sizeof buf, sk.sk);
    char b1[128], b2[128], text[512];
    sodium_bin2base64(b1, sizeof b1, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b2, sizeof b2, global, sizeof global, sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof text, "untrusted comment: legacy\n%s\ntrusted comment: hi\n%s\n", b1, b2);
    ap_sig_info info;
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), text, strlen(text), &info, &err), 0);
    assert_string_equal(info.trusted_comment, "hi");
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg) - 1, text, strlen(text), &info, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    /* The prehashed signature is not accepted as a legacy one or the other way round. */
    memcpy(bin, "ED", 2);
    char *as_hashed = with_sig_line(text, bin, sizeof bin);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), as_hashed, strlen(as_hashed), NULL, &err), -1);
    free(as_hashed);
}

/* Every truncation of a signature fails cleanly (exact-size buffers, no NUL), and so
 * does every single-byte change after the untrusted comment line. */
static void test_malformed_signatures_of_every_length(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    size_t len;
    char *sig = sign_msg(&sk, "timestamp:1700000000", &len);
    for (size_t n = 0; n + 1 < len; n++) {
        err.code = AP_OK;
        assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), sig, n, NULL, &err), -1);
        assert_int_equal(err.code, AP_ERR_FORMAT);
    }
    /* Only the last newline is optional. */
    assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), sig, len - 1, NULL, &err), 0);
    assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), sig, len, NULL, &err), 0);
    size_t line2 = (size_t)(strchr(sig, '\n') + 1 - sig);
    for (size_t i = line2; i < len - 1; i++) {
        char saved = sig[i];
        const char repl[] = {'A', 'z', '\n', '\0', ' ', '='};
        for (size_t r = 0; r < sizeof repl; r++) {
            if (repl[r] == saved)
                continue;
            sig[i] = repl[r];
            assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), sig, len, NULL, &err), -1);
        }
        sig[i] = saved;
    }
    /* Bytes >= 0x80 anywhere after line 1 (libsodium 1.0.18 alone would take some
     * of them for base64 digits; the fuzzer found that). */
    for (size_t i = line2; i < len; i++) {
        char saved = sig[i];
        for (int b = 0x80; b <= 0xff; b++) {
            sig[i] = (char)b;
            assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), sig, len, NULL, &err), -1);
        }
        sig[i] = saved;
    }
    /* Extra lines and missing prefixes. */
    char *more = malloc(len + 16);
    memcpy(more, sig, len);
    memcpy(more + len, "extra\n", 6);
    assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), more, len + 6, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "unexpected text after line 4"));
    free(more);
    sig[0] = 'U';
    assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), sig, len, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "line 1 does not start with"));
    /* An untrusted comment longer than minisign can read is refused. */
    char *huge = malloc(4096);
    memset(huge, 'u', 4096);
    memcpy(huge, "untrusted comment: ", 19);
    huge[4095] = '\n';
    assert_int_equal(verify_exact(&pk, 1, msg, strlen(msg), huge, 4096, NULL, &err), -1);
    assert_int_equal(err.code, AP_ERR_FORMAT);
    free(huge);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), NULL, 0, NULL, &err), -1);
    free(sig);
}

static void test_untrusted_comment_is_not_signed(void **state)
{
    (void)state;
    ap_pubkey pk;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    size_t len;
    char *sig = sign_msg(&sk, "tc", &len);
    const char *rest = strchr(sig, '\n');
    char text[1024];
    snprintf(text, sizeof text, "untrusted comment: rewritten by anyone%s", rest);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), text, strlen(text), NULL, &err), 0);
    /* CRLF line ends (a signature that went through a Windows editor) verify too. */
    char crlf[1024];
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (sig[i] == '\n')
            crlf[o++] = '\r';
        crlf[o++] = sig[i];
    }
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), crlf, o, NULL, &err), 0);
    free(sig);
}

static void test_pubkey_save_load_parse(void **state)
{
    (void)state;
    ap_pubkey pk, back;
    ap_seckey sk;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    assert_int_equal(ap_pubkey_save(tpath("k.pub"), &pk, &err), 0);
    assert_int_equal(ap_pubkey_load(tpath("k.pub"), &back, &err), 0);
    assert_memory_equal(&pk, &back, sizeof pk);
    size_t len;
    char *text = read_text(tpath("k.pub"), &len);
    char id[17], first[64];
    ap_pubkey_key_id(&pk, id);
    snprintf(first, sizeof first, "untrusted comment: minisign public key %s\n", id);
    assert_memory_equal(text, first, strlen(first));
    assert_int_equal(len, strlen(first) + 56 + 1);
    /* Just the base64 line, with blanks around it, parses too. */
    char pasted[80];
    snprintf(pasted, sizeof pasted, "  %.56s \n", text + strlen(first));
    assert_int_equal(ap_pubkey_parse(pasted, strlen(pasted), &back, &err), 0);
    assert_memory_equal(&pk, &back, sizeof pk);
    /* Every truncation of the file fails, except dropping the last newline. */
    for (size_t n = 0; n + 1 < len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, text, n);
        assert_int_equal(ap_pubkey_parse(copy, n, &back, &err), -1);
        assert_int_equal(err.code, AP_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "not a minisign public key"));
        free(copy);
    }
    assert_int_equal(ap_pubkey_parse(text, len - 1, &back, &err), 0);
    /* Wrong algorithm. */
    uint8_t bin[42];
    size_t bin_len;
    assert_int_equal(sodium_base642bin(bin, 42, text + strlen(first), 56, NULL, &bin_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    memcpy(bin, "ED", 2);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(ap_pubkey_parse(b64, strlen(b64), &back, &err), -1);
    assert_non_null(strstr(err.msg, "unsupported signature algorithm"));
    /* A file that is something else names the file. */
    write_text(tpath("x.pub"), "hello\n", 6);
    assert_int_equal(ap_pubkey_load(tpath("x.pub"), &back, &err), -1);
    char expect[600];
    snprintf(expect, sizeof expect, "reading public key %s: not a minisign public key", tpath("x.pub"));
    assert_non_null(strstr(err.msg, expect));
    assert_int_equal(ap_pubkey_load(tpath("missing.pub"), &back, &err), -1);
    assert_int_equal(err.code, AP_ERR_IO);
    assert_non_null(strstr(err.msg, "No such file"));
    free(text);
}

static void test_key_id_format(void **state)
{
    (void)state;
    ap_pubkey pk;
    memset(&pk, 0, sizeof pk);
    for (int i = 0; i < 8; i++)
        pk.keynum[i] = (uint8_t)(i + 1);
    pk.keynum[0] = 0xab;
    char id[17];
    ap_pubkey_key_id(&pk, id);
    assert_string_equal(id, "08070605040302AB");
}

static void test_unencrypted_seckey_save_load(void **state)
{
    (void)state;
    ap_pubkey pk, back_pk;
    ap_seckey sk, back;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    assert_int_equal(ap_seckey_save(tpath("plain.key"), &sk, NULL, &err), 0);
    struct stat st;
    assert_int_equal(stat(tpath("plain.key"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    bool enc = true;
    assert_int_equal(ap_seckey_is_encrypted(tpath("plain.key"), &enc, &err), 0);
    assert_false(enc);
    assert_int_equal(ap_seckey_load(tpath("plain.key"), NULL, &back, &err), 0);
    assert_memory_equal(&sk, &back, sizeof sk);
    ap_seckey_public(&back, &back_pk);
    assert_memory_equal(&pk, &back_pk, sizeof pk);

    /* minisign -G -W writes an all-zero checksum: that loads too; a wrong one does not. */
    size_t len;
    char *text = read_text(tpath("plain.key"), &len);
    char *line2 = strchr(text, '\n') + 1;
    uint8_t bin[158];
    size_t bin_len;
    assert_int_equal(sodium_base642bin(bin, sizeof bin, line2, 212, NULL, &bin_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    assert_memory_equal(bin, "Ed\0\0B2", 6);
    memset(bin + 126, 0, 32);
    char b64[256], file[512];
    sodium_bin2base64(b64, sizeof b64, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
    snprintf(file, sizeof file, "untrusted comment: minisign encrypted secret key\n%s\n", b64);
    write_text(tpath("zero.key"), file, strlen(file));
    assert_int_equal(ap_seckey_load(tpath("zero.key"), NULL, &back, &err), 0);
    assert_memory_equal(&sk, &back, sizeof sk);
    bin[126] = 1;
    sodium_bin2base64(b64, sizeof b64, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
    snprintf(file, sizeof file, "untrusted comment: x\n%s\n", b64);
    write_text(tpath("badchk.key"), file, strlen(file));
    assert_int_equal(ap_seckey_load(tpath("badchk.key"), NULL, &back, &err), -1);
    assert_int_equal(err.code, AP_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "corrupt"));
    /* A flipped secret byte with a zero checksum is caught by the seed/public check. */
    memset(bin + 126, 0, 32);
    bin[62 + 40] ^= 1;
    sodium_bin2base64(b64, sizeof b64, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
    snprintf(file, sizeof file, "untrusted comment: x\n%s\n", b64);
    write_text(tpath("badpk.key"), file, strlen(file));
    assert_int_equal(ap_seckey_load(tpath("badpk.key"), NULL, &back, &err), -1);
    assert_non_null(strstr(err.msg, "public half"));
    /* Every truncation fails with a message naming the file. */
    for (size_t n = 0; n + 1 < len; n++) {
        write_text(tpath("trunc.key"), text, n);
        assert_int_equal(ap_seckey_load(tpath("trunc.key"), NULL, &back, &err), -1);
        assert_non_null(strstr(err.msg, tpath("trunc.key")));
    }
    free(text);
    ap_seckey_wipe(&back);
}

static void test_encrypted_seckey_right_and_wrong_password(void **state)
{
    (void)state;
    ap_minisign_set_kdf_limits_for_tests(crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_INTERACTIVE,
                                         crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_INTERACTIVE);
    ap_pubkey pk;
    ap_seckey sk, back;
    ap_error err;
    ap_keypair_generate(&pk, &sk);
    assert_int_equal(ap_seckey_save(tpath("enc.key"), &sk, "correct horse", &err), 0);
    ap_minisign_set_kdf_limits_for_tests(0, 0);
    bool enc = false;
    assert_int_equal(ap_seckey_is_encrypted(tpath("enc.key"), &enc, &err), 0);
    assert_true(enc);
    /* The key material is not in the file in the clear. */
    size_t len;
    char *text = read_text(tpath("enc.key"), &len);
    uint8_t bin[158];
    size_t bin_len;
    assert_int_equal(sodium_base642bin(bin, sizeof bin, strchr(text, '\n') + 1, 212, NULL, &bin_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    assert_memory_equal(bin, "EdScB2", 6);
    assert_memory_not_equal(bin + 62, sk.sk, 64);
    assert_int_equal((uint64_t)bin[38] | (uint64_t)bin[39] << 8 | (uint64_t)bin[40] << 16,
                     crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_INTERACTIVE);
    free(text);

    assert_int_equal(ap_seckey_load(tpath("enc.key"), "correct horse", &back, &err), 0);
    assert_memory_equal(&sk, &back, sizeof sk);
    assert_int_equal(ap_seckey_load(tpath("enc.key"), "wrong horse", &back, &err), -1);
    assert_int_equal(err.code, AP_ERR_CRYPTO);
    char expect[600];
    snprintf(expect, sizeof expect, "wrong password for secret key %s", tpath("enc.key"));
    assert_string_equal(err.msg, expect);
    assert_int_equal(ap_seckey_load(tpath("enc.key"), NULL, &back, &err), -1);
    assert_non_null(strstr(err.msg, "is encrypted and no password was given"));
    /* The loaded key signs what the public key verifies. */
    assert_int_equal(ap_seckey_load(tpath("enc.key"), "correct horse", &back, &err), 0);
    size_t slen;
    char *sig = sign_msg(&back, "tc", &slen);
    assert_int_equal(ap_verify(&pk, 1, msg, strlen(msg), sig, slen, NULL, &err), 0);
    free(sig);
    /* Through cli/keys.c with AIRPACK_PASSWORD. */
    setenv("AIRPACK_PASSWORD", "correct horse", 1);
    assert_int_equal(secret_key_load(tpath("enc.key"), NULL, &back, &err), 0);
    assert_memory_equal(&sk, &back, sizeof sk);
    setenv("AIRPACK_PASSWORD", "nope", 1);
    assert_int_equal(secret_key_load(tpath("enc.key"), NULL, &back, &err), -1);
    assert_non_null(strstr(err.msg, "wrong password"));
    unsetenv("AIRPACK_PASSWORD");
}

static void test_seckey_refuses_absurd_kdf_limits(void **state)
{
    (void)state;
    uint8_t bin[158];
    memset(bin, 0, sizeof bin);
    memcpy(bin, "EdScB2", 6);
    memset(bin + 38, 0xff, 16);   /* opslimit and memlimit 2^64-1 */
    char b64[256], file[512];
    sodium_bin2base64(b64, sizeof b64, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
    snprintf(file, sizeof file, "untrusted comment: x\n%s\n", b64);
    write_text(tpath("absurd.key"), file, strlen(file));
    ap_seckey back;
    ap_error err;
    assert_int_equal(ap_seckey_load(tpath("absurd.key"), "pw", &back, &err), -1);
    assert_non_null(strstr(err.msg, "scrypt limits"));
    memcpy(bin + 2, "Xx", 2);
    sodium_bin2base64(b64, sizeof b64, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
    snprintf(file, sizeof file, "untrusted comment: x\n%s\n", b64);
    write_text(tpath("kdf.key"), file, strlen(file));
    assert_int_equal(ap_seckey_load(tpath("kdf.key"), "pw", &back, &err), -1);
    assert_non_null(strstr(err.msg, "unsupported key derivation function"));
}

static void test_read_password_sources(void **state)
{
    (void)state;
    ap_error err;
    setenv("AIRPACK_PASSWORD", "from env", 1);
    write_text(tpath("pw"), "from file\r\nsecond line\n", 23);
    char *p = ap_read_password(tpath("pw"), "Password: ", false, &err);
    assert_string_equal(p, "from env");
    ap_password_free(p);
    unsetenv("AIRPACK_PASSWORD");
    p = ap_read_password(tpath("pw"), "Password: ", false, &err);
    assert_string_equal(p, "from file");
    ap_password_free(p);
    write_text(tpath("pw2"), "no newline", 10);
    p = ap_read_password(tpath("pw2"), "Password: ", false, &err);
    assert_string_equal(p, "no newline");
    ap_password_free(p);
    assert_null(ap_read_password(tpath("nonexistent"), "Password: ", false, &err));
    assert_int_equal(err.code, AP_ERR_IO);
    assert_non_null(strstr(err.msg, "reading password file"));
    char big[2000];
    memset(big, 'p', sizeof big);
    write_text(tpath("pw3"), big, sizeof big);
    assert_null(ap_read_password(tpath("pw3"), "Password: ", false, &err));
    assert_non_null(strstr(err.msg, "longer than"));
    /* No terminal (a new session has none): a clear message, not a hang. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        setsid();
        ap_error e;
        char *q = ap_read_password(NULL, "Password: ", false, &e);
        if (q == NULL && write(fds[1], e.msg, strlen(e.msg)) < 0)
            _exit(3);
        _exit(q == NULL ? 0 : 1);
    }
    close(fds[1]);
    char msgbuf[512] = {0};
    ssize_t r = read(fds[0], msgbuf, sizeof msgbuf - 1);
    (void)r;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(msgbuf, "no password: set AIRPACK_PASSWORD, use --password-file, or run on a terminal");
}

static void test_trusted_keys_and_paths(void **state)
{
    (void)state;
    ap_error err;
    ap_pubkey a, b;
    ap_seckey sa, sb;
    ap_keypair_generate(&a, &sa);
    ap_keypair_generate(&b, &sb);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/conf", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    setenv("AIRPACK_CONFIG_DIR", dir, 1);
    unsetenv("AIRPACK_TRUSTED_KEYS");
    unsetenv("AIRPACK_SECRET_KEY");
    char got[4096];
    assert_int_equal(config_dir(got, sizeof got, &err), 0);
    assert_string_equal(got, dir);
    assert_int_equal(ap_default_seckey_path(got, sizeof got, &err), 0);
    char want[600];
    snprintf(want, sizeof want, "%s/airpack.key", dir);
    assert_string_equal(got, want);
    setenv("AIRPACK_SECRET_KEY", "/somewhere/else.key", 1);
    assert_int_equal(ap_default_seckey_path(got, sizeof got, &err), 0);
    assert_string_equal(got, "/somewhere/else.key");
    unsetenv("AIRPACK_SECRET_KEY");

    /* No trusted.d yet: nothing, no error. */
    trusted_keys t = {0};
    assert_int_equal(trusted_keys_add_default_dir(&t, &err), 0);
    assert_int_equal(t.n, 0);
    snprintf(got, sizeof got, "%s/trusted.d", dir);
    assert_int_equal(mkdir(got, 0700), 0);
    snprintf(got, sizeof got, "%s/trusted.d/a.pub", dir);
    assert_int_equal(ap_pubkey_save(got, &a, &err), 0);
    snprintf(got, sizeof got, "%s/trusted.d/b.pub", dir);
    assert_int_equal(ap_pubkey_save(got, &b, &err), 0);
    snprintf(got, sizeof got, "%s/trusted.d/notes.txt", dir);
    write_text(got, "ignored", 7);
    assert_int_equal(trusted_keys_add_default_dir(&t, &err), 0);
    assert_int_equal(t.n, 2);
    assert_memory_equal(&t.keys[0], &a, sizeof a);   /* sorted by name */
    assert_memory_equal(&t.keys[1], &b, sizeof b);
    /* The same key again (file or -P) is not added twice. */
    snprintf(got, sizeof got, "%s/trusted.d/a.pub", dir);
    assert_int_equal(trusted_keys_add_file(&t, got, &err), 0);
    size_t len;
    char *text = read_text(got, &len);
    char *b64 = strchr(text, '\n') + 1;
    b64[56] = '\0';
    assert_int_equal(trusted_keys_add_base64(&t, b64, &err), 0);
    assert_int_equal(t.n, 2);
    free(text);
    assert_int_equal(trusted_keys_add_base64(&t, "RWQnotakey", &err), -1);
    assert_non_null(strstr(err.msg, "public key given with -P: not a minisign public key"));
    write_text(tpath("x.pub"), "untrusted comment: x\nnot base64\n", 32);
    assert_int_equal(trusted_keys_add_file(&t, tpath("x.pub"), &err), -1);
    snprintf(want, sizeof want, "reading public key %s: not a minisign public key", tpath("x.pub"));
    assert_non_null(strstr(err.msg, want));
    /* A broken key in trusted.d is an error naming it. */
    snprintf(got, sizeof got, "%s/trusted.d/c.pub", dir);
    write_text(got, "junk\n", 5);
    trusted_keys t2 = {0};
    assert_int_equal(trusted_keys_add_default_dir(&t2, &err), -1);
    assert_non_null(strstr(err.msg, "c.pub: not a minisign public key"));
    trusted_keys_free(&t2);
    trusted_keys_free(&t);
    /* AIRPACK_TRUSTED_KEYS overrides the directory; it may name one key file. */
    snprintf(got, sizeof got, "%s/trusted.d/b.pub", dir);
    setenv("AIRPACK_TRUSTED_KEYS", got, 1);
    assert_int_equal(trusted_keys_add_default_dir(&t, &err), 0);
    assert_int_equal(t.n, 1);
    assert_memory_equal(&t.keys[0], &b, sizeof b);
    trusted_keys_free(&t);
    setenv("AIRPACK_TRUSTED_KEYS", tpath("no-such-dir"), 1);
    assert_int_equal(trusted_keys_add_default_dir(&t, &err), 0);
    assert_int_equal(t.n, 0);
    unsetenv("AIRPACK_TRUSTED_KEYS");

    /* secret_key_load: the default path, and a clear message when it is missing. */
    assert_int_equal(secret_key_load(NULL, NULL, &sa, &err), -1);
    assert_non_null(strstr(err.msg, "airpack keygen"));
    snprintf(got, sizeof got, "%s/airpack.key", dir);
    assert_int_equal(ap_seckey_save(got, &sb, NULL, &err), 0);
    ap_seckey loaded;
    assert_int_equal(secret_key_load(NULL, NULL, &loaded, &err), 0);
    assert_memory_equal(&loaded, &sb, sizeof sb);
    unsetenv("AIRPACK_CONFIG_DIR");
}

/* ---- interop mode: files made by the real minisign ---------------------- */

static const char *idir(const char *name)
{
    static char buf[4][1024];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", getenv("AP_INTEROP_DIR"), name);
    return buf[i];
}

static void interop_load_minisign_unencrypted_key(void **state)
{
    (void)state;
    ap_error err;
    ap_pubkey pk, derived;
    ap_seckey sk;
    if (ap_pubkey_load(idir("ms.pub"), &pk, &err) != 0)
        fail_msg("%s", err.msg);
    if (ap_seckey_load(idir("ms.key"), NULL, &sk, &err) != 0)
        fail_msg("%s", err.msg);
    ap_seckey_public(&sk, &derived);
    assert_memory_equal(&pk, &derived, sizeof pk);
    /* The key id printed by minisign is ours. minisign prints it without leading
     * zeros ("%" PRIX64): compare the numbers, not the strings. */
    char id[17];
    ap_pubkey_key_id(&pk, id);
    size_t len;
    char *text = read_text(idir("ms.pub"), &len);
    const char *at = strstr(text, "minisign public key ");
    assert_non_null(at);
    char *end;
    unsigned long long printed = strtoull(at + strlen("minisign public key "), &end, 16);
    assert_true(end > at + strlen("minisign public key ") && (*end == '\n' || *end == '\r' || *end == 0));
    assert_true(printed == strtoull(id, NULL, 16));
    free(text);
}

static void interop_verify(const char *sig_name)
{
    ap_error err;
    ap_pubkey pk;
    if (ap_pubkey_load(idir("ms.pub"), &pk, &err) != 0)
        fail_msg("%s", err.msg);
    size_t mlen, slen;
    char *m = read_text(idir("msg"), &mlen);
    char *sig = read_text(idir(sig_name), &slen);
    ap_sig_info info;
    if (ap_verify(&pk, 1, m, mlen, sig, slen, &info, &err) != 0)
        fail_msg("%s: %s", sig_name, err.msg);
    assert_string_equal(info.trusted_comment, getenv("AP_INTEROP_TC"));
    m[0] ^= 1;
    assert_int_equal(ap_verify(&pk, 1, m, mlen, sig, slen, &info, &err), -1);
    free(m);
    free(sig);
}

static void interop_verify_minisign_prehashed_signature(void **state)
{
    (void)state;
    interop_verify("msg.minisig");
}

static void interop_verify_minisign_legacy_signature(void **state)
{
    (void)state;
    interop_verify("msg.legacy.minisig");
}

static void interop_sign_for_minisign(void **state)
{
    (void)state;
    ap_error err;
    ap_seckey sk;
    if (ap_seckey_load(idir("ms.key"), NULL, &sk, &err) != 0)
        fail_msg("%s", err.msg);
    size_t mlen, slen;
    char *m = read_text(idir("msg"), &mlen);
    char *sig = NULL;
    assert_int_equal(ap_sign(&sk, m, mlen, "signed by airpack", getenv("AP_INTEROP_TC"), &sig, &slen, &err), 0);
    write_text(idir("msg.airpack.minisig"), sig, slen);
    free(sig);
    free(m);
}

static void interop_load_minisign_encrypted_key(void **state)
{
    (void)state;
    ap_error err;
    ap_pubkey pk, derived;
    ap_seckey sk;
    bool enc = false;
    if (ap_pubkey_load(idir("ms_enc.pub"), &pk, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(ap_seckey_is_encrypted(idir("ms_enc.key"), &enc, &err), 0);
    assert_true(enc);
    if (ap_seckey_load(idir("ms_enc.key"), getenv("AP_INTEROP_PASSWORD"), &sk, &err) != 0)
        fail_msg("%s", err.msg);
    ap_seckey_public(&sk, &derived);
    assert_memory_equal(&pk, &derived, sizeof pk);
    /* (A wrong password is covered by test_encrypted_seckey_right_and_wrong_password:
     * each try here costs a full 1 GiB scrypt run.) */
}

static int setup_tmpdir(void **state)
{
    (void)state;
    if (ap_minisign_init(NULL) != 0 || !mkdtemp(tmpdir))
        return -1;
    return 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    if (getenv("AP_INTEROP_DIR")) {
        const struct CMUnitTest interop[] = {
            cmocka_unit_test(interop_load_minisign_unencrypted_key),
            cmocka_unit_test(interop_verify_minisign_prehashed_signature),
            cmocka_unit_test(interop_verify_minisign_legacy_signature),
            cmocka_unit_test(interop_sign_for_minisign),
            cmocka_unit_test(interop_load_minisign_encrypted_key),
        };
        return cmocka_run_group_tests(interop, setup_tmpdir, remove_tmpdir);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_signature_size_matches),
        cmocka_unit_test(test_sign_rejects_bad_comments),
        cmocka_unit_test(test_tampered_message_fails),
        cmocka_unit_test(test_tampered_trusted_comment_fails),
        cmocka_unit_test(test_untrusted_key_fails),
        cmocka_unit_test(test_unknown_algorithm_fails),
        cmocka_unit_test(test_legacy_signature_verifies),
        cmocka_unit_test(test_malformed_signatures_of_every_length),
        cmocka_unit_test(test_untrusted_comment_is_not_signed),
        cmocka_unit_test(test_pubkey_save_load_parse),
        cmocka_unit_test(test_key_id_format),
        cmocka_unit_test(test_unencrypted_seckey_save_load),
        cmocka_unit_test(test_encrypted_seckey_right_and_wrong_password),
        cmocka_unit_test(test_seckey_refuses_absurd_kdf_limits),
        cmocka_unit_test(test_read_password_sources),
        cmocka_unit_test(test_trusted_keys_and_paths),
    };
    return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
