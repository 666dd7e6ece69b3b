/* dense_reader.c: check, decompress, spill and rebuild dense bundles (see dense_reader.h). */
#include "dense_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include "../formats/codec.h"
#include "../formats/dense_recipe.h"
#include "../formats/digest.h"
#include "../formats/stream.h"

#define REBUILD_BUF (1u << 20)
#define DENSE_PREFIX "airpack/dense/"

struct dense_reader {
    const ap_bundle_index *idx;
    const char *name;
    dense_reader_opts o;
    size_t n_seg_entries;
    ap_dense_recipe r;
    bool have_recipe;
    uint64_t *seg_first;          /* first chunk of each segment */
    /* the current entry */
    long cur;                     /* -1 recipe, >= 0 segment, -2 none */
    unsigned char *rbuf;
    size_t rlen;
    /* decoding a segment */
    ZSTD_DCtx *dz;
    unsigned char *dout;
    size_t dout_cap;
    uint64_t seg_out;
    unsigned char *bad;           /* bitmap: chunks that did not check out */
    bool seg_failed;
    bool frame_done;
    bool located;                 /* locate_damage ran for the current segment */
    char seg_msg[300];
    int spill_fd;
    char spill_dir[4096];
    /* the rebuild thread: layers are rebuilt while later segments stream */
    uint32_t *layer_need;         /* per layer: 1 + the last segment holding one of its chunks */
    pthread_t thread;
    bool thread_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t segs_done;           /* segments in the spill whose sha256 matched */
    bool stop;                    /* the thread is to give up (a failure elsewhere) */
    bool thread_done;
    int thread_rc;
    ap_error thread_err;
    const ap_verify_sink *sink;
    void *sink_ctx;
};

bool dense_reader_owns(const ap_index_entry *e)
{
    return !strncmp(e->path, DENSE_PREFIX, strlen(DENSE_PREFIX));
}

static const char *spill_dir_of(const dense_reader_opts *o)
{
    if (o->spill_dir && *o->spill_dir)
        return o->spill_dir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/var/tmp";
}

dense_reader *dense_reader_new(const ap_bundle_index *idx, const char *name, const dense_reader_opts *o,
                               ap_error *err)
{
    dense_reader *d = calloc(1, sizeof *d);
    if (!d) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->idx = idx;
    d->name = name;
    d->o = *o;
    if (!d->o.window_log_max)
        d->o.window_log_max = DENSE_WINDOW_LIMIT_DEFAULT;
    d->cur = -2;
    d->spill_fd = -1;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    snprintf(d->spill_dir, sizeof d->spill_dir, "%s", spill_dir_of(o));
    /* the dense entries: the recipe first, then 000000.zst, 000001.zst, ... */
    size_t first = idx->n_entries;
    for (size_t i = 0; i < idx->n_entries; i++)
        if (dense_reader_owns(&idx->entries[i])) {
            first = i;
            break;
        }
    if (first == idx->n_entries || strcmp(idx->entries[first].path, AP_DENSE_RECIPE_PATH)) {
        ap_fail(err, AP_ERR_FORMAT, "%s: the dense index does not list %s before its segments", name,
                AP_DENSE_RECIPE_PATH);
        goto fail;
    }
    for (size_t i = first + 1; i < idx->n_entries && dense_reader_owns(&idx->entries[i]); i++) {
        char want[64];
        ap_dense_segment_path((uint32_t)d->n_seg_entries, want, sizeof want);
        if (strcmp(idx->entries[i].path, want)) {
            ap_fail(err, AP_ERR_FORMAT, "%s: the index lists %s where %s belongs", name, idx->entries[i].path, want);
            goto fail;
        }
        d->n_seg_entries++;
    }
    for (size_t i = first + 1 + d->n_seg_entries; i < idx->n_entries; i++)
        if (dense_reader_owns(&idx->entries[i])) {
            ap_fail(err, AP_ERR_FORMAT, "%s: the index lists %s apart from the other dense entries", name,
                    idx->entries[i].path);
            goto fail;
        }
    if (o->rebuild && idx->dense_window_log > d->o.window_log_max) {
        ap_fail(err, AP_ERR_USAGE,
                "%s: this dense bundle needs a 2^%u-byte (%llu MiB) zstd window to rebuild its layers; "
                "the limit is 2^%u (--window %u): rerun with --window %u where that much memory is free",
                name, idx->dense_window_log, (unsigned long long)((1ULL << idx->dense_window_log) >> 20),
                d->o.window_log_max, d->o.window_log_max, idx->dense_window_log);
        goto fail;
    }
    return d;
fail:
    dense_reader_free(d);
    return NULL;
}

