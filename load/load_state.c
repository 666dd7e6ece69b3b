/* load_state.c: the per-store record of loaded sequences (see load_state.h). */
#include "load_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../formats/digest.h"
#include "../formats/json_check.h"
#include "../formats/stream.h"
#include "../remote/docker_engine.h"

struct load_state {
    char path[PATH_MAX];
    char *target;                /* for messages */
    bool in_store;               /* kept in the store itself: no "target" in the file */
    int lock_fd;
    load_state_doc doc;
};

/* ---- the format ----------------------------------------------------------------- */

static bool key_id_valid(const char *s)
{
    if (strlen(s) != 2 * AP_KEYNUM_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')))
            return false;
    return true;
}

static int copy_field(json_t *o, const char *key, char *out, size_t cap, const char *where, ap_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"%s\" is missing or not a string", where, key);
    if (json_string_length(v) >= cap)
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"%s\" is longer than %zu bytes", where, key, cap - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int parse_stream(json_t *o, load_state_stream *st, const char *where, ap_error *err)
{
    static const char *const keys[] = {"key", "channel", "sequence", "created", "loaded"};
    int64_t t;
    if (!json_is_object(o))
        return ap_fail(err, AP_ERR_FORMAT, "%s: not an object", where);
    if (ap_json_check_keys(o, keys, 5, where, err) < 0 ||
        copy_field(o, "key", st->key_id, sizeof st->key_id, where, err) < 0 ||
        copy_field(o, "channel", st->channel, sizeof st->channel, where, err) < 0 ||
        copy_field(o, "created", st->created, sizeof st->created, where, err) < 0 ||
        copy_field(o, "loaded", st->loaded, sizeof st->loaded, where, err) < 0)
        return -1;
    if (!key_id_valid(st->key_id))
        return ap_fail(err, AP_ERR_FORMAT, "%s: key \"%s\" is not a key ID (16 hex digits)", where, st->key_id);
    if (!ap_channel_valid(st->channel))
        return ap_fail(err, AP_ERR_FORMAT, "%s: channel \"%s\" is not a channel name", where, st->channel);
    if (ap_time_parse(st->created, &t, where, err) < 0 || ap_time_parse(st->loaded, &t, where, err) < 0)
        return -1;
    json_t *seq = json_object_get(o, "sequence");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"sequence\" is missing or not an integer of at least 1", where);
    st->sequence = (uint64_t)json_integer_value(seq);
    return 0;
}

static int parse_root(json_t *root, load_state_doc *out, ap_error *err)
{
    static const char *const keys[] = {"airpack_state", "target", "streams"};
    if (!json_is_object(root))
        return ap_fail(err, AP_ERR_FORMAT, "not a JSON object");
    json_t *ver = json_object_get(root, "airpack_state");
    if (!json_is_integer(ver) || json_integer_value(ver) != AP_STATE_FORMAT_VERSION)
        return ap_fail(err, AP_ERR_FORMAT, "not an airpack state file of version %d (\"airpack_state\")",
                       AP_STATE_FORMAT_VERSION);
    if (ap_json_check_keys(root, keys, 3, "state", err) < 0)
        return -1;
    json_t *target = json_object_get(root, "target");
    if (target) {
        if (!json_is_string(target) || json_string_length(target) == 0 || json_string_length(target) > 4096)
            return ap_fail(err, AP_ERR_FORMAT, "\"target\" is not a string of 1 to 4096 bytes");
        if (!(out->target = strdup(json_string_value(target))))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    json_t *streams = json_object_get(root, "streams");
    if (!json_is_array(streams))
        return ap_fail(err, AP_ERR_FORMAT, "\"streams\" is missing or not an array");
    size_t n = json_array_size(streams);
    if (n > AP_STATE_MAX_STREAMS)
        return ap_fail(err, AP_ERR_FORMAT, "%zu streams, over the limit of %d", n, AP_STATE_MAX_STREAMS);
    if (n && !(out->streams = calloc(n, sizeof *out->streams)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char where[48];
        snprintf(where, sizeof where, "streams[%zu]", i);
        if (parse_stream(json_array_get(streams, i), &out->streams[i], where, err) < 0)
            return -1;
        out->n = i + 1;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out->streams[k].key_id, out->streams[i].key_id) &&
                !strcmp(out->streams[k].channel, out->streams[i].channel))
                return ap_fail(err, AP_ERR_FORMAT, "%s: key %s channel %s is listed twice", where,
                               out->streams[i].key_id, out->streams[i].channel);
    }
    return 0;
}

