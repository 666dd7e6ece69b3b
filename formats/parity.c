/* parity.c: see parity.h. The field arithmetic is Intel ISA-L's (libisal). */
#include "parity.h"

#include <isa-l/erasure_code.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GF(2^8), polynomial 0x11d (ISA-L's field), for the small matrix products of a
 * decoder. Not ISA-L's gf_mul: a static build links libcrypto.a, which has its own. */
static unsigned char mul(unsigned char a, unsigned char b)
{
    unsigned char r = 0;
    while (b) {
        if (b & 1)
            r ^= a;
        a = (unsigned char)((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
        b >>= 1;
    }
    return r;
}

struct ap_rs {
    int k;                   /* inputs */
    int rows;                /* outputs */
    unsigned char *tables;   /* ec_init_tables: 32 * k * rows bytes */
};

int ap_rs_check(size_t k, size_t n, ap_error *err)
{
    if (n < 1 || n > AP_PARITY_MAX)
        return ap_fail(err, AP_ERR_USAGE, "--parity %zu: between 1 and %d parity parts", n, AP_PARITY_MAX);
    if (k < 1 || k + n > 256)
        return ap_fail(err, AP_ERR_USAGE,
                       "%zu data parts and %zu parity parts: the code takes at most 256 parts in all "
                       "(choose a larger --split or fewer parity parts)", k, n);
    return 0;
}

size_t ap_rs_stripe(size_t k, size_t n)
{
    size_t s = AP_PARITY_STRIPE;
    while (s > (64u << 10) && s * (k + n) > AP_PARITY_BUDGET)
        s /= 2;
    return s;
}

static ap_rs *rs_new(int k, int rows, const unsigned char *coef, ap_error *err)
{
    ap_rs *rs = calloc(1, sizeof *rs);
    if (rs)
        rs->tables = malloc((size_t)32 * (size_t)k * (size_t)rows);
    if (!rs || !rs->tables) {
        ap_rs_free(rs);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rs->k = k;
    rs->rows = rows;
    ec_init_tables(k, rows, (unsigned char *)coef, rs->tables);
    return rs;
}

/* The (k + n) x k generator: identity rows, then the Cauchy rows. */
static unsigned char *generator(size_t k, size_t n, ap_error *err)
{
    unsigned char *g = malloc((k + n) * k);
    if (!g) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    gf_gen_cauchy1_matrix(g, (int)(k + n), (int)k);
    return g;
}

ap_rs *ap_rs_encoder(size_t k, size_t n, ap_error *err)
{
    if (ap_rs_check(k, n, err) < 0)
        return NULL;
    unsigned char *g = generator(k, n, err);
    if (!g)
        return NULL;
    ap_rs *rs = rs_new((int)k, (int)n, g + k * k, err);
    free(g);
    return rs;
}

ap_rs *ap_rs_decoder(size_t k, size_t n, const size_t *have, const size_t *want, size_t n_want, ap_error *err)
{
    if (ap_rs_check(k, n, err) < 0)
        return NULL;
    if (n_want == 0 || n_want > n)
        return ap_fail(err, AP_ERR_VERIFY, "%zu parts to rebuild with %zu parity parts", n_want, n), NULL;
    for (size_t i = 0; i < k; i++) {
        if (have[i] >= k + n)
            return ap_fail(err, AP_ERR_USAGE, "part index %zu out of range", have[i]), NULL;
        for (size_t j = 0; j < i; j++)
            if (have[j] == have[i])
                return ap_fail(err, AP_ERR_USAGE, "part %zu given twice", have[i]), NULL;
    }
    for (size_t i = 0; i < n_want; i++)
        if (want[i] >= k + n)
            return ap_fail(err, AP_ERR_USAGE, "part index %zu out of range", want[i]), NULL;
    unsigned char *g = generator(k, n, err);
    unsigned char *b = malloc(k * k), *inv = malloc(k * k), *c = malloc(n_want * k);
    ap_rs *rs = NULL;
    if (!g || !b || !inv || !c) {
        if (g)
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* rows of the generator for the parts we have; its inverse maps them back to the data */
    for (size_t i = 0; i < k; i++)
        memcpy(b + i * k, g + have[i] * k, k);
    if (gf_invert_matrix(b, inv, (int)k) != 0) {
        ap_fail(err, AP_ERR_VERIFY, "the parity code's matrix is singular for these parts");
        goto out;
    }
    /* a wanted data part j is row j of inv; a wanted parity part is its generator row times inv */
    for (size_t w = 0; w < n_want; w++) {
        const unsigned char *row = g + want[w] * k;
        for (size_t j = 0; j < k; j++) {
            unsigned char s = 0;
            for (size_t t = 0; t < k; t++)
                s ^= mul(row[t], inv[t * k + j]);
            c[w * k + j] = s;
        }
    }
    rs = rs_new((int)k, (int)n_want, c, err);
out:
    free(g);
    free(b);
    free(inv);
    free(c);
    return rs;
}

void ap_rs_run(const ap_rs *rs, size_t len, unsigned char **in, unsigned char **out)
{
    ec_encode_data((int)len, rs->k, rs->rows, rs->tables, in, out);
}

size_t ap_rs_inputs(const ap_rs *rs)
{
    return (size_t)rs->k;
}

size_t ap_rs_outputs(const ap_rs *rs)
{
    return (size_t)rs->rows;
}

void ap_rs_free(ap_rs *rs)
{
    if (!rs)
        return;
    free(rs->tables);
    free(rs);
}

int ap_parity_name(char *out, size_t n, const char *base, size_t index)
{
    if (index >= AP_PARITY_MAX)
        return -1;
    int w = snprintf(out, n, "%s.p%02zu", base, index);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}
