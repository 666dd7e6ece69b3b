/* dense_pack.c: chunk, deduplicate and compress layers into dense segments (see dense_pack.h). */
#include "dense_pack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "../formats/chunker.h"
#include "../formats/dense_recipe.h"
#include "../formats/stream.h"

#define COPY_BUF (1u << 20)

typedef struct {
    uint64_t file_off;        /* in the temporary file */
    uint64_t comp_size;
} seg_place;

struct dense_pack {
    dense_pack_options o;
    ap_chunker *chunker;
    ZSTD_CCtx *zc;
    unsigned char *zout;
    size_t zout_cap;
    int fd;
    char tmp_path[4096];
    uint64_t file_off;
    /* the recipe being built */
    ap_dense_recipe r;
    size_t chunks_cap;
    size_t segs_cap;
    seg_place *place;
    bool seg_open;
    uint64_t seg_fill;
    /* chunk hash table: slot -> chunk number + 1 (0 = empty) */
    uint32_t *table;
    size_t table_cap;
    /* the current layer */
    uint32_t *refs;
    size_t n_refs, refs_cap;
    uint64_t layer_size;
    size_t layers_cap;
    dense_pack_stats st;
    unsigned char *recipe;
    size_t recipe_len;
    bool finished;
};

static int zcheck(size_t r, const char *what, ap_error *err)
{
    return ZSTD_isError(r) ? ap_fail(err, AP_ERR_FORMAT, "zstd: %s: %s", what, ZSTD_getErrorName(r)) : 0;
}

static int drain(dense_pack *d, ZSTD_inBuffer *in, ZSTD_EndDirective how, ap_error *err)
{
    for (;;) {
        ZSTD_outBuffer out = {d->zout, d->zout_cap, 0};
        size_t left = ZSTD_compressStream2(d->zc, &out, in, how);
        if (zcheck(left, "compressing a dense segment", err) < 0)
            return -1;
        if (out.pos && ap_write_all(d->fd, d->zout, out.pos, "the dense temporary file", err) < 0)
            return -1;
        d->file_off += out.pos;
        if (how == ZSTD_e_end ? left == 0 : in->pos == in->size)
            return 0;
    }
}

static int close_segment(dense_pack *d, ap_error *err)
{
    if (!d->seg_open)
        return 0;
    ZSTD_inBuffer in = {NULL, 0, 0};
    if (drain(d, &in, ZSTD_e_end, err) < 0)
        return -1;
    uint32_t s = d->r.n_segments - 1;
    d->place[s].comp_size = d->file_off - d->place[s].file_off;
    d->r.segment_size[s] = d->seg_fill;
    d->seg_open = false;
    return 0;
}

static int open_segment(dense_pack *d, ap_error *err)
{
    if (d->r.n_segments >= AP_DENSE_MAX_SEGMENTS)
        return ap_fail(err, AP_ERR_FORMAT, "dense: more than %u segments", AP_DENSE_MAX_SEGMENTS);
    if (d->r.n_segments == d->segs_cap) {
        size_t cap = d->segs_cap ? d->segs_cap * 2 : 64;
        uint64_t *sz = realloc(d->r.segment_size, cap * sizeof *sz);
        if (sz)
            d->r.segment_size = sz;
        seg_place *pl = realloc(d->place, cap * sizeof *pl);
        if (pl)
            d->place = pl;
        if (!sz || !pl)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        d->segs_cap = cap;
    }
    d->place[d->r.n_segments] = (seg_place){d->file_off, 0};
    d->r.segment_size[d->r.n_segments] = 0;
    d->r.n_segments++;
    d->seg_open = true;
    d->seg_fill = 0;
    return zcheck(ZSTD_CCtx_reset(d->zc, ZSTD_reset_session_only), "starting a segment", err);
}

static uint64_t slot_of(const unsigned char *hash, size_t cap)
{
    uint64_t h;
    memcpy(&h, hash, 8);
    return h & (cap - 1);
}

static int grow_table(dense_pack *d, ap_error *err)
{
    size_t cap = d->table_cap ? d->table_cap * 2 : (1u << 16);
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < d->r.n_chunks; i++) {
        uint64_t s = slot_of(d->r.chunks[i].hash, cap);
        while (t[s])
            s = (s + 1) & (cap - 1);
        t[s] = (uint32_t)(i + 1);
    }
    free(d->table);
    d->table = t;
    d->table_cap = cap;
    return 0;
}

static int add_ref(dense_pack *d, uint32_t chunk, ap_error *err)
{
    if (d->n_refs == d->refs_cap) {
        size_t cap = d->refs_cap ? d->refs_cap * 2 : 4096;
        uint32_t *r = realloc(d->refs, cap * sizeof *r);
        if (!r)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        d->refs = r;
        d->refs_cap = cap;
    }
    d->refs[d->n_refs++] = chunk;
    return 0;
}

