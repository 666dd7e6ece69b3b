/* oci_json.h: the pieces of OCI image-index JSON that the load targets write.
 *
 * The oci:DIR target (load_oci.c) and the docker-archive:/oci-archive: targets
 * (load_archive.c) both write an OCI index.json whose descriptors name an
 * image (io.containerd.image.name, org.opencontainers.image.ref.name) and its
 * platform; these build those objects the same way for both. Each returns a
 * new jansson reference (the caller owns it). They check nothing: the values
 * come from the verified, signed bundle index. */
#ifndef AIRPACK_OCI_JSON_H
#define AIRPACK_OCI_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define OCI_MANIFEST_MEDIA_TYPE "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX_MEDIA_TYPE "application/vnd.oci.image.index.v1+json"
#define OCI_NAME_ANNOTATION "io.containerd.image.name"
#define OCI_REF_ANNOTATION "org.opencontainers.image.ref.name"

/* "linux/arm64/v8" -> {"architecture":"arm64","os":"linux","variant":"v8"};
 * NULL for a NULL or empty platform, or one without an "/". */
json_t *oci_platform_json(const char *platform);

/* {"mediaType":..,"digest":..,"size":..} */
json_t *oci_descriptor(const char *media_type, const char *digest, uint64_t size);

/* Adds to descriptor `d` the annotations that name it: the full name `full`
 * ("docker.io/library/nginx:1.25") and its tag. */
void oci_annotate_name(json_t *d, const char *full);

/* The same, naming the image by its full name in both annotations, as an OCI layout
 * that many images share needs: `skopeo copy oci:DIR:docker.io/library/nginx:1.25`
 * finds exactly it, where a tag alone ("1.25") may name several images. */
void oci_annotate_full_name(json_t *d, const char *full);

/* A descriptor an earlier airpack wrote (ref.name = the tag of io.containerd.image.name)
 * gets the full name as its ref.name; true when it changed. */
bool oci_upgrade_ref_name(json_t *d);

#endif
