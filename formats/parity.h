/* parity.h: the Reed–Solomon erasure code of parity parts (pack --split --parity N).
 *
 * K data parts and N parity parts, each seen as part_size bytes (a shorter last
 * data part is padded with zeros for the code; the padding is never stored).
 * Byte o of parity part p is sum over j of C[p][j] * (byte o of data part j) in
 * GF(2^8) (polynomial 0x11d), with C the Cauchy rows of Intel ISA-L's
 * gf_gen_cauchy1_matrix(K + N, K): C[p][j] = 1 / ((K + p) xor j). Any K of the
 * K + N parts give back the others. The code is bytewise, so how many bytes a
 * reader or writer takes at a time (a stripe) is its own choice.
 * Limits: 1 <= N <= AP_PARITY_MAX, K >= 1, K + N <= 256 (the field's size). */
#ifndef AIRPACK_PARITY_H
#define AIRPACK_PARITY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define AP_PARITY_MAX 64             /* parity parts NAME.p00 .. NAME.p63 */
#define AP_PARITY_CODE "reed-solomon-cauchy-gf256"
#define AP_PARITY_STRIPE (1u << 20)  /* default bytes of each part coded at a time */
#define AP_PARITY_BUDGET (32u << 20) /* at most this much for one stripe of every part */

typedef struct ap_rs ap_rs;

/* Checks k and n against the limits (a message naming them, AP_ERR_USAGE). */
int ap_rs_check(size_t k, size_t n, ap_error *err);

/* The stripe for k + n parts: AP_PARITY_STRIPE, smaller when k + n stripes would
 * pass AP_PARITY_BUDGET (a multiple of 4 KiB, at least 64 KiB). */
size_t ap_rs_stripe(size_t k, size_t n);

/* An encoder: parity[0..n) from data[0..k), each len bytes. */
ap_rs *ap_rs_encoder(size_t k, size_t n, ap_error *err);

/* A decoder: rebuilds the parts in `want` (indexes 0..k+n, data first then
 * parity) from the k parts in `have` (k distinct indexes, none in want).
 * Fails (AP_ERR_VERIFY) when fewer than k parts are available. */
ap_rs *ap_rs_decoder(size_t k, size_t n, const size_t *have, const size_t *want, size_t n_want, ap_error *err);

/* out[i] (for the encoder, parity part i; for a decoder, want[i]) from in[0..k). */
void ap_rs_run(const ap_rs *rs, size_t len, unsigned char **in, unsigned char **out);
size_t ap_rs_inputs(const ap_rs *rs);
size_t ap_rs_outputs(const ap_rs *rs);
void ap_rs_free(ap_rs *rs);

/* "NAME.p03" into out. Returns -1 if it does not fit or index >= AP_PARITY_MAX. */
int ap_parity_name(char *out, size_t n, const char *base, size_t index);

#endif
