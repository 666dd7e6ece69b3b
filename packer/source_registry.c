/* source_registry.c: docker://HOST/REPO[:TAG|@DIGEST] as a pack input.
 *
 * First pass: the manifest (or index, then the chosen platforms' manifests)
 * and each config, every one checked against its digest. Second pass: each
 * wanted layer blob is downloaded in a thread (feed.h) and handed to the
 * packer as a reader; its bytes are hashed on the way and the blob is refused
 * at its end if they do not match its digest and size. Manifest fetches and
 * blob downloads that fail before any byte arrived (no connection, HTTP 5xx
 * or 429) are retried with backoff. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../formats/bundle_index.h"
#include "../formats/digest.h"
#include "../remote/registry_client.h"
#include "feed.h"
#include "source_image.h"
#include "source_remote.h"

#define ATTEMPTS 4
#define ACCEPT_MANIFESTS                                                                         \
    "application/vnd.oci.image.index.v1+json, "                                                  \
    "application/vnd.docker.distribution.manifest.list.v2+json, "                                \
    "application/vnd.oci.image.manifest.v1+json, "                                               \
    "application/vnd.docker.distribution.manifest.v2+json"

typedef struct {
    char digest[AP_DIGEST_LEN + 1];
    uint64_t size;
} blob_ref;

struct remote_state {
    reg_client *client;
    char host[256];
    char repo[512];
    char scope[600];
    blob_ref *blobs;       /* distinct layer blobs, in image order */
    size_t n_blobs;
};

