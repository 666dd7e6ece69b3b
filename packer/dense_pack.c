/* dense_pack.c: chunk, deduplicate and compress layers into dense segments (see dense_pack.h). */
#include "dense_pack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "../formats/chunker.h"
#include "../formats/dense_recipe.h"
#include "../formats/stream.h"

#define COPY_BUF (1u << 20)

struct dense_pack {
    dense_pack_options o;
    ap_chunker *chunker;
    int fd;                       /* the distinct chunks, raw, in the order first met */
    char tmp_path[4200];
    char dir[4096];               /* the output's directory: temporary files go here */
    uint64_t file_off;
    /* the recipe being built; chunk segment/offset are set by finish */
    ap_dense_recipe r;
    uint64_t *raw_off;            /* per chunk (first-met numbering until finish) */
    uint32_t *order;              /* after finish: chunk (final numbering) -> first-met number */
    size_t chunks_cap;
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
    if (d->r.n_chunks == d->chunks_cap) {
        size_t cap = d->chunks_cap ? d->chunks_cap * 2 : 4096;
        ap_dense_chunk *c = realloc(d->r.chunks, cap * sizeof *c);
        if (c)
            d->r.chunks = c;
        uint64_t *ro = realloc(d->raw_off, cap * sizeof *ro);
        if (ro)
            d->raw_off = ro;
        if (!c || !ro)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        d->chunks_cap = cap;
    }
    uint64_t i = d->r.n_chunks;
    ap_dense_chunk *c = &d->r.chunks[i];
    c->length = (uint32_t)n;
    memcpy(c->hash, hash, AP_DENSE_HASH_LEN);
    d->raw_off[i] = d->file_off;
    if (ap_write_all(d->fd, data, n, "the dense temporary file", err) < 0)
        return -1;
    d->file_off += n;
    d->table[s] = (uint32_t)(i + 1);
    d->r.n_chunks++;
    d->st.unique_bytes += n;
    return add_ref(d, (uint32_t)i, err);
}

/* A zstd context for one segment: long-distance matching, the window, a checksum;
 * single-threaded, so its bytes do not depend on the machine. */
static ZSTD_CCtx *new_segment_cctx(const dense_pack_options *o, ap_error *err)
{
    ZSTD_CCtx *zc = ZSTD_createCCtx();
    if (!zc) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (zcheck(ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, o->level), "level", err) < 0 ||
        zcheck(ZSTD_CCtx_setParameter(zc, ZSTD_c_windowLog, (int)o->window_log), "window", err) < 0 ||
        zcheck(ZSTD_CCtx_setParameter(zc, ZSTD_c_enableLongDistanceMatching, 1), "long mode", err) < 0 ||
        zcheck(ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1), "checksum", err) < 0) {
        ZSTD_freeCCtx(zc);
        return NULL;
    }
    return zc;
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
    if (d->o.jobs < 1)
        d->o.jobs = 1;
    ZSTD_CCtx *check = new_segment_cctx(&d->o, err);   /* a bad level or window fails here, not after chunking */
    if (!check)
        goto fail;
    ZSTD_freeCCtx(check);
    snprintf(d->dir, sizeof d->dir, "%s", dir && *dir ? dir : ".");
    snprintf(d->tmp_path, sizeof d->tmp_path, "%s/.airpack-dense-XXXXXX", d->dir);
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

/* Cuts the distinct chunks, in the order first met, into segments. (Ordering
 * them by file type and name instead, with the chunker's file keys, made the
 * bench's realistic set 3% larger at levels 3 and 12: the tar order keeps each
 * package's files together.) */