int load_state_parse(const char *buf, size_t len, const char *what, load_state_doc *out, ap_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = ap_json_load_strict(buf, len, AP_STATE_MAX_SIZE, 4, what, err);
    if (!root)
        return -1;
    int rc = parse_root(root, out, err);
    json_decref(root);
    if (rc < 0) {
        if (err && err->code != AP_ERR_NOMEM) {
            err->code = AP_ERR_FORMAT;
            if (strncmp(err->msg, what, strlen(what)))
                ap_error_prefix(err, "%s", what);
        }
        load_state_doc_free(out);
    }
    return rc;
}

void load_state_doc_free(load_state_doc *doc)
{
    free(doc->target);
    free(doc->streams);
    memset(doc, 0, sizeof *doc);
}

char *load_state_write(const load_state_doc *doc, size_t *len, ap_error *err)
{
    json_t *root = json_object(), *streams = json_array();
    char *out = NULL;
    if (!root || !streams || json_object_set_new(root, "airpack_state", json_integer(AP_STATE_FORMAT_VERSION)) < 0 ||
        (doc->target && json_object_set_new(root, "target", json_string(doc->target)) < 0))
        goto done;
    for (size_t i = 0; i < doc->n; i++) {
        const load_state_stream *s = &doc->streams[i];
        json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s}", "key", s->key_id, "channel", s->channel, "sequence",
                              (json_int_t)s->sequence, "created", s->created, "loaded", s->loaded);
        if (!o || json_array_append_new(streams, o) < 0)
            goto done;
    }
    if (json_object_set(root, "streams", streams) < 0)
        goto done;
    out = json_dumps(root, JSON_INDENT(1));
done:
    json_decref(streams);
    json_decref(root);
    if (!out) {
        ap_fail(err, AP_ERR_NOMEM, "state: out of memory while writing");
        return NULL;
    }
    *len = strlen(out);
    return out;
}

/* ---- where ------------------------------------------------------------------------ */

int load_state_default_dir(char *out, size_t n, ap_error *err)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME"), *env = getenv("AIRPACK_STATE_DIR");
    int w;
    if (env && *env)
        w = snprintf(out, n, "%s", env);
    else if (geteuid() == 0)
        w = snprintf(out, n, "/var/lib/airpack");
    else if (xdg && xdg[0] == '/')
        w = snprintf(out, n, "%s/airpack", xdg);
    else if (home && *home)
        w = snprintf(out, n, "%s/.local/state/airpack", home);
    else
        return ap_fail(err, AP_ERR_USAGE, "no state directory: HOME is not set; give --state-dir DIR");
    if (w < 0 || (size_t)w >= n)
        return ap_fail(err, AP_ERR_USAGE, "state directory path too long");
    return 0;
}

static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) ? NULL : s + n;
}

/* One engine, one state: "docker-daemon:" with DOCKER_HOST and "docker-daemon:SOCKET"
 * name the same engine as "docker-daemon:PATH", its socket as the engine client finds
 * it (docker_engine.h). Other targets are their own names. */
static int canonical_target(const char *target, char *out, size_t n, ap_error *err)
{
    const char *rest = after(target, "docker-daemon:");
    if (!rest)
        return snprintf(out, n, "%s", target) < (int)n ? 0 : ap_fail(err, AP_ERR_USAGE, "target name too long");
    ap_engine engine;
    if (ap_engine_init(&engine, rest, err) < 0)
        return -1;
    if (snprintf(out, n, "docker-daemon:%s", engine.socket) >= (int)n)
        return ap_fail(err, AP_ERR_USAGE, "target '%s': socket path too long", target);
    return 0;
}

