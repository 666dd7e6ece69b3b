/* statement.c: succession and revocation statements (see statement.h). */
#include "statement.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle_index.h"
#include "json_check.h"
#include "stream.h"

const char *ap_statement_type_name(ap_statement_type t)
{
    return t == AP_STATEMENT_SUCCESSION ? "succession" : t == AP_STATEMENT_REVOCATION ? "revocation" : "?";
}

bool ap_key_id_valid(const char *s)
{
    if (!s || strlen(s) != 2 * AP_KEYNUM_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')))
            return false;
    return true;
}

static int get_str(json_t *o, const char *key, char *out, size_t cap, ap_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return ap_fail(err, AP_ERR_FORMAT, "statement: \"%s\" is missing or not a string", key);
    if (json_string_length(v) >= cap)
        return ap_fail(err, AP_ERR_FORMAT, "statement: \"%s\" is longer than %zu bytes", key, cap - 1);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ap_fail(err, AP_ERR_FORMAT, "statement: \"%s\" holds a NUL", key);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int parse_root(json_t *root, ap_statement *out, ap_error *err)
{
    static const char *const succ_keys[] = {"airpack_statement", "type", "created", "key", "successor"};
    static const char *const rev_keys[] = {"airpack_statement", "type", "created", "key", "reason"};
    if (!json_is_object(root))
        return ap_fail(err, AP_ERR_FORMAT, "statement: not a JSON object");
    json_t *ver = json_object_get(root, "airpack_statement");
    if (!json_is_integer(ver) || json_integer_value(ver) != AP_STATEMENT_FORMAT_VERSION)
        return ap_fail(err, AP_ERR_FORMAT, "not an airpack key statement of version %d (\"airpack_statement\")",
                       AP_STATEMENT_FORMAT_VERSION);
    char type[16];
    int64_t t;
    if (get_str(root, "type", type, sizeof type, err) < 0)
        return -1;
    if (!strcmp(type, "succession"))
        out->type = AP_STATEMENT_SUCCESSION;
    else if (!strcmp(type, "revocation"))
        out->type = AP_STATEMENT_REVOCATION;
    else
        return ap_fail(err, AP_ERR_FORMAT, "statement: unknown type \"%s\" (succession or revocation)", type);
    bool succ = out->type == AP_STATEMENT_SUCCESSION;
    if (ap_json_check_keys(root, succ ? succ_keys : rev_keys, 5, "statement", err) < 0 ||
        get_str(root, "created", out->created, sizeof out->created, err) < 0 ||
        ap_time_parse(out->created, &t, "statement: created", err) < 0 ||
        get_str(root, "key", out->key_id, sizeof out->key_id, err) < 0)
        return -1;
    if (!ap_key_id_valid(out->key_id))
        return ap_fail(err, AP_ERR_FORMAT, "statement: key \"%s\" is not a key ID (16 uppercase hex digits)",
                       out->key_id);
    if (succ) {
        char b64[AP_PUBKEY_B64_LEN + 1], id[2 * AP_KEYNUM_LEN + 1];
        if (get_str(root, "successor", b64, sizeof b64, err) < 0)
            return -1;
        if (strlen(b64) != AP_PUBKEY_B64_LEN || ap_pubkey_parse(b64, strlen(b64), &out->successor, err) < 0)
            return ap_fail(err, AP_ERR_FORMAT, "statement: \"successor\" is not a minisign public key's base64 line");
        ap_pubkey_key_id(&out->successor, id);
        if (!strcmp(id, out->key_id))
            return ap_fail(err, AP_ERR_FORMAT, "statement: key %s cannot succeed itself", id);
    } else if (json_object_get(root, "reason")) {
        if (get_str(root, "reason", out->reason, sizeof out->reason, err) < 0)
            return -1;
        for (const char *p = out->reason; *p; p++)
            if ((unsigned char)*p < 0x20)
                return ap_fail(err, AP_ERR_FORMAT, "statement: \"reason\" holds a control character");
    }
    return 0;
}

int ap_statement_parse(const char *buf, size_t len, ap_statement *out, ap_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = ap_json_load_strict(buf, len, AP_STATEMENT_MAX_SIZE, 1, "statement", err);
    if (!root)
        return -1;
    int rc = parse_root(root, out, err);
    json_decref(root);
    if (rc < 0 && err && err->code != AP_ERR_NOMEM)
        err->code = AP_ERR_FORMAT;
    return rc;
}

char *ap_statement_write(const ap_statement *st, size_t *len, ap_error *err)
{
    json_t *o = NULL;
    if (st->type == AP_STATEMENT_SUCCESSION) {
        char b64[AP_PUBKEY_B64_LEN + 1];
        ap_pubkey_base64(&st->successor, b64);
        o = json_pack("{s:i,s:s,s:s,s:s,s:s}", "airpack_statement", AP_STATEMENT_FORMAT_VERSION, "type", "succession",
                      "created", st->created, "key", st->key_id, "successor", b64);
    } else if (st->type == AP_STATEMENT_REVOCATION) {
        o = st->reason[0] ? json_pack("{s:i,s:s,s:s,s:s,s:s}", "airpack_statement", AP_STATEMENT_FORMAT_VERSION, "type",
                                      "revocation", "created", st->created, "key", st->key_id, "reason", st->reason)
                          : json_pack("{s:i,s:s,s:s,s:s}", "airpack_statement", AP_STATEMENT_FORMAT_VERSION, "type",
                                      "revocation", "created", st->created, "key", st->key_id);
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        ap_fail(err, AP_ERR_FORMAT, "statement: cannot write it (unknown type, or a reason that is not UTF-8)");
        return NULL;
    }
    size_t n = strlen(text);
    char *out = realloc(text, n + 2);
    if (!out) {
        free(text);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    ap_statement check;
    if (ap_statement_parse(out, n + 1, &check, err) < 0) {
        ap_error_prefix(err, "refusing to write an invalid statement");
        free(out);
        return NULL;
    }
    *len = n + 1;
    return out;
}

int ap_statement_save(const char *path, const ap_statement *st, const ap_seckey *sk, ap_error *err)
{
    size_t len, sig_len;
    char *text = ap_statement_write(st, &len, err), *sig = NULL, sig_path[4200], uc[128], tc[256];
    if (!text)
        return -1;
    char signer[2 * AP_KEYNUM_LEN + 1];
    ap_pubkey pk;
    ap_seckey_public(sk, &pk);
    ap_pubkey_key_id(&pk, signer);
    snprintf(uc, sizeof uc, "airpack %s statement, signed by key ID %s", ap_statement_type_name(st->type), signer);
    if (st->type == AP_STATEMENT_SUCCESSION) {
        char next[2 * AP_KEYNUM_LEN + 1];
        ap_pubkey_key_id(&st->successor, next);
        snprintf(tc, sizeof tc, "airpack succession: key %s is succeeded by key %s, %s", st->key_id, next, st->created);
    } else {
        snprintf(tc, sizeof tc, "airpack revocation: key %s is revoked, %s", st->key_id, st->created);
    }
    int rc = -1;
    if (snprintf(sig_path, sizeof sig_path, "%s.minisig", path) >= (int)sizeof sig_path) {
        ap_fail(err, AP_ERR_USAGE, "statement path too long");
        goto out;
    }
    if (ap_sign(sk, text, len, uc, tc, &sig, &sig_len, err) < 0 ||
        ap_write_file_atomic(sig_path, sig, sig_len, 0644, err) < 0 || ap_write_file_atomic(path, text, len, 0644, err) < 0)
        goto out;
    rc = 0;
out:
    free(text);
    free(sig);
    return rc;
}

static int read_bounded(const char *path, size_t max, char **out, size_t *len, ap_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return ap_fail_errno(err, errno == ENOENT ? AP_ERR_VERIFY : AP_ERR_IO, "cannot read %s", path);
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        ap_fail(err, AP_ERR_FORMAT, "%s is not a regular file", path);
    else if ((uint64_t)st.st_size > max)
        ap_fail(err, AP_ERR_FORMAT, "%s: %lld bytes, over the %zu-byte limit", path, (long long)st.st_size, max);
    else if (ap_read_fd_whole(fd, (size_t)st.st_size, out) < 0)
        ap_fail_errno(err, AP_ERR_IO, "cannot read %s", path);
    else {
        *len = (size_t)st.st_size;
        rc = 0;
    }
    close(fd);
    return rc;
}

int ap_statement_read(const char *path, char **text, size_t *len, char **sig, size_t *sig_len, ap_error *err)
{
    char sig_path[4200];
    *text = *sig = NULL;
    if (snprintf(sig_path, sizeof sig_path, "%s.minisig", path) >= (int)sizeof sig_path)
        return ap_fail(err, AP_ERR_USAGE, "statement path too long");
    if (read_bounded(path, AP_STATEMENT_MAX_SIZE, text, len, err) < 0)
        return -1;
    if (read_bounded(sig_path, AP_SIG_MAX_SIZE, sig, sig_len, err) < 0) {
        if (err && err->code == AP_ERR_VERIFY)
            ap_fail(err, AP_ERR_VERIFY, "%s is not signed: %s is missing", path, sig_path);
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}