int dense_pack_finish(dense_pack *d, ap_error *err)
{
    uint64_t n = d->r.n_chunks;
    d->order = malloc((size_t)(n ? n : 1) * sizeof *d->order);
    uint32_t *new_of = malloc((size_t)(n ? n : 1) * sizeof *new_of);
    ap_dense_chunk *sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!d->order || !new_of || !sorted) {
        free(new_of);
        free(sorted);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < n; i++)
        d->order[i] = (uint32_t)i;
    size_t segs_cap = 0;
    uint64_t fill = 0;
    for (uint64_t i = 0; i < n; i++) {
        ap_dense_chunk c = d->r.chunks[d->order[i]];
        if (d->r.n_segments == 0 || fill + c.length > d->o.segment_size) {
            if (d->r.n_segments >= AP_DENSE_MAX_SEGMENTS) {
                free(new_of);
                free(sorted);
                return ap_fail(err, AP_ERR_FORMAT, "dense: more than %u segments", AP_DENSE_MAX_SEGMENTS);
            }
            if (d->r.n_segments == segs_cap) {
                segs_cap = segs_cap ? segs_cap * 2 : 64;
                uint64_t *sz = realloc(d->r.segment_size, segs_cap * sizeof *sz);
                if (!sz) {
                    free(new_of);
                    free(sorted);
                    return ap_fail(err, AP_ERR_NOMEM, "out of memory");
                }
                d->r.segment_size = sz;
            }
            d->r.segment_size[d->r.n_segments++] = 0;
            fill = 0;
        }
        c.segment = d->r.n_segments - 1;
        c.offset = fill;
        fill += c.length;
        d->r.segment_size[c.segment] = fill;
        sorted[i] = c;
        new_of[d->order[i]] = (uint32_t)i;
    }
    free(d->r.chunks);
    d->r.chunks = sorted;
    for (uint64_t l = 0; l < d->r.n_layers; l++)
        for (uint64_t k = 0; k < d->r.layers[l].n_refs; k++)
            d->r.layers[l].refs[k] = new_of[d->r.layers[l].refs[k]];
    free(new_of);
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

/* ---- compressing the segments ------------------------------------------------
 * o.jobs workers each take the next segment, compress it with their own context
 * into an unlinked temporary file, and hand it over; the caller's thread copies
 * the segments into the bundle in order. A worker starts a segment only while
 * fewer than o.jobs finished ones wait to be copied, so at most 2 * o.jobs
 * compressed segments are on disk at once. */

typedef struct {
    dense_pack *d;
    uint64_t *first;              /* per segment: its first chunk */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t next;                /* the next segment to start */
    uint32_t copied;              /* segments copied into the bundle */
    int *fd;                      /* per segment: its compressed frame, -1 until done */
    uint64_t *size;
    bool stop;
    bool failed;
    ap_error err;                 /* the first worker failure */
} seg_pool;

static int compress_segment(seg_pool *p, ZSTD_CCtx *zc, unsigned char *buf, unsigned char *zout, size_t zout_cap,
                            uint32_t s, int out_fd, uint64_t *out_size, ap_error *err)
{
    dense_pack *d = p->d;
    if (zcheck(ZSTD_CCtx_reset(zc, ZSTD_reset_session_only), "starting a segment", err) < 0)
        return -1;
    uint64_t i = p->first[s], written = 0;
    bool last_call = false;
    while (!last_call) {
        /* the segment's chunks, read back in runs that lie together in the raw file */
        ZSTD_inBuffer in = {buf, 0, 0};
        ZSTD_EndDirective how = ZSTD_e_continue;
        if (i < d->r.n_chunks && d->r.chunks[i].segment == s) {
            uint64_t off = d->raw_off[d->order[i]], len = d->r.chunks[i].length;
            for (i++; i < d->r.n_chunks && d->r.chunks[i].segment == s &&
                      d->raw_off[d->order[i]] == off + len && len + d->r.chunks[i].length <= COPY_BUF;
                 i++)
                len += d->r.chunks[i].length;
            if (ap_pread_all(d->fd, buf, (size_t)len, off, "the dense temporary file", err) < 0)
                return -1;
            in.size = (size_t)len;
        } else {
            how = ZSTD_e_end;
            last_call = true;
        }
        for (;;) {
            ZSTD_outBuffer out = {zout, zout_cap, 0};
            size_t left = ZSTD_compressStream2(zc, &out, &in, how);
            if (zcheck(left, "compressing a dense segment", err) < 0)
                return -1;
            if (out.pos && ap_write_all(out_fd, zout, out.pos, "a dense segment's temporary file", err) < 0)
                return -1;
            written += out.pos;
            if (how == ZSTD_e_end ? left == 0 : in.pos == in.size)
                break;
        }
    }
    *out_size = written;
    return 0;
}