void dense_reader_stop(dense_reader *d)
{
    if (!d || !d->thread_running)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    d->thread_running = false;
}

void dense_reader_free(dense_reader *d)
{
    if (!d)
        return;
    dense_reader_stop(d);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d->layer_need);
    ap_dense_recipe_free(&d->r);
    free(d->seg_first);
    free(d->rbuf);
    ZSTD_freeDCtx(d->dz);
    free(d->dout);
    free(d->bad);
    if (d->spill_fd >= 0)
        close(d->spill_fd);
    free(d);
}

/* ---- naming the layers that depend on chunks ------------------------------ */

/* "IMAGE layer N (sha256:...)" for the first image that uses recipe layer l. */
static void layer_name(const dense_reader *d, uint64_t l, char *out, size_t n)
{
    char hex[AP_HEX_LEN + 1];
    ap_hex_encode(d->r.layers[l].diff_id, AP_SHA256_LEN, hex);
    for (size_t i = 0; i < d->idx->n_images; i++) {
        const ap_index_image *im = &d->idx->images[i];
        for (size_t k = 0; k < im->n_layers; k++)
            if (!strcmp(im->layers[k].diff_id + 7, hex)) {
                snprintf(out, n, "%s layer %zu (sha256:%.12s)", im->n_names ? im->names[0] : im->config.digest,
                         k + 1, hex);
                return;
            }
    }
    snprintf(out, n, "layer sha256:%.12s", hex);
}

/* Appends the layers with a chunk for which hit(chunk) holds. */
static void list_layers(const dense_reader *d, bool (*hit)(const dense_reader *, uint64_t, long), long arg,
                        char *out, size_t n)
{
    size_t used = strlen(out), shown = 0, more = 0;
    for (uint64_t l = 0; l < d->r.n_layers; l++) {
        const ap_dense_layer *ly = &d->r.layers[l];
        bool depends = false;
        for (uint64_t k = 0; k < ly->n_refs && !depends; k++)
            depends = hit(d, ly->refs[k], arg);
        if (!depends)
            continue;
        if (shown < 8 && used + 200 < n) {
            char nm[160];
            layer_name(d, l, nm, sizeof nm);
            used += (size_t)snprintf(out + used, n - used, "%s%s", shown ? ", " : "", nm);
            shown++;
        } else {
            more++;
        }
    }
    if (more && used + 40 < n)
        snprintf(out + used, n - used, " and %zu more", more);
    else if (!shown && used + 10 < n)
        snprintf(out + used, n - used, "none");
}

static bool chunk_bad(const dense_reader *d, uint64_t c, long seg)
{
    (void)seg;
    return d->bad && (d->bad[c / 8] >> (c % 8) & 1);
}

static bool chunk_in_segment(const dense_reader *d, uint64_t c, long seg)
{
    return d->r.chunks[c].segment == (uint32_t)seg;
}

static uint64_t bad_in_segment(const dense_reader *d, long seg)
{
    uint64_t n = 0;
    if (!d->bad || seg < 0)
        return 0;
    for (uint64_t c = d->seg_first[seg]; c < d->r.n_chunks && d->r.chunks[c].segment == (uint32_t)seg; c++)
        n += chunk_bad(d, c, seg);
    return n;
}

static void locate_damage(dense_reader *d);

