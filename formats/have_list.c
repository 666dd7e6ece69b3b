/* have_list.c: parse, write and query have.json (see have_list.h). */
#include "have_list.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minisign.h"
#include "stream.h"

static const char *const kinds[] = {"oci", "docker", "registry", "bundle"};

#define N(a) (sizeof a / sizeof a[0])

bool ap_have_media_type_known(const char *media_type)
{
    return media_type && ap_bundle_index_expected_media_type(media_type);
}

void ap_have_free(ap_have_list *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_layers; i++) {
        free(h->layers[i].media_type);
        free(h->layers[i].repository);
    }
    free(h->layers);
    for (size_t i = 0; i < h->n_chains; i++)
        free(h->chains[i].diff_ids);
    free(h->chains);
    free(h->loaded);
    free(h->kind);
    free(h->target);
    free(h->created);
    memset(h, 0, sizeof *h);
}

int ap_have_init(ap_have_list *h, const char *kind, const char *target, int64_t epoch, ap_error *err)
{
    memset(h, 0, sizeof *h);
    h->version = AP_HAVE_FORMAT_VERSION;
    char created[32];
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!(h->kind = strdup(kind)) || !(h->target = strdup(target)) || !(h->created = strdup(created))) {
        ap_have_free(h);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* dedup: skip a digest already listed (building; quadratic, so not for parsing hostile input) */
static int add_layer(ap_have_list *h, const char *digest, uint64_t size, const char *media_type,
                     const char *diff_id, const char *repository, bool dedup, ap_error *err)
{
    for (size_t i = 0; dedup && i < h->n_layers; i++)
        if (!strcmp(h->layers[i].digest, digest))
            return 0;
    ap_have_layer *grown = realloc(h->layers, (h->n_layers + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    h->layers = grown;
    ap_have_layer *l = &grown[h->n_layers];
    memset(l, 0, sizeof *l);
    snprintf(l->digest, sizeof l->digest, "%s", digest);
    snprintf(l->diff_id, sizeof l->diff_id, "%s", diff_id);
    l->size = size;
    if (!(l->media_type = strdup(media_type)) || (repository && !(l->repository = strdup(repository)))) {
        free(l->media_type);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    h->n_layers++;
    return 0;
}

int ap_have_add_layer(ap_have_list *h, const char *digest, uint64_t size, const char *media_type,
                      const char *diff_id, const char *repository, ap_error *err)
{
    return add_layer(h, digest, size, media_type, diff_id, repository, true, err);
}

static int add_chain(ap_have_list *h, const char *const *diff_ids, size_t n, bool dedup, ap_error *err)
{
    for (size_t i = 0; dedup && i < h->n_chains; i++) {
        if (h->chains[i].n != n)
            continue;
        bool same = true;
        for (size_t k = 0; k < n && same; k++)
            same = !strcmp(h->chains[i].diff_ids[k], diff_ids[k]);
        if (same)
            return 0;
    }
    ap_have_chain *grown = realloc(h->chains, (h->n_chains + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    h->chains = grown;
    ap_have_chain *c = &grown[h->n_chains];
    c->n = n;
    c->diff_ids = calloc(n ? n : 1, sizeof *c->diff_ids);
    if (!c->diff_ids)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++)
        snprintf(c->diff_ids[k], sizeof c->diff_ids[k], "%s", diff_ids[k]);
    h->n_chains++;
    return 0;
}

int ap_have_add_chain(ap_have_list *h, const char *const *diff_ids, size_t n, ap_error *err)
{
    return add_chain(h, diff_ids, n, true, err);
}

int ap_have_from_index(ap_have_list *h, const ap_bundle_index *idx, const char *name, ap_error *err)
{
    if (ap_have_init(h, "bundle", name, 0, err) < 0)
        return -1;
    free(h->created);
    if (!(h->created = strdup(idx->created ? idx->created : ""))) {
        ap_have_free(h);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    h->base_sequence = idx->sequence;
    snprintf(h->base_channel, sizeof h->base_channel, "%s", ap_bundle_index_channel(idx));
    for (size_t i = 0; i < idx->n_images; i++)
        for (size_t k = 0; k < idx->images[i].n_layers; k++) {
            const ap_index_layer *l = &idx->images[i].layers[k];
            if (add_layer(h, l->digest, l->size, l->media_type, l->diff_id, NULL, false, err) < 0) {
                ap_have_free(h);
                return -1;
            }
        }
    return 0;
}

bool ap_have_holds(const ap_have_list *h, const char *const *diff_ids, size_t k, ap_have_layer *out)
{
    if (!strcmp(h->kind, "docker")) {
        for (size_t i = 0; i < h->n_chains; i++) {
            const ap_have_chain *c = &h->chains[i];
            if (c->n <= k)
                continue;
            bool prefix = true;
            for (size_t j = 0; j <= k && prefix; j++)
                prefix = !strcmp(c->diff_ids[j], diff_ids[j]);
            if (!prefix)
                continue;
            if (out) {
                memset(out, 0, sizeof *out);
                snprintf(out->digest, sizeof out->digest, "%s", diff_ids[k]);
                snprintf(out->diff_id, sizeof out->diff_id, "%s", diff_ids[k]);
                out->media_type = (char *)AP_HAVE_DOCKER_MEDIA_TYPE;
            }
            return true;
        }
        return false;
    }
    for (size_t i = 0; i < h->n_layers; i++)
        if (!strcmp(h->layers[i].diff_id, diff_ids[k])) {
            if (out)
                *out = h->layers[i];
            return true;
        }
    return false;
}

/* ---- parsing ---- */

static int get_str(json_t *obj, const char *key, bool required, const char **out, const char *where,
                   ap_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (required)
            return ap_fail(err, AP_ERR_FORMAT, "%s: missing \"%s\"", where, key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) > 4096)
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"%s\" is not a string (of at most 4096 bytes)", where, key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"%s\" holds a NUL character", where, key);
    *out = json_string_value(v);
    return 0;
}

static int get_digest(json_t *obj, const char *key, char out[AP_DIGEST_LEN + 1], const char *where,
                      ap_error *err)
{
    const char *s;
    if (get_str(obj, key, true, &s, where, err) < 0)
        return -1;
    return ap_digest_parse_field(s, where, key, out, err);
}

static int parse_layer(ap_have_list *h, json_t *l, size_t i, ap_error *err)
{
    static const char *const keys[] = {"digest", "size", "media_type", "diff_id", "repository"};
    char where[64];
    snprintf(where, sizeof where, "have.json layers[%zu]", i);
    if (!json_is_object(l))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    if (ap_json_check_keys(l, keys, N(keys), where, err) < 0)
        return -1;
    char digest[AP_DIGEST_LEN + 1], diff_id[AP_DIGEST_LEN + 1];
    const char *mt, *repo;
    json_t *size = json_object_get(l, "size");
    if (get_digest(l, "digest", digest, where, err) < 0 || get_digest(l, "diff_id", diff_id, where, err) < 0 ||
        get_str(l, "media_type", true, &mt, where, err) < 0 ||
        get_str(l, "repository", false, &repo, where, err) < 0)
        return -1;
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"size\" is not a non-negative integer", where);
    if (!ap_have_media_type_known(mt))
        return ap_fail(err, AP_ERR_FORMAT, "%s: unknown layer media type \"%.200s\"", where, mt);
    if (repo && (!*repo || strchr(repo, ' ')))
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"repository\" is not a repository path", where);
    return add_layer(h, digest, (uint64_t)json_integer_value(size), mt, diff_id, repo, false, err);
}

static int parse_chain(ap_have_list *h, json_t *c, size_t i, ap_error *err)
{
    char where[64];
    snprintf(where, sizeof where, "have.json chains[%zu]", i);
    if (!json_is_array(c))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an array", where);
    size_t n = json_array_size(c);
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        json_t *d = json_array_get(c, k);
        char hex[AP_HEX_LEN + 1], what[96];
        snprintf(what, sizeof what, "%s[%zu]", where, k);
        if (!json_is_string(d))
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: not a string", what);
        else if (ap_digest_parse(json_string_value(d), hex, what, err) < 0)
            rc = -1;
        else
            ids[k] = json_string_value(d);
    }
    if (rc == 0)
        rc = add_chain(h, ids, n, false, err);
    free(ids);
    return rc;
}

int ap_have_add_loaded(ap_have_list *h, const char *key_id, const char *channel, uint64_t sequence, ap_error *err)
{
    bool hex = key_id && strlen(key_id) == 16;
    for (size_t i = 0; hex && i < 16; i++)
        hex = (key_id[i] >= '0' && key_id[i] <= '9') || (key_id[i] >= 'A' && key_id[i] <= 'F');
    if (!hex || !ap_channel_valid(channel) || sequence == 0 || sequence > (uint64_t)INT64_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "have.json loaded[%zu]: needs a key ID, a channel and a sequence of at "
                       "least 1", h->n_loaded);
    if (h->n_loaded >= 10000)
        return ap_fail(err, AP_ERR_FORMAT, "have.json: more than 10000 loaded records");
    for (size_t i = 0; i < h->n_loaded; i++)
        if (!strcmp(h->loaded[i].key_id, key_id) && !strcmp(h->loaded[i].channel, channel))
            return ap_fail(err, AP_ERR_FORMAT, "have.json: loaded: key %s channel %s listed twice", key_id, channel);
    ap_have_loaded *grown = realloc(h->loaded, (h->n_loaded + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    h->loaded = grown;
    ap_have_loaded *l = &grown[h->n_loaded++];
    memset(l, 0, sizeof *l);
    memcpy(l->key_id, key_id, 17);
    snprintf(l->channel, sizeof l->channel, "%s", channel);
    l->sequence = sequence;
    return 0;
}

uint64_t ap_have_loaded_sequence(const ap_have_list *h, const char *key_id, const char *channel)
{
    for (size_t i = 0; i < h->n_loaded; i++)
        if (!strcmp(h->loaded[i].key_id, key_id) && !strcmp(h->loaded[i].channel, channel))
            return h->loaded[i].sequence;
    return 0;
}

static int parse_loaded(ap_have_list *h, json_t *v, size_t i, ap_error *err)
{
    static const char *const keys[] = {"key", "channel", "sequence"};
    char where[48];
    snprintf(where, sizeof where, "have.json loaded[%zu]", i);
    if (!json_is_object(v))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    json_t *k = json_object_get(v, "key"), *c = json_object_get(v, "channel"), *q = json_object_get(v, "sequence");
    if (ap_json_check_keys(v, keys, N(keys), where, err) < 0)
        return -1;
    if (!json_is_string(k) || !json_is_string(c) || !json_is_integer(q) || json_integer_value(q) < 1)
        return ap_fail(err, AP_ERR_FORMAT, "%s: needs \"key\" and \"channel\" strings and a \"sequence\" of at "
                       "least 1", where);
    return ap_have_add_loaded(h, json_string_value(k), json_string_value(c), (uint64_t)json_integer_value(q), err);
}

static int parse_root(json_t *root, ap_have_list *h, ap_error *err)
{
    static const char *const keys[] = {"airpack_have", "kind", "target", "created", "layers", "chains", "loaded"};
    if (!json_is_object(root))
        return ap_fail(err, AP_ERR_FORMAT, "have.json: not a JSON object");
    json_t *ver = json_object_get(root, "airpack_have");
    if (!ver)
        return ap_fail(err, AP_ERR_FORMAT, "have.json: not an airpack inventory (no \"airpack_have\")");
    if (!json_is_integer(ver) || json_integer_value(ver) != AP_HAVE_FORMAT_VERSION)
        return ap_fail(err, AP_ERR_FORMAT, "have.json: unknown format version (this airpack reads version %d)",
                       AP_HAVE_FORMAT_VERSION);
    if (ap_json_check_keys(root, keys, N(keys), "have.json", err) < 0)
        return -1;
    const char *kind, *target, *created;
    if (get_str(root, "kind", true, &kind, "have.json", err) < 0 ||
        get_str(root, "target", true, &target, "have.json", err) < 0 ||
        get_str(root, "created", true, &created, "have.json", err) < 0)
        return -1;
    if (!ap_str_in_list(kind, kinds, N(kinds)))
        return ap_fail(err, AP_ERR_FORMAT, "have.json: unknown target kind \"%.40s\"", kind);
    h->version = AP_HAVE_FORMAT_VERSION;
    if (!(h->kind = strdup(kind)) || !(h->target = strdup(target)) || !(h->created = strdup(created)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    json_t *layers = json_object_get(root, "layers"), *chains = json_object_get(root, "chains");
    if (!json_is_array(layers))
        return ap_fail(err, AP_ERR_FORMAT, "have.json: \"layers\" is missing or not an array");
    if (chains && !json_is_array(chains))
        return ap_fail(err, AP_ERR_FORMAT, "have.json: \"chains\" is not an array");
    if (!strcmp(kind, "docker") && json_array_size(layers) > 0)
        return ap_fail(err, AP_ERR_FORMAT, "have.json: a Docker engine holds no blobs; kind \"docker\" lists "
                                           "chains, not layers");
    if (strcmp(kind, "docker") && chains && json_array_size(chains) > 0)
        return ap_fail(err, AP_ERR_FORMAT, "have.json: only kind \"docker\" lists chains");
    size_t i;
    json_t *v;
    json_array_foreach(layers, i, v) if (parse_layer(h, v, i, err) < 0) return -1;
    if (chains)
        json_array_foreach(chains, i, v) if (parse_chain(h, v, i, err) < 0) return -1;
    json_t *loaded = json_object_get(root, "loaded");
    if (loaded && (!json_is_array(loaded) || !strcmp(kind, "bundle")))
        return ap_fail(err, AP_ERR_FORMAT, "have.json: \"loaded\" is not an array, or in a list of kind bundle");
    if (loaded)
        json_array_foreach(loaded, i, v) if (parse_loaded(h, v, i, err) < 0) return -1;
    return 0;
}

int ap_have_parse(const char *buf, size_t len, ap_have_list *out, ap_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = ap_json_load_strict(buf, len, AP_HAVE_MAX_SIZE, AP_JSON_MAX_DEPTH, "have.json", err);
    if (!root)
        return -1;
    int rc = parse_root(root, out, err);
    json_decref(root);
    if (rc < 0) {
        ap_have_free(out);
        return -1;
    }
    return 0;
}

/* ---- writing ---- */

char *ap_have_write(const ap_have_list *h, size_t *len, ap_error *err)
{
    json_t *root = json_object(), *layers = json_array(), *chains = json_array();
    int bad = !root || !layers || !chains;
    bad |= json_object_set_new(root, "airpack_have", json_integer(AP_HAVE_FORMAT_VERSION));
    bad |= json_object_set_new(root, "kind", json_string(h->kind));
    bad |= json_object_set_new(root, "target", json_string(h->target));
    bad |= json_object_set_new(root, "created", json_string(h->created));
    for (size_t i = 0; i < h->n_layers; i++) {
        const ap_have_layer *l = &h->layers[i];
        json_t *o = json_object();
        bad |= json_array_append_new(layers, o);
        bad |= json_object_set_new(o, "digest", json_string(l->digest));
        bad |= json_object_set_new(o, "size", json_integer((json_int_t)l->size));
        bad |= json_object_set_new(o, "media_type", json_string(l->media_type));
        bad |= json_object_set_new(o, "diff_id", json_string(l->diff_id));
        if (l->repository)
            bad |= json_object_set_new(o, "repository", json_string(l->repository));
    }
    for (size_t i = 0; i < h->n_chains; i++) {
        json_t *c = json_array();
        bad |= json_array_append_new(chains, c);
        for (size_t k = 0; k < h->chains[i].n; k++)
            bad |= json_array_append_new(c, json_string(h->chains[i].diff_ids[k]));
    }
    bad |= json_object_set(root, "layers", layers);
    if (!strcmp(h->kind, "docker"))
        bad |= json_object_set(root, "chains", chains);
    if (h->n_loaded) {
        json_t *ld = json_array();
        bad |= json_object_set_new(root, "loaded", ld);
        for (size_t i = 0; ld && i < h->n_loaded; i++)
            bad |= json_array_append_new(ld, json_pack("{s:s,s:s,s:I}", "key", h->loaded[i].key_id, "channel",
                                                       h->loaded[i].channel, "sequence",
                                                       (json_int_t)h->loaded[i].sequence));
    }
    json_decref(layers);
    json_decref(chains);
    char *out = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!out) {
        ap_fail(err, AP_ERR_NOMEM, "have.json: cannot write (out of memory or a string that is not UTF-8)");
        return NULL;
    }
    if (len)
        *len = strlen(out);
    return out;
}

int ap_have_save(const ap_have_list *h, const char *path, const ap_seckey *key, int64_t epoch, ap_error *err)
{
    size_t len = 0, sig_len = 0;
    char *json = ap_have_write(h, &len, err), *sig = NULL;
    int rc = json ? 0 : -1;
    if (rc == 0 && key) {
        char tc[128], sig_path[4200];
        snprintf(tc, sizeof tc, "timestamp:%lld\tfile:have.json\thashed", (long long)epoch);
        snprintf(sig_path, sizeof sig_path, "%s.minisig", path);
        rc = ap_sign(key, json, len, "signature from airpack secret key", tc, &sig, &sig_len, err);
        if (rc == 0)
            rc = ap_write_file_atomic(sig_path, sig, sig_len, 0644, err);
    }
    if (rc == 0)
        rc = ap_write_file_atomic(path, json, len, 0644, err);
    free(json);
    free(sig);
    return rc;
}