static int on_chunk(void *ctx, const unsigned char *data, size_t n, ap_error *err)
{
    dense_pack *d = ctx;
    unsigned char hash[AP_DENSE_HASH_LEN];
    ap_dense_chunk_hash(data, n, hash);
    d->layer_size += n;
    if ((d->r.n_chunks + 1) * 2 > d->table_cap && grow_table(d, err) < 0)
        return -1;
    uint64_t s = slot_of(hash, d->table_cap);
    while (d->table[s]) {
        const ap_dense_chunk *c = &d->r.chunks[d->table[s] - 1];
        if (c->length == n && !memcmp(c->hash, hash, AP_DENSE_HASH_LEN))
            return add_ref(d, d->table[s] - 1, err);
        s = (s + 1) & (d->table_cap - 1);
    }
    if (d->r.n_chunks >= UINT32_MAX - 1)
        return ap_fail(err, AP_ERR_FORMAT, "dense: more than 2^32 distinct chunks");
    /* a new chunk: into the current segment, or a new one */
    if (d->seg_open && d->seg_fill + n > d->o.segment_size && close_segment(d, err) < 0)
        return -1;
    if (!d->seg_open && open_segment(d, err) < 0)
        return -1;
    if (d->r.n_chunks == d->chunks_cap) {
        size_t cap = d->chunks_cap ? d->chunks_cap * 2 : 4096;
        ap_dense_chunk *c = realloc(d->r.chunks, cap * sizeof *c);
        if (!c)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        d->r.chunks = c;
        d->chunks_cap = cap;
    }
    ap_dense_chunk *c = &d->r.chunks[d->r.n_chunks];
    c->segment = d->r.n_segments - 1;
    c->length = (uint32_t)n;
    c->offset = d->seg_fill;
    memcpy(c->hash, hash, AP_DENSE_HASH_LEN);
    d->table[s] = (uint32_t)(d->r.n_chunks + 1);
    d->r.n_chunks++;
    d->seg_fill += n;
    d->st.unique_bytes += n;
    ZSTD_inBuffer in = {data, n, 0};
    if (drain(d, &in, ZSTD_e_continue, err) < 0)
        return -1;
    return add_ref(d, c - d->r.chunks, err);
}

dense_pack *dense_pack_new(const char *dir, const dense_pack_options *o, ap_error *err)
{
    dense_pack *d = calloc(1, sizeof *d);
    if (!d) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->fd = -1;
    d->o = *o;
    if (!d->o.level)
        d->o.level = DENSE_LEVEL_DEFAULT;
    if (d->o.threads < 1)
        d->o.threads = 1;
    if (!d->o.window_log)
        d->o.window_log = DENSE_WINDOW_LOG_DEFAULT;
    if (!d->o.chunk_avg)
        d->o.chunk_avg = AP_CHUNK_AVG_DEFAULT;
    if (d->o.window_log < AP_DENSE_WINDOW_MIN || d->o.window_log > AP_DENSE_WINDOW_MAX) {
        ap_fail(err, AP_ERR_USAGE, "--window %u: must be from %d to %d", d->o.window_log, AP_DENSE_WINDOW_MIN,
                AP_DENSE_WINDOW_MAX);
        goto fail;
    }
    if (!d->o.segment_size)
        d->o.segment_size = 1ULL << d->o.window_log;
    d->r.window_log = d->o.window_log;
    if (!(d->chunker = ap_chunker_new(d->o.chunk_avg, true, on_chunk, d, err)))
        goto fail;
    d->zc = ZSTD_createCCtx();
    d->zout_cap = ZSTD_CStreamOutSize();
    d->zout = malloc(d->zout_cap);
    if (!d->zc || !d->zout) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (zcheck(ZSTD_CCtx_setParameter(d->zc, ZSTD_c_compressionLevel, d->o.level), "level", err) < 0 ||
        zcheck(ZSTD_CCtx_setParameter(d->zc, ZSTD_c_windowLog, (int)d->o.window_log), "window", err) < 0 ||
        zcheck(ZSTD_CCtx_setParameter(d->zc, ZSTD_c_enableLongDistanceMatching, 1), "long mode", err) < 0 ||
        zcheck(ZSTD_CCtx_setParameter(d->zc, ZSTD_c_checksumFlag, 1), "checksum", err) < 0 ||
        zcheck(ZSTD_CCtx_setParameter(d->zc, ZSTD_c_nbWorkers, d->o.threads), "threads", err) < 0)
        goto fail;
    const char *env = getenv("AIRPACK_DENSE_JOB_MIB");   /* tuning aid; not a user option */
    int job = env ? atoi(env) : 16;
    if (job > 0 && zcheck(ZSTD_CCtx_setParameter(d->zc, ZSTD_c_jobSize, job << 20), "job size", err) < 0)
        goto fail;
    snprintf(d->tmp_path, sizeof d->tmp_path, "%s/.airpack-dense-XXXXXX", dir && *dir ? dir : ".");
    d->fd = mkstemp(d->tmp_path);
    if (d->fd < 0) {
        ap_fail_errno(err, AP_ERR_IO, "%s: cannot create the dense temporary file", d->tmp_path);
        goto fail;
    }
    unlink(d->tmp_path);
    return d;
fail:
    dense_pack_free(d);
    return NULL;
}

