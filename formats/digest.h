/* digest.h: SHA-256 (OpenSSL libcrypto, SHA-NI speed) and OCI digest strings.
 *
 * An OCI digest here is always "sha256:" followed by 64 lowercase hex digits;
 * ap_digest_parse refuses anything else, so a digest from input can be used
 * safely in a path (blobs/sha256/<hex>). */
#ifndef AIRPACK_DIGEST_H
#define AIRPACK_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define AP_SHA256_LEN 32
#define AP_HEX_LEN 64            /* hex digits of a sha256 */
#define AP_DIGEST_LEN 71         /* "sha256:" + 64 hex */

typedef struct ap_sha256 ap_sha256;

ap_sha256 *ap_sha256_new(void);           /* NULL on out of memory */
void ap_sha256_update(ap_sha256 *h, const void *buf, size_t n);
/* Writes the 64 hex digits plus NUL into hex_out, and resets h for reuse. */
void ap_sha256_final_hex(ap_sha256 *h, char hex_out[AP_HEX_LEN + 1]);
void ap_sha256_free(ap_sha256 *h);

/* A sink (see stream.h) that hashes what passes through it: ctx is ap_sha256*. */
int ap_sha256_sink(void *ctx, const void *buf, size_t n, ap_error *err);

/* One-shot hash of a buffer into hex. */
void ap_sha256_hex(const void *buf, size_t n, char hex_out[AP_HEX_LEN + 1]);

/* "sha256:<64 lowercase hex>" -> hex_out. Anything else is AP_ERR_FORMAT naming `what`. */
int ap_digest_parse(const char *s, char hex_out[AP_HEX_LEN + 1], const char *what, ap_error *err);
/* A JSON document's field key (at where) holding the digest s: parsed as ap_digest_parse does
 * (its errors naming 'WHERE: "KEY"'), out the canonical "sha256:<hex>". */
int ap_digest_parse_field(const char *s, const char *where, const char *key, char out[AP_DIGEST_LEN + 1],
                          ap_error *err);
bool ap_hex_valid(const char *hex);       /* exactly 64 lowercase hex digits */

void ap_hex_encode(const uint8_t *in, size_t n, char *out /* 2n+1 */);

#endif