static void backoff(int attempt)
{
    /* 0.5 s, 1 s, 2 s */
    long ms = 500L << attempt;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool transient(long status)
{
    return status == 429 || (status >= 500 && status <= 599);
}

/* ---- parsing the reference -------------------------------------------- */

static int parse_ref(source *s, const char *ref, remote_state *st, char *tag, size_t tag_n,
                     char *digest, size_t digest_n, ap_error *err)
{
    tag[0] = digest[0] = '\0';
    const char *slash = strchr(ref, '/');
    const char *path = ref;
    if (slash && (memchr(ref, '.', (size_t)(slash - ref)) || memchr(ref, ':', (size_t)(slash - ref)) ||
                  ((size_t)(slash - ref) == 9 && !strncmp(ref, "localhost", 9)))) {
        if ((size_t)(slash - ref) >= sizeof st->host)
            return ap_fail(err, AP_ERR_USAGE, "%s: registry host too long", s->spec);
        memcpy(st->host, ref, (size_t)(slash - ref));
        st->host[slash - ref] = '\0';
        path = slash + 1;
    } else {
        snprintf(st->host, sizeof st->host, "docker.io");
    }
    char repo[400];
    const char *at = strchr(path, '@');
    size_t rl;
    if (at) {
        rl = (size_t)(at - path);
        char hex[AP_HEX_LEN + 1];
        if (ap_digest_parse(at + 1, hex, "digest", err) < 0) {
            ap_error_prefix(err, "%s", s->spec);
            return -1;
        }
        snprintf(digest, digest_n, "sha256:%s", hex);
    } else {
        const char *colon = strrchr(path, ':');
        rl = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(tag, tag_n, "%s", colon ? colon + 1 : "latest");
    }
    if (rl == 0 || rl >= sizeof repo - 16)
        return ap_fail(err, AP_ERR_USAGE, "%s: no repository in the reference", s->spec);
    memcpy(repo, path, rl);
    repo[rl] = '\0';
    for (const char *p = repo; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._-/", *p)))
            return ap_fail(err, AP_ERR_USAGE, "%s: '%s' is not a valid repository name", s->spec, repo);
    for (const char *p = tag; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._-", *p)))
            return ap_fail(err, AP_ERR_USAGE, "%s: '%s' is not a valid tag", s->spec, tag);
    if (!strcmp(st->host, "docker.io") && !strchr(repo, '/'))
        snprintf(st->repo, sizeof st->repo, "library/%s", repo);
    else
        snprintf(st->repo, sizeof st->repo, "%s", repo);
    snprintf(st->scope, sizeof st->scope, "repository:%s:pull", st->repo);
    return 0;
}

/* ---- fetching small documents ------------------------------------------ */

/* GET a manifest or a small blob into memory (at most max bytes), retrying
 * transient failures; checks it against `digest` when one is given. */
static int fetch_small(source *s, remote_state *st, const char *url, const char *accept, size_t max,
                       const char *digest, const char *what, reg_response *r, ap_error *err)
{
    reg_request rq;
    reg_request_init(&rq, "GET", url, st->scope);
    rq.accept = accept;
    rq.max_body = max;
    for (int attempt = 0;; attempt++) {
        int rc = reg_do(st->client, &rq, r, err);
        if (rc == 0 && !transient(r->status))
            break;
        if (attempt + 1 >= ATTEMPTS) {
            if (rc == 0) {
                char d[600];
                reg_describe(r, d, sizeof d);
                reg_response_free(r);
                return ap_fail(err, AP_ERR_IO, "%s: GET %s: %s (after %d attempts)", s->spec, what, d,
                               ATTEMPTS);
            }
            ap_error_prefix(err, "%s: GET %s (after %d attempts)", s->spec, what, ATTEMPTS);
            return -1;
        }
        if (rc == 0)
            reg_response_free(r);
        backoff(attempt);
    }
    if (r->status != 200) {
        char d[600];
        reg_describe(r, d, sizeof d);
        reg_response_free(r);
        return ap_fail(err, AP_ERR_USAGE, "%s: GET %s from %s: %s", s->spec, what, st->host, d);
    }
    if (r->body_truncated) {
        reg_response_free(r);
        return ap_fail(err, AP_ERR_FORMAT, "%s: %s is larger than %zu bytes", s->spec, what, max);
    }
    if (!r->body) {
        r->body = strdup("");
        if (!r->body)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    if (digest) {
        char hex[AP_HEX_LEN + 1];
        ap_sha256_hex(r->body, r->body_len, hex);
        if (strncmp(digest, "sha256:", 7) || strcmp(digest + 7, hex)) {
            reg_response_free(r);
            return ap_fail(err, AP_ERR_VERIFY, "%s: %s from %s does not match its digest %s "
                           "(it hashes to sha256:%s)", s->spec, what, st->host, digest, hex);
        }
    }
    return 0;
}

static json_t *parse_doc(source *s, const reg_response *r, const char *what, ap_error *err)
{
    if (ap_json_check_depth(r->body, r->body_len, AP_JSON_MAX_DEPTH, what, err) < 0) {
        ap_error_prefix(err, "%s", s->spec);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        ap_fail(err, AP_ERR_FORMAT, "%s: %s is not a JSON object%s%s", s->spec, what, j ? "" : ": ",
                j ? "" : je.text);
        return NULL;
    }
    return j;
}

static bool is_index(const char *mt)
{
    return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
                  !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

static const char *media_type(json_t *doc, const reg_response *r)
{
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (mt)
        return mt;
    if (json_is_array(json_object_get(doc, "manifests")))
        return "application/vnd.oci.image.index.v1+json";
    return r->content_type;
}

static int add_blob(remote_state *st, const char *digest, uint64_t size, ap_error *err)
{
    for (size_t i = 0; i < st->n_blobs; i++)
        if (!strcmp(st->blobs[i].digest, digest))
            return 0;
    blob_ref *grown = realloc(st->blobs, (st->n_blobs + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    st->blobs = grown;
    blob_ref *b = &st->blobs[st->n_blobs++];
    snprintf(b->digest, sizeof b->digest, "%s", digest);
    b->size = size;
    return 0;
}

/* One image manifest: its config and layers. */
static int describe_manifest(source *s, remote_state *st, json_t *man, const reg_response *mr,
                             const char *mdigest, const char *name, ap_error *err)
{
    if (json_integer_value(json_object_get(man, "schemaVersion")) != 2)
        return ap_fail(err, AP_ERR_FORMAT, "%s: manifest %s is not schema version 2 (schema 1 images "
                       "are not supported; re-push them with a current tool)", s->spec, mdigest);
    json_t *cfg = json_object_get(man, "config");
    json_t *layers = json_object_get(man, "layers");
    const char *cdigest = json_string_value(json_object_get(cfg, "digest"));
    json_int_t csize = json_integer_value(json_object_get(cfg, "size"));
    char chex[AP_HEX_LEN + 1];
    if (!cdigest || !json_is_array(layers) || ap_digest_parse(cdigest, chex, "config digest", NULL) < 0)
        return ap_fail(err, AP_ERR_FORMAT, "%s: manifest %s has no config digest or no layers list",
                       s->spec, mdigest);
    if (csize < 0 || csize > (json_int_t)SOURCE_JSON_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "%s: config %s is %lld bytes, more than %u", s->spec, cdigest,
                       (long long)csize, SOURCE_JSON_MAX);
    char url[1200], what[200];
    snprintf(url, sizeof url, "/v2/%s/blobs/%s", st->repo, cdigest);
    snprintf(what, sizeof what, "config %s", cdigest);
    reg_response r;
    if (fetch_small(s, st, url, NULL, SOURCE_JSON_MAX, cdigest, what, &r, err) < 0)
        return -1;
    json_t *config = parse_doc(s, &r, what, err);
    if (!config) {
        reg_response_free(&r);
        return -1;
    }
    int rc = 0;
    source_image *img = source_new_image(s, err);
    if (!img) {
        rc = -1;
        goto out;
    }
    snprintf(img->config_digest, sizeof img->config_digest, "sha256:%s", chex);
    img->config = malloc(r.body_len ? r.body_len : 1);
    if (!img->config) {
        rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(img->config, r.body, r.body_len);
    img->config_len = r.body_len;
    source_platform_from_config(img, config);
    json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (!json_is_array(ids)) {
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: config %s has no rootfs.diff_ids: not an image config",
                     s->spec, cdigest);
        goto out;
    }
    size_t n = json_array_size(layers);
    if (json_array_size(ids) != n) {
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: manifest %s lists %zu layers but config %s declares %zu "
                     "diff_ids", s->spec, mdigest, n, cdigest, json_array_size(ids));
        goto out;
    }
    if ((rc = source_image_layers(img, n, err)) < 0)
        goto out;
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(layers, k);
        const char *ld = json_string_value(json_object_get(l, "digest"));
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        json_int_t lsize = json_integer_value(json_object_get(l, "size"));
        const char *id = json_string_value(json_array_get(ids, k));
        char lhex[AP_HEX_LEN + 1], ihex[AP_HEX_LEN + 1];
        if (!ld || ap_digest_parse(ld, lhex, "layer digest", NULL) < 0 || lsize < 0) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: manifest %s: layer %zu has no valid digest and size",
                         s->spec, mdigest, k + 1);
            goto out;
        }
        if (!id || ap_digest_parse(id, ihex, "diff_id", NULL) < 0) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: config %s: diff_id %zu is not a sha256 digest", s->spec,
                         cdigest, k + 1);
            goto out;
        }
        if ((lmt && strstr(lmt, "foreign")) || json_object_get(l, "urls")) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: layer %s is a foreign layer (served from elsewhere); "
                         "airpack does not pack those", s->spec, ld);
            goto out;
        }
        snprintf(img->layers[k].diff_id, sizeof img->layers[k].diff_id, "sha256:%s", ihex);
        img->layers[k].path = malloc(AP_DIGEST_LEN + 1);
        if (!img->layers[k].path) {
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(img->layers[k].path, AP_DIGEST_LEN + 1, "sha256:%s", lhex);
        if ((rc = add_blob(st, img->layers[k].path, (uint64_t)lsize, err)) < 0)
            goto out;
    }
    rc = source_set_manifest(s, img, mr->body, mr->body_len, man, err);
    if (rc == 0 && name)
        rc = source_add_name(img, name, s, err);
out:
    json_decref(config);
    reg_response_free(&r);
    return rc;
}

