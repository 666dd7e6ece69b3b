/* fuzz_codec.c: any bytes through each decompressor (capped, in pieces), and a
 * compress/decompress round trip that must give the input back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/codec.h"

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int overflow;
} outbuf;

static int out_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    (void)err;
    outbuf *o = ctx;
    if (o->len + n > o->cap) {
        o->overflow = 1;
        return ap_fail(err, AP_ERR_IO, "fuzz sink full");
    }
    memcpy(o->p + o->len, buf, n);
    o->len += n;
    return 0;
}

#define CAP (4u << 20)

static void decompress(ap_codec c, const uint8_t *data, size_t size, size_t piece, uint64_t max_out)
{
    static uint8_t space[CAP];
    outbuf o = {space, 0, CAP, 0};
    ap_error err;
    ap_decompressor *d = ap_decompressor_new(c, max_out, out_sink, &o, &err);
    if (!d)
        return;
    int rc = 0;
    for (size_t at = 0; at < size && rc == 0; at += piece)
        rc = ap_decompressor_write(d, data + at, size - at < piece ? size - at : piece, &err);
    if (rc == 0)
        rc = ap_decompressor_finish(d, &err);
    if (o.len > max_out)
        __builtin_trap();   /* the cap let more through */
    if (ap_decompressor_total_out(d) != o.len)
        __builtin_trap();
    ap_decompressor_free(d);
}

static void round_trip(ap_codec c, const uint8_t *data, size_t size)
{
    static uint8_t zspace[CAP], back[CAP];
    outbuf z = {zspace, 0, CAP, 0};
    ap_error err;
    /* One compressor per codec for the whole run, reset per input: exercises
     * reset, and spares creating zstd's worker pool every time. */
    static ap_compressor *kept[4];
    ap_compressor *w = kept[c];
    if (!w) {
        w = kept[c] = ap_compressor_new(c, 1, 1, out_sink, &z, &err);
        if (!w)
            __builtin_trap();
    } else if (ap_compressor_reset(w, out_sink, &z, &err)) {
        __builtin_trap();
    }
    size_t piece = size / 3 + 1;
    for (size_t at = 0; at < size; at += piece)
        if (ap_compressor_write(w, data + at, size - at < piece ? size - at : piece, &err))
            __builtin_trap();
    if (ap_compressor_finish(w, &err))
        __builtin_trap();
    outbuf o = {back, 0, CAP, 0};
    ap_decompressor *d = ap_decompressor_new(c, size, out_sink, &o, &err);
    if (!d || ap_decompressor_write(d, z.p, z.len, &err) || ap_decompressor_finish(d, &err))
        __builtin_trap();
    if (o.len != size || (size && memcmp(o.p, data, size) != 0))
        __builtin_trap();
    ap_decompressor_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    size_t piece = (size_t)(mode >> 3) * 97 + 1;
    switch (mode % 6) {
    case 0: decompress(ap_codec_detect(data, size), data, size, piece, 1u << 20); break;
    case 1: decompress(AP_CODEC_GZIP, data, size, piece, 1u << 20); break;
    case 2: decompress(AP_CODEC_ZSTD, data, size, piece, 1u << 20); break;
    case 3: decompress(AP_CODEC_XZ, data, size, piece, 1u << 20); break;
    case 4: round_trip(AP_CODEC_GZIP, data, size); break;
    case 5: round_trip(AP_CODEC_ZSTD, data, size); break;
    }
    return 0;
}
