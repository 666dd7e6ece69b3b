/* source.c: reading pack inputs (see source.h). */
#include "source.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/bundle_index.h"
#include "../formats/image_ref.h"
#include "source_image.h"
#include "source_remote.h"

#define READ_BLOCK (1u << 20)

typedef struct {
    char *path;
    unsigned char *data;   /* JSON-looking small files only */
    size_t len;
} small_file;

typedef struct {
    char *path;
    char *target;          /* resolved, archive-relative */
} link_entry;

/* The inputs that are not files, by their spec's prefix. */
static const source_remote_ops *const remotes[] = {&source_registry_ops, &source_daemon_ops};

struct source_internal {
    const source_remote_ops *remote_ops;   /* NULL for a file or directory input */
    remote_state *remote;
    source_options opts;
    bool is_dir;
    char *path;            /* the file or directory */
    char *ref;             /* REF filter for oci:/oci-archive:, or NULL */
    char *default_repo;    /* repository for OCI refs that are only a tag */
    small_file *files;     /* tar: JSON entries read in the first pass */
    size_t n_files;
    size_t files_bytes;
    char **regular;        /* tar: every regular entry path */
    size_t n_regular;
    link_entry *links;
    size_t n_links;
};

/* ---- small helpers ---------------------------------------------------- */

static int push(void **arr, size_t *n, size_t elem, const void *item)
{
    void *grown = realloc(*arr, (*n + 1) * elem);
    if (!grown)
        return -1;
    memcpy((char *)grown + *n * elem, item, elem);
    *arr = grown;
    (*n)++;
    return 0;
}

/* "./a/b" -> "a/b", "a//b" -> "a/b", resolves "." and ".." lexically. Returns
 * malloc'd path or NULL if it escapes the root. */
static char *clean_path(const char *dir, const char *p)
{
    char buf[8192];
    if (p[0] == '/')
        snprintf(buf, sizeof buf, "%s", p + 1);
    else if (dir && dir[0])
        snprintf(buf, sizeof buf, "%s/%s", dir, p);
    else
        snprintf(buf, sizeof buf, "%s", p);
    char out[8192];
    size_t o = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (!strcmp(tok, "."))
            continue;
        if (!strcmp(tok, "..")) {
            if (o == 0)
                return NULL;
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        size_t tl = strlen(tok);
        if (o + tl + 2 >= sizeof out)
            return NULL;
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, tok, tl);
        o += tl;
    }
    out[o] = '\0';
    return strdup(out);
}

static small_file *find_small(source_internal *in, const char *path)
{
    for (size_t i = 0; i < in->n_files; i++)
        if (!strcmp(in->files[i].path, path))
            return &in->files[i];
    return NULL;
}

static bool is_regular(source_internal *in, const char *path)
{
    for (size_t i = 0; i < in->n_regular; i++)
        if (!strcmp(in->regular[i], path))
            return true;
    return false;
}

/* Follows links (at most 16 hops) to a regular entry. NULL if none. */
static const char *resolve(source_internal *in, const char *path)
{
    const char *p = path;
    for (int hop = 0; hop < 16; hop++) {
        if (in->is_dir || is_regular(in, p))
            return p;
        const char *next = NULL;
        for (size_t i = 0; i < in->n_links; i++)
            if (!strcmp(in->links[i].path, p)) {
                next = in->links[i].target;
                break;
            }
        if (!next)
            return NULL;
        p = next;
    }
    return NULL;
}

/* Reads a small file of the input (a JSON document). For a directory input the
 * file is read now; for a tar it was kept in the first pass. The returned
 * buffer belongs to the source (tar) or must be freed (dir): *owned says. */
static int get_small(source *s, const char *path, const unsigned char **data, size_t *len,
                     unsigned char **owned, ap_error *err)
{
    source_internal *in = s->in;
    *owned = NULL;
    if (!in->is_dir) {
        const char *real = resolve(in, path);
        small_file *f = real ? find_small(in, real) : NULL;
        if (!f)
            return ap_fail(err, AP_ERR_FORMAT, "%s: %s is missing from the archive (or is not JSON)",
                           s->spec, path);
        *data = f->data;
        *len = f->len;
        return 0;
    }
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", in->path, path);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, errno == ENOENT ? AP_ERR_FORMAT : AP_ERR_IO, "%s: opening %s",
                             s->spec, path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SOURCE_JSON_MAX) {
        close(fd);
        return ap_fail(err, AP_ERR_FORMAT, "%s: %s is not a regular file of at most %u bytes",
                       s->spec, path, SOURCE_JSON_MAX);
    }
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return ap_fail(err, AP_ERR_NOMEM, "%s: out of memory reading %s", s->spec, path);
    }
    ap_fd_reader r = {.fd = fd, .name = full};
    if (ap_read_exact(ap_fd_read, &r, buf, (size_t)st.st_size, full, err) < 0) {
        free(buf);
        close(fd);
        return -1;
    }
    close(fd);
    *data = buf;
    *len = (size_t)st.st_size;
    *owned = buf;
    return 0;
}