static int fetch_manifest(source *s, remote_state *st, const char *ref, const char *digest,
                          reg_response *r, json_t **doc, ap_error *err)
{
    char url[1200], what[700];
    snprintf(url, sizeof url, "/v2/%s/manifests/%s", st->repo, ref);
    snprintf(what, sizeof what, "manifest %s", ref);
    if (fetch_small(s, st, url, ACCEPT_MANIFESTS, REG_MANIFEST_MAX, digest, what, r, err) < 0)
        return -1;
    *doc = parse_doc(s, r, what, err);
    if (!*doc) {
        reg_response_free(r);
        return -1;
    }
    return 0;
}

static int describe_index(source *s, remote_state *st, json_t *idx, const char *name,
                          const source_options *o, ap_error *err)
{
    char want[128];
    if (o->platform)
        snprintf(want, sizeof want, "%s", o->platform);
    else
        source_host_platform(want, sizeof want);
    json_t *mans = json_object_get(idx, "manifests");
    if (!json_is_array(mans))
        return ap_fail(err, AP_ERR_FORMAT, "%s: the index has no manifests list", s->spec);
    char have[1024] = "";
    size_t taken = 0;
    size_t i;
    json_t *d;
    json_array_foreach(mans, i, d) {
        json_t *p = json_object_get(d, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));
        const char *v = json_string_value(json_object_get(p, "variant"));
        const char *md = json_string_value(json_object_get(d, "digest"));
        if (source_is_attestation(d)) {
            s->n_skipped_attestations++;   /* not carried yet: pack says so */
            continue;
        }
        char plat[200];
        snprintf(plat, sizeof plat, "%s/%s%s%s", os, arch, v ? "/" : "", v ? v : "");
        if (strlen(have) + strlen(plat) + 3 < sizeof have) {
            if (have[0])
                strcat(have, ", ");
            strcat(have, plat);
        }
        if (!o->all_platforms && (taken || !source_platform_matches(want, plat)))
            continue;
        char hex[AP_HEX_LEN + 1], mdigest[AP_DIGEST_LEN + 1];
        if (!md || ap_digest_parse(md, hex, "manifest digest", NULL) < 0)
            return ap_fail(err, AP_ERR_FORMAT, "%s: the index's %s entry has no valid digest", s->spec, plat);
        snprintf(mdigest, sizeof mdigest, "sha256:%s", hex);
        reg_response r;
        json_t *man;
        if (fetch_manifest(s, st, mdigest, mdigest, &r, &man, err) < 0)
            return -1;
        int rc;
        if (is_index(media_type(man, &r)))
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: the index's %s entry is another index", s->spec, plat);
        else
            rc = describe_manifest(s, st, man, &r, mdigest, name, err);
        json_decref(man);
        reg_response_free(&r);
        if (rc < 0)
            return -1;
        taken++;
    }
    if (!taken)
        return ap_fail(err, AP_ERR_USAGE, "%s: the image has no %s platform (it has: %s)", s->spec, want,
                       have[0] ? have : "none");
    return 0;
}

