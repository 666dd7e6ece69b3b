/* dense_recipe.c: parse and write the dense-bundle recipe (see dense_recipe.h). */
#include "dense_recipe.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_LEN (8 + 4 + 4 + 8 + 8)
#define CHUNK_REC 32
#define LAYER_HEAD 48

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

void ap_dense_segment_path(uint32_t segment, char *out, size_t n)
{
    snprintf(out, n, AP_DENSE_SEGMENT_FMT, segment);
}

void ap_dense_chunk_hash(const void *data, size_t n, unsigned char out[AP_DENSE_HASH_LEN])
{
    unsigned char full[SHA256_DIGEST_LENGTH];
    SHA256(data, n, full);
    memcpy(out, full, AP_DENSE_HASH_LEN);
}

uint64_t ap_dense_recipe_unique_bytes(const ap_dense_recipe *r)
{
    uint64_t t = 0;
    for (uint32_t s = 0; s < r->n_segments; s++)
        t += r->segment_size[s];
    return t;
}

void ap_dense_recipe_free(ap_dense_recipe *r)
{
    if (!r)
        return;
    for (uint64_t i = 0; r->layers && i < r->n_layers; i++)
        free(r->layers[i].refs);
    free(r->layers);
    free(r->chunks);
    free(r->segment_size);
    free(r->segment_base);
    memset(r, 0, sizeof *r);
}

static int cmp_diff(const void *a, const void *b)
{
    return memcmp(*(const unsigned char *const *)a, *(const unsigned char *const *)b, AP_SHA256_LEN);
}

/* Where parsing is: p[at..at+left) is still to read. */
typedef struct {
    const unsigned char *p;
    size_t at, left;
} cursor;

static void advance(cursor *c, size_t n)
{
    c->at += n;
    c->left -= n;
}

/* The fixed head: magic, window_log and the three counts. */
static int parse_head(cursor *c, size_t len, ap_dense_recipe *r, ap_error *err)
{
    const unsigned char *p = c->p;
    if (len > AP_DENSE_RECIPE_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "%zu bytes, over the %u MiB limit", len, AP_DENSE_RECIPE_MAX >> 20);
    if (len < HEAD_LEN || memcmp(p, AP_DENSE_MAGIC, 8))
        return ap_fail(err, AP_ERR_FORMAT, "not a dense recipe (no %s header)", AP_DENSE_MAGIC);
    r->window_log = get32(p + 8);
    r->n_segments = get32(p + 12);
    r->n_chunks = get64(p + 16);
    r->n_layers = get64(p + 24);
    c->at = HEAD_LEN;
    c->left = len - HEAD_LEN;
    if (r->window_log < AP_DENSE_WINDOW_MIN || r->window_log > AP_DENSE_WINDOW_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "window_log %u is outside %d..%d", r->window_log,
                       AP_DENSE_WINDOW_MIN, AP_DENSE_WINDOW_MAX);
    return 0;
}

/* The segment sizes; each segment's base is the sum of the sizes before it. */
static int parse_segments(cursor *c, ap_dense_recipe *r, ap_error *err)
{
    if (r->n_segments > AP_DENSE_MAX_SEGMENTS || r->n_segments > c->left / 8)
        return ap_fail(err, AP_ERR_FORMAT, "%u segments: more than the recipe has room for", r->n_segments);
    r->segment_size = calloc(r->n_segments ? r->n_segments : 1, sizeof *r->segment_size);
    r->segment_base = calloc(r->n_segments ? r->n_segments : 1, sizeof *r->segment_base);
    if (!r->segment_size || !r->segment_base)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    uint64_t base = 0;
    for (uint32_t s = 0; s < r->n_segments; s++, advance(c, 8)) {
        r->segment_size[s] = get64(c->p + c->at);
        r->segment_base[s] = base;
        if (r->segment_size[s] == 0 || r->segment_size[s] > (1ULL << 40) || base + r->segment_size[s] > (1ULL << 50))
            return ap_fail(err, AP_ERR_FORMAT, "segment %u: size %llu is out of range", s,
                           (unsigned long long)r->segment_size[s]);
        base += r->segment_size[s];
    }
    return 0;
}

/* Chunk i lies where the one before it ended: in the same segment, or at the start of
 * the next once that one is full. *seg and *seg_end track the place. */
