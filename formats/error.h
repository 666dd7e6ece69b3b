/* error.h: how every airpack library function reports failure.
 *
 * Library code never prints and never exits. A function that can fail takes an
 * `ap_error *` as its last argument, fills it with a code and a one-line message
 * naming the file, entry or image and what was wrong, and returns -1 (or NULL).
 * Callers add context with ap_error_prefix(). main() decides what to print. */
#ifndef AIRPACK_ERROR_H
#define AIRPACK_ERROR_H

#include <stddef.h>

typedef enum {
    AP_OK = 0,
    AP_ERR_USAGE,       /* bad arguments or options */
    AP_ERR_IO,          /* a file or stream could not be read or written */
    AP_ERR_FORMAT,      /* input is not what it claims (corrupt, truncated, unknown) */
    AP_ERR_VERIFY,      /* a signature or digest did not verify */
    AP_ERR_TARGET,      /* a load target refused or failed */
    AP_ERR_NOMEM,
    AP_ERR_CRYPTO,      /* key handling: wrong password, bad key file */
    AP_ERR_INTERRUPTED  /* a signal asked us to stop */
} ap_code;

typedef struct {
    ap_code code;
    char msg[2048];
} ap_error;

/* Sets *err (if err is non-NULL) and returns -1. printf-style. */
int ap_fail(ap_error *err, ap_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like ap_fail, appending ": strerror(errno)" with the errno at call time. */
int ap_fail_errno(ap_error *err, ap_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an already-set message; keeps the code. */
void ap_error_prefix(ap_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void ap_error_clear(ap_error *err);

#endif