int dense_pack_layer_begin(dense_pack *d, ap_error *err)
{
    (void)err;
    d->n_refs = 0;
    d->layer_size = 0;
    return 0;
}

int dense_pack_write(void *ctx, const void *buf, size_t n, ap_error *err)
{
    return ap_chunker_write(((dense_pack *)ctx)->chunker, buf, n, err);
}

static int hex_byte(const char *p)
{
    int v = 0;
    for (int i = 0; i < 2; i++) {
        char c = p[i];
        v = v * 16 + (c >= 'a' ? c - 'a' + 10 : c - '0');
    }
    return v;
}

int dense_pack_layer_end(dense_pack *d, const char *diff_id, bool keep, ap_error *err)
{
    if (ap_chunker_finish(d->chunker, err) < 0)
        return -1;
    if (!keep)
        return 0;
    if (d->r.n_layers == d->layers_cap) {
        size_t cap = d->layers_cap ? d->layers_cap * 2 : 64;
        ap_dense_layer *l = realloc(d->r.layers, cap * sizeof *l);
        if (!l)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        d->r.layers = l;
        d->layers_cap = cap;
    }
    ap_dense_layer *l = &d->r.layers[d->r.n_layers];
    const char *hex = strncmp(diff_id, "sha256:", 7) ? diff_id : diff_id + 7;
    for (int i = 0; i < AP_SHA256_LEN; i++)
        l->diff_id[i] = (unsigned char)hex_byte(hex + 2 * i);
    l->size = d->layer_size;
    l->n_refs = d->n_refs;
    l->refs = malloc((d->n_refs ? d->n_refs : 1) * sizeof *l->refs);
    if (!l->refs)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    memcpy(l->refs, d->refs, d->n_refs * sizeof *l->refs);
    d->r.n_layers++;
    d->st.layer_bytes += d->layer_size;
    d->st.n_refs += d->n_refs;
    return 0;
}

int dense_pack_finish(dense_pack *d, ap_error *err)
{
    if (close_segment(d, err) < 0)
        return -1;
    if (ap_dense_recipe_write(&d->r, &d->recipe, &d->recipe_len, err) < 0)
        return -1;
    /* what we write must be what a reader accepts */
    ap_dense_recipe check;
    if (ap_dense_recipe_parse(d->recipe, d->recipe_len, &check, err) < 0) {
        ap_error_prefix(err, "internal error: refusing to write an invalid recipe");
        return -1;
    }
    ap_dense_recipe_free(&check);
    d->finished = true;
    return 0;
}

size_t dense_pack_n_entries(const dense_pack *d)
{
    return 1 + d->r.n_segments;
}

unsigned dense_pack_window_log(const dense_pack *d)
{
    return d->o.window_log;
}

int dense_pack_write_entries(dense_pack *d, bundle_writer *w,
                             int (*record)(void *ctx, const ap_index_entry *e, ap_error *err), void *ctx,
                             ap_error *err)
{
    ap_index_entry e;
    if (bundle_writer_add(w, AP_DENSE_RECIPE_PATH, d->recipe, d->recipe_len, &e, err) < 0)
        return -1;
    if (record(ctx, &e, err) < 0) {
        free(e.path);
        return -1;
    }
    unsigned char *buf = malloc(COPY_BUF);
    if (!buf)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (uint32_t s = 0; s < d->r.n_segments && rc == 0; s++) {
        char path[64];
        ap_dense_segment_path(s, path, sizeof path);
        rc = bundle_writer_begin(w, err);
        uint64_t off = d->place[s].file_off, left = d->place[s].comp_size;
        while (rc == 0 && left > 0) {
            size_t want = left < COPY_BUF ? (size_t)left : COPY_BUF;
            ssize_t got = pread(d->fd, buf, want, (off_t)off);
            if (got <= 0) {
                rc = got < 0 ? ap_fail_errno(err, AP_ERR_IO, "reading the dense temporary file")
                             : ap_fail(err, AP_ERR_IO, "the dense temporary file is short");
                break;
            }
            rc = bundle_writer_write(w, buf, (size_t)got, err);
            off += (uint64_t)got;
            left -= (uint64_t)got;
        }
        if (rc == 0)
            rc = bundle_writer_end(w, path, &e, err);
        if (rc == 0 && record(ctx, &e, err) < 0) {
            free(e.path);
            rc = -1;
        }
        d->st.compressed_bytes += d->place[s].comp_size;
    }
    free(buf);
    return rc;
}

void dense_pack_get_stats(const dense_pack *d, dense_pack_stats *s)
{
    *s = d->st;
    s->n_chunks = d->r.n_chunks;
    s->n_segments = d->r.n_segments;
    s->recipe_bytes = d->recipe_len;
}

void dense_pack_free(dense_pack *d)
{
    if (!d)
        return;
    ap_chunker_free(d->chunker);
    ZSTD_freeCCtx(d->zc);
    free(d->zout);
    if (d->fd >= 0)
        close(d->fd);
    free(d->place);
    free(d->table);
    free(d->refs);
    free(d->recipe);
    ap_dense_recipe_free(&d->r);
    free(d);
}