static int check_chunk_place(const ap_dense_recipe *r, uint64_t i, const ap_dense_chunk *c, uint32_t *seg,
                             uint64_t *seg_end, ap_error *err)
{
    if (c->segment >= r->n_segments)
        return ap_fail(err, AP_ERR_FORMAT, "chunk %llu: segment %u, the recipe has %u",
                       (unsigned long long)i, c->segment, r->n_segments);
    if (c->length == 0 || c->length > AP_DENSE_CHUNK_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "chunk %llu: length %u is out of range", (unsigned long long)i,
                       c->length);
    if (c->segment != *seg) {
        if (c->segment != *seg + 1 || *seg_end != r->segment_size[*seg])
            return ap_fail(err, AP_ERR_FORMAT,
                           "chunk %llu: segment %u follows segment %u before it is filled (%llu of %llu bytes)",
                           (unsigned long long)i, c->segment, *seg, (unsigned long long)*seg_end,
                           (unsigned long long)r->segment_size[*seg]);
        *seg = c->segment;
        *seg_end = 0;
    }
    if (c->offset != *seg_end)
        return ap_fail(err, AP_ERR_FORMAT,
                       "chunk %llu: offset %llu in segment %u, expected %llu (chunks overlap or leave a gap)",
                       (unsigned long long)i, (unsigned long long)c->offset, c->segment,
                       (unsigned long long)*seg_end);
    if (c->length > r->segment_size[*seg] - *seg_end)
        return ap_fail(err, AP_ERR_FORMAT, "chunk %llu: ends past its segment %u (%llu bytes)",
                       (unsigned long long)i, *seg, (unsigned long long)r->segment_size[*seg]);
    *seg_end += c->length;
    return 0;
}

/* The chunk records: they fill the segments in order, without gaps or overlaps. */
static int parse_chunks(cursor *c, ap_dense_recipe *r, ap_error *err)
{
    if (r->n_chunks > c->left / CHUNK_REC)
        return ap_fail(err, AP_ERR_FORMAT, "%llu chunks: more than the recipe has room for",
                       (unsigned long long)r->n_chunks);
    r->chunks = malloc((size_t)(r->n_chunks ? r->n_chunks : 1) * sizeof *r->chunks);
    if (!r->chunks)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    uint32_t seg = 0;
    uint64_t seg_end = 0;   /* where the next chunk of segment `seg` must start */
    for (uint64_t i = 0; i < r->n_chunks; i++, advance(c, CHUNK_REC)) {
        ap_dense_chunk *ch = &r->chunks[i];
        const unsigned char *q = c->p + c->at;
        ch->segment = get32(q);
        ch->length = get32(q + 4);
        ch->offset = get64(q + 8);
        memcpy(ch->hash, q + 16, AP_DENSE_HASH_LEN);
        if (check_chunk_place(r, i, ch, &seg, &seg_end, err) < 0)
            return -1;
    }
    if (r->n_segments && (seg != r->n_segments - 1 || seg_end != r->segment_size[seg]))
        return ap_fail(err, AP_ERR_FORMAT, "the chunks do not fill the segments (segment %u: %llu bytes covered)",
                       seg, (unsigned long long)seg_end);
    return 0;
}

/* One layer: its diff_id, size and chunk list, whose lengths add up to the size. */
static int parse_layer(cursor *c, ap_dense_recipe *r, uint64_t l, ap_error *err)
{
    ap_dense_layer *ly = &r->layers[l];
    if (c->left < LAYER_HEAD)
        return ap_fail(err, AP_ERR_FORMAT, "layer %llu: truncated", (unsigned long long)l);
    memcpy(ly->diff_id, c->p + c->at, AP_SHA256_LEN);
    ly->size = get64(c->p + c->at + 32);
    uint64_t n = get64(c->p + c->at + 40);
    advance(c, LAYER_HEAD);
    if (n > c->left / 4)
        return ap_fail(err, AP_ERR_FORMAT, "layer %llu: %llu chunks, more than the recipe has room for",
                       (unsigned long long)l, (unsigned long long)n);
    ly->refs = malloc((size_t)(n ? n : 1) * 4);
    if (!ly->refs)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    ly->n_refs = n;
    uint64_t total = 0;
    for (uint64_t k = 0; k < n; k++, advance(c, 4)) {
        uint32_t ci = get32(c->p + c->at);
        if (ci >= r->n_chunks)
            return ap_fail(err, AP_ERR_FORMAT, "layer %llu: chunk %u, the recipe has %llu",
                           (unsigned long long)l, ci, (unsigned long long)r->n_chunks);
        ly->refs[k] = ci;
        total += r->chunks[ci].length;   /* at most 2^32 * 2^24: no overflow */
    }
    if (total != ly->size)
        return ap_fail(err, AP_ERR_FORMAT, "layer %llu: its chunks add up to %llu bytes, its size is %llu",
                       (unsigned long long)l, (unsigned long long)total, (unsigned long long)ly->size);
    return 0;
}

