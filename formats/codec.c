/* codec.c: streaming zstd / gzip / none compression, and zstd / gzip / xz / none
 * decompression, push-style into a sink.
 *
 * Output buffers are 1 MiB and the sink is called once per full buffer (and at
 * the end), never per byte. zstd always runs with nbWorkers >= 1 so its bytes do
 * not depend on the thread count; gzip has a fixed header (mtime 0). xz needs
 * liblzma (built in when AP_HAVE_LZMA is defined). */
#include "codec.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>
#ifdef AP_HAVE_LZMA
#include <lzma.h>
#endif

#define OUT_BUF (1u << 20)
/* zlib counts in uInt; feed it at most this much at a time. */
#define ZCHUNK (1u << 30)

/* ---- names, magic, media types ---- */

ap_codec ap_codec_detect(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return AP_CODEC_GZIP;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return AP_CODEC_ZSTD;
    if (n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
        return AP_CODEC_XZ;
    return AP_CODEC_NONE;
}

const char *ap_codec_name(ap_codec c)
{
    switch (c) {
    case AP_CODEC_NONE: return "none";
    case AP_CODEC_GZIP: return "gzip";
    case AP_CODEC_ZSTD: return "zstd";
    case AP_CODEC_XZ: return "xz";
    }
    return "unknown";
}

int ap_codec_parse(const char *name, ap_codec *out, ap_error *err)
{
    if (name) {
        if (strcmp(name, "zstd") == 0) { *out = AP_CODEC_ZSTD; return 0; }
        if (strcmp(name, "gzip") == 0) { *out = AP_CODEC_GZIP; return 0; }
        if (strcmp(name, "none") == 0) { *out = AP_CODEC_NONE; return 0; }
    }
    return ap_fail(err, AP_ERR_USAGE, "unknown compression \"%.100s\" (use zstd, gzip or none)",
                   name ? name : "");
}

const char *ap_codec_layer_media_type(ap_codec c)
{
    switch (c) {
    case AP_CODEC_NONE: return "application/vnd.oci.image.layer.v1.tar";
    case AP_CODEC_GZIP: return "application/vnd.oci.image.layer.v1.tar+gzip";
    case AP_CODEC_ZSTD: return "application/vnd.oci.image.layer.v1.tar+zstd";
    case AP_CODEC_XZ: return NULL;
    }
    return NULL;
}

static const struct {
    const char *media_type;
    ap_codec codec;
} media_types[] = {
    {"application/vnd.oci.image.layer.v1.tar", AP_CODEC_NONE},
    {"application/vnd.oci.image.layer.v1.tar+gzip", AP_CODEC_GZIP},
    {"application/vnd.oci.image.layer.v1.tar+zstd", AP_CODEC_ZSTD},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar", AP_CODEC_NONE},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", AP_CODEC_GZIP},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", AP_CODEC_ZSTD},
    {"application/vnd.docker.image.rootfs.diff.tar", AP_CODEC_NONE},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", AP_CODEC_GZIP},
    {"application/vnd.docker.image.rootfs.diff.tar.zstd", AP_CODEC_ZSTD},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", AP_CODEC_GZIP},
};

int ap_codec_from_media_type(const char *media_type, ap_codec *out, ap_error *err)
{
    if (media_type) {
        for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++) {
            if (strcmp(media_type, media_types[i].media_type) == 0) {
                *out = media_types[i].codec;
                return 0;
            }
        }
    }
    return ap_fail(err, AP_ERR_FORMAT, "unknown layer media type \"%.200s\"",
                   media_type ? media_type : "");
}

/* ---- compression ---- */

struct ap_compressor {
    ap_codec codec;
    int level;
    int threads;
    ap_sink_fn sink;
    void *sink_ctx;
    ZSTD_CCtx *zc;
    z_stream gz;
    bool gz_ready;
    gz_header gzhead;
    unsigned char *out;
    size_t out_pos;
    bool finished;
};

static int compressor_emit(ap_compressor *z, ap_error *err)
{
    if (z->out_pos == 0)
        return 0;
    size_t n = z->out_pos;
    z->out_pos = 0;
    return z->sink(z->sink_ctx, z->out, n, err);
}

static int gzip_setup(ap_compressor *z, ap_error *err)
{
    memset(&z->gzhead, 0, sizeof z->gzhead);
    z->gzhead.os = 3;   /* Unix, as gzip(1) writes; mtime 0, no name */
    if (deflateSetHeader(&z->gz, &z->gzhead) != Z_OK)
        return ap_fail(err, AP_ERR_NOMEM, "gzip: could not set the stream header");
    return 0;
}

