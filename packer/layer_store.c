#include "layer_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

stored_layer *layer_store_find(layer_store *ls, const char *diff_id)
{
    for (size_t i = 0; i < ls->n; i++)
        if (!ls->layers[i]->faithful && !strcmp(ls->layers[i]->diff_id, diff_id))
            return ls->layers[i];
    return NULL;
}

static stored_layer *find_blob(layer_store *ls, const char *blob_digest)
{
    for (size_t i = 0; i < ls->n; i++)
        if (ls->layers[i]->faithful && !strcmp(ls->layers[i]->blob_digest, blob_digest))
            return ls->layers[i];
    return NULL;
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
    }
    return l;
}

stored_layer *layer_store_add(layer_store *ls, const char *diff_id, size_t source, const char *path,
                              const char *image_name, size_t layer_number)
{
    return add(ls, layer_store_find(ls, diff_id), diff_id, source, path, image_name, layer_number);
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
    memset(ls, 0, sizeof *ls);
}