/* ---- referrers: cosign's sha256-<hex>.sig / .att / .sbom tags ------------------ */

/* GET a manifest by tag: 1 found (r filled), 0 the registry has no such tag, -1 error. */
static int try_manifest(source *s, remote_state *st, const char *tag, reg_response *r, ap_error *err)
{
    char url[1200];
    snprintf(url, sizeof url, "/v2/%s/manifests/%s", st->repo, tag);
    reg_request rq;
    reg_request_init(&rq, "GET", url, st->scope);
    rq.accept = ACCEPT_MANIFESTS;
    rq.max_body = REG_MANIFEST_MAX;
    for (int attempt = 0;; attempt++) {   /* transient failures retried, as for every manifest */
        int rc = reg_do(st->client, &rq, r, err);
        if (rc == 0 && !transient(r->status))
            break;
        if (attempt + 1 >= ATTEMPTS) {
            if (rc < 0) {
                ap_error_prefix(err, "%s: GET manifest %s (after %d attempts)", s->spec, tag, ATTEMPTS);
                return -1;
            }
            break;
        }
        if (rc == 0)
            reg_response_free(r);
        backoff(attempt);
    }
    if (r->status == 404) {
        reg_response_free(r);
        return 0;
    }
    if (r->status != 200 || r->body_truncated || !r->body) {
        char d[600];
        reg_describe(r, d, sizeof d);
        reg_response_free(r);
        return ap_fail(err, AP_ERR_IO, "%s: GET manifest %s from %s: %s", s->spec, tag, st->host, d);
    }
    return 1;
}