static int parse_layers(cursor *c, ap_dense_recipe *r, ap_error *err)
{
    if (r->n_layers > c->left / LAYER_HEAD)
        return ap_fail(err, AP_ERR_FORMAT, "%llu layers: more than the recipe has room for",
                       (unsigned long long)r->n_layers);
    r->layers = calloc((size_t)(r->n_layers ? r->n_layers : 1), sizeof *r->layers);
    if (!r->layers)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (uint64_t l = 0; l < r->n_layers; l++)
        if (parse_layer(c, r, l, err) < 0)
            return -1;
    if (c->left != 0)
        return ap_fail(err, AP_ERR_FORMAT, "%zu bytes after the last layer", c->left);
    return 0;
}

/* No diff_id has two recipes. */
static int check_unique_diff_ids(const ap_dense_recipe *r, ap_error *err)
{
    const unsigned char **ids = malloc((size_t)(r->n_layers ? r->n_layers : 1) * sizeof *ids);
    if (!ids)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (uint64_t l = 0; l < r->n_layers; l++)
        ids[l] = r->layers[l].diff_id;
    qsort(ids, (size_t)r->n_layers, sizeof *ids, cmp_diff);
    int rc = 0;
    for (uint64_t l = 1; l < r->n_layers && rc == 0; l++)
        if (!memcmp(ids[l - 1], ids[l], AP_SHA256_LEN))
            rc = ap_fail(err, AP_ERR_FORMAT, "a diff_id has two recipes");
    free(ids);
    return rc;
}

static int parse(const unsigned char *p, size_t len, ap_dense_recipe *r, ap_error *err)
{
    cursor c = {.p = p};
    if (parse_head(&c, len, r, err) < 0 || parse_segments(&c, r, err) < 0 || parse_chunks(&c, r, err) < 0 ||
        parse_layers(&c, r, err) < 0)
        return -1;
    return check_unique_diff_ids(r, err);
}

int ap_dense_recipe_parse(const void *buf, size_t len, ap_dense_recipe *out, ap_error *err)
{
    memset(out, 0, sizeof *out);
    if (parse(buf, len, out, err) < 0) {
        ap_error_prefix(err, "%s", AP_DENSE_RECIPE_PATH);
        ap_dense_recipe_free(out);
        return -1;
    }
    return 0;
}

int ap_dense_recipe_write(const ap_dense_recipe *r, unsigned char **out, size_t *len, ap_error *err)
{
    uint64_t total = HEAD_LEN + 8ull * r->n_segments + (uint64_t)CHUNK_REC * r->n_chunks;
    for (uint64_t l = 0; l < r->n_layers; l++)
        total += LAYER_HEAD + 4 * r->layers[l].n_refs;
    if (total > AP_DENSE_RECIPE_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "the dense recipe would be %llu bytes, over the %u MiB limit "
                       "(use a larger --chunk-size)", (unsigned long long)total, AP_DENSE_RECIPE_MAX >> 20);
    unsigned char *p = malloc((size_t)total);
    if (!p)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    memcpy(p, AP_DENSE_MAGIC, 8);
    put32(p + 8, r->window_log);
    put32(p + 12, r->n_segments);
    put64(p + 16, r->n_chunks);
    put64(p + 24, r->n_layers);
    size_t at = HEAD_LEN;
    for (uint32_t s = 0; s < r->n_segments; s++, at += 8)
        put64(p + at, r->segment_size[s]);
    for (uint64_t i = 0; i < r->n_chunks; i++, at += CHUNK_REC) {
        const ap_dense_chunk *c = &r->chunks[i];
        put32(p + at, c->segment);
        put32(p + at + 4, c->length);
        put64(p + at + 8, c->offset);
        memcpy(p + at + 16, c->hash, AP_DENSE_HASH_LEN);
    }
    for (uint64_t l = 0; l < r->n_layers; l++) {
        const ap_dense_layer *ly = &r->layers[l];
        memcpy(p + at, ly->diff_id, AP_SHA256_LEN);
        put64(p + at + 32, ly->size);
        put64(p + at + 40, ly->n_refs);
        at += LAYER_HEAD;
        for (uint64_t k = 0; k < ly->n_refs; k++, at += 4)
            put32(p + at, ly->refs[k]);
    }
    *out = p;
    *len = (size_t)total;
    return 0;
}
