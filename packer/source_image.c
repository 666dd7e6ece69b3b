/* source_image.c: describing an input's images, for every kind of input (source.c
 * for files, source_registry.c, source_daemon.c): new images, their names and
 * platforms. It calls none of them. */
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
    x->bytes = malloc(len ? len : 1);
    x->manifests = calloc(n ? n : 1, sizeof *x->manifests);
    if (!x->bytes || !x->manifests)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    memcpy(x->bytes, bytes, len);
    x->len = len;
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(bytes, len, hex);
    snprintf(x->digest, sizeof x->digest, "sha256:%s", hex);
    const char *mt = json_string_value(json_object_get(idx, "mediaType"));
    snprintf(x->media_type, sizeof x->media_type, "%s",
             mt && strlen(mt) < sizeof x->media_type ? mt : "application/vnd.oci.image.index.v1+json");
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