/* The referrer's config and layers, each fetched whole (small) and checked. */
static int fetch_referrer_blobs(source *s, remote_state *st, source_referrer *x, json_t *man, ap_error *err)
{
    json_t *layers = json_object_get(man, "layers");
    size_t n = 1 + json_array_size(layers);
    if (!(x->blobs = calloc(n, sizeof *x->blobs)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        json_t *d = k == 0 ? json_object_get(man, "config") : json_array_get(layers, k - 1);
        const char *dg = json_string_value(json_object_get(d, "digest"));
        char hex[AP_HEX_LEN + 1], url[1200], what[300];
        if (!dg || ap_digest_parse(dg, hex, "digest", NULL) < 0)
            return ap_fail(err, AP_ERR_FORMAT, "%s: %s (%s) names a blob without a valid digest", s->spec, x->tag,
                           x->manifest_digest);
        snprintf(url, sizeof url, "/v2/%s/blobs/sha256:%s", st->repo, hex);
        snprintf(what, sizeof what, "blob sha256:%s of %s", hex, x->tag);
        reg_response r;
        if (fetch_small(s, st, url, NULL, SOURCE_REFERRER_BLOB_MAX, dg, what, &r, err) < 0)
            return -1;
        snprintf(x->blobs[k].digest, sizeof x->blobs[k].digest, "sha256:%s", hex);
        x->blobs[k].data = (unsigned char *)r.body;   /* taken over */
        x->blobs[k].len = r.body_len;
        r.body = NULL;
        reg_response_free(&r);
        x->n_blobs = k + 1;
    }
    return 0;
}

static int add_referrer(source *s, remote_state *st, const char *subject, const char *tag, reg_response *r,
                        ap_error *err)
{
    json_t *man = parse_doc(s, r, tag, err);
    if (!man)
        return -1;
    source_referrer *grown = realloc(s->referrers, (s->n_referrers + 1) * sizeof *grown);
    if (!grown) {
        json_decref(man);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    s->referrers = grown;
    source_referrer *x = &s->referrers[s->n_referrers++];
    memset(x, 0, sizeof *x);
    snprintf(x->subject, sizeof x->subject, "%s", subject);
    snprintf(x->tag, sizeof x->tag, "%s", tag);
    const char *mt = json_string_value(json_object_get(man, "mediaType"));
    snprintf(x->media_type, sizeof x->media_type, "%s",
             mt && strlen(mt) < sizeof x->media_type ? mt : "application/vnd.oci.image.manifest.v1+json");
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(r->body, r->body_len, hex);
    snprintf(x->manifest_digest, sizeof x->manifest_digest, "sha256:%s", hex);
    x->manifest = (unsigned char *)r->body;   /* taken over */
    x->manifest_len = r->body_len;
    r->body = NULL;
    int rc = is_index(x->media_type) ? 0   /* the OCI 1.1 fallback tag's index: its manifests come before it */
             : json_is_object(json_object_get(man, "config"))
                 ? fetch_referrer_blobs(s, st, x, man, err)
                 : ap_fail(err, AP_ERR_FORMAT, "%s: %s is not an image manifest (no config)", s->spec,
                           tag[0] ? tag : x->manifest_digest);
    json_decref(man);
    return rc;
}

/* OCI 1.1 referrers through the fallback tag sha256-<hex> (the CNCF registry 2.8 has no
 * referrers API): each manifest its index lists (pushed by digest on the far side), then
 * the index itself under that tag. */
static int find_fallback_referrers(source *s, remote_state *st, const char *subject, ap_error *err)
{
    char tag[AP_HEX_LEN + 16];
    snprintf(tag, sizeof tag, "sha256-%s", subject + 7);
    reg_response r;
    int got = try_manifest(s, st, tag, &r, err);
    if (got <= 0)
        return got;
    json_t *idx = parse_doc(s, &r, tag, err);
    int rc = idx ? 0 : -1;
    if (rc == 0 && !is_index(media_type(idx, &r)))
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: %s (the OCI referrers fallback tag) is not an image index", s->spec, tag);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(idx, "manifests"), i, d) {
        const char *md = json_string_value(json_object_get(d, "digest"));
        char hex[AP_HEX_LEN + 1], mdigest[AP_DIGEST_LEN + 1];
        if (rc < 0)
            break;
        if (!md || ap_digest_parse(md, hex, "digest", NULL) < 0) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: %s lists a manifest without a valid digest", s->spec, tag);
            break;
        }
        snprintf(mdigest, sizeof mdigest, "sha256:%s", hex);
        reg_response mr;
        json_t *man;
        if ((rc = fetch_manifest(s, st, mdigest, mdigest, &mr, &man, err)) < 0)
            break;
        json_decref(man);
        rc = add_referrer(s, st, subject, "", &mr, err);
        reg_response_free(&mr);
    }
    json_decref(idx);
    if (rc == 0)
        rc = add_referrer(s, st, subject, tag, &r, err);
    reg_response_free(&r);
    return rc;
}

