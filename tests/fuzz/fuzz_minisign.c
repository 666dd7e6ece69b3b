/* fuzz_minisign.c: libFuzzer target for hostile public keys and signatures.
 *
 * The first byte picks the mode, the rest is the input, copied into a buffer of
 * exactly its size (no NUL) so any over-read trips AddressSanitizer:
 *   0: ap_pubkey_parse(input)
 *   1: ap_verify(input as the signature) against a fixed trusted key and message
 *   2: ap_verify(a valid signature with the input spliced over part of it)
 *   3: ap_verify(a valid signature) over the input as the message
 * The key is fixed (a constant seed) so every crash reproduces. Oracle: whatever
 * verifies must be the one valid signature (its exact base64 lines 2 and 4, as
 * libsodium accepts only canonical base64 and non-malleable Ed25519), with its
 * trusted comment, over the fixed message; whatever fails must say why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>
#include <sodium.h>

#include "../../formats/minisign.h"

static ap_pubkey trusted;
static ap_seckey signer;
static char *valid_sig;
static size_t valid_len;
static const char *valid_line2, *valid_line4;   /* into valid_sig */
static const char fixed_msg[] = "{\"fuzz\":\"airpack bundle index\"}\n";
static const char fixed_tc[] = "timestamp:0\tfile:fuzz";

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    ap_error err;
    if (ap_minisign_init(&err) != 0)
        abort();
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, 0x5a, sizeof seed);
    crypto_sign_seed_keypair(trusted.pk, signer.sk, seed);
    memcpy(signer.keynum, "airpack!", AP_KEYNUM_LEN);
    memcpy(trusted.keynum, signer.keynum, AP_KEYNUM_LEN);
    if (ap_sign(&signer, fixed_msg, strlen(fixed_msg), "fuzz", fixed_tc, &valid_sig, &valid_len, &err) != 0)
        abort();
    valid_line2 = strchr(valid_sig, '\n') + 1;                  /* 100 base64 characters */
    valid_line4 = strchr(strchr(valid_line2, '\n') + 1, '\n') + 1;  /* 88 */
}

static void check_verify(const void *msg, size_t msg_len, const char *sig, size_t sig_len)
{
    ap_error err;
    ap_sig_info info;
    err.code = AP_OK;
    err.msg[0] = '\0';
    int rc = ap_verify(&trusted, 1, msg, msg_len, sig, sig_len, &info, &err);
    if (rc == 0) {
        if (msg_len != strlen(fixed_msg) || memcmp(msg, fixed_msg, msg_len) != 0)
            abort();   /* verified a message that was never signed */
        if (!memmem(sig, sig_len, valid_line2, 100) || !memmem(sig, sig_len, valid_line4, 88))
            abort();   /* a forged or malleated signature */
        if (strcmp(info.trusted_comment, fixed_tc) != 0 || strlen(info.key_id) != 16)
            abort();   /* a trusted comment that was never signed */
    } else if (rc != -1 || err.code == AP_OK || err.msg[0] == '\0') {
        abort();       /* failed without saying why */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 4;
    size_t n = size - 1;
    char *in = malloc(n ? n : 1);
    if (!in)
        return 0;
    memcpy(in, data + 1, n);
    ap_error err;
    switch (mode) {
    case 0: {
        ap_pubkey pk;
        err.code = AP_OK;
        if (ap_pubkey_parse(in, n, &pk, &err) != 0 && err.code == AP_OK)
            abort();
        break;
    }
    case 1:
        check_verify(fixed_msg, strlen(fixed_msg), in, n);
        break;
    case 2: {
        /* Splice the input over the valid signature at an offset from its first two bytes. */
        size_t off = n >= 2 ? (((size_t)(uint8_t)in[0] << 8) | (uint8_t)in[1]) % valid_len : 0;
        size_t payload = n >= 2 ? n - 2 : 0;
        size_t total = off + payload > valid_len ? off + payload : valid_len;
        char *sig = malloc(total);
        if (!sig)
            break;
        memcpy(sig, valid_sig, valid_len);
        memcpy(sig + off, in + (n >= 2 ? 2 : n), payload);
        check_verify(fixed_msg, strlen(fixed_msg), sig, total);
        free(sig);
        break;
    }
    case 3:
        check_verify(in, n, valid_sig, valid_len);
        break;
    }
    free(in);
    return 0;
}
