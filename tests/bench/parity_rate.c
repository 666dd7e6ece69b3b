/* parity_rate.c: the bench's parity encode rate: K data stripes of 1 MiB (random bytes)
 * encoded into N parity stripes with formats/parity.h (ISA-L ec_encode_data), on one core,
 * until GIB GiB of data went through. Prints the data bytes encoded; bench.sh times it.
 *   parity_rate K N GIB */
#include <stdio.h>
#include <stdlib.h>

#include "../../formats/parity.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    size_t k = strtoul(argv[1], NULL, 10), n = strtoul(argv[2], NULL, 10);
    unsigned long long want = strtoull(argv[3], NULL, 10) << 30, done = 0;
    ap_error err;
    ap_rs *rs = ap_rs_encoder(k, n, &err);
    if (!rs) {
        fprintf(stderr, "parity_rate: %s\n", err.msg);
        return 2;
    }
    size_t len = AP_PARITY_STRIPE;
    unsigned char **in = calloc(k, sizeof *in), **out = calloc(n, sizeof *out);
    for (size_t i = 0; i < k; i++) {
        in[i] = aligned_alloc(64, len);
        for (size_t j = 0; j < len; j++)
            in[i][j] = (unsigned char)rand();
    }
    for (size_t i = 0; i < n; i++)
        out[i] = aligned_alloc(64, len);
    while (done < want) {
        ap_rs_run(rs, len, in, out);
        done += (unsigned long long)k * len;
    }
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += out[i][i];
    printf("%llu %u\n", done, sum);
    return 0;
}
