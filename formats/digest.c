/* digest.c: SHA-256 through OpenSSL's EVP interface (SHA-NI where the CPU has it),
 * and strict parsing of "sha256:<hex>" digest strings. */
#include "digest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct ap_sha256 {
    EVP_MD_CTX *ctx;
};

/* EVP_sha256() is a static method table; fetching it per context is cheap. */
static const EVP_MD *sha256_md(void)
{
    return EVP_sha256();
}

ap_sha256 *ap_sha256_new(void)
{
    ap_sha256 *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, sha256_md(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void ap_sha256_update(ap_sha256 *h, const void *buf, size_t n)
{
    if (n > 0)
        EVP_DigestUpdate(h->ctx, buf, n);
}

void ap_sha256_final_hex(ap_sha256 *h, char hex_out[AP_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->ctx, md, &len);
    ap_hex_encode(md, AP_SHA256_LEN, hex_out);
    EVP_DigestInit_ex(h->ctx, sha256_md(), NULL);
}

void ap_sha256_free(ap_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int ap_sha256_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    (void)err;
    ap_sha256_update(ctx, buf, n);
    return 0;
}

void ap_sha256_hex(const void *buf, size_t n, char hex_out[AP_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(buf, n, md, &len, sha256_md(), NULL);
    ap_hex_encode(md, AP_SHA256_LEN, hex_out);
}

bool ap_hex_valid(const char *hex)
{
    if (!hex)
        return false;
    for (size_t i = 0; i < AP_HEX_LEN; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;   /* also stops at a NUL before 64 digits */
    }
    return hex[AP_HEX_LEN] == '\0';
}

/* Quotes at most 80 bytes of untrusted text for a message, escaping control bytes. */
static void quote_for_message(const char *s, char *out, size_t outsz)
{
    size_t o = 0, i = 0;
    for (; s[i] && i < 80 && o + 5 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isprint(c) && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
    }
    if (s[i] && o + 4 < outsz) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

int ap_digest_parse(const char *s, char hex_out[AP_HEX_LEN + 1], const char *what, ap_error *err)
{
    const char *name = what ? what : "digest";
    if (!s)
        return ap_fail(err, AP_ERR_FORMAT, "%s: missing digest", name);
    if (strncmp(s, "sha256:", 7) != 0 || !ap_hex_valid(s + 7)) {
        char q[512];
        quote_for_message(s, q, sizeof q);
        return ap_fail(err, AP_ERR_FORMAT,
                       "%s: \"%s\" is not a digest of the form sha256:<64 lowercase hex digits>",
                       name, q);
    }
    memcpy(hex_out, s + 7, AP_HEX_LEN);
    hex_out[AP_HEX_LEN] = '\0';
    return 0;
}

void ap_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int ap_digest_parse_field(const char *s, const char *where, const char *key, char out[AP_DIGEST_LEN + 1],
                          ap_error *err)
{
    char hex[AP_HEX_LEN + 1], what[256];
    snprintf(what, sizeof what, "%s: \"%s\"", where, key);
    if (ap_digest_parse(s, hex, what, err) < 0)
        return -1;
    snprintf(out, AP_DIGEST_LEN + 1, "sha256:%s", hex);
    return 0;
}