static json_t *parse_json(const source *s, const char *path, const unsigned char *data, size_t len,
                          ap_error *err)
{
    if (ap_json_check_depth((const char *)data, len, AP_JSON_MAX_DEPTH, path, err) < 0) {
        ap_error_prefix(err, "%s", s->spec);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)data, len, 0, &je);
    if (!j)
        ap_fail(err, AP_ERR_FORMAT, "%s: %s is not valid JSON: %s (line %d)", s->spec, path, je.text,
                je.line);
    return j;
}

/* ---- the first pass over a tar input ---------------------------------- */

static struct archive *open_archive(const char *path, ap_error *err)
{
    struct archive *a = archive_read_new();
    if (!a) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, READ_BLOCK) != ARCHIVE_OK) {
        /* content that is no archive is a format error, not an I/O one */
        ap_fail(err, archive_errno(a) == EILSEQ ? AP_ERR_FORMAT : AP_ERR_IO, "%s: %s",
                path, archive_error_string(a));
        archive_read_free(a);
        return NULL;
    }
    return a;
}

static int scan_tar(source *s, ap_error *err)
{
    source_internal *in = s->in;
    struct archive *a = open_archive(in->path, err);
    if (!a)
        return -1;
    struct archive_entry *ent;
    int rc = 0, r;
    unsigned char *chunk = malloc(READ_BLOCK);
    if (!chunk) {
        archive_read_free(a);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    size_t entries = 0;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        entries++;
        const char *raw = archive_entry_pathname(ent);
        char *path = raw ? clean_path(NULL, raw) : NULL;
        if (!path) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: entry '%s' has a path outside the archive", s->spec,
                         raw ? raw : "");
            break;
        }
        const char *hard = archive_entry_hardlink(ent);
        mode_t type = archive_entry_filetype(ent);
        if (hard || type == AE_IFLNK) {
            char *dir = strdup(path);
            char *slash = dir ? strrchr(dir, '/') : NULL;
            if (slash)
                *slash = '\0';
            else if (dir)
                dir[0] = '\0';
            char *target = hard ? clean_path(NULL, hard)
                                : clean_path(dir, archive_entry_symlink(ent) ? archive_entry_symlink(ent) : "");
            free(dir);
            link_entry le = {path, target};
            if (!target || push((void **)&in->links, &in->n_links, sizeof le, &le) < 0) {
                free(path);
                free(target);
                if (!target)
                    continue; /* a link that leaves the archive is simply never followed */
                rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
                break;
            }
            continue;
        }
        if (type != AE_IFREG) {
            free(path);
            continue;
        }
        if (push((void **)&in->regular, &in->n_regular, sizeof path, &path) < 0) {
            free(path);
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            break;
        }
        la_int64_t size = archive_entry_size(ent);
        if (size <= 0 || size > (la_int64_t)SOURCE_JSON_MAX)
            continue;
        /* Keep it only if it looks like JSON: its first non-blank byte is { or [. */
        la_ssize_t got = archive_read_data(a, chunk, 64);
        if (got < 0) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: reading %s: %s", s->spec, path, archive_error_string(a));
            break;
        }
        la_ssize_t k = 0;
        while (k < got && (chunk[k] == ' ' || chunk[k] == '\n' || chunk[k] == '\r' || chunk[k] == '\t'))
            k++;
        if (k >= got || (chunk[k] != '{' && chunk[k] != '['))
            continue;
        if (in->files_bytes + (size_t)size > SOURCE_JSON_TOTAL_MAX) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: more than %u MiB of JSON documents", s->spec,
                         SOURCE_JSON_TOTAL_MAX >> 20);
            break;
        }
        unsigned char *data = malloc((size_t)size);
        if (!data) {
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(data, chunk, (size_t)got);
        size_t have = (size_t)got;
        while (have < (size_t)size) {
            la_ssize_t more = archive_read_data(a, data + have, (size_t)size - have);
            if (more <= 0) {
                free(data);
                rc = ap_fail(err, AP_ERR_FORMAT, "%s: reading %s: %s", s->spec, path,
                             more < 0 ? archive_error_string(a) : "truncated");
                goto out;
            }
            have += (size_t)more;
        }
        small_file f = {strdup(path), data, (size_t)size};
        if (!f.path || push((void **)&in->files, &in->n_files, sizeof f, &f) < 0) {
            free(f.path);
            free(data);
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            break;
        }
        in->files_bytes += (size_t)size;
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: not a readable tar archive: %s", s->spec,
                     archive_error_string(a) ? archive_error_string(a) : "unknown error");
    if (rc == 0 && entries == 0)
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: empty archive", s->spec);
out:
    free(chunk);
    archive_read_free(a);
    return rc;
}

