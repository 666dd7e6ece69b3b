/* oci_writer.h: the one writer of an OCI layout's and a docker-archive's metadata.
 *
 * pack (packer/pack.c, the bundle) and the docker-archive:/oci-archive: load targets
 * (load/load_archive.c) both end a tar with the same things: each image's manifest
 * (the source's bytes when it has them, else a new OCI manifest written once,
 * canonically), an image index for each name that images of several platforms carry
 * (the source's index bytes when every manifest it lists is carried, else a new one,
 * the default platform first), `oci-layout`, `index.json` (one descriptor per name)
 * and, for Docker, `manifest.json` (each name given to one image: Docker knows no
 * platforms). This writes them all through the caller's put(), each blob once. It
 * checks nothing: the values come from a verified source or a signed index. */
#ifndef AIRPACK_OCI_WRITER_H
#define AIRPACK_OCI_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"

#define OCI_W_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_W_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_W_CONFIG "application/vnd.oci.image.config.v1+json"

typedef struct {
    const char *digest;
    uint64_t size;
    const char *media_type;
} oci_w_layer;

typedef struct {
    char *const *names;              /* full names ("docker.io/library/nginx:1.25"); may be none */
    size_t n_names;
    const char *platform;            /* "linux/arm64/v8"; may be NULL */
    const char *config_digest;
    uint64_t config_size;
    const void *config;              /* its bytes, written before the manifest; NULL: written already */
    size_t config_len;
    const oci_w_layer *layers;
    size_t n_layers;
    /* the manifest as the source has it (written as it is), or NULL: a new OCI manifest */
    const void *manifest;
    size_t manifest_len;
    const char *manifest_type;       /* with manifest: its media type */
    /* out: the manifest written */
    char manifest_digest[AP_DIGEST_LEN + 1];
    uint64_t manifest_size;
} oci_w_image;

/* A source's image index, carried byte for byte when every manifest it lists is carried. */
typedef struct {
    const char *name;                /* the full name it stands for */
    const void *bytes;
    size_t len;
    const char *media_type;          /* OCI index or Docker manifest list */
    char *const *manifests;          /* the digests it lists */
    size_t n_manifests;
} oci_w_source_index;

/* An index written (or carried) for a name, as put(). */
typedef struct {
    char name[512];
    char digest[AP_DIGEST_LEN + 1];
    uint64_t size;
    const char *media_type;
    bool carried;                    /* the source's bytes */
} oci_w_index;

typedef int (*oci_w_put_fn)(void *ctx, const char *path, const void *data, size_t len, ap_error *err);

typedef struct oci_w_opts {
    oci_w_put_fn put;                /* blobs/sha256/<hex>, oci-layout, index.json, manifest.json */
    void *ctx;
    const char *default_platform;    /* the platform a name's first descriptor and Docker get */
    bool ref_full_name;              /* ref.name = the full name (else its tag, as docker save) */
    bool docker_manifest;            /* write manifest.json (last) */
    /* called (may be NULL) once the manifests and indexes are written (o->indexes set),
     * before oci-layout: the caller's other blobs go here */
    int (*before_layout)(void *ctx, struct oci_w_opts *o, ap_error *err);
    const oci_w_source_index *sources;
    size_t n_sources;
    /* out: the indexes written (caller frees *indexes) */
    oci_w_index *indexes;
    size_t n_indexes;
} oci_w_opts;

/* Writes the manifests, indexes, oci-layout, index.json and (docker_manifest) manifest.json. */
int oci_write_metadata(oci_w_image *imgs, size_t n, oci_w_opts *o, ap_error *err);

/* How many names images of more than one platform carry (each gets an index). */
size_t oci_count_multi_platform_names(const oci_w_image *imgs, size_t n);

/* This machine's platform, "linux/amd64". */
void oci_host_platform(char *out, size_t n);
/* Is `have` ("linux/arm64/v8") what `want` ("linux/arm64", "linux/arm64/v8") asks for? */
bool oci_platform_matches(const char *want, const char *have);

#endif
