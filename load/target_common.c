/* target_common.c: what every load target shares (load_target.h): results, the
 * --image selection, blob paths. Targets call these; this file calls no target. */
#include "load_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/image_ref.h"

void load_results_free(load_result *r, size_t n)
{
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        free(r[i].name);
    free(r);
}

int load_results_add(load_result **res, size_t *n, const char *name, const char *id, bool is_new,
                     ap_error *err)
{
    /* capacity doubles (16, 32, 64, ...): n appends copy O(n), not O(n^2) */
    load_result *grown = *res;
    if (*n == 0 || (*n >= 16 && (*n & (*n - 1)) == 0)) {
        grown = realloc(*res, (*n < 16 ? 16 : *n * 2) * sizeof *grown);
        if (!grown)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        *res = grown;
    }
    load_result *r = &grown[*n];
    memset(r, 0, sizeof *r);
    if (name && !(r->name = strdup(name)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    snprintf(r->id, sizeof r->id, "%s", id);
    r->is_new = is_new;
    (*n)++;
    return 0;
}

int load_select_images(const ap_bundle_index *idx, const load_options *opts, bool *sel,
                       ap_error *err)
{
    size_t nf = opts ? opts->n_images : 0;
    for (size_t i = 0; i < idx->n_images; i++)
        sel[i] = nf == 0;
    for (size_t f = 0; f < nf; f++) {
        const char *want = opts->images[f];
        char full[512];
        bool have_full = image_ref_normalize(want, full, sizeof full, NULL) == 0;
        bool found = false;
        for (size_t i = 0; i < idx->n_images; i++) {
            const ap_index_image *im = &idx->images[i];
            bool match = !strcmp(want, im->config.digest);
            for (size_t k = 0; !match && k < im->n_names; k++)
                match = !strcmp(want, im->names[k]) || (have_full && !strcmp(full, im->names[k]));
            if (match) {
                sel[i] = true;
                found = true;
            }
        }
        if (!found)
            return ap_fail(err, AP_ERR_USAGE, "--image %s: the bundle has no image of that name", want);
    }
    return 0;
}

void load_blob_path(const char *digest, char *out, size_t n)
{
    const char *hex = strncmp(digest, "sha256:", 7) ? digest : digest + 7;
    snprintf(out, n, "blobs/sha256/%s", hex);
}

/* Does the result's name `got` end with `name` without its host ("docker.io/")? */
static bool same_path(const char *got, const char *name)
{
    const char *slash = strchr(name, '/');
    const char *path = slash ? slash + 1 : name;
    size_t gl = strlen(got), pl = strlen(path);
    return gl >= pl && !strcmp(got + gl - pl, path) && (gl == pl || got[gl - pl - 1] == '/');
}

void load_results_set_manifests(load_result *res, size_t n, const ap_bundle_index *idx)
{
    for (size_t r = 0; r < n; r++) {
        const ap_index_image *best = NULL;
        for (size_t i = 0; i < idx->n_images; i++) {
            const ap_index_image *im = &idx->images[i];
            if (strcmp(im->config.digest, res[r].id))
                continue;
            bool named = false;
            for (size_t k = 0; res[r].name && k < im->n_names && !named; k++)
                named = same_path(res[r].name, im->names[k]);
            if (!best || named)
                best = im;
            if (named)
                break;
        }
        snprintf(res[r].manifest, sizeof res[r].manifest, "%s", best ? best->manifest.digest : "");
    }
}

const ap_index_index *load_index_for(const ap_bundle_index *idx, const bool *sel, const char *name)
{
    for (size_t i = 0; name && i < idx->n_indexes; i++) {
        const ap_index_index *x = &idx->indexes[i];
        bool named = false;
        for (size_t k = 0; k < x->n_names && !named; k++)
            named = !strcmp(x->names[k], name);
        bool all = named;
        for (size_t k = 0; k < x->n_manifests && all; k++) {
            bool found = false;
            for (size_t m = 0; m < idx->n_images && !found; m++)
                found = sel[m] && !strcmp(idx->images[m].manifest.digest, x->manifests[k]);
            all = found;
        }
        if (all)
            return x;
    }
    return NULL;
}
