/* status.h: the one place an error becomes airpack's exit status.
 *
 *   0  good (the command succeeded; exit_status is for failures)
 *   1  verification failed: the input is not what was signed or what it claims to be
 *      (a signature or digest did not match: AP_ERR_VERIFY; a bundle, part, have-list or
 *      pack input that is corrupt, truncated or malformed: AP_ERR_FORMAT)
 *   2  could not run: usage, a read or write error (EIO, a connection reset in the middle
 *      of a bundle: AP_ERR_IO), memory, keys and passwords (AP_ERR_CRYPTO), a target that
 *      refused or failed (AP_ERR_TARGET), a signal (AP_ERR_INTERRUPTED)
 *
 * A read error is never 1: a script must not read "could not read" as "tampered". Library
 * code keeps that promise by its codes (the verifier turns a malformed entry into
 * AP_ERR_VERIFY and leaves AP_ERR_IO alone; ap_load_stream turns a failure after the
 * bundle verified into the target's). */
#ifndef AIRPACK_STATUS_H
#define AIRPACK_STATUS_H

#include "../formats/formats.h"

enum { EXIT_GOOD = 0, EXIT_VERIFY_FAILED = 1, EXIT_COULD_NOT_RUN = 2 };

/* The exit status for a failure described by err: 1 or 2 (never 0; a failure that set no
 * code, or err NULL, is 2). */
int exit_status(const ap_error *err);

#endif
