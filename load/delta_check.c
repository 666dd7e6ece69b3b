/* delta_check.c: see delta_check.h. */
#include "delta_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int delta_check_expected(const ap_bundle_index *idx, const bool *sel, const char *target,
                         delta_held_fn held, void *ctx, ap_error *err)
{
    char list[1500] = "";
    size_t used = 0, missing = 0, listed = 0;
    for (size_t i = 0; i < idx->n_images; i++) {
        if (sel && !sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        for (size_t k = 0; k < im->n_layers; k++) {
            const ap_index_layer *l = &im->layers[k];
            if (!l->expected)
                continue;
            int h = held(ctx, im, k, err);
            if (h < 0)
                return -1;
            if (h)
                continue;
            missing++;
            int n = snprintf(list + used, sizeof list - used, "%simage %s layer %zu (diff_id %s, blob %s)",
                             listed ? "; " : "", im->n_names ? im->names[0] : im->config.digest, k + 1,
                             l->diff_id, l->digest);
            if (n > 0 && used + (size_t)n < sizeof list) {
                used += (size_t)n;
                listed++;
            } else {
                list[used] = '\0';
            }
        }
    }
    if (!missing)
        return 0;
    return ap_fail(err, AP_ERR_TARGET,
                   "this delta bundle expects %s to hold %zu layer(s) it does not hold, so nothing was "
                   "loaded: %s%s%s",
                   target, missing, list, listed < missing ? "; ..." : "",
                   listed < missing ? " (and more)" : "");
}

int delta_check_supported(const ap_bundle_index *idx, const char *kind, ap_error *err)
{
    size_t n = ap_bundle_index_n_expected(idx);
    if (n == 0 || !strcmp(kind, "oci") || !strcmp(kind, "docker-daemon") || !strcmp(kind, "docker"))
        return 0;
    return ap_fail(err, AP_ERR_TARGET,
                   "this is a delta bundle (%zu layer(s) left out, expected in the target); a %s target "
                   "cannot check that it holds them: load it into oci:, docker-daemon: or docker://, or "
                   "pack a complete bundle (without --have / --since)",
                   n, kind);
}

char *delta_describe(const ap_bundle_index *idx)
{
    size_t n_expected = ap_bundle_index_n_expected(idx);
    if (n_expected == 0)
        return NULL;
    size_t carried = 0;
    /* distinct carried layer blobs */
    for (size_t i = 0; i < idx->n_images; i++)
        for (size_t k = 0; k < idx->images[i].n_layers; k++) {
            const ap_index_layer *l = &idx->images[i].layers[k];
            if (l->expected)
                continue;
            bool seen = false;
            for (size_t a = 0; a <= i && !seen; a++)
                for (size_t b = 0; b < (a == i ? k : idx->images[a].n_layers) && !seen; b++)
                    seen = !strcmp(idx->images[a].layers[b].digest, l->digest);
            carried += !seen;
        }
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "delta: carries %zu layer blob(s); expects the target to hold %zu layer(s):\n", carried,
            n_expected);
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        for (size_t k = 0; k < im->n_layers; k++)
            if (im->layers[k].expected)
                fprintf(f, "  %s layer %zu: diff_id %s, blob %s (%s)\n",
                        im->n_names ? im->names[0] : im->config.digest, k + 1, im->layers[k].diff_id,
                        im->layers[k].digest, im->layers[k].media_type);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
