/* gunzip_fast.c: see gunzip_fast.h. */
#include "gunzip_fast.h"

#include <isa-l/igzip_lib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define OUT_SIZE (1u << 20)

/* The static build (make static) has no libisal.a: static/isal_portable.c stands in with an
 * igzip that refuses everything, so a probe of an empty gzip member tells which one this is. */
struct ap_gunzip_fast {
    struct inflate_state s;
    unsigned char *out;
    ap_sink_fn sink;
    void *sink_ctx;
    uint64_t total_in;
    bool member_done;       /* the last member ended exactly where the input so far ends */
    bool started;           /* some input arrived */
};

bool ap_gunzip_fast_available(void)
{
    static int ok = -1;
    if (ok < 0) {
        static const uint8_t empty[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        uint8_t out[16];
        struct inflate_state st;
        isal_inflate_init(&st);
        st.crc_flag = ISAL_GZIP;
        st.next_in = (uint8_t *)empty;
        st.avail_in = sizeof empty;
        st.next_out = out;
        st.avail_out = sizeof out;
        ok = isal_inflate(&st) == ISAL_DECOMP_OK && st.block_state == ISAL_BLOCK_FINISH;
    }
    return ok == 1;
}

ap_gunzip_fast *ap_gunzip_fast_new(ap_sink_fn sink, void *sink_ctx, ap_error *err)
{
    if (!ap_gunzip_fast_available()) {
        ap_fail(err, AP_ERR_USAGE, "igzip is not linked in (use the zlib decompressor)");
        return NULL;
    }
    ap_gunzip_fast *g = calloc(1, sizeof *g);
    if (!g || !(g->out = malloc(OUT_SIZE))) {
        free(g);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    isal_inflate_init(&g->s);
    g->s.crc_flag = ISAL_GZIP;
    g->sink = sink;
    g->sink_ctx = sink_ctx;
    return g;
}

int ap_gunzip_fast_write(ap_gunzip_fast *g, const void *buf, size_t n, ap_error *err)
{
    const uint8_t *p = buf;
    while (n > 0) {
        if (g->member_done) {
            if (p[0] != 0x1f)   /* another member must be gzip too */
                return ap_fail(err, AP_ERR_FORMAT, "gzip stream has data that is not gzip after its end "
                               "(at compressed byte %llu)", (unsigned long long)g->total_in);
            isal_inflate_reset(&g->s);
            g->s.crc_flag = ISAL_GZIP;
            g->member_done = false;
        }
        uint32_t chunk = n > (1u << 30) ? (1u << 30) : (uint32_t)n;
        g->s.next_in = (uint8_t *)p;
        g->s.avail_in = chunk;
        g->started = true;
        for (;;) {
            g->s.next_out = g->out;
            g->s.avail_out = OUT_SIZE;
            int rc = isal_inflate(&g->s);
            size_t produced = OUT_SIZE - g->s.avail_out;
            if (rc < 0)
                return ap_fail(err, AP_ERR_FORMAT, "gzip stream is corrupt near compressed byte %llu (igzip error %d)",
                               (unsigned long long)(g->total_in + (chunk - g->s.avail_in)), rc);
            if (produced && g->sink(g->sink_ctx, g->out, produced, err) < 0)
                return -1;
            if (g->s.block_state == ISAL_BLOCK_FINISH) {
                g->member_done = true;
                break;
            }
            if (g->s.avail_in == 0 && g->s.avail_out > 0)
                break;
        }
        size_t used = chunk - g->s.avail_in;
        g->total_in += used;
        p += used;
        n -= used;
    }
    return 0;
}

int ap_gunzip_fast_finish(ap_gunzip_fast *g, ap_error *err)
{
    if (!g->started || !g->member_done)
        return ap_fail(err, AP_ERR_FORMAT, "gzip stream ends inside a member (after %llu compressed bytes)",
                       (unsigned long long)g->total_in);
    return 0;
}

void ap_gunzip_fast_free(ap_gunzip_fast *g)
{
    if (!g)
        return;
    free(g->out);
    free(g);
}