/* cosign's tags for one digest: sha256-<hex>.sig, .att, .sbom */
static int find_referrers(source *s, remote_state *st, const char *subject, ap_error *err)
{
    static const char *const suffixes[] = {".sig", ".att", ".sbom"};
    for (size_t i = 0; i < 3; i++) {
        char tag[AP_HEX_LEN + 16];
        snprintf(tag, sizeof tag, "sha256-%s%s", subject + 7, suffixes[i]);
        reg_response r;
        int got = try_manifest(s, st, tag, &r, err);
        if (got < 0)
            return -1;
        if (got == 0)
            continue;
        int rc = add_referrer(s, st, subject, tag, &r, err);
        reg_response_free(&r);
        if (rc < 0)
            return -1;
    }
    return find_fallback_referrers(s, st, subject, err);
}

static int find_all_referrers(source *s, remote_state *st, ap_error *err)
{
    for (size_t i = 0; i < s->n_images; i++)
        if (s->images[i].manifest && find_referrers(s, st, s->images[i].manifest_digest, err) < 0)
            return -1;
    for (size_t i = 0; i < s->n_indexes; i++)
        if (find_referrers(s, st, s->indexes[i].digest, err) < 0)
            return -1;
    return 0;
}

static int registry_open(source *s, const char *ref, const source_options *o, remote_state **out,
                         ap_error *err)
{
    remote_state *st = calloc(1, sizeof *st);
    if (!st)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    *out = st;
    char tag[256], digest[AP_DIGEST_LEN + 1];
    if (parse_ref(s, ref, st, tag, sizeof tag, digest, sizeof digest, err) < 0)
        return -1;
    reg_client_opts co = {.tls_verify = !o->tls_insecure, .authfile = o->authfile, .creds = o->creds};
    const char *api_host = !strcmp(st->host, "docker.io") ? "registry-1.docker.io" : st->host;
    st->client = reg_client_open(api_host, &co, err);
    if (!st->client) {
        ap_error_prefix(err, "%s", s->spec);
        return -1;
    }
    char name[1024] = "";
    if (tag[0])
        snprintf(name, sizeof name, "%s/%s:%s", st->host, st->repo, tag);
    reg_response r;
    json_t *doc;
    if (fetch_manifest(s, st, tag[0] ? tag : digest, digest[0] ? digest : NULL, &r, &doc, err) < 0)
        return -1;
    int rc = 0;
    if (tag[0] && r.digest && !strncmp(r.digest, "sha256:", 7)) {
        char hex[AP_HEX_LEN + 1];
        ap_sha256_hex(r.body, r.body_len, hex);
        if (strcmp(r.digest + 7, hex))
            rc = ap_fail(err, AP_ERR_VERIFY, "%s: the manifest does not match the digest the registry "
                         "gives for it (%s; it hashes to sha256:%s)", s->spec, r.digest, hex);
    }
    char self[AP_DIGEST_LEN + 1];
    char shex[AP_HEX_LEN + 1];
    ap_sha256_hex(r.body, r.body_len, shex);
    snprintf(self, sizeof self, "sha256:%s", shex);
    if (rc == 0) {
        if (is_index(media_type(doc, &r)))
            rc = source_add_index(s, r.body, r.body_len, doc, name[0] ? name : NULL, err) < 0
                     ? -1 : describe_index(s, st, doc, name[0] ? name : NULL, o, err);
        else
            rc = describe_manifest(s, st, doc, &r, self, name[0] ? name : NULL, err);
    }
    json_decref(doc);
    reg_response_free(&r);
    if (rc == 0 && !o->no_referrers)
        rc = find_all_referrers(s, st, err);
    if (rc == 0)
        for (size_t i = 0; i < st->n_blobs; i++)
            s->size += st->blobs[i].size;
    return rc;
}

/* ---- the second pass: layer blobs ------------------------------------- */

typedef struct {
    source *s;
    remote_state *st;
    const blob_ref *blob;
    ap_sha256 *hash;
    uint64_t got;
    ap_sink_fn sink;
    void *sink_ctx;
    bool sink_failed;
} blob_job;

