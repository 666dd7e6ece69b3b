/* fuzz_dense.c: arbitrary bytes through the dense-bundle readers.
 * Mode by the first byte: 0..0x3f, the rest is parsed as a recipe; 0x40..0x7f, the
 * rest is (offset, byte) edits applied to a valid recipe written at startup, so
 * the fuzzer reaches the checks past the header; 0x80.., the rest goes through the
 * tar-aware chunker (it follows tar headers in layer data), which must pass on
 * every byte once, in chunks of at most 4 x its average. Whatever recipe parses
 * must write back to the same bytes, and its chunks must lie in their segments. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/chunker.h"
#include "../../formats/dense_recipe.h"

static unsigned char *valid;
static size_t valid_len;

static void make_valid(void)
{
    static ap_dense_chunk chunks[3] = {{0, 60, 0, {1}}, {0, 40, 60, {2}}, {1, 50, 0, {3}}};
    static uint32_t r1[] = {0, 1, 0}, r2[] = {2, 1};
    static ap_dense_layer layers[2] = {{{0xaa}, 160, r1, 3}, {{0xbb}, 90, r2, 2}};
    static uint64_t sizes[2] = {100, 50};
    ap_dense_recipe r = {.window_log = 20, .n_segments = 2, .segment_size = sizes, .chunks = chunks,
                         .n_chunks = 3, .layers = layers, .n_layers = 2};
    ap_error err;
    if (ap_dense_recipe_write(&r, &valid, &valid_len, &err) < 0)
        abort();
}

static void check(const unsigned char *buf, size_t len)
{
    ap_dense_recipe r;
    ap_error err;
    if (ap_dense_recipe_parse(buf, len, &r, &err) < 0)
        return;
    for (uint64_t i = 0; i < r.n_chunks; i++) {
        const ap_dense_chunk *c = &r.chunks[i];
        if (c->segment >= r.n_segments || c->offset + c->length > r.segment_size[c->segment])
            abort();
    }
    for (uint64_t l = 0; l < r.n_layers; l++)
        for (uint64_t k = 0; k < r.layers[l].n_refs; k++)
            if (r.layers[l].refs[k] >= r.n_chunks)
                abort();
    unsigned char *out;
    size_t n;
    if (ap_dense_recipe_write(&r, &out, &n, &err) < 0 || n != len || memcmp(out, buf, n))
        abort();   /* what parses writes back to the same bytes */
    free(out);
    ap_dense_recipe_free(&r);
}

typedef struct {
    size_t total, max;
} chunk_stats;

static int on_chunk(void *ctx, const unsigned char *data, size_t n, ap_error *err)
{
    (void)data;
    (void)err;
    chunk_stats *s = ctx;
    if (n == 0 || n > s->max)
        abort();
    s->total += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!valid)
        make_valid();
    if (size == 0)
        return 0;
    if (data[0] < 0x40) {
        check(data + 1, size - 1);
    } else if (data[0] < 0x80) {
        unsigned char *buf = malloc(valid_len);
        memcpy(buf, valid, valid_len);
        for (size_t i = 1; i + 2 < size; i += 3)
            buf[((size_t)data[i] << 8 | data[i + 1]) % valid_len] = data[i + 2];
        check(buf, valid_len);
        free(buf);
    } else {
        chunk_stats s = {0, 4 * 1024};
        ap_error err;
        ap_chunker *c = ap_chunker_new(1024, true, on_chunk, &s, &err);
        if (!c)
            abort();
        size_t piece = (size_t)(data[0] & 0x3f) * 37 + 1;
        for (size_t at = 1; at < size; at += piece)
            if (ap_chunker_write(c, data + at, size - at < piece ? size - at : piece, &err) < 0)
                abort();
        if (ap_chunker_finish(c, &err) < 0 || s.total != size - 1)
            abort();
        ap_chunker_free(c);
    }
    return 0;
}