int load_state_path(const char *target, const char *state_dir, char *path, size_t n, ap_error *err)
{
    const char *rest;
    if (after(target, "docker-archive:") || after(target, "oci-archive:"))
        return 0;
    if ((rest = after(target, "oci:"))) {
        size_t len = strlen(rest);
        while (len > 1 && rest[len - 1] == '/')
            len--;
        if (!len || snprintf(path, n, "%.*s/%s", (int)len, rest, AP_STATE_FILE) >= (int)n)
            return ap_fail(err, AP_ERR_USAGE, "target '%s': no directory, or its path is too long", target);
        return 1;
    }
    static const char *const kinds[] = {"docker-daemon:", "docker://", "containerd:", "containers-storage:"};
    size_t k = 0;
    while (k < 4 && !after(target, kinds[k]))
        k++;
    if (k == 4)
        return ap_fail(err, AP_ERR_USAGE, "unknown target '%s'", target);
    char dir[PATH_MAX - 64];
    if (state_dir) {
        if (snprintf(dir, sizeof dir, "%s", state_dir) >= (int)sizeof dir)
            return ap_fail(err, AP_ERR_USAGE, "--state-dir: path too long");
    } else if (load_state_default_dir(dir, sizeof dir, err) < 0)
        return -1;
    char kind[24], hex[AP_HEX_LEN + 1], canon[PATH_MAX + 16];
    snprintf(kind, sizeof kind, "%.*s", (int)strcspn(kinds[k], ":"), kinds[k]);
    if (canonical_target(target, canon, sizeof canon, err) < 0)
        return -1;
    ap_sha256 *h = ap_sha256_new();
    if (!h)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    ap_sha256_update(h, canon, strlen(canon));
    ap_sha256_final_hex(h, hex);
    ap_sha256_free(h);
    if (snprintf(path, n, "%s/%s-%.16s.json", dir, kind, hex) >= (int)n)
        return ap_fail(err, AP_ERR_USAGE, "state directory path too long");
    return 1;
}

/* ---- open, lock, read ------------------------------------------------------------- */

static int mkdir_parents(const char *dir, ap_error *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return ap_fail_errno(err, AP_ERR_IO, "cannot create the state directory %s", buf);
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static void split_path(const char *path, char *dir, size_t dn, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, dn, ".");
    else if (slash == path)
        snprintf(dir, dn, "/");
    else
        snprintf(dir, dn, "%.*s", (int)(slash - path), path);
}

