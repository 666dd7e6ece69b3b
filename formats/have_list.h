/* have_list.h: what a far-side store holds (have.json), for delta bundles.
 *
 * `airpack inventory --from TARGET` writes one; `airpack pack --have` reads one
 * (or builds one from an old bundle's index with --since) and leaves out every
 * layer the far side holds. formats/BUNDLE-FORMAT.md ("have.json") is the
 * contract. A layer is held when a listed layer has its diff_id; for a Docker
 * engine (kind "docker"), which keeps layers by chain, only when a listed
 * chain starts with the image's diff_ids up to and including that layer.
 * ap_have_parse is strict and safe on hostile input (size and depth caps,
 * unknown keys and versions refused, every digest checked). */
#ifndef AIRPACK_HAVE_LIST_H
#define AIRPACK_HAVE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle_index.h"
#include "digest.h"
#include "error.h"
#include "minisign.h"

#define AP_HAVE_FORMAT_VERSION 1
#define AP_HAVE_MAX_SIZE (64u << 20)
/* The media type recorded for a layer a Docker engine holds (it keeps no blob). */
#define AP_HAVE_DOCKER_MEDIA_TYPE "application/vnd.oci.image.layer.v1.tar"

typedef struct {
    char digest[AP_DIGEST_LEN + 1];   /* the blob as the far side stores it */
    uint64_t size;
    char *media_type;
    char diff_id[AP_DIGEST_LEN + 1];
    char *repository;                 /* registry: a repository that holds it (NULL otherwise) */
} ap_have_layer;

typedef struct {
    char (*diff_ids)[AP_DIGEST_LEN + 1];
    size_t n;
} ap_have_chain;

/* What the store last loaded, per (signing key, channel), from its state (load_state.h):
 * a delta made from this list records the sequence for its key and channel as its base. */
typedef struct {
    char key_id[17];
    char channel[AP_CHANNEL_MAX + 1];
    uint64_t sequence;
} ap_have_loaded;

typedef struct {
    int version;                      /* AP_HAVE_FORMAT_VERSION */
    char *kind;                       /* "oci", "docker", "registry", "bundle" */
    char *target;                     /* what was listed: "oci:/srv/images", a bundle path, ... */
    char *created;                    /* RFC 3339 UTC */
    ap_have_layer *layers;
    size_t n_layers;
    ap_have_chain *chains;            /* kind "docker": each image's diff_ids, base first */
    size_t n_chains;
    /* kind "bundle" (pack --since): the old bundle's sequence and channel, which the delta
     * records as its base (not part of have.json) */
    uint64_t base_sequence;
    char base_channel[AP_CHANNEL_MAX + 1];
    /* optional "loaded" (any kind but "bundle"): what the store last loaded */
    ap_have_loaded *loaded;
    size_t n_loaded;
} ap_have_list;

/* Adds a "loaded" record (key ID, channel, sequence >= 1). */
int ap_have_add_loaded(ap_have_list *h, const char *key_id, const char *channel, uint64_t sequence, ap_error *err);
/* The sequence the store last loaded for (key_id, channel), or 0. */
uint64_t ap_have_loaded_sequence(const ap_have_list *h, const char *key_id, const char *channel);

/* Is this a layer media type a have.json (or an expected layer) may name? */
bool ap_have_media_type_known(const char *media_type);

int ap_have_parse(const char *buf, size_t len, ap_have_list *out, ap_error *err);
/* Canonical compact JSON, NUL-terminated; caller frees. */
char *ap_have_write(const ap_have_list *h, size_t *len, ap_error *err);
/* Writes the list to path (under a temporary name, renamed when complete) and, with a key,
 * its minisign signature to path.minisig first (so a have.json never sits next to a stale
 * signature of another); the trusted comment carries epoch. */
int ap_have_save(const ap_have_list *h, const char *path, const ap_seckey *key, int64_t epoch, ap_error *err);
void ap_have_free(ap_have_list *h);

/* Building a list: strings are copied. A layer whose digest is already listed is not added twice
 * (a parsed list is taken as it is, without that quadratic check). */
int ap_have_init(ap_have_list *h, const char *kind, const char *target, int64_t epoch, ap_error *err);
int ap_have_add_layer(ap_have_list *h, const char *digest, uint64_t size, const char *media_type,
                      const char *diff_id, const char *repository, ap_error *err);
/* Adds a chain (diff_ids, base first) unless the same chain is listed. */
int ap_have_add_chain(ap_have_list *h, const char *const *diff_ids, size_t n, ap_error *err);

/* Every layer an old bundle's index carries or expected (kind "bundle"). */
int ap_have_from_index(ap_have_list *h, const ap_bundle_index *idx, const char *name, ap_error *err);

/* Is layer k of an image with these diff_ids (base first) held? Fills *out
 * with the far side's blob (for kind "docker": digest = diff_id, size 0,
 * AP_HAVE_DOCKER_MEDIA_TYPE). */
bool ap_have_holds(const ap_have_list *h, const char *const *diff_ids, size_t k, ap_have_layer *out);

#endif