/* ---- describing images ------------------------------------------------ */

/* Reads the config: its digest, platform and diff_ids. */
static int load_config(source *s, source_image *img, const char *path, const char *want_digest,
                       json_t **diff_ids_out, ap_error *err)
{
    const unsigned char *data;
    size_t len;
    unsigned char *owned;
    if (get_small(s, path, &data, &len, &owned, err) < 0)
        return -1;
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(data, len, hex);
    snprintf(img->config_digest, sizeof img->config_digest, "sha256:%s", hex);
    if (want_digest && strcmp(want_digest, img->config_digest)) {
        free(owned);
        return ap_fail(err, AP_ERR_FORMAT, "%s: config %s does not match its digest %s (it hashes to %s)",
                       s->spec, path, want_digest, img->config_digest);
    }
    /* Docker <=24 names configs "<hex>.json": check that too. */
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (strlen(base) == AP_HEX_LEN + 5 && !strcmp(base + AP_HEX_LEN, ".json") &&
        strncmp(base, hex, AP_HEX_LEN) != 0) {
        bool all_hex = true;
        for (int i = 0; i < AP_HEX_LEN; i++)
            if (!strchr("0123456789abcdef", base[i]))
                all_hex = false;
        if (all_hex) {
            free(owned);
            return ap_fail(err, AP_ERR_FORMAT, "%s: config %s does not match its name (it hashes to %s)",
                           s->spec, path, img->config_digest);
        }
    }
    img->config = malloc(len ? len : 1);
    if (!img->config) {
        free(owned);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    memcpy(img->config, data, len);
    img->config_len = len;
    json_t *cfg = parse_json(s, path, data, len, err);
    free(owned);
    if (!cfg)
        return -1;
    json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
    if (!json_is_array(ids)) {
        json_decref(cfg);
        return ap_fail(err, AP_ERR_FORMAT, "%s: config %s has no rootfs.diff_ids: not an image config",
                       s->spec, path);
    }
    source_platform_from_config(img, cfg);
    *diff_ids_out = json_incref(ids);
    json_decref(cfg);
    return 0;
}

static int set_layers(source *s, source_image *img, json_t *diff_ids, char **paths, size_t n,
                      const char *config_path, ap_error *err)
{
    if (json_array_size(diff_ids) != n)
        return ap_fail(err, AP_ERR_FORMAT, "%s: image %s: the manifest lists %zu layers but config %s "
                       "declares %zu diff_ids", s->spec, img->config_digest, n, config_path,
                       json_array_size(diff_ids));
    if (source_image_layers(img, n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(diff_ids, i));
        char hex[AP_HEX_LEN + 1];
        if (!id || ap_digest_parse(id, hex, "diff_id", err) < 0)
            return ap_fail(err, AP_ERR_FORMAT, "%s: config %s: diff_id %zu is not a sha256 digest",
                           s->spec, config_path, i);
        snprintf(img->layers[i].diff_id, sizeof img->layers[i].diff_id, "sha256:%s", hex);
        const char *real = resolve(s->in, paths[i]);
        if (!real)
            return ap_fail(err, AP_ERR_FORMAT, "%s: image %s: layer %zu (%s) is missing from the input",
                           s->spec, img->config_digest, i + 1, paths[i]);
        img->layers[i].path = strdup(real);
        if (!img->layers[i].path)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int describe_docker(source *s, ap_error *err)
{
    const unsigned char *data;
    size_t len;
    unsigned char *owned;
    if (get_small(s, "manifest.json", &data, &len, &owned, err) < 0)
        return -1;
    json_t *m = parse_json(s, "manifest.json", data, len, err);
    free(owned);
    if (!m)
        return -1;
    int rc = 0;
    if (!json_is_array(m) || json_array_size(m) == 0) {
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: manifest.json is not a list of images", s->spec);
        goto out;
    }
    s->images = calloc(json_array_size(m), sizeof *s->images);
    if (!s->images) {
        rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(m, i, e) {
        source_image *img = &s->images[s->n_images++];
        const char *config = json_string_value(json_object_get(e, "Config"));
        json_t *layers = json_object_get(e, "Layers");
        if (!config || !json_is_array(layers)) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s: manifest.json entry %zu has no Config or Layers", s->spec, i + 1);
            goto out;
        }
        char *cpath = clean_path(NULL, config);
        json_t *ids = NULL;
        rc = cpath ? load_config(s, img, cpath, NULL, &ids, err)
                   : ap_fail(err, AP_ERR_FORMAT, "%s: config path %s leaves the archive", s->spec, config);
        if (rc == 0) {
            size_t n = json_array_size(layers);
            char **paths = calloc(n ? n : 1, sizeof *paths);
            for (size_t k = 0; paths && k < n; k++) {
                const char *lp = json_string_value(json_array_get(layers, k));
                paths[k] = lp ? clean_path(NULL, lp) : NULL;
                if (!paths[k])
                    rc = ap_fail(err, AP_ERR_FORMAT, "%s: manifest.json: layer %zu of %s has a bad path",
                                 s->spec, k + 1, config);
            }
            if (!paths)
                rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            if (rc == 0)
                rc = set_layers(s, img, ids, paths, n, cpath, err);
            for (size_t k = 0; paths && k < n; k++)
                free(paths[k]);
            free(paths);
        }
        json_decref(ids);
        free(cpath);
        if (rc < 0)
            goto out;
        json_t *tags = json_object_get(e, "RepoTags");
        size_t t;
        json_t *tag;
        json_array_foreach(tags, t, tag) {
            if (json_is_string(tag) && (rc = source_add_name(img, json_string_value(tag), s, err)) < 0)
                goto out;
        }
    }
out:
    json_decref(m);
    return rc;
}

static int blob_path(const char *digest, char *out, size_t n, const source *s, ap_error *err)
{
    char hex[AP_HEX_LEN + 1];
    if (!digest || ap_digest_parse(digest, hex, "descriptor digest", err) < 0) {
        ap_error_prefix(err, "%s", s->spec);
        return -1;
    }
    snprintf(out, n, "blobs/sha256/%s", hex);
    return 0;
}

static int describe_oci_manifest(source *s, json_t *desc, const char *name, ap_error *err);

static bool media_is_index(const char *mt)
{
    return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
                  !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

/* Reads a JSON blob named by a descriptor and checks its digest; with `keep`,
 * also a copy of its bytes (*keep_len long). */
static json_t *load_blob_json_keep(source *s, json_t *desc, unsigned char **keep, size_t *keep_len, ap_error *err)
{
    char path[128];
    if (blob_path(json_string_value(json_object_get(desc, "digest")), path, sizeof path, s, err) < 0)
        return NULL;
    const unsigned char *data;
    size_t len;
    unsigned char *owned;
    if (get_small(s, path, &data, &len, &owned, err) < 0)
        return NULL;
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(data, len, hex);
    if (strcmp(hex, path + 13)) {
        free(owned);
        ap_fail(err, AP_ERR_FORMAT, "%s: %s does not match its digest (it hashes to sha256:%s)", s->spec,
                path, hex);
        return NULL;
    }
    json_t *j = parse_json(s, path, data, len, err);
    if (j && keep) {
        *keep = malloc(len ? len : 1);
        if (!*keep) {
            json_decref(j);
            free(owned);
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
            return NULL;
        }
        memcpy(*keep, data, len);
        *keep_len = len;
    }
    free(owned);
    return j;
}

/* An index inside an index (multi-arch): take the wanted platform's manifest
 * (--platform, else the host's), or every platform's with --all-platforms. */
static int describe_oci_nested(source *s, json_t *desc, const char *name, ap_error *err)
{
    unsigned char *bytes = NULL;
    size_t bytes_len = 0;
    json_t *idx = load_blob_json_keep(s, desc, &bytes, &bytes_len, err);
    if (!idx)
        return -1;
    int arc = source_add_index(s, bytes, bytes_len, idx, name, err);
    free(bytes);
    if (arc < 0) {
        json_decref(idx);
        return -1;
    }
    char want[128];
    if (s->in->opts.platform)
        snprintf(want, sizeof want, "%s", s->in->opts.platform);
    else
        source_host_platform(want, sizeof want);
    json_t *mans = json_object_get(idx, "manifests");
    size_t i;
    json_t *d;
    char have[1024] = "";
    int rc = -2;
    json_array_foreach(mans, i, d) {
        json_t *p = json_object_get(d, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));
        const char *v = json_string_value(json_object_get(p, "variant"));
        char plat[200];
        snprintf(plat, sizeof plat, "%s/%s%s%s", os ? os : "?", arch ? arch : "?", v ? "/" : "", v ? v : "");
        if (source_is_attestation(d)) {
            s->n_skipped_attestations++;   /* not carried yet: pack says so */
            continue;
        }
        if (strlen(have) + strlen(plat) + 3 < sizeof have) {
            if (have[0])
                strcat(have, ", ");
            strcat(have, plat);
        }
        if (s->in->opts.all_platforms) {
            if ((rc = describe_oci_manifest(s, d, name, err)) < 0)
                break;
        } else if (rc == -2 && source_platform_matches(want, plat)) {
            rc = describe_oci_manifest(s, d, name, err);
        }
    }
    json_decref(idx);
    if (rc == -2)
        return ap_fail(err, AP_ERR_FORMAT, "%s: image %s has no %s manifest (it has: %s)", s->spec,
                       name ? name : "(unnamed)", want, have[0] ? have : "none");
    return rc;
}

/* A manifest of the layout whose subject names another: kept as a referrer (by digest, with
 * its config and layers as the layout holds them), unless --no-referrers or a blob of it is
 * not a small document here; then left out and counted (pack says so). */
static int keep_layout_referrer(source *s, json_t *man, const unsigned char *bytes, size_t len, ap_error *err)
{
    const char *sd = json_string_value(json_object_get(json_object_get(man, "subject"), "digest"));
    char shex[AP_HEX_LEN + 1];
    json_t *layers = json_object_get(man, "layers");
    if (!sd || ap_digest_parse(sd, shex, "subject digest", NULL) < 0 || s->in->opts.no_referrers ||
        !json_is_object(json_object_get(man, "config"))) {
        s->n_skipped_referrers++;
        return 0;
    }
    source_referrer x;
    memset(&x, 0, sizeof x);
    size_t n = 1 + json_array_size(layers);
    if (!(x.blobs = calloc(n, sizeof *x.blobs)) || !(x.manifest = malloc(len ? len : 1))) {
        free(x.blobs);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    bool ok = true;
    for (size_t k = 0; k < n && ok; k++) {
        json_t *d = k == 0 ? json_object_get(man, "config") : json_array_get(layers, k - 1);
        char path[128];
        const unsigned char *data;
        size_t dlen;
        unsigned char *owned = NULL;
        ap_error e;
        ok = blob_path(json_string_value(json_object_get(d, "digest")), path, sizeof path, s, &e) == 0 &&
             get_small(s, path, &data, &dlen, &owned, &e) == 0;
        char hex[AP_HEX_LEN + 1];
        if (ok)
            ap_sha256_hex(data, dlen, hex);
        ok = ok && !strcmp(hex, path + 13) && (x.blobs[k].data = malloc(dlen ? dlen : 1));
        if (ok) {
            memcpy(x.blobs[k].data, data, dlen);
            x.blobs[k].len = dlen;
            snprintf(x.blobs[k].digest, sizeof x.blobs[k].digest, "sha256:%s", hex);
            x.n_blobs = k + 1;
        }
        free(owned);
    }
    source_referrer *grown = ok ? realloc(s->referrers, (s->n_referrers + 1) * sizeof *grown) : NULL;
    if (!grown) {
        for (size_t k = 0; k < x.n_blobs; k++)
            free(x.blobs[k].data);
        free(x.blobs);
        free(x.manifest);
        s->n_skipped_referrers++;
        return ok ? ap_fail(err, AP_ERR_NOMEM, "out of memory") : 0;
    }
    s->referrers = grown;
    snprintf(x.subject, sizeof x.subject, "sha256:%s", shex);
    const char *mt = json_string_value(json_object_get(man, "mediaType"));
    snprintf(x.media_type, sizeof x.media_type, "%s",
             mt && strlen(mt) < sizeof x.media_type ? mt : "application/vnd.oci.image.manifest.v1+json");
    memcpy(x.manifest, bytes, len);
    x.manifest_len = len;
    char mhex[AP_HEX_LEN + 1];
    ap_sha256_hex(bytes, len, mhex);
    snprintf(x.manifest_digest, sizeof x.manifest_digest, "sha256:%s", mhex);
    s->referrers[s->n_referrers++] = x;
    return 0;
}

static int describe_oci_manifest(source *s, json_t *desc, const char *name, ap_error *err)
{
    if (media_is_index(json_string_value(json_object_get(desc, "mediaType"))))
        return describe_oci_nested(s, desc, name, err);
    unsigned char *bytes = NULL;
    size_t bytes_len = 0;
    json_t *man = load_blob_json_keep(s, desc, &bytes, &bytes_len, err);
    if (!man)
        return -1;
    int rc = 0;
    if (media_is_index(json_string_value(json_object_get(man, "mediaType")))) {
        free(bytes);
        json_decref(man);
        return describe_oci_nested(s, desc, name, err);
    }
    if (json_object_get(man, "subject") || json_object_get(man, "artifactType")) {
        /* an OCI 1.1 referrer (signature, SBOM ...) of another manifest: not an image */
        rc = keep_layout_referrer(s, man, bytes, bytes_len, err);
        free(bytes);
        json_decref(man);
        return rc;
    }
    source_image *grown = realloc(s->images, (s->n_images + 1) * sizeof *s->images);
    if (!grown) {
        free(bytes);
        json_decref(man);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    s->images = grown;
    source_image *img = &s->images[s->n_images++];
    memset(img, 0, sizeof *img);
    json_t *cfg = json_object_get(man, "config");
    const char *cdigest = json_string_value(json_object_get(cfg, "digest"));
    char cpath[128];
    json_t *ids = NULL;
    json_t *layers = json_object_get(man, "layers");
    if (!json_is_array(layers)) {
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: manifest %s has no layers list", s->spec,
                     json_string_value(json_object_get(desc, "digest")));
        goto out;
    }
    if ((rc = blob_path(cdigest, cpath, sizeof cpath, s, err)) < 0 ||
        (rc = load_config(s, img, cpath, cdigest, &ids, err)) < 0)
        goto out;
    size_t n = json_array_size(layers);
    char **paths = calloc(n ? n : 1, sizeof *paths);
    if (!paths) {
        rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < n && rc == 0; k++) {
        char lp[128];
        if ((rc = blob_path(json_string_value(json_object_get(json_array_get(layers, k), "digest")), lp,
                            sizeof lp, s, err)) == 0)
            paths[k] = strdup(lp);
    }
    if (rc == 0)
        rc = set_layers(s, img, ids, paths, n, cpath, err);
    for (size_t k = 0; k < n; k++)
        free(paths[k]);
    free(paths);
    if (rc == 0)
        rc = source_set_manifest(s, img, bytes, bytes_len, man, err);
    if (rc == 0 && name)
        rc = source_add_name(img, name, s, err);
out:
    free(bytes);
    json_decref(ids);
    json_decref(man);
    return rc;
}

/* The name an OCI index descriptor gives its image, or NULL. */
static const char *oci_name(source *s, json_t *desc, char *buf, size_t n)
{
    json_t *ann = json_object_get(desc, "annotations");
    const char *full = json_string_value(json_object_get(ann, "io.containerd.image.name"));
    if (full)
        return full;
    const char *ref = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
    if (!ref)
        return NULL;
    if (strchr(ref, '/') || strchr(ref, ':'))
        return ref;
    /* a bare tag: the layout's own name is the repository, as podman does */
    snprintf(buf, n, "localhost/%s:%s", s->in->default_repo, ref);
    return buf;
}

static int describe_oci(source *s, ap_error *err)
{
    const unsigned char *data;
    size_t len;
    unsigned char *owned;
    if (get_small(s, "index.json", &data, &len, &owned, err) < 0)
        return -1;
    json_t *idx = parse_json(s, "index.json", data, len, err);
    free(owned);
    if (!idx)
        return -1;
    int rc = 0;
    json_t *mans = json_object_get(idx, "manifests");
    if (!json_is_array(mans)) {
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: index.json has no manifests list", s->spec);
        goto out;
    }
    size_t i;
    json_t *d;
    json_array_foreach(mans, i, d) {
        char buf[512];
        const char *name = oci_name(s, d, buf, sizeof buf);
        const char *ref = json_string_value(json_object_get(json_object_get(d, "annotations"),
                                                            "org.opencontainers.image.ref.name"));
        if (s->in->ref && !(ref && !strcmp(ref, s->in->ref)) && !(name && !strcmp(name, s->in->ref)))
            continue;
        if ((rc = describe_oci_manifest(s, d, name, err)) < 0)
            goto out;
    }
    if (s->n_images == 0)
        rc = ap_fail(err, AP_ERR_FORMAT, s->in->ref ? "%s: no image with reference '%s' in index.json"
                                                    : "%s: index.json lists no images%s",
                     s->spec, s->in->ref ? s->in->ref : "");
out:
    json_decref(idx);
    return rc;
}

/* ---- opening ---------------------------------------------------------- */

static int split_spec(const char *spec, source_internal *in, ap_error *err)
{
    const char *rest = spec;
    int want_dir = -1; /* -1 unknown, 0 file, 1 dir */
    bool has_ref = false;
    if (!strncmp(spec, "oci:", 4)) {
        rest = spec + 4;
        want_dir = 1;
        has_ref = true;
    } else if (!strncmp(spec, "oci-archive:", 12)) {
        rest = spec + 12;
        want_dir = 0;
        has_ref = true;
    } else if (!strncmp(spec, "docker-archive:", 15)) {
        rest = spec + 15;
        want_dir = 0;
    }
    in->path = strdup(rest);
    if (!in->path)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    struct stat st;
    if (has_ref && stat(in->path, &st) < 0) {
        char *colon = strrchr(in->path, ':');
        if (colon) {
            *colon = '\0';
            in->ref = strdup(colon + 1);
        }
    }
    if (stat(in->path, &st) < 0)
        return ap_fail_errno(err, AP_ERR_IO, "%s", spec);
    in->is_dir = S_ISDIR(st.st_mode);
    if (want_dir == 1 && !in->is_dir)
        return ap_fail(err, AP_ERR_USAGE, "%s: oci: takes a directory (an OCI layout)", spec);
    if (want_dir == 0 && in->is_dir)
        return ap_fail(err, AP_ERR_USAGE, "%s: is a directory; use oci:DIR for an OCI layout", spec);
    if (!in->is_dir && !S_ISREG(st.st_mode))
        return ap_fail(err, AP_ERR_USAGE, "%s: not a regular file or directory", spec);
    const char *base = strrchr(in->path, '/');
    base = base && base[1] ? base + 1 : in->path;
    char repo[256];
    size_t k = 0;
    for (const char *p = base; *p && *p != '.' && k + 1 < sizeof repo; p++) {
        char c = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        repo[k++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ? c : '-';
    }
    repo[k] = '\0';
    in->default_repo = strdup(k ? repo : "image");
    return in->default_repo ? 0 : ap_fail(err, AP_ERR_NOMEM, "out of memory");
}

int source_open(const char *spec, source *s, ap_error *err)
{
    return source_open_opts(spec, NULL, s, err);
}

int source_open_opts(const char *spec, const source_options *o, source *s, ap_error *err)
{
    memset(s, 0, sizeof *s);
    s->spec = strdup(spec);
    s->in = calloc(1, sizeof *s->in);
    if (!s->spec || !s->in)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    if (o)
        s->in->opts = *o;
    for (size_t i = 0; i < sizeof remotes / sizeof *remotes; i++) {
        const source_remote_ops *ops = remotes[i];
        size_t n = strlen(ops->prefix);
        if (!strncmp(spec, ops->prefix, n)) {
            s->in->remote_ops = ops;
            s->layers_by_content = ops->layers_by_content;
            return ops->open(s, spec + n, &s->in->opts, &s->in->remote, err);
        }
    }
    if (split_spec(spec, s->in, err) < 0)
        return -1;
    struct stat st;
    if (stat(s->in->path, &st) == 0)
        s->size = s->in->is_dir ? 0 : (uint64_t)st.st_size;
    if (!s->in->is_dir && scan_tar(s, err) < 0)
        return -1;
    bool docker = false, oci = false;
    if (s->in->is_dir) {
        char p[8192];
        snprintf(p, sizeof p, "%s/index.json", s->in->path);
        oci = access(p, R_OK) == 0;
        snprintf(p, sizeof p, "%s/manifest.json", s->in->path);
        docker = access(p, R_OK) == 0;
    } else {
        docker = resolve(s->in, "manifest.json") != NULL;
        oci = resolve(s->in, "index.json") != NULL;
    }
    /* Docker >=25 writes both; manifest.json carries the RepoTags docker load uses. */
    if (docker && !s->in->ref)
        oci = false;
    int rc;
    if (oci)
        rc = describe_oci(s, err);
    else if (docker)
        rc = describe_docker(s, err);
    else
        return ap_fail(err, AP_ERR_FORMAT,
                   "%s: not a container image archive or layout (no manifest.json or index.json found)", spec);
    if (rc == 0 && s->in->is_dir) {
        /* progress counts the layer files a directory input will be read for */
        for (size_t i = 0; i < s->n_images; i++)
            for (size_t k = 0; k < s->images[i].n_layers; k++) {
                char full[8192];
                snprintf(full, sizeof full, "%s/%s", s->in->path, s->images[i].layers[k].path);
                if (stat(full, &st) == 0)
                    s->size += (uint64_t)st.st_size;
            }
    }
    return rc;
}

/* ---- the second pass -------------------------------------------------- */

typedef struct {
    struct archive *a;
    const char *spec;
    const char *path;
    const void *block;     /* the current zero-copy block from libarchive */
    size_t block_len;
    size_t block_pos;
    int64_t pos;           /* logical offset in the entry */
    int64_t block_off;
    bool eof;
    uint64_t *done;
} archive_reader;

static ssize_t archive_read_fn(void *ctx, void *buf, size_t n, ap_error *err)
{
    archive_reader *r = ctx;
    while (r->block_pos >= r->block_len) {
        if (r->eof)
            return 0;
        la_int64_t off;
        int rc = archive_read_data_block(r->a, &r->block, &r->block_len, &off);
        if (rc == ARCHIVE_EOF) {
            r->eof = true;
            r->block_len = 0;
            return 0;
        }
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
            return ap_fail(err, AP_ERR_FORMAT, "%s: reading %s: %s", r->spec, r->path,
                           archive_error_string(r->a));
        if (off != r->pos) /* a sparse hole: tar layers have none */
            return ap_fail(err, AP_ERR_FORMAT, "%s: %s is a sparse file, which no image layer is",
                           r->spec, r->path);
        r->block_pos = 0;
        r->block_off = off;
    }
    size_t take = r->block_len - r->block_pos;
    if (take > n)
        take = n;
    memcpy(buf, (const char *)r->block + r->block_pos, take);
    r->block_pos += take;
    r->pos += (int64_t)take;
    *r->done += take;
    return (ssize_t)take;
}

typedef struct {
    ap_fd_reader fd;
    uint64_t *done;
    const char *spec;
} dir_reader;

static ssize_t dir_read_fn(void *ctx, void *buf, size_t n, ap_error *err)
{
    dir_reader *r = ctx;
    ssize_t got = ap_fd_read(&r->fd, buf, n, err);
    if (got > 0)
        *r->done += (uint64_t)got;
    return got;
}

int source_stream(source *s, source_wanted_fn wanted, source_layer_fn fn, void *ctx,
                  void (*progress)(void *ctx, uint64_t done), ap_error *err)
{
    source_internal *in = s->in;
    uint64_t done = 0;
    if (in->remote_ops)
        return in->remote_ops->stream(s, in->remote, wanted, fn, ctx, progress, err);
    if (in->is_dir) {
        /* every distinct layer path, in image order */
        for (size_t i = 0; i < s->n_images; i++)
            for (size_t k = 0; k < s->images[i].n_layers; k++) {
                const char *p = s->images[i].layers[k].path;
                if (!wanted(ctx, p))
                    continue;
                char full[8192];
                snprintf(full, sizeof full, "%s/%s", in->path, p);
                int fd = open(full, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                    return ap_fail_errno(err, AP_ERR_IO, "%s: opening %s", s->spec, p);
                posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
                dir_reader r = {{fd, full, 0}, &done, s->spec};
                int rc = fn(ctx, p, dir_read_fn, &r, err);
                close(fd);
                if (rc < 0)
                    return -1;
                if (progress)
                    progress(ctx, done);
            }
        return 0;
    }
    struct archive *a = open_archive(in->path, err);
    if (!a)
        return -1;
    struct archive_entry *ent;
    int r, rc = 0;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (archive_entry_filetype(ent) != AE_IFREG || archive_entry_hardlink(ent))
            continue;
        char *path = clean_path(NULL, archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "");
        if (!path)
            continue;
        if (wanted(ctx, path)) {
            archive_reader ar = {.a = a, .spec = s->spec, .path = path, .done = &done};
            rc = fn(ctx, path, archive_read_fn, &ar, err);
            if (progress)
                progress(ctx, done);
        }
        free(path);
        if (rc < 0)
            break;
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = ap_fail(err, AP_ERR_FORMAT, "%s: %s", s->spec,
                     archive_error_string(a) ? archive_error_string(a) : "unreadable archive");
    archive_read_free(a);
    return rc;
}

void source_close(source *s)
{
    for (size_t i = 0; i < s->n_images; i++) {
        source_image *img = &s->images[i];
        for (size_t k = 0; k < img->n_names; k++)
            free(img->names[k]);
        free(img->names);
        free(img->config);
        for (size_t k = 0; k < img->n_layers; k++) {
            free(img->layers[k].path);
            free(img->layers[k].media_type);
        }
        free(img->manifest);
        free(img->layers);
    }
    for (size_t i = 0; i < s->n_indexes; i++) {
        free(s->indexes[i].bytes);
        free(s->indexes[i].name);
        for (size_t k = 0; k < s->indexes[i].n_manifests; k++)
            free(s->indexes[i].manifests[k]);
        free(s->indexes[i].manifests);
    }
    free(s->images);
    free(s->indexes);
    for (size_t i = 0; i < s->n_referrers; i++) {
        free(s->referrers[i].manifest);
        for (size_t k = 0; k < s->referrers[i].n_blobs; k++)
            free(s->referrers[i].blobs[k].data);
        free(s->referrers[i].blobs);
    }
    free(s->referrers);
    if (s->in) {
        if (s->in->remote_ops)
            s->in->remote_ops->free(s->in->remote);
        for (size_t i = 0; i < s->in->n_files; i++) {
            free(s->in->files[i].path);
            free(s->in->files[i].data);
        }
        free(s->in->files);
        for (size_t i = 0; i < s->in->n_regular; i++)
            free(s->in->regular[i]);
        free(s->in->regular);
        for (size_t i = 0; i < s->in->n_links; i++) {
            free(s->in->links[i].path);
            free(s->in->links[i].target);
        }
        free(s->in->links);
        free(s->in->path);
        free(s->in->ref);
        free(s->in->default_repo);
        free(s->in);
    }
    free(s->spec);
    memset(s, 0, sizeof *s);
}
