/* bundle_index.h: the signed index at the front of every bundle (airpack/bundle.json).
 *
 * The index lists every tar entry that follows the signature, in tar order, with
 * its size and sha256, and every image with its names, manifest, config and
 * layers; formats/BUNDLE-FORMAT.md is the full contract. ap_bundle_index_write
 * gives canonical bytes (compact JSON, fixed key order), so the same bundle
 * always has the same index. ap_bundle_index_parse is strict and safe on
 * hostile input: it caps the size and nesting depth, refuses unknown format
 * versions, and checks every digest, path and size before returning. */
#ifndef AIRPACK_BUNDLE_INDEX_H
#define AIRPACK_BUNDLE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "json_check.h"

#define AP_BUNDLE_FORMAT_VERSION 1
/* A delta bundle (some layers left out, expected in the target) has version 2,
 * so a reader that knows only version 1 refuses it instead of taking it as complete. */
#define AP_BUNDLE_FORMAT_DELTA_VERSION 2
/* A dense bundle (pack --dense) has version 3: see dense_recipe.h. */
#define AP_BUNDLE_FORMAT_DENSE 3
#define AP_INDEX_PATH "airpack/bundle.json"
#define AP_SIG_PATH "airpack/bundle.json.minisig"
/* Limits (formats/BUNDLE-FORMAT.md, "Limits"): what pack writes is what every reader
 * accepts, and peak memory stays under 256 MiB at the limits. Pack refuses a bundle past
 * any of them with the reader's words. */
#define AP_INDEX_MAX_SIZE (24u << 20)   /* a larger index is refused (pack pads it: 19.5 MB at 16,384 images) */
#define AP_MAX_IMAGES 16384u            /* images in one index */
#define AP_MAX_ENTRIES 65536u           /* entries in one index */
#define AP_SMALL_JSON_MAX (8u << 20)    /* a manifest, config, index.json or manifest.json */
#define AP_SIG_MAX_SIZE (8u << 10)
#define AP_JSON_MAX_DEPTH 32

typedef struct {
    char *path;                       /* "blobs/sha256/<hex>", "oci-layout", "index.json", "manifest.json" */
    uint64_t size;
    char sha256[AP_HEX_LEN + 1];      /* hex, no "sha256:" prefix */
} ap_index_entry;

typedef struct {
    char digest[AP_DIGEST_LEN + 1];   /* blob digest as stored ("sha256:...") */
    uint64_t size;                    /* stored (compressed) size */
    char diff_id[AP_DIGEST_LEN + 1];  /* sha256 of the uncompressed tar */
    uint64_t uncompressed_size;
    char *media_type;
    bool expected;                    /* delta: not in the bundle; the target must hold this blob */
} ap_index_layer;

typedef struct {
    char digest[AP_DIGEST_LEN + 1];
    uint64_t size;
} ap_index_blob;

typedef struct {
    char **names;                     /* full references, "docker.io/library/nginx:1.25"; may be empty */
    size_t n_names;
    ap_index_blob manifest;           /* the manifest: the source's byte for byte, or one airpack wrote */
    ap_index_blob config;             /* the image config, byte for byte; its digest is the image ID */
    char *platform;                   /* "linux/amd64" or "linux/arm64/v8"; may be NULL */
    ap_index_layer *layers;
    size_t n_layers;
    /* The manifest's media type when it is not an OCI image manifest (a manifest
     * carried byte for byte from its source may be Docker's schema 2); NULL = OCI. */
    char *manifest_media_type;
    /* The source's manifest digest when airpack wrote a new manifest for an image
     * that had one (pack -c, --dense); empty when none or when the manifest is the source's. */
    char source_manifest[AP_DIGEST_LEN + 1];
} ap_index_image;

/* An image index the bundle carries for names that images of several platforms carry
 * (pack --all-platforms): the source's bytes when every manifest it lists is carried,
 * else one airpack wrote. Loaders that keep indexes (oci:, docker://) point its names to it. */
#define AP_OCI_INDEX_MEDIA_TYPE "application/vnd.oci.image.index.v1+json"
#define AP_DOCKER_LIST_MEDIA_TYPE "application/vnd.docker.distribution.manifest.list.v2+json"
typedef struct {
    char **names;                     /* full names it stands for (at least one) */
    size_t n_names;
    ap_index_blob blob;               /* the index's digest and size (a listed entry) */
    char *media_type;                 /* AP_OCI_INDEX_MEDIA_TYPE or AP_DOCKER_LIST_MEDIA_TYPE */
    char (*manifests)[AP_DIGEST_LEN + 1]; /* the manifests it lists, each an image's of the index */
    size_t n_manifests;
    bool carried;                     /* the source's index byte for byte */
} ap_index_index;

/* A referrer the bundle carries with its subject: a cosign signature, attestation or SBOM
 * (tag sha256-<subject hex>.sig / .att / .sbom), its manifest and blobs byte for byte. */