static int zstd_check(size_t rc, const char *what, ap_error *err)
{
    if (ZSTD_isError(rc))
        return ap_fail(err, AP_ERR_NOMEM, "zstd: %s: %s", what, ZSTD_getErrorName(rc));
    return 0;
}

ap_compressor *ap_compressor_new(ap_codec c, int level, int threads,
                                 ap_sink_fn sink, void *sink_ctx, ap_error *err)
{
    if (c != AP_CODEC_NONE && c != AP_CODEC_GZIP && c != AP_CODEC_ZSTD) {
        ap_fail(err, AP_ERR_USAGE, "%s compression is not supported (use zstd, gzip or none)",
                ap_codec_name(c));
        return NULL;
    }
    ap_compressor *z = calloc(1, sizeof *z);
    if (!z) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    z->codec = c;
    z->threads = threads < 1 ? 1 : threads;
    z->sink = sink;
    z->sink_ctx = sink_ctx;
    if (c == AP_CODEC_NONE)
        return z;
    z->out = malloc(OUT_BUF);
    if (!z->out) {
        free(z);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (c == AP_CODEC_ZSTD) {
        z->level = level ? level : 3;
        if (z->level < ZSTD_minCLevel() || z->level > ZSTD_maxCLevel()) {
            ap_fail(err, AP_ERR_USAGE, "zstd level %d is out of range (%d to %d)", z->level,
                    ZSTD_minCLevel(), ZSTD_maxCLevel());
            goto fail;
        }
        z->zc = ZSTD_createCCtx();
        if (!z->zc) {
            ap_fail(err, AP_ERR_NOMEM, "zstd: out of memory");
            goto fail;
        }
        if (zstd_check(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_compressionLevel, z->level),
                       "setting the level", err) ||
            zstd_check(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_checksumFlag, 1),
                       "enabling checksums", err) ||
            zstd_check(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_nbWorkers, z->threads),
                       "starting worker threads (is libzstd built with threads?)", err))
            goto fail;
        /* Levels up to 16 default to a 0.5-4 MiB window. An 8 MiB window (the
         * size every zstd decoder must support) finds the repeats inside a
         * layer tar better: 2-3% smaller at the same speed on real images. The
         * job size is fixed too, so memory stays near 60 MiB and the output is
         * the same for any number of threads. */
        if (z->level <= 16 &&
            (zstd_check(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_windowLog, 23), "setting the window", err) ||
             zstd_check(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_jobSize, 8 << 20), "setting the job size", err)))
            goto fail;
    } else {
        z->level = level ? level : 6;
        if (z->level < 1 || z->level > 9) {
            ap_fail(err, AP_ERR_USAGE, "gzip level %d is out of range (1 to 9)", z->level);
            goto fail;
        }
        if (deflateInit2(&z->gz, z->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            ap_fail(err, AP_ERR_NOMEM, "gzip: could not start a compressor");
            goto fail;
        }
        z->gz_ready = true;
        if (gzip_setup(z, err))
            goto fail;
    }
    return z;
fail:
    ap_compressor_free(z);
    return NULL;
}

static int zstd_compress(ap_compressor *z, const void *buf, size_t n, ZSTD_EndDirective mode,
                         ap_error *err)
{
    ZSTD_inBuffer in = {buf, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {z->out, OUT_BUF, z->out_pos};
        size_t rc = ZSTD_compressStream2(z->zc, &out, &in, mode);
        if (ZSTD_isError(rc))
            return ap_fail(err, AP_ERR_FORMAT, "zstd compression failed: %s",
                           ZSTD_getErrorName(rc));
        z->out_pos = out.pos;
        if (z->out_pos == OUT_BUF && compressor_emit(z, err))
            return -1;
        if (mode == ZSTD_e_end ? rc == 0 : in.pos == in.size)
            return 0;
    }
}

static int gzip_compress(ap_compressor *z, const void *buf, size_t n, int flush, ap_error *err)
{
    const unsigned char *p = buf;
    do {
        size_t chunk = n > ZCHUNK ? ZCHUNK : n;
        z->gz.next_in = (Bytef *)p;
        z->gz.avail_in = (uInt)chunk;
        int last = (flush == Z_FINISH && chunk == n) ? Z_FINISH : Z_NO_FLUSH;
        for (;;) {
            z->gz.next_out = z->out + z->out_pos;
            z->gz.avail_out = (uInt)(OUT_BUF - z->out_pos);
            int rc = deflate(&z->gz, last);
            z->out_pos = OUT_BUF - z->gz.avail_out;
            if (rc == Z_STREAM_ERROR)
                return ap_fail(err, AP_ERR_FORMAT, "gzip compression failed");
            if (z->out_pos == OUT_BUF && compressor_emit(z, err))
                return -1;
            if (last == Z_FINISH ? rc == Z_STREAM_END
                                 : (z->gz.avail_in == 0 && z->gz.avail_out > 0))
                break;
        }
        if (chunk) {
            p += chunk;
            n -= chunk;
        }
    } while (n > 0);
    return 0;
}

