/* layer_store.h: the set of layers a pack stores, one per diff_id.
 *
 * A layer's identity is its diff_id (sha256 of its uncompressed tar). The
 * first input that carries a diff_id provides it; every other occurrence, in
 * any input and any compression, is not read again. Once packed, a layer
 * records its blob: digest, stored size, uncompressed size, media type. */
#ifndef AIRPACK_LAYER_STORE_H
#define AIRPACK_LAYER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/digest.h"
#include "../formats/error.h"

typedef struct {
    char diff_id[AP_DIGEST_LEN + 1];
    size_t index;              /* position in the store, in the order layers were added */
    size_t source;             /* index of the input that provides it */
    char *path;                /* where in that input */
    const char *image_name;    /* for messages: an image that uses it */
    size_t layer_number;       /* 1-based position in that image */
    bool packed;
    char digest[AP_DIGEST_LEN + 1];
    uint64_t size;
    uint64_t uncompressed_size;
    size_t uses;               /* how many images use it */
    /* delta (pack --have/--since): the far side holds it for every image that
     * uses it; digest/size/media_type are then the far side's blob */
    bool expected;
    bool not_held;             /* some image's use of it is not held by the far side */
    const char *media_type;    /* expected: borrowed from the have list */
    /* faithful: the source's blob, carried byte for byte (one stored layer per blob
     * digest, apart from the recompressed ones, which are one per diff_id) */
    bool faithful;
    char blob_digest[AP_DIGEST_LEN + 1];
    uint64_t blob_size;
    const char *blob_media_type;   /* borrowed from the source */
} stored_layer;

typedef struct {
    stored_layer **layers;     /* each separately allocated: a stored_layer * stays valid */
    size_t n, cap;
    void *keys;                /* jansson object: "d"+diff_id, "b"+blob digest -> 1 + index (finds in O(1)) */
} layer_store;

/* Returns the layer for diff_id, adding it (provided by source/path) if new; NULL on no memory. */
stored_layer *layer_store_add(layer_store *ls, const char *diff_id, size_t source, const char *path,
                              const char *image_name, size_t layer_number);
/* The same for a layer carried as the source's blob `blob_digest` (size, media type borrowed). */
stored_layer *layer_store_add_blob(layer_store *ls, const char *diff_id, const char *blob_digest,
                                   uint64_t blob_size, const char *media_type, size_t source, const char *path,
                                   const char *image_name, size_t layer_number);
/* The recompressed layer of this diff_id, or NULL. */
stored_layer *layer_store_find(layer_store *ls, const char *diff_id);
void layer_store_free(layer_store *ls);

#endif
