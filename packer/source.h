/* source.h: one pack input, its images, and a way to stream its layers.
 *
 * An input is a docker-archive (Docker <=24 with per-layer directories and
 * symlinked layer.tar files, Docker >=25 with an OCI layout inside, podman,
 * skopeo), an OCI archive, or an OCI layout directory; tar inputs may be
 * compressed as a whole (gzip, zstd, xz). The kind is found from the content.
 * source_open() makes the first, cheap pass: it reads only the small JSON
 * entries (manifests, configs, indexes) and the links, and describes every
 * image. source_stream() makes the second pass and hands each wanted layer's
 * bytes to a callback as a reader, so no layer is ever held in memory. */
#ifndef AIRPACK_SOURCE_H
#define AIRPACK_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/digest.h"
#include "../formats/error.h"
#include "../formats/stream.h"

#define SOURCE_JSON_MAX (16u << 20)        /* one manifest, config or index */
#define SOURCE_JSON_TOTAL_MAX (256u << 20) /* all of them in one input */

typedef struct {
    char diff_id[AP_DIGEST_LEN + 1];
    char *path;                /* the layer's data inside the input, links resolved */
    /* From a source with manifests: the blob as the manifest names it (else empty/0/NULL). */
    char blob_digest[AP_DIGEST_LEN + 1];
    uint64_t blob_size;
    char *media_type;
} source_layer;

typedef struct {
    char **names;              /* normalized full names; may be empty */
    size_t n_names;
    char config_digest[AP_DIGEST_LEN + 1];
    unsigned char *config;     /* the config bytes exactly as found */
    size_t config_len;
    char platform[128];        /* "linux/amd64", "linux/arm64/v8" */
    source_layer *layers;
    size_t n_layers;
    /* A source with manifests (registry, OCI layout or archive): the image's manifest
     * bytes exactly as found, checked against manifest_digest; NULL for other sources. */
    unsigned char *manifest;
    size_t manifest_len;
    char manifest_digest[AP_DIGEST_LEN + 1];
    char manifest_media_type[128];
} source_image;

/* An image index a source has for a name (a multi-platform image), as found: what a
 * faithful pack carries when every manifest it lists is carried. */
typedef struct {
    unsigned char *bytes;
    size_t len;
    char digest[AP_DIGEST_LEN + 1];
    char media_type[128];
    char *name;                /* the normalized full name it stands for, or NULL */
    char **manifests;          /* every manifest digest it lists */
    size_t n_manifests;
} source_index;

/* Something that refers to an image by its manifest digest and travels with it:
 * a cosign signature, attestation or SBOM (tag sha256-<hex>.sig / .att / .sbom).
 * Its manifest and blobs are small documents, held in memory as found. */
typedef struct {
    char digest[AP_DIGEST_LEN + 1];
    unsigned char *data;
    size_t len;
} source_blob;

typedef struct {
    char subject[AP_DIGEST_LEN + 1];   /* the manifest (or index) it refers to */
    char tag[AP_HEX_LEN + 16];         /* "sha256-<hex>.sig" */
    char media_type[128];
    unsigned char *manifest;
    size_t manifest_len;
    char manifest_digest[AP_DIGEST_LEN + 1];
    source_blob *blobs;                /* its config and layers */
    size_t n_blobs;
} source_referrer;

#define SOURCE_REFERRER_BLOB_MAX (16u << 20)

typedef struct source_internal source_internal;

typedef struct {
    char *spec;                /* as the user gave it, for messages */
    source_image *images;
    size_t n_images;
    uint64_t size;             /* bytes on disk, for progress */
    /* docker-daemon: layer paths are diff_ids; the stream hands every layer
     * entry to fn under its name in the stream, and fn learns which layer it
     * is by hashing it (and drops it if unwanted). Such a source is always
     * streamed: its configs arrive in the stream (config is NULL until then). */
    bool layers_by_content;
    source_index *indexes;     /* multi-platform images' indexes */
    size_t n_indexes;
    size_t n_skipped_attestations; /* attestation manifests left out (not carried yet) */
    size_t n_skipped_referrers;        /* OCI layout manifests with a subject, left out (not carried yet) */
    source_referrer *referrers;        /* unless source_options.no_referrers */
    size_t n_referrers;
    source_internal *in;
} source;

/* How remote inputs are reached and which platforms are taken from a
 * multi-platform image. Zero (or NULL) means: this machine's platform, TLS
 * verified, credentials from the default places. */
typedef struct {
    const char *platform;      /* "os/arch[/variant]"; NULL = this machine's */
    bool all_platforms;        /* every platform of an index */
    bool no_referrers;         /* registry: leave signatures, attestations and SBOMs behind */
    bool tls_insecure;         /* --tls-verify=false */
    const char *authfile;
    const char *creds;         /* "USER:PASSWORD" */
} source_options;

/* Parses the spec (FILE, DIR, oci:DIR[:REF], oci-archive:FILE[:REF],
 * docker-archive:FILE) and makes the first pass. */
int source_open(const char *spec, source *s, ap_error *err);

/* Also docker://HOST/REPO[:TAG|@DIGEST] (a registry: manifests and configs
 * are fetched and checked now, layers in the second pass) and
 * docker-daemon:NAME[:TAG|@DIGEST|ID] (the Docker Engine API on its unix
 * socket, $DOCKER_HOST or /var/run/docker.sock). o may be NULL. */
int source_open_opts(const char *spec, const source_options *o, source *s, ap_error *err);

/* "linux/arm64/v8" is what `want` ("linux/arm64", "linux/arm64/v8") asks for? */
bool source_platform_matches(const char *want, const char *have);
/* This machine's platform, "linux/amd64". */
void source_host_platform(char *out, size_t n);

/* Called for each wanted path with a reader of its bytes (as stored: maybe
 * compressed). The reader's errors name the input. */
typedef int (*source_layer_fn)(void *ctx, const char *path, ap_read_fn read, void *read_ctx,
                               ap_error *err);
typedef bool (*source_wanted_fn)(void *ctx, const char *path);

/* Second pass: every regular entry for which wanted() is true goes to fn, in the
 * order the input stores them. `progress` (may be NULL) gets bytes read so far. */
int source_stream(source *s, source_wanted_fn wanted, source_layer_fn fn, void *ctx,
                  void (*progress)(void *ctx, uint64_t done), ap_error *err);

void source_close(source *s);

#endif