int ap_compressor_write(ap_compressor *z, const void *buf, size_t n, ap_error *err)
{
    if (z->finished)
        return ap_fail(err, AP_ERR_USAGE, "compressor: write after finish");
    if (n == 0)
        return 0;
    switch (z->codec) {
    case AP_CODEC_ZSTD: return zstd_compress(z, buf, n, ZSTD_e_continue, err);
    case AP_CODEC_GZIP: return gzip_compress(z, buf, n, Z_NO_FLUSH, err);
    default: return z->sink(z->sink_ctx, buf, n, err);
    }
}

int ap_compressor_finish(ap_compressor *z, ap_error *err)
{
    if (z->finished)
        return 0;
    int rc = 0;
    if (z->codec == AP_CODEC_ZSTD)
        rc = zstd_compress(z, NULL, 0, ZSTD_e_end, err);
    else if (z->codec == AP_CODEC_GZIP)
        rc = gzip_compress(z, NULL, 0, Z_FINISH, err);
    if (rc == 0 && z->out)
        rc = compressor_emit(z, err);
    if (rc == 0)
        z->finished = true;
    return rc;
}

int ap_compressor_reset(ap_compressor *z, ap_sink_fn sink, void *sink_ctx, ap_error *err)
{
    z->sink = sink;
    z->sink_ctx = sink_ctx;
    z->out_pos = 0;
    z->finished = false;
    if (z->codec == AP_CODEC_ZSTD) {
        if (zstd_check(ZSTD_CCtx_reset(z->zc, ZSTD_reset_session_only), "reset", err))
            return -1;
    } else if (z->codec == AP_CODEC_GZIP) {
        if (deflateReset(&z->gz) != Z_OK)
            return ap_fail(err, AP_ERR_NOMEM, "gzip: could not reset the compressor");
        if (gzip_setup(z, err))
            return -1;
    }
    return 0;
}

void ap_compressor_free(ap_compressor *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->zc);
    if (z->gz_ready)
        deflateEnd(&z->gz);
    free(z->out);
    free(z);
}

/* ---- decompression ---- */

struct ap_decompressor {
    ap_codec codec;
    uint64_t max_out;
    uint64_t total_out;
    uint64_t total_in;
    ap_sink_fn sink;
    void *sink_ctx;
    unsigned char *out;
    ZSTD_DCtx *zd;
    size_t zstd_hint;       /* last ZSTD_decompressStream result: 0 at a frame's end */
    z_stream gz;
    bool gz_ready;
    bool member_done;       /* gzip: the last member ended exactly at the input so far */
#ifdef AP_HAVE_LZMA
    lzma_stream xz;
    bool xz_ready;
    bool xz_done;
#endif
    bool failed;
};

static int decomp_emit(ap_decompressor *d, size_t n, ap_error *err)
{
    if (n == 0)
        return 0;
    if (d->max_out && (d->total_out + n > d->max_out || d->total_out + n < d->total_out)) {
        d->failed = true;
        return ap_fail(err, AP_ERR_FORMAT,
                       "%s stream decompresses past its declared size of %llu bytes",
                       ap_codec_name(d->codec), (unsigned long long)d->max_out);
    }
    d->total_out += n;
    if (d->sink(d->sink_ctx, d->out, n, err)) {
        d->failed = true;
        return -1;
    }
    return 0;
}