typedef struct {
    char subject[AP_DIGEST_LEN + 1];  /* an image's manifest digest or an index's */
    char *tag;                        /* "sha256-<hex>.sig" */
    char *media_type;                 /* of its manifest: OCI image manifest or Docker schema 2 */
    ap_index_blob manifest;
    ap_index_blob *blobs;             /* its config and layers (listed entries) */
    size_t n_blobs;
} ap_index_referrer;

typedef struct {
    int version;                      /* AP_BUNDLE_FORMAT_VERSION, or _DELTA_VERSION when a layer is expected */
    char *created;                    /* RFC 3339 UTC, from SOURCE_DATE_EPOCH or the clock */
    char *tool;                       /* "airpack 0.1.0" */
    char *compression;                /* "zstd", "gzip", "none" */
    ap_index_image *images;
    size_t n_images;
    ap_index_index *indexes;          /* optional "indexes" (after "images") */
    size_t n_indexes;
    ap_index_referrer *referrers;     /* optional "referrers" (after "indexes") */
    size_t n_referrers;
    ap_index_entry *entries;          /* every entry after the signature, in tar order */
    size_t n_entries;
    /* Dense bundles only (version AP_BUNDLE_FORMAT_DENSE, "dense" in the JSON): layer blobs
     * are not entries; a loader rebuilds each layer's tar from airpack/dense/ chunks and
     * compresses it with airpack's zstd at dense_blob_level, which gives the blob the
     * index lists (digest, size, media type ...tar+zstd); with compression "none" the
     * blob is the tar itself (digest = diff_id, media type ...tar, blob_level 0). */
    unsigned dense_window_log;        /* 0: not dense; else the zstd window a rebuild needs, log2 */
    uint64_t dense_unique_bytes;      /* decompressed bytes of all segments (the rebuild's spill) */
    char *dense_zstd;                 /* libzstd version that made the blob digests ("1.5.4") */
    int dense_blob_level;             /* the zstd level of the layer blobs (-7..19) */
    /* Trust over time (the optional "trust" object; BUNDLE-FORMAT.md "Sequence, channel and
     * expiry"). Without it a bundle's sequence is its created time in seconds, its channel
     * "default", and it never expires. The writer leaves the object out when every field
     * has its default, so such a bundle stays readable by airpack from before the object. */
    uint64_t sequence;                /* parsed: the effective sequence (0 only if created is not a
                                         time); writing: 0 = created in seconds */
    bool sequence_set;                /* "trust" names a sequence (writing: --sequence was given) */
    char *channel;                    /* NULL = AP_DEFAULT_CHANNEL */
    char *expires;                    /* RFC 3339 UTC; NULL = never */
    uint64_t base_sequence;           /* delta: the sequence of the bundle it builds on; 0 = none */
} ap_bundle_index;

#define AP_DEFAULT_CHANNEL "default"
#define AP_CHANNEL_MAX 64

/* Is this a channel name: 1-64 of [a-z0-9._-], starting with a letter or digit? */
bool ap_channel_valid(const char *name);
/* The channel, AP_DEFAULT_CHANNEL when the index names none. */
const char *ap_bundle_index_channel(const ap_bundle_index *idx);
/* The expiry in seconds since the epoch: 1 and *t set, or 0 when the bundle never expires. */
int ap_bundle_index_expiry(const ap_bundle_index *idx, int64_t *t);
/* The created time in seconds since the epoch, or -1 when created is not such a time. */
int64_t ap_bundle_index_created(const ap_bundle_index *idx);

/* Canonical JSON, NUL-terminated, *len excludes the NUL. Caller frees. */
char *ap_bundle_index_write(const ap_bundle_index *idx, size_t *len, ap_error *err);

/* Parses and validates. On success *out owns its memory: free with ap_bundle_index_free.
 * Trailing ASCII whitespace after the JSON object is allowed (the packer pads with it). */
int ap_bundle_index_parse(const char *buf, size_t len, ap_bundle_index *out, ap_error *err);
void ap_bundle_index_free(ap_bundle_index *idx);

/* ap_json_check_depth, for every JSON airpack reads from input, is in json_check.h. */

/* May an expected layer (one the target holds, not carried) have this media
 * type? OCI or Docker layer types, any compression. */
bool ap_bundle_index_expected_media_type(const char *media_type);

/* The manifest media types an image may have. */
#define AP_OCI_MANIFEST_MEDIA_TYPE "application/vnd.oci.image.manifest.v1+json"
#define AP_DOCKER_MANIFEST_MEDIA_TYPE "application/vnd.docker.distribution.manifest.v2+json"
/* im's manifest media type (OCI when the index names none). */
const char *ap_index_image_manifest_type(const ap_index_image *im);

/* How many layers (over all images) are expected in the target, not carried. */
size_t ap_bundle_index_n_expected(const ap_bundle_index *idx);

/* Finds the entry with this path, or NULL. */
const ap_index_entry *ap_bundle_index_find(const ap_bundle_index *idx, const char *path);

#endif
