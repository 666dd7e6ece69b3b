/* source_image.h: what every kind of input uses to describe its images (source.c for
 * files, source_registry.c and source_daemon.c for remote inputs): a new image, its
 * names, its platform. (source_image.c; the platform matching used by pack is in
 * source.h.) */
#ifndef AIRPACK_SOURCE_IMAGE_H
#define AIRPACK_SOURCE_IMAGE_H

#include <jansson.h>

#include "source.h"

/* Appends a zeroed image to s->images; NULL when out of memory. */
source_image *source_new_image(source *s, ap_error *err);
/* Adds a name (normalized; once) to img; an invalid name fails naming s->spec. */
int source_add_name(source_image *img, const char *name, const source *s, ap_error *err);
/* Sets img->platform from a config's os/architecture/variant. */
void source_platform_from(source_image *img, const char *os, const char *arch, const char *variant);
/* The same from an image config's "os", "architecture" and "variant". */
void source_platform_from_config(source_image *img, json_t *config);
/* Gives img n zeroed layers (img->n_layers = n). */
int source_image_layers(source_image *img, size_t n, ap_error *err);

/* Keeps img's manifest bytes (parsed as man) and each layer's blob digest, size and media
 * type, as a faithful pack carries them (source.c). */
int source_set_manifest(source *s, source_image *img, const void *bytes, size_t len, json_t *man, ap_error *err);

/* Keeps an index (bytes as found, parsed as idx) for name (may be NULL). */
int source_add_index(source *s, const void *bytes, size_t len, json_t *idx, const char *name, ap_error *err);
/* Is this index entry an attestation (buildx: platform unknown/unknown or none,
 * vnd.docker.reference.type attestation-manifest)? */
bool source_is_attestation(json_t *desc);

#endif
