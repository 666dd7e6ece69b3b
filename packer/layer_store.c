#include "layer_store.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first layer under key (kind 'd': a diff_id of a recompressed layer, 'b': the blob digest
 * of a faithful one), through a hash table: a store of thousands of layers is not scanned
 * once per layer added. */
static stored_layer *find_key(layer_store *ls, char kind, const char *key)
{
    char k[160];
    snprintf(k, sizeof k, "%c%s", kind, key);
    json_t *at = ls->keys ? json_object_get(ls->keys, k) : NULL;
    return at ? ls->layers[json_integer_value(at) - 1] : NULL;
}

static void add_key(layer_store *ls, char kind, const char *key, const stored_layer *l)
{
    char k[160];
    snprintf(k, sizeof k, "%c%s", kind, key);
    if (!ls->keys)
        ls->keys = json_object();
    if (ls->keys && !json_object_get(ls->keys, k))
        json_object_set_new(ls->keys, k, json_integer((json_int_t)l->index + 1));
}

stored_layer *layer_store_find(layer_store *ls, const char *diff_id)
{
    return find_key(ls, 'd', diff_id);
}

static stored_layer *find_blob(layer_store *ls, const char *blob_digest)
{
    return find_key(ls, 'b', blob_digest);
}

static stored_layer *add(layer_store *ls, stored_layer *l, const char *diff_id, size_t source, const char *path,
                         const char *image_name, size_t layer_number);

stored_layer *layer_store_add_blob(layer_store *ls, const char *diff_id, const char *blob_digest,
                                   uint64_t blob_size, const char *media_type, size_t source, const char *path,
                                   const char *image_name, size_t layer_number)
{
    stored_layer *l = find_blob(ls, blob_digest);
    bool fresh = !l;
    l = add(ls, l, diff_id, source, path, image_name, layer_number);
    if (l && fresh) {
        l->faithful = true;
        snprintf(l->blob_digest, sizeof l->blob_digest, "%s", blob_digest);
        l->blob_size = blob_size;
        l->blob_media_type = media_type;
        add_key(ls, 'b', blob_digest, l);
    }
    return l;
}

stored_layer *layer_store_add(layer_store *ls, const char *diff_id, size_t source, const char *path,
                              const char *image_name, size_t layer_number)
{
    stored_layer *l = layer_store_find(ls, diff_id);
    bool fresh = !l;
    l = add(ls, l, diff_id, source, path, image_name, layer_number);
    if (l && fresh)
        add_key(ls, 'd', diff_id, l);
    return l;
}

static stored_layer *add(layer_store *ls, stored_layer *l, const char *diff_id, size_t source, const char *path,
                         const char *image_name, size_t layer_number)
{
    if (l) {
        l->uses++;
        return l;
    }
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 16;
        stored_layer **grown = realloc(ls->layers, cap * sizeof *grown);
        if (!grown)
            return NULL;
        ls->layers = grown;
        ls->cap = cap;
    }
    /* each layer its own allocation: callers keep pointers across later adds */
    l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    strncpy(l->diff_id, diff_id, sizeof l->diff_id - 1);
    l->path = strdup(path);
    if (!l->path) {
        free(l);
        return NULL;
    }
    l->index = ls->n;
    ls->layers[ls->n] = l;
    l->source = source;
    l->image_name = image_name;
    l->layer_number = layer_number;
    l->uses = 1;
    ls->n++;
    return l;
}

void layer_store_free(layer_store *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->layers[i]->path);
        free(ls->layers[i]);
    }
    free(ls->layers);
    json_decref(ls->keys);
    memset(ls, 0, sizeof *ls);
}