ap_decompressor *ap_decompressor_new(ap_codec c, uint64_t max_out,
                                     ap_sink_fn sink, void *sink_ctx, ap_error *err)
{
#ifndef AP_HAVE_LZMA
    if (c == AP_CODEC_XZ) {
        ap_fail(err, AP_ERR_FORMAT, "xz decompression is not supported here (built without liblzma)");
        return NULL;
    }
#endif
    if (c != AP_CODEC_NONE && c != AP_CODEC_GZIP && c != AP_CODEC_ZSTD && c != AP_CODEC_XZ) {
        ap_fail(err, AP_ERR_USAGE, "unknown codec %d", (int)c);
        return NULL;
    }
    ap_decompressor *d = calloc(1, sizeof *d);
    if (!d || (c != AP_CODEC_NONE && !(d->out = malloc(OUT_BUF)))) {
        free(d);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->codec = c;
    d->max_out = max_out;
    d->sink = sink;
    d->sink_ctx = sink_ctx;
    if (c == AP_CODEC_ZSTD) {
        d->zd = ZSTD_createDCtx();
        /* Refuse frames that need more than a 1 GiB window (zstd --long=30). */
        if (!d->zd || ZSTD_isError(ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax, 30))) {
            ap_fail(err, AP_ERR_NOMEM, "zstd: could not start a decompressor");
            goto fail;
        }
    } else if (c == AP_CODEC_GZIP) {
        if (inflateInit2(&d->gz, 16 + 15) != Z_OK) {
            ap_fail(err, AP_ERR_NOMEM, "gzip: could not start a decompressor");
            goto fail;
        }
        d->gz_ready = true;
    }
#ifdef AP_HAVE_LZMA
    else if (c == AP_CODEC_XZ) {
        lzma_stream init = LZMA_STREAM_INIT;
        d->xz = init;
        if (lzma_stream_decoder(&d->xz, (uint64_t)1 << 30, LZMA_CONCATENATED) != LZMA_OK) {
            ap_fail(err, AP_ERR_NOMEM, "xz: could not start a decompressor");
            goto fail;
        }
        d->xz_ready = true;
    }
#endif
    return d;
fail:
    ap_decompressor_free(d);
    return NULL;
}

static int zstd_decompress(ap_decompressor *d, const void *buf, size_t n, ap_error *err)
{
    ZSTD_inBuffer in = {buf, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {d->out, OUT_BUF, 0};
        size_t rc = ZSTD_decompressStream(d->zd, &out, &in);
        if (ZSTD_isError(rc)) {
            d->failed = true;
            return ap_fail(err, AP_ERR_FORMAT, "zstd stream is corrupt at compressed byte %llu: %s",
                           (unsigned long long)(d->total_in + in.pos), ZSTD_getErrorName(rc));
        }
        d->zstd_hint = rc;
        if (decomp_emit(d, out.pos, err))
            return -1;
        if (in.pos == in.size && out.pos < out.size)
            break;
    }
    return 0;
}

static const char *gzip_reason(z_stream *s, int rc)
{
    if (s->msg)
        return s->msg;
    return rc == Z_MEM_ERROR ? "out of memory" : "corrupt data";
}

static int gzip_decompress(ap_decompressor *d, const void *buf, size_t n, ap_error *err)
{
    const unsigned char *p = buf;
    while (n > 0) {
        if (d->member_done) {
            /* Another member follows: it must be gzip too. */
            if (p[0] != 0x1f) {
                d->failed = true;
                return ap_fail(err, AP_ERR_FORMAT,
                               "gzip stream has data that is not gzip after its end "
                               "(at compressed byte %llu)", (unsigned long long)d->total_in);
            }
            if (inflateReset(&d->gz) != Z_OK)
                return ap_fail(err, AP_ERR_NOMEM, "gzip: could not reset the decompressor");
            d->member_done = false;
        }
        size_t chunk = n > ZCHUNK ? ZCHUNK : n;
        d->gz.next_in = (Bytef *)p;
        d->gz.avail_in = (uInt)chunk;
        for (;;) {
            d->gz.next_out = d->out;
            d->gz.avail_out = OUT_BUF;
            int rc = inflate(&d->gz, Z_NO_FLUSH);
            size_t produced = OUT_BUF - d->gz.avail_out;
            if (rc == Z_STREAM_END) {
                d->member_done = true;
            } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && d->gz.avail_in == 0)) {
                d->failed = true;
                return ap_fail(err, AP_ERR_FORMAT, "gzip stream is corrupt near compressed byte %llu: %s",
                               (unsigned long long)(d->total_in + (chunk - d->gz.avail_in)),
                               gzip_reason(&d->gz, rc));
            }
            if (decomp_emit(d, produced, err))
                return -1;
            if (d->member_done || (d->gz.avail_in == 0 && d->gz.avail_out > 0))
                break;
        }
        size_t used = chunk - d->gz.avail_in;
        d->total_in += used;
        p += used;
        n -= used;
    }
    return 0;
}

#ifdef AP_HAVE_LZMA
static const char *xz_reason(lzma_ret rc)
{
    switch (rc) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "needs more than 1 GiB of memory";
    case LZMA_FORMAT_ERROR: return "not xz data";
    case LZMA_OPTIONS_ERROR: return "unsupported options";
    case LZMA_DATA_ERROR: return "corrupt data";
    case LZMA_BUF_ERROR: return "truncated";
    default: return "decoder error";
    }
}

