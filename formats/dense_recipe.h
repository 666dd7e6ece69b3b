/* dense_recipe.h: the recipe of a dense bundle (airpack/dense/recipe).
 *
 * A dense bundle stores each distinct chunk of its layers once, in zstd
 * segments (airpack/dense/NNNNNN.zst, each one zstd frame, decodable alone);
 * the recipe says how to rebuild each layer from them. Binary, little-endian
 * (formats/BUNDLE-FORMAT.md, "Dense bundles"):
 *
 *   "APDENSE1"  u32 window_log  u32 n_segments  u64 n_chunks  u64 n_layers
 *   n_segments x u64 uncompressed size
 *   n_chunks   x { u32 segment, u32 length, u64 offset, u8 hash[16] }
 *   n_layers   x { u8 diff_id[32], u64 size, u64 n_refs, n_refs x u32 chunk }
 *
 * The parser is strict and safe on hostile input: every count is checked
 * against the bytes that remain before anything is allocated; chunks lie in
 * their segment, in order, each starting where the previous one ended (no
 * overlap, no gap), and fill every segment exactly; a layer's chunks add up to
 * its size; no diff_id twice. A chunk's hash is the first 16 bytes of its
 * SHA-256 (it localizes damage; each rebuilt layer is checked against its
 * diff_id). */
#ifndef AIRPACK_DENSE_RECIPE_H
#define AIRPACK_DENSE_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"

#define AP_DENSE_MAGIC "APDENSE1"
#define AP_DENSE_RECIPE_PATH "airpack/dense/recipe"
#define AP_DENSE_SEGMENT_FMT "airpack/dense/%06u.zst"
#define AP_DENSE_MAX_SEGMENTS 1000000u
#define AP_DENSE_RECIPE_MAX (512u << 20)     /* a larger recipe is refused */
#define AP_DENSE_CHUNK_MAX (16u << 20)       /* the largest chunk a reader accepts */
#define AP_DENSE_HASH_LEN 16
#define AP_DENSE_WINDOW_MIN 10
#define AP_DENSE_WINDOW_MAX 31

typedef struct {
    uint32_t segment;
    uint32_t length;
    uint64_t offset;          /* in the segment's decompressed bytes */
    unsigned char hash[AP_DENSE_HASH_LEN];
} ap_dense_chunk;

typedef struct {
    unsigned char diff_id[AP_SHA256_LEN];
    uint64_t size;
    uint32_t *refs;           /* chunk numbers, in layer order */
    uint64_t n_refs;
} ap_dense_layer;

typedef struct {
    uint32_t window_log;
    uint32_t n_segments;
    uint64_t *segment_size;   /* decompressed */
    uint64_t *segment_base;   /* sum of the sizes before it (filled by parse) */
    ap_dense_chunk *chunks;
    uint64_t n_chunks;
    ap_dense_layer *layers;
    uint64_t n_layers;
} ap_dense_recipe;

int ap_dense_recipe_parse(const void *buf, size_t len, ap_dense_recipe *out, ap_error *err);
/* Serializes r (its segment_base is ignored). Caller frees *out. */
int ap_dense_recipe_write(const ap_dense_recipe *r, unsigned char **out, size_t *len, ap_error *err);
void ap_dense_recipe_free(ap_dense_recipe *r);

/* Total decompressed bytes of all segments (what a rebuild spills to disk). */
uint64_t ap_dense_recipe_unique_bytes(const ap_dense_recipe *r);

/* The segment's entry path ("airpack/dense/000003.zst"); out >= 32 bytes. */
void ap_dense_segment_path(uint32_t segment, char *out, size_t n);
/* The chunk hash of data (first 16 bytes of SHA-256). */
void ap_dense_chunk_hash(const void *data, size_t n, unsigned char out[AP_DENSE_HASH_LEN]);

#endif
