/* trust_store.c: keys, successions and revocations in the trusted-keys directory
 * (see trust_store.h). */
#include "trust_store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/stream.h"

#define PATH_CAP 4352

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

/* The names in dir (sorted), or an empty list when dir does not exist. */
static int list_dir(const char *dir, struct dirent ***names, int *n, ap_error *err)
{
    *names = NULL;
    *n = scandir(dir, names, NULL, alphasort);
    if (*n < 0) {
        *n = 0;
        if (errno == ENOENT)
            return 0;
        return ap_fail_errno(err, AP_ERR_IO, "cannot read the trusted-keys directory %s", dir);
    }
    return 0;
}

static void free_list(struct dirent **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Reads and parses dir/NAME (a statement record; its signature is not needed here: the
 * directory is as trusted as the keys in it). */
static int read_record(const char *dir, const char *name, ap_statement *st, ap_error *err)
{
    char path[PATH_CAP], *text = NULL, *sig = NULL;
    size_t len, sig_len;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ap_statement_read(path, &text, &len, &sig, &sig_len, err) < 0) {
        /* a local revocation has no signature: read the statement alone */
        if (err && err->code == AP_ERR_VERIFY && ends_with(name, ".revocation")) {
            FILE *f = fopen(path, "rb");
            char buf[AP_STATEMENT_MAX_SIZE + 1];
            size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
            if (f)
                fclose(f);
            if (!f)
                return ap_fail_errno(err, AP_ERR_IO, "cannot read %s", path);
            if (got > AP_STATEMENT_MAX_SIZE)
                return ap_fail(err, AP_ERR_FORMAT, "%s: over %u bytes", path, AP_STATEMENT_MAX_SIZE);
            if (ap_statement_parse(buf, got, st, err) < 0) {
                ap_error_prefix(err, "%s", path);
                return -1;
            }
            return 0;
        }
        return -1;
    }
    int rc = ap_statement_parse(text, len, st, err);
    if (rc < 0)
        ap_error_prefix(err, "%s", path);
    free(text);
    free(sig);
    return rc;
}

int ap_trust_revocations(const char *dir, ap_revoked_key **out, size_t *n, ap_error *err)
{
    struct dirent **names;
    int count;
    *out = NULL;
    *n = 0;
    if (list_dir(dir, &names, &count, err) < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        const char *name = names[i]->d_name;
        if (name[0] == '.' || !ends_with(name, ".revocation"))
            continue;
        ap_statement st;
        if (read_record(dir, name, &st, err) < 0) {
            rc = -1;
            break;
        }
        if (st.type != AP_STATEMENT_REVOCATION || strlen(name) != 2 * AP_KEYNUM_LEN + 11 ||
            strncmp(name, st.key_id, 2 * AP_KEYNUM_LEN)) {
            rc = ap_fail(err, AP_ERR_FORMAT, "%s/%s: not the revocation of the key its name says", dir, name);
            break;
        }
        ap_revoked_key *grown = realloc(*out, (*n + 1) * sizeof *grown);
        if (!grown) {
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            break;
        }
        *out = grown;
        ap_revoked_key *r = &grown[(*n)++];
        memset(r, 0, sizeof *r);
        memcpy(r->key_id, st.key_id, sizeof r->key_id);
        memcpy(r->revoked_at, st.created, sizeof r->revoked_at);
        snprintf(r->reason, sizeof r->reason, "%s", st.reason);
    }
    free_list(names, count);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static const ap_revoked_key *find_revoked(const ap_revoked_key *r, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].key_id, id))
            return &r[i];
    return NULL;
}