static void *segment_worker(void *arg)
{
    seg_pool *p = arg;
    dense_pack *d = p->d;
    ap_error err;
    ap_error_clear(&err);
    ZSTD_CCtx *zc = new_segment_cctx(&d->o, &err);
    size_t zout_cap = ZSTD_CStreamOutSize();
    unsigned char *buf = malloc(COPY_BUF), *zout = malloc(zout_cap);
    bool ok = zc && buf && zout;
    if (zc && !ok)
        ap_fail(&err, AP_ERR_NOMEM, "out of memory");
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (ok && !p->stop && p->next < d->r.n_segments && p->next >= p->copied + (uint32_t)d->o.jobs)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!ok || p->stop || p->next >= d->r.n_segments) {
            if (!ok && !p->failed) {
                p->failed = p->stop = true;
                p->err = err;
                pthread_cond_broadcast(&p->cv);
            }
            pthread_mutex_unlock(&p->mu);
            break;
        }
        uint32_t s = p->next++;
        pthread_mutex_unlock(&p->mu);

        char path[4200];
        snprintf(path, sizeof path, "%s/.airpack-segment-XXXXXX", d->dir);
        int fd = mkstemp(path);
        uint64_t size = 0;
        if (fd < 0) {
            ap_fail_errno(&err, AP_ERR_IO, "%s: cannot create a temporary file for a dense segment", path);
            ok = false;
        } else {
            unlink(path);
            ok = compress_segment(p, zc, buf, zout, zout_cap, s, fd, &size, &err) == 0;
        }
        pthread_mutex_lock(&p->mu);
        if (ok) {
            p->fd[s] = fd;
            p->size[s] = size;
        } else if (fd >= 0) {
            close(fd);
        }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    ZSTD_freeCCtx(zc);
    free(buf);
    free(zout);
    return NULL;
}

/* Copies segment s (done by a worker) into the bundle. */
static int copy_segment(seg_pool *p, bundle_writer *w, unsigned char *buf, uint32_t s, ap_index_entry *e,
                        ap_error *err)
{
    char path[64];
    ap_dense_segment_path(s, path, sizeof path);
    if (bundle_writer_begin(w, err) < 0)
        return -1;
    for (uint64_t off = 0; off < p->size[s];) {
        size_t want = p->size[s] - off < COPY_BUF ? (size_t)(p->size[s] - off) : COPY_BUF;
        if (ap_pread_all(p->fd[s], buf, want, off, "a dense segment's temporary file", err) < 0 ||
            bundle_writer_write(w, buf, want, err) < 0)
            return -1;
        off += want;
    }
    p->d->st.compressed_bytes += p->size[s];
    return bundle_writer_end(w, path, e, err);
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
    uint32_t n = d->r.n_segments;
    seg_pool p = {.d = d};
    p.first = calloc(n ? n : 1, sizeof *p.first);
    p.fd = malloc((n ? n : 1) * sizeof *p.fd);
    p.size = calloc(n ? n : 1, sizeof *p.size);
    unsigned char *buf = malloc(COPY_BUF);
    size_t n_workers = (size_t)d->o.jobs < n ? (size_t)d->o.jobs : n;
    pthread_t *tid = calloc(n_workers ? n_workers : 1, sizeof *tid);
    if (!p.first || !p.fd || !p.size || !buf || !tid) {
        free(p.first);
        free(p.fd);
        free(p.size);
        free(buf);
        free(tid);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (uint32_t s = 0; s < n; s++)
        p.fd[s] = -1;
    for (uint64_t c = d->r.n_chunks; c-- > 0;)
        p.first[d->r.chunks[c].segment] = c;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    size_t started = 0;
    int rc = 0;
    for (; started < n_workers; started++)
        if (pthread_create(&tid[started], NULL, segment_worker, &p) != 0) {
            rc = ap_fail(err, AP_ERR_NOMEM, "cannot start a thread to compress dense segments");
            break;
        }
    if (rc == 0 && n > 0 && started == 0)
        rc = ap_fail(err, AP_ERR_NOMEM, "cannot start a thread to compress dense segments");
    for (uint32_t s = 0; s < n && rc == 0; s++) {
        pthread_mutex_lock(&p.mu);
        while (p.fd[s] < 0 && !p.failed)
            pthread_cond_wait(&p.cv, &p.mu);
        bool failed = p.fd[s] < 0;
        pthread_mutex_unlock(&p.mu);
        if (failed) {
            *err = p.err;
            rc = -1;
            break;
        }
        rc = copy_segment(&p, w, buf, s, &e, err);
        close(p.fd[s]);
        pthread_mutex_lock(&p.mu);
        p.fd[s] = -2;   /* copied */
        p.copied = s + 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        if (rc == 0 && record(ctx, &e, err) < 0) {
            free(e.path);
            rc = -1;
        }
    }
    pthread_mutex_lock(&p.mu);
    p.stop = true;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    for (size_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    for (uint32_t s = 0; s < n; s++)
        if (p.fd[s] >= 0)
            close(p.fd[s]);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    free(p.first);
    free(p.fd);
    free(p.size);
    free(buf);
    free(tid);
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
    if (d->fd >= 0)
        close(d->fd);
    free(d->raw_off);
    free(d->order);
    free(d->table);
    free(d->refs);
    free(d->recipe);
    ap_dense_recipe_free(&d->r);
    free(d);
}
