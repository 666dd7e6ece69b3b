/* part_stripes.h: the parts of a split bundle read side by side, a stripe at a
 * time, for the parity code (parity.h): pack encodes parity parts this way and
 * repair rebuilds bad parts; both hash what they read and write on the way.
 *
 * Every input is seen as part_size bytes (a shorter file, such as the last
 * data part, is padded with zeros for the code; only its real bytes are
 * hashed). Stripe s of every input goes through rs (ap_rs_run) into stripe s
 * of every output; an output is written up to its own size. Two threads: the
 * caller's reads, hashes half the inputs and runs the code; a second writes
 * the outputs, hashes them and the other half of the inputs, overlapped with
 * the next stripe. Memory: two stripes of every input and output
 * (ap_rs_stripe: at most 2 * AP_PARITY_BUDGET), whatever the part size.
 * Outputs are created (mode 0644, truncated) and fsynced before it returns. */
#ifndef AIRPACK_PART_STRIPES_H
#define AIRPACK_PART_STRIPES_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "parity.h"

typedef struct {
    const char *path;
    uint64_t size;                  /* the file's bytes (<= part_size) */
    bool hash;                      /* compute hex */
    char hex[AP_HEX_LEN + 1];       /* its sha256 when hash */
} ap_stripe_file;

/* rs may be NULL only with n_out == 0 (hashing inputs alone). */
int ap_stripes_run(ap_stripe_file *in, size_t n_in, const ap_rs *rs, ap_stripe_file *out, size_t n_out,
                   uint64_t part_size, volatile sig_atomic_t *cancel, ap_error *err);

#endif