void dense_reader_damage(dense_reader *d, const ap_index_entry *e, char *out, size_t n)
{
    out[0] = 0;
    if (!strcmp(e->path, AP_DENSE_RECIPE_PATH)) {
        snprintf(out, n, "every layer depends on the recipe");
        return;
    }
    if (!d->have_recipe || d->cur < 0 || (uint64_t)d->cur >= d->r.n_segments)
        return;
    if (d->o.rebuild)
        locate_damage(d);
    uint64_t nb = bad_in_segment(d, d->cur);
    if (nb) {
        snprintf(out, n, "%llu damaged chunk(s) in it; layers that depend on them: ", (unsigned long long)nb);
        list_layers(d, chunk_bad, d->cur, out, n);
    } else {
        snprintf(out, n, "layers with chunks in it: ");
        list_layers(d, chunk_in_segment, d->cur, out, n);
    }
}

/* ---- the recipe ------------------------------------------------------------ */

static int cmp_diff(const void *a, const void *b)
{
    return memcmp(((const ap_dense_layer *)a)->diff_id, ((const ap_dense_layer *)b)->diff_id, AP_SHA256_LEN);
}

static int hexval(char c)
{
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

static int check_recipe(dense_reader *d, ap_error *err)
{
    const ap_dense_recipe *r = &d->r;
    if (r->window_log != d->idx->dense_window_log)
        return ap_fail(err, AP_ERR_VERIFY, "window_log %u, the signed index says %u", r->window_log,
                       d->idx->dense_window_log);
    if (r->n_segments != d->n_seg_entries)
        return ap_fail(err, AP_ERR_VERIFY, "%u segments, the signed index lists %zu", r->n_segments,
                       d->n_seg_entries);
    if (ap_dense_recipe_unique_bytes(r) != d->idx->dense_unique_bytes)
        return ap_fail(err, AP_ERR_VERIFY, "%llu bytes of chunks, the signed index says %llu",
                       (unsigned long long)ap_dense_recipe_unique_bytes(r),
                       (unsigned long long)d->idx->dense_unique_bytes);
    /* every layer of every image has a recipe of its size; every recipe is used */
    ap_dense_layer *sorted = malloc((size_t)(r->n_layers ? r->n_layers : 1) * sizeof *sorted);
    unsigned char *used = calloc((size_t)(r->n_layers ? r->n_layers : 1), 1);
    if (!sorted || !used) {
        free(sorted);
        free(used);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    memcpy(sorted, r->layers, (size_t)r->n_layers * sizeof *sorted);
    qsort(sorted, (size_t)r->n_layers, sizeof *sorted, cmp_diff);
    int rc = 0;
    for (size_t i = 0; i < d->idx->n_images && rc == 0; i++) {
        const ap_index_image *im = &d->idx->images[i];
        for (size_t k = 0; k < im->n_layers && rc == 0; k++) {
            ap_dense_layer key;
            const char *hex = im->layers[k].diff_id + 7;
            for (int b = 0; b < AP_SHA256_LEN; b++)
                key.diff_id[b] = (unsigned char)(hexval(hex[2 * b]) << 4 | hexval(hex[2 * b + 1]));
            ap_dense_layer *hit = bsearch(&key, sorted, (size_t)r->n_layers, sizeof *sorted, cmp_diff);
            if (!hit)
                rc = ap_fail(err, AP_ERR_VERIFY, "no recipe for images[%zu] layer %zu (%s)", i, k + 1,
                             im->layers[k].diff_id);
            else if (hit->size != im->layers[k].uncompressed_size)
                rc = ap_fail(err, AP_ERR_VERIFY, "the recipe of %s gives %llu bytes, the index says %llu",
                             im->layers[k].diff_id, (unsigned long long)hit->size,
                             (unsigned long long)im->layers[k].uncompressed_size);
            else
                used[hit - sorted] = 1;
        }
    }
    for (uint64_t l = 0; l < r->n_layers && rc == 0; l++)
        if (!used[l])
            rc = ap_fail(err, AP_ERR_VERIFY, "a recipe for a layer that no image of the index uses");
    free(sorted);
    free(used);
    if (rc < 0)
        return -1;
    d->seg_first = calloc(r->n_segments ? r->n_segments : 1, sizeof *d->seg_first);
    d->bad = calloc((size_t)(r->n_chunks / 8 + 1), 1);
    if (!d->seg_first || !d->bad)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (uint64_t c = r->n_chunks; c-- > 0;)
        d->seg_first[r->chunks[c].segment] = c;
    if (!(d->layer_need = calloc(r->n_layers ? r->n_layers : 1, sizeof *d->layer_need)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (uint64_t l = 0; l < r->n_layers; l++)
        for (uint64_t k = 0; k < r->layers[l].n_refs; k++) {
            uint32_t need = r->chunks[r->layers[l].refs[k]].segment + 1;
            if (need > d->layer_need[l])
                d->layer_need[l] = need;
        }
    return 0;
}

/* ---- segments ---------------------------------------------------------------- */

static void seg_fail(dense_reader *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seg_fail(dense_reader *d, const char *fmt, ...)
{
    if (!d->seg_failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->seg_msg, sizeof d->seg_msg, fmt, ap);
        va_end(ap);
    }
    d->seg_failed = true;
}

static int open_spill(dense_reader *d, ap_error *err)
{
    struct statvfs sv;
    uint64_t need = d->idx->dense_unique_bytes;
    if (statvfs(d->spill_dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < need)
        return ap_fail(err, AP_ERR_IO,
                       "%s: rebuilding this dense bundle needs %llu MiB of temporary disk in %s, which has %llu MiB "
                       "free (set TMPDIR or load into a directory with room)",
                       d->name, (unsigned long long)(need >> 20), d->spill_dir,
                       (unsigned long long)(((uint64_t)sv.f_bavail * sv.f_frsize) >> 20));
#ifdef O_TMPFILE
    d->spill_fd = open(d->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
    if (d->spill_fd < 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/.airpack-spill-XXXXXX", d->spill_dir);
        d->spill_fd = mkstemp(path);
        if (d->spill_fd >= 0)
            unlink(path);
    }
    if (d->spill_fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "%s: cannot create a temporary file in %s for the dense rebuild",
                             d->name, d->spill_dir);
    return 0;
}

int dense_reader_begin(dense_reader *d, const ap_index_entry *e, ap_error *err)
{
    d->rlen = 0;
    d->seg_failed = false;
    d->frame_done = false;
    d->seg_out = 0;
    d->located = false;
    if (!strcmp(e->path, AP_DENSE_RECIPE_PATH)) {
        if (e->size > AP_DENSE_RECIPE_MAX)
            return ap_fail(err, AP_ERR_FORMAT, "%llu bytes, over the %u MiB limit of a recipe",
                           (unsigned long long)e->size, AP_DENSE_RECIPE_MAX >> 20);
        free(d->rbuf);
        if (!(d->rbuf = malloc(e->size ? (size_t)e->size : 1)))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        d->cur = -1;
        return 0;
    }
    if (!d->have_recipe)
        return ap_fail(err, AP_ERR_FORMAT, "a dense segment before the recipe");
    d->cur = atol(e->path + strlen(DENSE_PREFIX));
    if (d->cur < 0 || (uint64_t)d->cur >= d->r.n_segments)
        return ap_fail(err, AP_ERR_FORMAT, "segment %ld is not in the recipe", d->cur);
    if (!d->o.rebuild)
        return 0;
    if (d->spill_fd < 0 && open_spill(d, err) < 0)
        return -1;
    if (!d->dz) {
        d->dz = ZSTD_createDCtx();
        d->dout_cap = ZSTD_DStreamOutSize();
        d->dout = malloc(d->dout_cap);
        if (!d->dz || !d->dout)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    ZSTD_DCtx_reset(d->dz, ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d->dz, ZSTD_d_windowLogMax, (int)d->idx->dense_window_log)))
        return ap_fail(err, AP_ERR_FORMAT, "cannot set the zstd window to 2^%u", d->idx->dense_window_log);
    return 0;
}

static void segment_output(dense_reader *d, const unsigned char *p, size_t n)
{
    uint64_t size = d->r.segment_size[d->cur];
    if (n > size - d->seg_out) {
        seg_fail(d, "decompresses past its %llu bytes", (unsigned long long)size);
        return;
    }
    ap_error werr;
    if (ap_write_all(d->spill_fd, p, n, "the dense spill file", &werr) < 0) {
        seg_fail(d, "%s", werr.msg);
        return;
    }
    d->seg_out += n;
}

/* A segment failed: which of its chunks are damaged? Those that did not decompress,
 * and those whose decompressed bytes (in the spill) do not match their hash. Chunks
 * are checked only here: when a segment's sha256 matches the signed index, its
 * chunks are the signed ones, and each rebuilt layer is checked against its diff_id. */
static void locate_damage(dense_reader *d)
{
    if (d->cur < 0 || d->located)
        return;
    d->located = true;
    unsigned char *buf = malloc(AP_DENSE_CHUNK_MAX);
    for (uint64_t c = d->seg_first[d->cur]; c < d->r.n_chunks && d->r.chunks[c].segment == (uint32_t)d->cur; c++) {
        const ap_dense_chunk *ch = &d->r.chunks[c];
        bool bad = true;
        if (buf && d->spill_fd >= 0 && ch->offset + ch->length <= d->seg_out &&
            pread(d->spill_fd, buf, ch->length, (off_t)(d->r.segment_base[d->cur] + ch->offset)) == (ssize_t)ch->length) {
            unsigned char h[AP_DENSE_HASH_LEN];
            ap_dense_chunk_hash(buf, ch->length, h);
            bad = memcmp(h, ch->hash, AP_DENSE_HASH_LEN) != 0;
        }
        if (bad)
            d->bad[c / 8] |= (unsigned char)(1u << (c % 8));
    }
    free(buf);
}

void dense_reader_data(dense_reader *d, const void *buf, size_t n)
{
    if (d->cur == -1) {
        memcpy(d->rbuf + d->rlen, buf, n);   /* the verifier stops at the entry's size */
        d->rlen += n;
        return;
    }
    if (d->cur < 0 || !d->o.rebuild || d->seg_failed)
        return;
    ZSTD_inBuffer in = {buf, n, 0};
    for (;;) {
        if (d->frame_done) {
            if (in.pos < in.size)
                seg_fail(d, "data after the end of its zstd frame");
            return;
        }
        ZSTD_outBuffer out = {d->dout, d->dout_cap, 0};
        size_t ret = ZSTD_decompressStream(d->dz, &out, &in);
        if (ZSTD_isError(ret)) {
            seg_fail(d, "does not decompress (zstd: %s) after %llu bytes", ZSTD_getErrorName(ret),
                     (unsigned long long)d->seg_out);
            return;
        }
        if (out.pos)
            segment_output(d, d->dout, out.pos);
        if (d->seg_failed)
            return;
        if (ret == 0)
            d->frame_done = true;
        if (in.pos == in.size && out.pos < out.size)
            return;
    }
}

/* ---- rebuilding layers ------------------------------------------------------- */

/* The blob on its way to the sink: counted, and hashed unless it is the tar
 * itself (h NULL: compression "none"), whose hash the rebuild takes anyway. */
typedef struct {
    const ap_verify_sink *sink;
    void *sink_ctx;
    ap_sha256 *h;
    uint64_t n;
} blob_out;

static int blob_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    blob_out *b = ctx;
    if (b->h)
        ap_sha256_update(b->h, buf, n);
    b->n += n;
    if (b->sink && b->sink->on_entry_data)
        return b->sink->on_entry_data(b->sink_ctx, buf, n, err);
    return 0;
}

static const ap_index_layer *index_layer(const dense_reader *d, const char *diff_hex)
{
    for (size_t i = 0; i < d->idx->n_images; i++)
        for (size_t k = 0; k < d->idx->images[i].n_layers; k++)
            if (!strcmp(d->idx->images[i].layers[k].diff_id + 7, diff_hex))
                return &d->idx->images[i].layers[k];
    return NULL;
}

static int rebuild(dense_reader *d, const ap_verify_sink *sink, void *sink_ctx, ap_error *err)
{
    /* compression "none": the blob is the rebuilt tar itself, hashed once */
    bool plain = d->idx->compression && !strcmp(d->idx->compression, "none");
    unsigned char *buf = malloc(REBUILD_BUF);
    ap_sha256 *h = ap_sha256_new();
    blob_out bo = {.sink = sink, .sink_ctx = sink_ctx, .h = plain ? NULL : ap_sha256_new()};
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    ap_compressor *z = NULL;
    int rc = 0;
    if (!buf || !h || (!plain && !bo.h)) {
        rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!plain && !(z = ap_compressor_new(AP_CODEC_ZSTD, d->idx->dense_blob_level ? d->idx->dense_blob_level : 3,
                                nproc > 0 ? (int)nproc : 1, blob_sink, &bo, err))) {
        rc = -1;
        goto out;
    }
    for (uint64_t l = 0; l < d->r.n_layers && rc == 0; l++) {
        const ap_dense_layer *ly = &d->r.layers[l];
        char hex[AP_HEX_LEN + 1], path[sizeof "blobs/sha256/" + AP_HEX_LEN], name[160];
        /* wait until every segment holding its chunks is in the spill and checked */
        pthread_mutex_lock(&d->mu);
        while (!d->stop && d->segs_done < d->layer_need[l])
            pthread_cond_wait(&d->cv, &d->mu);
        bool stop = d->stop;
        pthread_mutex_unlock(&d->mu);
        if (stop) {
            rc = ap_fail(err, AP_ERR_INTERRUPTED, "the rebuild was stopped");
            break;
        }
        ap_hex_encode(ly->diff_id, AP_SHA256_LEN, hex);
        const ap_index_layer *il = index_layer(d, hex);
        if (!il) {   /* check_recipe saw to it */
            rc = ap_fail(err, AP_ERR_VERIFY, "layer sha256:%s is in no image", hex);
            break;
        }
        snprintf(path, sizeof path, "blobs/sha256/%s", il->digest + 7);
        ap_index_entry e = {.path = path, .size = il->size};
        memcpy(e.sha256, il->digest + 7, sizeof e.sha256);
        bo.n = 0;
        if (sink && sink->on_entry_begin && sink->on_entry_begin(sink_ctx, &e, err) < 0) {
            rc = -1;
            break;
        }
        if (z && ap_compressor_reset(z, blob_sink, &bo, err) < 0) {
            rc = -1;
            break;
        }
        uint64_t k = 0;
        while (k < ly->n_refs && rc == 0) {
            /* a run of chunks that lie one after another in the spill */
            const ap_dense_chunk *c = &d->r.chunks[ly->refs[k]];
            uint64_t off = d->r.segment_base[c->segment] + c->offset, len = c->length;
            for (k++; k < ly->n_refs; k++) {
                const ap_dense_chunk *nx = &d->r.chunks[ly->refs[k]];
                if (d->r.segment_base[nx->segment] + nx->offset != off + len || len > (64u << 20))
                    break;
                len += nx->length;
            }
            while (len > 0 && rc == 0) {
                size_t want = len < REBUILD_BUF ? (size_t)len : REBUILD_BUF;
                rc = ap_pread_all(d->spill_fd, buf, want, off, "the dense spill file", err);
                if (rc < 0)
                    break;
                ap_sha256_update(h, buf, want);
                rc = z ? ap_compressor_write(z, buf, want, err) : blob_sink(&bo, buf, want, err);
                off += want;
                len -= want;
            }
        }
        if (rc < 0 || (z && ap_compressor_finish(z, err) < 0)) {
            rc = -1;
            break;
        }
        char got_hex[AP_HEX_LEN + 1], blob_hex[AP_HEX_LEN + 1];
        ap_sha256_final_hex(h, got_hex);
        if (plain)
            memcpy(blob_hex, got_hex, sizeof blob_hex);
        else
            ap_sha256_final_hex(bo.h, blob_hex);
        if (strcmp(got_hex, hex)) {
            layer_name(d, l, name, sizeof name);
            rc = ap_fail(err, AP_ERR_VERIFY, "%s rebuilt from its chunks hashes to sha256:%s, not its diff_id",
                         name, got_hex);
            break;
        }
        if (strcmp(blob_hex, il->digest + 7) || bo.n != il->size) {
            layer_name(d, l, name, sizeof name);
            if (plain)   /* the index check saw to it: digest = diff_id, size = the tar's */
                rc = ap_fail(err, AP_ERR_VERIFY, "%s: its plain tar is not the blob %s (%llu bytes) the index names",
                             name, il->digest, (unsigned long long)il->size);
            else
                rc = ap_fail(err, AP_ERR_VERIFY,
                             "%s: its tar is right (diff_id matches), but zstd here (libzstd %s) compresses it to "
                             "sha256:%s (%llu bytes), not the blob %s (%llu bytes) that libzstd %s made when "
                             "packing; load it with the packer's libzstd version",
                             name, ZSTD_versionString(), blob_hex, (unsigned long long)bo.n, il->digest,
                             (unsigned long long)il->size, d->idx->dense_zstd ? d->idx->dense_zstd : "?");
            break;
        }
        if (sink && sink->on_entry_end && sink->on_entry_end(sink_ctx, &e, err) < 0)
            rc = -1;
    }
out:
    ap_compressor_free(z);
    free(buf);
    ap_sha256_free(h);
    ap_sha256_free(bo.h);
    return rc;
}

static void *rebuild_thread(void *arg)
{
    dense_reader *d = arg;
    ap_error err;
    ap_error_clear(&err);
    int rc = rebuild(d, d->sink, d->sink_ctx, &err);
    pthread_mutex_lock(&d->mu);
    d->thread_rc = rc;
    d->thread_err = err;
    d->thread_done = true;
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* Waits for the rebuild thread and returns its result. */
static int finish_thread(dense_reader *d, ap_error *err)
{
    pthread_join(d->thread, NULL);
    d->thread_running = false;
    if (d->thread_rc < 0) {
        *err = d->thread_err;
        return -1;
    }
    return 0;
}

int dense_reader_end(dense_reader *d, const ap_index_entry *e, const ap_verify_sink *sink, void *sink_ctx,
                     ap_error *err)
{
    if (d->cur == -1) {
        d->cur = -2;
        if (ap_dense_recipe_parse(d->rbuf, d->rlen, &d->r, err) < 0)
            return -1;
        free(d->rbuf);
        d->rbuf = NULL;
        d->have_recipe = true;
        if (check_recipe(d, err) < 0)
            return -1;
        if (d->r.n_segments == 0 && d->o.rebuild)
            return rebuild(d, sink, sink_ctx, err);
        if (d->o.rebuild) {
            d->sink = sink;
            d->sink_ctx = sink_ctx;
            /* without a thread, the last segment's end rebuilds everything */
            d->thread_running = pthread_create(&d->thread, NULL, rebuild_thread, d) == 0;
        }
        return 0;
    }
    if (d->o.rebuild) {
        if (!d->seg_failed && !d->frame_done)
            seg_fail(d, "its zstd frame is truncated");
        if (!d->seg_failed && d->seg_out != d->r.segment_size[d->cur])
            seg_fail(d, "decompresses to %llu bytes, the recipe says %llu", (unsigned long long)d->seg_out,
                     (unsigned long long)d->r.segment_size[d->cur]);
        if (d->seg_failed) {
            dense_reader_stop(d);
            char what[1500];
            dense_reader_damage(d, e, what, sizeof what);
            return ap_fail(err, AP_ERR_VERIFY, "%s%s%s", d->seg_failed ? d->seg_msg : "", d->seg_failed ? "; " : "",
                           what);
        }
    }
    uint32_t done = (uint32_t)d->cur + 1;   /* segments end in order: dense_reader_new saw to it */
    bool last = done == d->r.n_segments;
    d->cur = -2;
    if (!d->o.rebuild)
        return 0;
    pthread_mutex_lock(&d->mu);
    d->segs_done = done;
    pthread_cond_broadcast(&d->cv);
    bool failed = d->thread_done && d->thread_rc < 0;
    pthread_mutex_unlock(&d->mu);
    if (d->thread_running && (last || failed))
        return finish_thread(d, err);   /* a layer that failed fails the load now, not after every segment */
    if (last)
        return rebuild(d, sink, sink_ctx, err);
    return 0;
}
