/* codec.h: streaming compression and decompression (zstd, gzip, none; xz for reading).
 *
 * Push-style: bytes written into a compressor or decompressor come out of it
 * into a sink (stream.h). Memory use is bounded by the codec's window, never by
 * the stream's size. Compressed output is deterministic: zstd always runs in
 * its multi-threaded mode (identical bytes for any thread count >= 1), gzip
 * writes a header with mtime 0. A decompressor can be given a cap on its
 * output, so a decompression bomb is refused as soon as it passes the cap. */
#ifndef AIRPACK_CODEC_H
#define AIRPACK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "stream.h"

typedef enum { AP_CODEC_NONE = 0, AP_CODEC_GZIP, AP_CODEC_ZSTD, AP_CODEC_XZ } ap_codec;

/* Detects the codec from the first bytes of a stream (magic numbers; at least
 * 6 bytes should be given). Anything unrecognized is AP_CODEC_NONE. */
ap_codec ap_codec_detect(const void *buf, size_t n);
const char *ap_codec_name(ap_codec c);              /* "none", "gzip", "zstd", "xz" */
/* Output compression names only: "zstd", "gzip", "none" (xz is read, never written). */
int ap_codec_parse(const char *name, ap_codec *out, ap_error *err);

/* OCI layer media type for a layer stored with codec c (NULL for xz). */
const char *ap_codec_layer_media_type(ap_codec c);
/* Codec of an OCI or Docker layer media type; -1 with *err if unknown. */
int ap_codec_from_media_type(const char *media_type, ap_codec *out, ap_error *err);

typedef struct ap_compressor ap_compressor;

/* level: codec level (0 = default: zstd 3, gzip 6). threads: zstd workers (>=1). */
ap_compressor *ap_compressor_new(ap_codec c, int level, int threads,
                                 ap_sink_fn sink, void *sink_ctx, ap_error *err);
int ap_compressor_write(ap_compressor *z, const void *buf, size_t n, ap_error *err);
int ap_compressor_finish(ap_compressor *z, ap_error *err);     /* flushes the end of stream */
void ap_compressor_free(ap_compressor *z);
/* Reuse for a new stream with the same settings (after finish). */
int ap_compressor_reset(ap_compressor *z, ap_sink_fn sink, void *sink_ctx, ap_error *err);

typedef struct ap_decompressor ap_decompressor;

/* max_out: refuse (AP_ERR_FORMAT, "decompresses past ...") once output exceeds it; 0 = no cap.
 * The sink never receives bytes past the cap.
 * Concatenated gzip members, zstd frames and xz streams are decoded as one stream;
 * anything else after the end (trailing garbage) is an error. xz needs liblzma
 * (AP_HAVE_LZMA, set by the Makefile); without it ap_decompressor_new refuses xz. */
ap_decompressor *ap_decompressor_new(ap_codec c, uint64_t max_out,
                                     ap_sink_fn sink, void *sink_ctx, ap_error *err);
int ap_decompressor_write(ap_decompressor *d, const void *buf, size_t n, ap_error *err);
/* Errors if the compressed stream was truncated. */
int ap_decompressor_finish(ap_decompressor *d, ap_error *err);
uint64_t ap_decompressor_total_out(const ap_decompressor *d);
void ap_decompressor_free(ap_decompressor *d);

#endif
