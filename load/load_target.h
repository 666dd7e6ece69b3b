/* load_target.h: the stores `airpack load` puts verified images into.
 *
 * A target is driven by the streaming verifier (verifier.h) through the load
 * sink in load/loader.c: it is told the verified index first, then receives
 * each entry's bytes as they stream (not yet known good), learns at entry end
 * that the bytes matched the signed index, and commits only in commit(), after
 * the whole bundle verified. abort() must leave the store as it was: no
 * partial blob, no temporary file, nothing visible. Every target commits last
 * what makes images visible (the OCI index.json by atomic rename, registry
 * manifests and tags, the docker manifest.json that makes `docker load` tag). */
#ifndef AIRPACK_LOAD_TARGET_H
#define AIRPACK_LOAD_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"

typedef struct {
    const char **images;        /* --image NAME filters (full or familiar names); NULL/0 = all */
    size_t n_images;
    bool tls_verify;            /* registry: verify TLS (default true) */
    const char *authfile;       /* registry: Docker config file with credentials */
    const char *creds;          /* registry: USER[:PASSWORD] */
    const char *layer_compression; /* docker-archive:/oci-archive: "none" (NULL) or "gzip" */
} load_options;

/* What a target reports per image at the end. */
typedef struct {
    char *name;                 /* the name as loaded (may be NULL for an untagged image) */
    char id[AP_DIGEST_LEN + 1]; /* image ID (config digest) as the target knows it */
    bool is_new;                /* false when the target already had it under that name */
    char manifest[AP_DIGEST_LEN + 1]; /* its manifest digest in the bundle (what deployments pin) */
} load_result;

typedef struct load_target load_target;

typedef struct {
    const char *kind;           /* "oci", "docker-daemon", "docker", "containerd", "containers-storage",
                                   "docker-archive", "oci-archive" */
    /* The signed index verified. Decide which entries the target wants. */
    int (*begin)(load_target *t, const ap_bundle_index *idx, ap_error *err);
    /* 1 = send me this entry's data, 0 = skip it (already present / not needed), -1 error. */
    int (*entry_begin)(load_target *t, const ap_index_entry *e, ap_error *err);
    int (*entry_data)(load_target *t, const void *buf, size_t n, ap_error *err);
    /* The entry's bytes matched the signed index. */
    int (*entry_end)(load_target *t, const ap_index_entry *e, ap_error *err);
    /* Everything verified: make the images visible. Fills results (malloc'd array). */
    int (*commit)(load_target *t, const ap_bundle_index *idx, load_result **results,
                  size_t *n_results, ap_error *err);
    /* Undo everything not committed. Must be safe to call at any point. */
    void (*abort)(load_target *t);
    void (*close)(load_target *t);
} load_target_ops;

struct load_target {
    const load_target_ops *ops;
    void *impl;
};

/* Opens a target by its skopeo-style name: "oci:DIR", "docker-daemon:[SOCKET]",
 * "docker://HOST[:PORT][/PREFIX]", "containerd:[NAMESPACE]", "containers-storage:",
 * "docker-archive:FILE", "oci-archive:FILE".
 * Unknown or malformed names are AP_ERR_USAGE naming the accepted forms. */
load_target *load_target_open(const char *spec, const load_options *opts, ap_error *err);

/* One constructor per kind (each in its own file, load/load_<kind>.c); load_target_open
 * (load_target.c) picks one by the name's prefix from its table. */
load_target *load_oci_open(const char *dir, const load_options *opts, ap_error *err);
load_target *load_docker_daemon_open(const char *socket, const load_options *opts, ap_error *err);
load_target *load_registry_open(const char *spec, const load_options *opts, ap_error *err);
load_target *load_containerd_open(const char *ns, const load_options *opts, ap_error *err);
load_target *load_containers_storage_open(const char *spec, const load_options *opts, ap_error *err);
/* kind "docker-archive" or "oci-archive" (load/load_archive.c). */
load_target *load_archive_open(const char *kind, const char *file, const load_options *opts,
                               ap_error *err);

/* ---- shared by every target (target_common.c, which calls no target) ---- */

/* Appends {name (copied; NULL for an untagged image), id, is_new} to the
 * malloc'd array *res of *n results; AP_ERR_NOMEM if memory runs out. */
/* The bundle's image index for `name` when every manifest it lists is a selected
 * image's (a target that keeps indexes then points the name to it), else NULL. */
const ap_index_index *load_index_for(const ap_bundle_index *idx, const bool *sel, const char *name);

/* Fills each result's manifest digest from the index: the image with its ID (and, when
 * several share it, whose name the result's name ends with, its host aside). */
void load_results_set_manifests(load_result *res, size_t n, const ap_bundle_index *idx);
int load_results_add(load_result **res, size_t *n, const char *name, const char *id, bool is_new,
                     ap_error *err);
void load_results_free(load_result *r, size_t n);

/* Marks in sel[] (idx->n_images entries) the images opts->images selects: an
 * image is selected when a filter, normalized as Docker does ("nginx" ->
 * "docker.io/library/nginx:latest"), equals one of its names, or equals its
 * image ID. No filter selects every image. A filter matching no image is
 * AP_ERR_USAGE naming it. */
int load_select_images(const ap_bundle_index *idx, const load_options *opts, bool *sel,
                       ap_error *err);

/* "blobs/sha256/<hex>" for a digest "sha256:<hex>" (out: at least 80 bytes). */
void load_blob_path(const char *digest, char *out, size_t n);

#endif