static int xz_decompress(ap_decompressor *d, const void *buf, size_t n, lzma_action action,
                         ap_error *err)
{
    d->xz.next_in = buf;
    d->xz.avail_in = n;
    for (;;) {
        d->xz.next_out = d->out;
        d->xz.avail_out = OUT_BUF;
        lzma_ret rc = lzma_code(&d->xz, action);
        size_t produced = OUT_BUF - d->xz.avail_out;
        if (rc == LZMA_STREAM_END) {
            d->xz_done = true;
        } else if (rc != LZMA_OK) {
            d->failed = true;
            if (rc == LZMA_BUF_ERROR)
                return ap_fail(err, AP_ERR_FORMAT, "xz stream is truncated");
            return ap_fail(err, AP_ERR_FORMAT, "xz stream is corrupt: %s", xz_reason(rc));
        }
        if (decomp_emit(d, produced, err))
            return -1;
        if (d->xz_done)
            break;
        if (d->xz.avail_in == 0 && d->xz.avail_out > 0 && action == LZMA_RUN)
            break;
    }
    if (d->xz.avail_in > 0) {
        d->failed = true;
        return ap_fail(err, AP_ERR_FORMAT, "xz stream has data after its end");
    }
    return 0;
}
#endif

int ap_decompressor_write(ap_decompressor *d, const void *buf, size_t n, ap_error *err)
{
    if (d->failed)
        return ap_fail(err, AP_ERR_USAGE, "decompressor: write after an error");
    if (n == 0)
        return 0;
    int rc;
    switch (d->codec) {
    case AP_CODEC_ZSTD:
        rc = zstd_decompress(d, buf, n, err);
        d->total_in += n;
        return rc;
    case AP_CODEC_GZIP:
        return gzip_decompress(d, buf, n, err);
#ifdef AP_HAVE_LZMA
    case AP_CODEC_XZ:
        rc = xz_decompress(d, buf, n, LZMA_RUN, err);
        d->total_in += n;
        return rc;
#endif
    default:
        if (d->max_out && (d->total_out + n > d->max_out || d->total_out + n < d->total_out)) {
            d->failed = true;
            return ap_fail(err, AP_ERR_FORMAT,
                           "none stream decompresses past its declared size of %llu bytes",
                           (unsigned long long)d->max_out);
        }
        d->total_in += n;
        d->total_out += n;
        return d->sink(d->sink_ctx, buf, n, err);
    }
}

int ap_decompressor_finish(ap_decompressor *d, ap_error *err)
{
    if (d->failed)
        return ap_fail(err, AP_ERR_USAGE, "decompressor: finish after an error");
    switch (d->codec) {
    case AP_CODEC_ZSTD:
        if (d->total_in == 0)
            return ap_fail(err, AP_ERR_FORMAT, "zstd stream is empty");
        if (d->zstd_hint != 0)
            return ap_fail(err, AP_ERR_FORMAT, "zstd stream is truncated after %llu compressed bytes",
                           (unsigned long long)d->total_in);
        return 0;
    case AP_CODEC_GZIP:
        if (d->total_in == 0)
            return ap_fail(err, AP_ERR_FORMAT, "gzip stream is empty");
        if (!d->member_done)
            return ap_fail(err, AP_ERR_FORMAT, "gzip stream is truncated after %llu compressed bytes",
                           (unsigned long long)d->total_in);
        return 0;
#ifdef AP_HAVE_LZMA
    case AP_CODEC_XZ:
        if (d->total_in == 0)
            return ap_fail(err, AP_ERR_FORMAT, "xz stream is empty");
        if (!d->xz_done && xz_decompress(d, NULL, 0, LZMA_FINISH, err))
            return -1;
        if (!d->xz_done)
            return ap_fail(err, AP_ERR_FORMAT, "xz stream is truncated");
        return 0;
#endif
    default:
        return 0;
    }
}

uint64_t ap_decompressor_total_out(const ap_decompressor *d)
{
    return d->total_out;
}

void ap_decompressor_free(ap_decompressor *d)
{
    if (!d)
        return;
    ZSTD_freeDCtx(d->zd);
    if (d->gz_ready)
        inflateEnd(&d->gz);
#ifdef AP_HAVE_LZMA
    if (d->xz_ready)
        lzma_end(&d->xz);
#endif
    free(d->out);
    free(d);
}