static int job_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    blob_job *j = ctx;
    if (j->got + n > j->blob->size)
        return ap_fail(err, AP_ERR_VERIFY, "%s: blob %s from %s is longer than the %llu bytes its "
                       "manifest gives", j->s->spec, j->blob->digest, j->st->host,
                       (unsigned long long)j->blob->size);
    ap_sha256_update(j->hash, buf, n);
    j->got += n;
    if (j->sink(j->sink_ctx, buf, n, err) < 0) {
        j->sink_failed = true;
        return -1;
    }
    return 0;
}

static int produce_blob(void *ctx, ap_sink_fn sink, void *sink_ctx, ap_error *err)
{
    blob_job *j = ctx;
    j->sink = sink;
    j->sink_ctx = sink_ctx;
    char url[1200];
    snprintf(url, sizeof url, "/v2/%s/blobs/%s", j->st->repo, j->blob->digest);
    reg_request rq;
    reg_request_init(&rq, "GET", url, j->st->scope);
    rq.sink = job_sink;
    rq.sink_ctx = j;
    for (int attempt = 0;; attempt++) {
        reg_response r;
        int rc = reg_do(j->st->client, &rq, &r, err);
        if (rc == 0 && r.status == 200) {
            reg_response_free(&r);
            break;
        }
        bool again = !j->sink_failed && j->got == 0 && attempt + 1 < ATTEMPTS &&
                     (rc < 0 ? err->code != AP_ERR_VERIFY : transient(r.status));
        if (rc == 0) {
            if (!again) {
                char d[600];
                reg_describe(&r, d, sizeof d);
                reg_response_free(&r);
                return ap_fail(err, AP_ERR_IO, "%s: GET blob %s from %s: %s", j->s->spec, j->blob->digest,
                               j->st->host, d);
            }
            reg_response_free(&r);
        } else if (!again) {
            if (!j->sink_failed)
                ap_error_prefix(err, "%s: GET blob %s", j->s->spec, j->blob->digest);
            return -1;
        }
        backoff(attempt);
    }
    char hex[AP_HEX_LEN + 1];
    ap_sha256_final_hex(j->hash, hex);
    if (strcmp(hex, j->blob->digest + 7))
        return ap_fail(err, AP_ERR_VERIFY, "%s: blob %s from %s does not match its digest (it hashes to "
                       "sha256:%s)", j->s->spec, j->blob->digest, j->st->host, hex);
    if (j->got != j->blob->size)
        return ap_fail(err, AP_ERR_VERIFY, "%s: blob %s from %s is %llu bytes, its manifest says %llu",
                       j->s->spec, j->blob->digest, j->st->host, (unsigned long long)j->got,
                       (unsigned long long)j->blob->size);
    return 0;
}

static int registry_stream(source *s, remote_state *st, source_wanted_fn wanted, source_layer_fn fn,
                           void *ctx, void (*progress)(void *ctx, uint64_t done), ap_error *err)
{
    uint64_t done = 0;
    ap_sha256 *hash = ap_sha256_new();
    if (!hash)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < st->n_blobs && rc == 0; i++) {
        const blob_ref *b = &st->blobs[i];
        if (!wanted(ctx, b->digest))
            continue;
        blob_job job = {.s = s, .st = st, .blob = b, .hash = hash};
        feed *f = feed_start(produce_blob, &job, err);
        if (!f) {
            rc = -1;
            break;
        }
        rc = fn(ctx, b->digest, feed_read, f, err);
        if (rc < 0) {
            /* the producer's own error says more when it failed first */
            ap_error perr;
            if (feed_finish(f, &perr) < 0 && perr.code == AP_ERR_VERIFY)
                *err = perr;
        } else {
            rc = feed_finish(f, err);
        }
        done += b->size;
        if (progress)
            progress(ctx, done);
    }
    ap_sha256_free(hash);
    return rc;
}

static void registry_free(remote_state *st)
{
    if (!st)
        return;
    reg_client_free(st->client);
    free(st->blobs);
    free(st);
}

const source_remote_ops source_registry_ops = {
    .prefix = "docker://",
    .open = registry_open,
    .stream = registry_stream,
    .free = registry_free,
};