int ap_trust_keys(const char *dir, ap_trusted_key **out, size_t *n, ap_error *err)
{
    ap_revoked_key *rev = NULL;
    size_t n_rev = 0;
    struct dirent **names = NULL;
    int count = 0, rc = 0;
    *out = NULL;
    *n = 0;
    if (ap_trust_revocations(dir, &rev, &n_rev, err) < 0 || list_dir(dir, &names, &count, err) < 0) {
        free(rev);
        return -1;
    }
    for (int i = 0; i < count && rc == 0; i++) {
        const char *name = names[i]->d_name;
        if (name[0] == '.' || !ends_with(name, ".pub") || strlen(name) >= sizeof((ap_trusted_key *)0)->file)
            continue;
        ap_trusted_key k;
        memset(&k, 0, sizeof k);
        char path[PATH_CAP], rec[64];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (ap_pubkey_load(path, &k.key, err) < 0) {
            rc = -1;
            break;
        }
        ap_pubkey_key_id(&k.key, k.key_id);
        if (find_revoked(rev, n_rev, k.key_id))
            continue;
        snprintf(k.file, sizeof k.file, "%s", name);
        snprintf(rec, sizeof rec, "%s.succession", k.key_id);
        snprintf(path, sizeof path, "%s/%s", dir, rec);
        ap_statement st;
        if (access(path, F_OK) == 0) {
            if (read_record(dir, rec, &st, err) < 0) {
                rc = -1;
                break;
            }
            char next[2 * AP_KEYNUM_LEN + 1];
            ap_pubkey_key_id(&st.successor, next);
            if (st.type != AP_STATEMENT_SUCCESSION || strcmp(next, k.key_id)) {
                rc = ap_fail(err, AP_ERR_FORMAT, "%s: not the succession of key %s", path, k.key_id);
                break;
            }
            memcpy(k.predecessor, st.key_id, sizeof k.predecessor);
            memcpy(k.since, st.created, sizeof k.since);
        }
        ap_trusted_key *grown = realloc(*out, (*n + 1) * sizeof *grown);
        if (!grown) {
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
            break;
        }
        *out = grown;
        grown[(*n)++] = k;
    }
    free_list(names, count);
    free(rev);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Reads a signed statement and verifies it with the keys dir trusts (not revoked).
 * Fills *st and the signer's ID. */
static int verified_statement(const char *dir, const char *path, ap_statement *st,
                              char signer[2 * AP_KEYNUM_LEN + 1], ap_error *err)
{
    char *text = NULL, *sig = NULL;
    size_t len = 0, sig_len = 0;
    ap_trusted_key *keys = NULL;
    ap_pubkey *pks = NULL;
    ap_revoked_key *rev = NULL;
    size_t n = 0, n_rev = 0;
    int rc = -1;
    if (ap_statement_read(path, &text, &len, &sig, &sig_len, err) < 0 ||
        ap_trust_revocations(dir, &rev, &n_rev, err) < 0 || ap_trust_keys(dir, &keys, &n, err) < 0)
        goto out;
    char named[2 * AP_KEYNUM_LEN + 1];
    const ap_revoked_key *r;
    if (ap_signature_key_id(sig, sig_len, named, NULL) == 0 && (r = find_revoked(rev, n_rev, named))) {
        ap_fail(err, AP_ERR_VERIFY, "%s is signed by key ID %s, which was revoked at %s", path, named, r->revoked_at);
        goto out;
    }
    if (n && !(pks = calloc(n, sizeof *pks))) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        pks[i] = keys[i].key;
    ap_sig_info info;
    if (ap_verify(pks, n, text, len, sig, sig_len, &info, err) < 0) {
        ap_error_prefix(err, "%s (keys trusted in %s)", path, dir);
        if (err)
            err->code = AP_ERR_VERIFY;
        goto out;
    }
    memcpy(signer, info.key_id, 2 * AP_KEYNUM_LEN + 1);
    if (ap_statement_parse(text, len, st, err) < 0) {
        ap_error_prefix(err, "%s", path);
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(sig);
    free(keys);
    free(pks);
    free(rev);
    return rc;
}

/* Copies src (and src.minisig when with_sig) to dir/NAME (and .minisig). */
static int copy_statement(const char *src, const char *dir, const char *name, ap_error *err)
{
    char *text = NULL, *sig = NULL, path[PATH_CAP];
    size_t len, sig_len;
    if (ap_statement_read(src, &text, &len, &sig, &sig_len, err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.minisig", dir, name);
    int rc = ap_write_file_atomic(path, sig, sig_len, 0644, err);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (rc == 0)
        rc = ap_write_file_atomic(path, text, len, 0644, err);
    free(text);
    free(sig);
    return rc;
}

static int make_dir(const char *dir, ap_error *err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return ap_fail_errno(err, AP_ERR_IO, "cannot create the trusted-keys directory %s", dir);
    return 0;
}

int ap_trust_add(const char *dir, const ap_pubkey *key, const char *stmt_path, bool force,
                 char id[2 * AP_KEYNUM_LEN + 1], bool *already, ap_error *err)
{
    ap_statement st;
    char signer[2 * AP_KEYNUM_LEN + 1];
    ap_pubkey accept;
    *already = false;
    if (!force || stmt_path) {
        if (!stmt_path)
            return ap_fail(err, AP_ERR_USAGE, "a key is accepted only with a succession statement (or --force)");
        if (verified_statement(dir, stmt_path, &st, signer, err) < 0)
            return -1;
        if (st.type != AP_STATEMENT_SUCCESSION)
            return ap_fail(err, AP_ERR_VERIFY, "%s is a %s statement, not a succession", stmt_path,
                           ap_statement_type_name(st.type));
        if (strcmp(st.key_id, signer))
            return ap_fail(err, AP_ERR_VERIFY, "%s names key %s as the old key but is signed by key %s: a "
                           "succession must be signed by the key it succeeds", stmt_path, st.key_id, signer);
        char next[2 * AP_KEYNUM_LEN + 1], given[2 * AP_KEYNUM_LEN + 1];
        ap_pubkey_key_id(&st.successor, next);
        if (key && memcmp(key, &st.successor, sizeof *key)) {
            ap_pubkey_key_id(key, given);
            return ap_fail(err, AP_ERR_VERIFY, "%s names key %s as the successor of %s, not key %s", stmt_path, next,
                           signer, given);
        }
        accept = st.successor;
    } else {
        accept = *key;
    }
    ap_pubkey_key_id(&accept, id);
    ap_revoked_key *rev = NULL;
    size_t n_rev = 0;
    if (ap_trust_revocations(dir, &rev, &n_rev, err) < 0)
        return -1;
    const ap_revoked_key *r = find_revoked(rev, n_rev, id);
    if (r) {
        ap_fail(err, AP_ERR_VERIFY, "key %s was revoked at %s: it cannot be trusted again", id, r->revoked_at);
        free(rev);
        return -1;
    }
    free(rev);
    ap_trusted_key *keys = NULL;
    size_t n = 0;
    if (ap_trust_keys(dir, &keys, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!memcmp(&keys[i].key, &accept, sizeof accept))
            *already = true;
    free(keys);
    if (make_dir(dir, err) < 0)
        return -1;
    char name[64], path[PATH_CAP], comment[128];
    if (stmt_path && !*already) {
        snprintf(name, sizeof name, "%s.succession", id);
        if (copy_statement(stmt_path, dir, name, err) < 0)
            return -1;
    }
    if (*already)
        return 0;
    snprintf(path, sizeof path, "%s/%s.pub", dir, id);
    if (stmt_path)
        snprintf(comment, sizeof comment, "airpack trusted key %s, successor of %s", id, signer);
    else
        snprintf(comment, sizeof comment, "airpack trusted key %s, added with --force", id);
    return ap_pubkey_save_comment(path, &accept, comment, err);   /* last: now it is trusted */
}

/* Renames every *.pub of key_id to *.pub.revoked. */
static int retire_pubs(const char *dir, const char *key_id, ap_error *err)
{
    struct dirent **names;
    int count, rc = 0;
    if (list_dir(dir, &names, &count, err) < 0)
        return -1;
    for (int i = 0; i < count && rc == 0; i++) {
        const char *name = names[i]->d_name;
        if (name[0] == '.' || !ends_with(name, ".pub"))
            continue;
        char path[PATH_CAP], to[PATH_CAP + 16], id[2 * AP_KEYNUM_LEN + 1];
        ap_pubkey pk;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (ap_pubkey_load(path, &pk, NULL) < 0)
            continue;
        ap_pubkey_key_id(&pk, id);
        snprintf(to, sizeof to, "%s.revoked", path);
        if (!strcmp(id, key_id) && rename(path, to) < 0)
            rc = ap_fail_errno(err, AP_ERR_IO, "cannot rename %s", path);
    }
    free_list(names, count);
    return rc;
}

static int already_revoked(const char *dir, const char *key_id, bool *yes, ap_error *err)
{
    ap_revoked_key *rev = NULL;
    size_t n = 0;
    if (ap_trust_revocations(dir, &rev, &n, err) < 0)
        return -1;
    *yes = find_revoked(rev, n, key_id) != NULL;
    free(rev);
    return 0;
}

int ap_trust_revoke(const char *dir, const char *key_id, const char *reason, int64_t now, bool *already,
                    ap_error *err)
{
    if (!ap_key_id_valid(key_id))
        return ap_fail(err, AP_ERR_USAGE, "'%s' is not a key ID (16 hex digits, as 'airpack trust list' shows)",
                       key_id);
    if (already_revoked(dir, key_id, already, err) < 0)
        return -1;
    if (*already)
        return retire_pubs(dir, key_id, err);
    ap_statement st = {.type = AP_STATEMENT_REVOCATION};
    memcpy(st.key_id, key_id, sizeof st.key_id);
    ap_time_format(now, st.created);
    if (reason && strlen(reason) > AP_STATEMENT_REASON_MAX)
        return ap_fail(err, AP_ERR_USAGE, "the reason is longer than %d bytes", AP_STATEMENT_REASON_MAX);
    snprintf(st.reason, sizeof st.reason, "%s", reason ? reason : "");
    size_t len;
    char *text = ap_statement_write(&st, &len, err), path[PATH_CAP];
    if (!text)
        return -1;
    snprintf(path, sizeof path, "%s/%s.revocation", dir, key_id);
    int rc = make_dir(dir, err) < 0 ? -1 : ap_write_file_atomic(path, text, len, 0644, err);
    free(text);
    return rc < 0 ? -1 : retire_pubs(dir, key_id, err);
}

int ap_trust_import(const char *dir, const char *stmt_path, ap_statement *out, ap_error *err)
{
    char signer[2 * AP_KEYNUM_LEN + 1], id[2 * AP_KEYNUM_LEN + 1];
    bool already;
    if (verified_statement(dir, stmt_path, out, signer, err) < 0)
        return -1;
    if (out->type == AP_STATEMENT_SUCCESSION)
        return ap_trust_add(dir, NULL, stmt_path, false, id, &already, err);
    /* a revocation: by the key itself, or by the key accepted as its successor */
    if (strcmp(signer, out->key_id)) {
        ap_trusted_key *keys = NULL;
        size_t n = 0;
        bool successor = false;
        if (ap_trust_keys(dir, &keys, &n, err) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(keys[i].key_id, signer) && !strcmp(keys[i].predecessor, out->key_id))
                successor = true;
        free(keys);
        if (!successor)
            return ap_fail(err, AP_ERR_VERIFY, "%s revokes key %s but is signed by key %s, which is neither that "
                           "key nor its accepted successor", stmt_path, out->key_id, signer);
    }
    if (already_revoked(dir, out->key_id, &already, err) < 0)
        return -1;
    char name[64];
    snprintf(name, sizeof name, "%s.revocation", out->key_id);
    if (!already && copy_statement(stmt_path, dir, name, err) < 0)
        return -1;
    return retire_pubs(dir, out->key_id, err);
}
