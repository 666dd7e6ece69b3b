/* isal_portable.c: linked only into airpack-static (make static), never into ./airpack.
 *
 * Debian's libisal-dev ships no static archive, so the static build carries these
 * portable versions of the four ISA-L functions formats/parity.c calls. They compute the
 * same bytes as ISA-L's own base (non-SIMD) code: GF(2^8) with polynomial 0x11d, the
 * Cauchy matrix of gf_gen_cauchy1_matrix, 32-byte tables per coefficient as
 * ec_init_tables lays them out (the coefficient itself at offset 1). Slower than ISA-L's
 * SIMD code (a table lookup a byte), but the parity parts are the same. */
#include <isa-l/erasure_code.h>
#include <string.h>

static unsigned char gf_log[256], gf_exp[512];
static int gf_ready;

static void gf_init(void)
{
    if (gf_ready)
        return;
    unsigned x = 1;
    for (int i = 0; i < 255; i++) {
        gf_exp[i] = (unsigned char)x;
        gf_log[x] = (unsigned char)i;
        x <<= 1;
        if (x & 0x100)
            x ^= 0x11d;
    }
    for (int i = 255; i < 512; i++)
        gf_exp[i] = gf_exp[i - 255];
    gf_ready = 1;
}

/* not named gf_mul: libcrypto.a has a gf_mul of its own (curve448) */
static unsigned char p_mul(unsigned char a, unsigned char b)
{
    gf_init();
    if (!a || !b)
        return 0;
    return gf_exp[gf_log[a] + gf_log[b]];
}

static unsigned char p_inv(unsigned char a)
{
    gf_init();
    if (!a)
        return 0;
    return gf_exp[255 - gf_log[a]];
}

void gf_gen_cauchy1_matrix(unsigned char *a, int m, int k)
{
    memset(a, 0, (size_t)k * (size_t)k);
    for (int i = 0; i < k; i++)
        a[k * i + i] = 1;
    for (int i = k; i < m; i++)
        for (int j = 0; j < k; j++)
            a[k * i + j] = p_inv((unsigned char)(i ^ j));
}

int gf_invert_matrix(unsigned char *in, unsigned char *out, const int n)
{
    memset(out, 0, (size_t)n * (size_t)n);
    for (int i = 0; i < n; i++)
        out[i * n + i] = 1;
    for (int i = 0; i < n; i++) {
        if (!in[i * n + i]) {               /* a row below with a nonzero pivot */
            int j = i + 1;
            while (j < n && !in[j * n + i])
                j++;
            if (j == n)
                return -1;
            for (int c = 0; c < n; c++) {
                unsigned char t = in[i * n + c];
                in[i * n + c] = in[j * n + c];
                in[j * n + c] = t;
                t = out[i * n + c];
                out[i * n + c] = out[j * n + c];
                out[j * n + c] = t;
            }
        }
        unsigned char p = p_inv(in[i * n + i]);
        for (int c = 0; c < n; c++) {
            in[i * n + c] = p_mul(in[i * n + c], p);
            out[i * n + c] = p_mul(out[i * n + c], p);
        }
        for (int j = 0; j < n; j++) {
            unsigned char f = in[j * n + i];
            if (j == i || !f)
                continue;
            for (int c = 0; c < n; c++) {
                in[j * n + c] ^= p_mul(f, in[i * n + c]);
                out[j * n + c] ^= p_mul(f, out[i * n + c]);
            }
        }
    }
    return 0;
}

void ec_init_tables(int k, int rows, unsigned char *a, unsigned char *g_tbls)
{
    for (int i = 0; i < k * rows; i++) {
        unsigned char c = a[i];
        for (int t = 0; t < 16; t++) {
            g_tbls[32 * i + t] = p_mul(c, (unsigned char)t);
            g_tbls[32 * i + 16 + t] = p_mul(c, (unsigned char)(t << 4));
        }
    }
}

void ec_encode_data(int len, int k, int rows, unsigned char *g_tbls, unsigned char **data, unsigned char **coding)
{
    gf_init();
    for (int l = 0; l < rows; l++) {
        unsigned char *d = coding[l];
        memset(d, 0, (size_t)len);
        for (int j = 0; j < k; j++) {
            const unsigned char *t = g_tbls + 32 * (l * k + j);
            const unsigned char *s = data[j];
            for (int i = 0; i < len; i++)   /* the low- and high-nibble tables */
                d[i] ^= (unsigned char)(t[s[i] & 15] ^ t[16 + (s[i] >> 4)]);
        }
    }
}

/* igzip (formats/gunzip_fast.c, pack's fast gzip reader): not here. This one refuses every
 * input, so the static build finds it unavailable and reads gzip with zlib. */
#include <isa-l/igzip_lib.h>

void isal_inflate_init(struct inflate_state *state)
{
    memset(state, 0, sizeof *state);
}

void isal_inflate_reset(struct inflate_state *state)
{
    memset(state, 0, sizeof *state);
}

int isal_inflate(struct inflate_state *state)
{
    (void)state;
    return ISAL_INVALID_OPERATION;
}
