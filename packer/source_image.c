/* source_image.c: describing an input's images, for every kind of input (source.c
 * for files, source_registry.c, source_daemon.c): new images, their names and
 * platforms, and the manifests and indexes a faithful pack carries. It calls none
 * of them. */
#include "source_image.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/image_ref.h"
#include "../formats/oci_writer.h"

/* One host-platform detector and one matcher: formats/oci_writer.c's. */
void source_host_platform(char *out, size_t n)
{
    oci_host_platform(out, n);
}

bool source_platform_matches(const char *want, const char *have)
{
    return oci_platform_matches(want, have);
}

void source_platform_from(source_image *img, const char *os, const char *arch, const char *variant)
{
    snprintf(img->platform, sizeof img->platform, "%s/%s%s%s", os && *os ? os : "linux",
             arch && *arch ? arch : "amd64", variant && *variant ? "/" : "", variant && *variant ? variant : "");
}

void source_platform_from_config(source_image *img, json_t *config)
{
    source_platform_from(img, json_string_value(json_object_get(config, "os")),
                         json_string_value(json_object_get(config, "architecture")),
                         json_string_value(json_object_get(config, "variant")));
}

int source_image_layers(source_image *img, size_t n, ap_error *err)
{
    if (!(img->layers = calloc(n ? n : 1, sizeof *img->layers)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    img->n_layers = n;
    return 0;
}

source_image *source_new_image(source *s, ap_error *err)
{
    source_image *grown = realloc(s->images, (s->n_images + 1) * sizeof *s->images);
    if (!grown) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->images = grown;
    source_image *img = &s->images[s->n_images++];
    memset(img, 0, sizeof *img);
    return img;
}

int source_add_name(source_image *img, const char *name, const source *s, ap_error *err)
{
    char full[512];
    if (image_ref_normalize(name, full, sizeof full, err) < 0) {
        ap_error_prefix(err, "%s", s->spec);
        return -1;
    }
    for (size_t i = 0; i < img->n_names; i++)
        if (!strcmp(img->names[i], full))
            return 0;
    char *copy = strdup(full);
    char **grown = copy ? realloc(img->names, (img->n_names + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    img->names = grown;
    img->names[img->n_names++] = copy;
    return 0;
}

bool source_is_attestation(json_t *desc)
{
    json_t *p = json_object_get(desc, "platform");
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *arch = json_string_value(json_object_get(p, "architecture"));
    const char *ref = json_string_value(json_object_get(json_object_get(desc, "annotations"),
                                                        "vnd.docker.reference.type"));
    return !os || !arch || !strcmp(os, "unknown") || (ref && !strcmp(ref, "attestation-manifest"));
}

/* A manifest or index kept as found: a copy of its bytes, their sha256 digest, and the
 * mediaType it names (when it fits; else `fallback`). */
static int keep_document(const void *bytes, size_t len, json_t *doc, const char *fallback, unsigned char **copy,
                         char digest[AP_DIGEST_LEN + 1], char *media_type, size_t mt_size, ap_error *err)
{
    if (!(*copy = malloc(len ? len : 1)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    memcpy(*copy, bytes, len);
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(bytes, len, hex);
    snprintf(digest, AP_DIGEST_LEN + 1, "sha256:%s", hex);
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    snprintf(media_type, mt_size, "%s", mt && strlen(mt) < mt_size ? mt : fallback);
    return 0;
}

int source_add_index(source *s, const void *bytes, size_t len, json_t *idx, const char *name, ap_error *err)
{
    source_index *grown = realloc(s->indexes, (s->n_indexes + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    s->indexes = grown;
    source_index *x = &s->indexes[s->n_indexes++];
    memset(x, 0, sizeof *x);
    json_t *ms = json_object_get(idx, "manifests");
    size_t n = json_array_size(ms);
    x->manifests = calloc(n ? n : 1, sizeof *x->manifests);
    if (!x->manifests)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (keep_document(bytes, len, idx, "application/vnd.oci.image.index.v1+json", &x->bytes, x->digest,
                      x->media_type, sizeof x->media_type, err) < 0)
        return -1;
    x->len = len;
    char full[512];
    if (name && image_ref_normalize(name, full, sizeof full, NULL) == 0 && !(x->name = strdup(full)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        const char *d = json_string_value(json_object_get(json_array_get(ms, k), "digest"));
        if (!(x->manifests[k] = strdup(d ? d : "")))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        x->n_manifests = k + 1;
    }
    return 0;
}

/* Keeps an image's manifest as found (bytes, digest, media type) and each
 * layer's blob as the manifest names it: what a faithful pack carries. */
int source_set_manifest(source *s, source_image *img, const void *bytes, size_t len, json_t *man, ap_error *err)
{
    json_t *layers = json_object_get(man, "layers");
    if (json_array_size(layers) != img->n_layers)
        return ap_fail(err, AP_ERR_FORMAT, "%s: image %s: the manifest lists %zu layers, the config %zu",
                       s->spec, img->config_digest, json_array_size(layers), img->n_layers);
    if (keep_document(bytes, len, man, "application/vnd.oci.image.manifest.v1+json", &img->manifest,
                      img->manifest_digest, img->manifest_media_type, sizeof img->manifest_media_type, err) < 0)
        return -1;
    img->manifest_len = len;
    for (size_t k = 0; k < img->n_layers; k++) {
        json_t *l = json_array_get(layers, k);
        const char *d = json_string_value(json_object_get(l, "digest"));
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        json_t *size = json_object_get(l, "size");
        char lhex[AP_HEX_LEN + 1];
        if (!d || ap_digest_parse(d, lhex, "layer digest", NULL) < 0 || !json_is_integer(size) ||
            json_integer_value(size) < 0)
            return ap_fail(err, AP_ERR_FORMAT, "%s: manifest %s: layer %zu has no valid digest and size",
                           s->spec, img->manifest_digest, k + 1);
        snprintf(img->layers[k].blob_digest, sizeof img->layers[k].blob_digest, "sha256:%s", lhex);
        img->layers[k].blob_size = (uint64_t)json_integer_value(size);
        if (lmt && !(img->layers[k].media_type = strdup(lmt)))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    return 0;
}