static int read_state_file(load_state *s, ap_error *err)
{
    int fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ELOOP)
            return ap_fail(err, AP_ERR_FORMAT, "state file %s is a symbolic link: refusing it (airpack never "
                           "follows or resets a state file; if it is yours, replace the link with the file)", s->path);
        return ap_fail_errno(err, AP_ERR_IO, "cannot open the state file %s", s->path);
    }
    struct stat st;
    char *buf = NULL;
    int rc = -1;
    if (fstat(fd, &st) < 0) {
        ap_fail_errno(err, AP_ERR_IO, "cannot stat the state file %s", s->path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ap_fail(err, AP_ERR_FORMAT, "state file %s is not a regular file: refusing it", s->path);
        goto out;
    }
    if ((uint64_t)st.st_size > AP_STATE_MAX_SIZE) {
        ap_fail(err, AP_ERR_FORMAT, "state file %s: %lld bytes, over the %u-byte limit: refusing it", s->path,
                (long long)st.st_size, AP_STATE_MAX_SIZE);
        goto out;
    }
    if (ap_read_fd_whole(fd, (size_t)st.st_size, &buf) < 0) {
        ap_fail_errno(err, AP_ERR_IO, "cannot read the state file %s", s->path);
        goto out;
    }
    char what[PATH_MAX + 16];
    snprintf(what, sizeof what, "state file %s", s->path);
    if (load_state_parse(buf, (size_t)st.st_size, what, &s->doc, err) < 0) {
        ap_error_prefix(err, "refusing a corrupt state (airpack never resets one; restore it from a backup, "
                        "or remove it to forget what this store loaded)");
        goto out;
    }
    if (s->target && !s->in_store && (!s->doc.target || strcmp(s->doc.target, s->target))) {
        ap_fail(err, AP_ERR_FORMAT, "state file %s is for target '%.200s', not '%.200s': refusing it", s->path,
                s->doc.target ? s->doc.target : "(none)", s->target);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

load_state *load_state_open(const char *path, const char *target, bool in_store, bool writing, ap_error *err)
{
    load_state *s = calloc(1, sizeof *s);
    if (!s) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->lock_fd = -1;
    s->in_store = in_store;
    if (snprintf(s->path, sizeof s->path, "%s", path) >= (int)sizeof s->path) {
        ap_fail(err, AP_ERR_USAGE, "state file path too long");
        goto fail;
    }
    if (target) {   /* the store as the state file names it, however the user spelled it */
        char canon[PATH_MAX + 16];
        if (canonical_target(target, canon, sizeof canon, err) < 0)
            goto fail;
        if (!(s->target = strdup(canon))) {
            ap_fail(err, AP_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    char dir[PATH_MAX], lock[PATH_MAX + 16];
    const char *base;
    split_path(s->path, dir, sizeof dir, &base);
    if (snprintf(lock, sizeof lock, "%s/.%s.lock", dir, base) >= (int)sizeof lock) {
        ap_fail(err, AP_ERR_USAGE, "state file path too long");
        goto fail;
    }
    if (writing && !in_store && mkdir_parents(dir, err) < 0)
        goto fail;
    /* a store's own state: the store's load lock (load_oci.c holds DIR/.airpack.lock for
     * the whole load) serializes loads; a lock file of ours would stay in the store */
    if (!in_store)
        s->lock_fd = open(lock, (writing ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (!in_store && s->lock_fd < 0 && !(errno == ENOENT && !writing)) {
        ap_fail_errno(err, AP_ERR_IO, "cannot open the state lock %s", lock);
        goto fail;
    }
    while (s->lock_fd >= 0 && flock(s->lock_fd, writing ? LOCK_EX : LOCK_SH) < 0)
        if (errno != EINTR) {
            ap_fail_errno(err, AP_ERR_IO, "cannot lock %s", lock);
            goto fail;
        }
    if (read_state_file(s, err) < 0)
        goto fail;
    return s;
fail:
    load_state_close(s);
    return NULL;
}

const load_state_doc *load_state_get(const load_state *s)
{
    return &s->doc;
}

void load_state_close(load_state *s)
{
    if (!s)
        return;
    if (s->lock_fd >= 0)
        close(s->lock_fd);   /* releases the lock */
    load_state_doc_free(&s->doc);
    free(s->target);
    free(s);
}

/* ---- check and record -------------------------------------------------------------- */

static const load_state_stream *find(const load_state_doc *d, const char *key_id, const char *channel)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->streams[i].key_id, key_id) && !strcmp(d->streams[i].channel, channel))
            return &d->streams[i];
    return NULL;
}

/* Is `key` the signer or a key that succeeds it (through at most 64 successions)? */
static bool in_lineage(const load_state_signer *sg, const char *key)
{
    const char *cur = key;
    for (int hops = 0; hops <= 64; hops++) {
        if (!strcmp(cur, sg->key_id))
            return true;
        const char *prev = NULL;
        for (size_t i = 0; i < sg->n_successions && !prev; i++)
            if (!strcmp(sg->successions[i].to, cur))
                prev = sg->successions[i].from;
        if (!prev)
            return false;
        cur = prev;
    }
    return false;
}

static int check_doc(const load_state_doc *d, const char *where, const load_state_signer *sg,
                     const ap_bundle_index *idx, bool allow_rollback, char *note, size_t note_len, ap_error *err)
{
    const char *channel = ap_bundle_index_channel(idx);
    const char *key_id = sg->key_id;
    const load_state_stream *st = find(d, key_id, channel), *top = st;
    for (size_t i = 0; i < d->n; i++)   /* the highest of the signer's line on this channel */
        if (!strcmp(d->streams[i].channel, channel) && in_lineage(sg, d->streams[i].key_id) &&
            (!top || d->streams[i].sequence > top->sequence))
            top = &d->streams[i];
    if (top && idx->sequence < top->sequence) {
        char by[80] = "";
        if (strcmp(top->key_id, key_id))
            snprintf(by, sizeof by, " from key ID %s, which succeeds it,", top->key_id);
        if (!allow_rollback)
            return ap_fail(err, AP_ERR_VERIFY,
                           "rollback refused: this bundle is sequence %llu (created %s) of channel %s, key ID %s, "
                           "but %s already loaded%s sequence %llu (created %s) at %s; --allow-rollback loads it "
                           "anyway", (unsigned long long)idx->sequence, idx->created, channel, key_id, where, by,
                           (unsigned long long)top->sequence, top->created, top->loaded);
        snprintf(note, note_len, "rollback allowed: sequence %llu (created %s) is older than sequence %llu "
                 "(created %s), which %s loaded%s at %s", (unsigned long long)idx->sequence, idx->created,
                 (unsigned long long)top->sequence, top->created, where, by, top->loaded);
        return 0;
    }
    if (idx->base_sequence && !note[0]) {
        if (!st)
            snprintf(note, note_len, "this delta builds on sequence %llu of channel %s, but %s has no record of "
                     "loading that channel from key ID %s", (unsigned long long)idx->base_sequence, channel,
                     where, key_id);
        else if (st->sequence != idx->base_sequence)
            snprintf(note, note_len, "this delta builds on sequence %llu of channel %s, but the last %s loaded is "
                     "sequence %llu (created %s, loaded %s)", (unsigned long long)idx->base_sequence, channel,
                     where, (unsigned long long)st->sequence, st->created, st->loaded);
    }
    return 0;
}

int load_state_check(load_state *s, const load_state_signer *signer, const ap_bundle_index *idx,
                     bool allow_rollback, char *note, size_t note_len, ap_error *err)
{
    if (note_len)
        note[0] = 0;
    load_state_doc_free(&s->doc);
    if (read_state_file(s, err) < 0) {
        if (err && err->code != AP_ERR_NOMEM)
            err->code = AP_ERR_TARGET;
        return -1;
    }
    return check_doc(&s->doc, s->target ? s->target : s->path, signer, idx, allow_rollback, note, note_len, err);
}

int load_state_check_dir(const char *dir, const load_state_signer *signer, const ap_bundle_index *idx,
                         bool allow_rollback, char *note, size_t note_len, ap_error *err)
{
    if (note_len)
        note[0] = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return ap_fail_errno(err, AP_ERR_IO, "cannot read the state directory %s", dir);
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json"))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        load_state *s = load_state_open(path, NULL, false, false, err);
        if (!s) {
            rc = -1;
            break;
        }
        const char *where = s->doc.target ? s->doc.target : path;
        rc = check_doc(&s->doc, where, signer, idx, allow_rollback, note, note_len, err);
        load_state_close(s);
    }
    closedir(d);
    return rc;
}

/* Temp file, fsync, rename, directory fsync (stream.c). */
int load_state_record(load_state *s, const char *key_id, const ap_bundle_index *idx, ap_error *err)
{
    const char *channel = ap_bundle_index_channel(idx);
    load_state_stream *st = (load_state_stream *)find(&s->doc, key_id, channel);
    if (idx->sequence == 0 || ap_bundle_index_created(idx) < 0)
        return 0;   /* an index whose created is not a time has no sequence to record */
    if (st && st->sequence >= idx->sequence)
        return 0;   /* the record already says this or newer */
    if (!st) {
        if (s->doc.n >= AP_STATE_MAX_STREAMS)
            return ap_fail(err, AP_ERR_TARGET, "state file %s: already %d streams", s->path, AP_STATE_MAX_STREAMS);
        load_state_stream *grown = realloc(s->doc.streams, (s->doc.n + 1) * sizeof *grown);
        if (!grown)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        s->doc.streams = grown;
        st = &grown[s->doc.n++];
        memset(st, 0, sizeof *st);
        snprintf(st->key_id, sizeof st->key_id, "%s", key_id);
        snprintf(st->channel, sizeof st->channel, "%s", channel);
    }
    st->sequence = idx->sequence;
    snprintf(st->created, sizeof st->created, "%s", idx->created ? idx->created : "");
    ap_time_format((int64_t)time(NULL), st->loaded);
    if (s->target && !s->in_store && !s->doc.target && !(s->doc.target = strdup(s->target)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    size_t len;
    char *text = load_state_write(&s->doc, &len, err);
    if (!text)
        return -1;
    /* what we write must be what we read back */
    load_state_doc check;
    int rc = load_state_parse(text, len, "state", &check, err);
    if (rc == 0) {
        load_state_doc_free(&check);
        rc = ap_write_file_atomic(s->path, text, len, 0644, err);
    }
    free(text);
    return rc;
}
