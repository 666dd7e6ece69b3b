/* keys.c: where the subcommands find keys and passwords (see keys.h). */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../verify/verify.h"

int config_dir(char *out, size_t n, ap_error *err)
{
    const char *dir = getenv("AIRPACK_CONFIG_DIR");
    int len;
    if (dir && *dir) {
        len = snprintf(out, n, "%s", dir);
    } else {
        const char *home = ap_home_dir();
        if (!home)
            return ap_fail(err, AP_ERR_USAGE, "no home directory for the airpack config: set AIRPACK_CONFIG_DIR");
        len = snprintf(out, n, "%s/.airpack", home);
    }
    if (len < 0 || (size_t)len >= n)
        return ap_fail(err, AP_ERR_USAGE, "the airpack config directory path is too long");
    return 0;
}

/* Adds pk unless the same key is already trusted. */
static int trusted_keys_add(trusted_keys *t, const ap_pubkey *pk, ap_error *err)
{
    for (size_t i = 0; i < t->n; i++)
        if (!memcmp(&t->keys[i], pk, sizeof *pk))
            return 0;
    ap_pubkey *grown = realloc(t->keys, (t->n + 1) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "adding a trusted key: out of memory");
    t->keys = grown;
    t->keys[t->n++] = *pk;
    return 0;
}

int trusted_keys_add_file(trusted_keys *t, const char *path, ap_error *err)
{
    ap_pubkey pk;
    if (ap_pubkey_load(path, &pk, err) != 0)   /* "reading public key PATH: ..." */
        return -1;
    return trusted_keys_add(t, &pk, err);
}

int trusted_keys_add_base64(trusted_keys *t, const char *b64, ap_error *err)
{
    ap_pubkey pk;
    if (ap_pubkey_parse(b64, strlen(b64), &pk, err) != 0) {
        ap_error_prefix(err, "public key given with -P");
        return -1;
    }
    return trusted_keys_add(t, &pk, err);
}

static int ends_with_pub(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".pub");
}

int trusted_dir(char *dir, size_t n, ap_error *err)
{
    const char *env = getenv("AIRPACK_TRUSTED_KEYS");
    if (env && *env) {
        if ((size_t)snprintf(dir, n, "%s", env) >= n)
            return ap_fail(err, AP_ERR_USAGE, "AIRPACK_TRUSTED_KEYS is too long");
    } else {
        char conf[4000];
        if (config_dir(conf, sizeof conf, err) != 0)
            return -1;
        if ((size_t)snprintf(dir, n, "%s/trusted.d", conf) >= n)
            return ap_fail(err, AP_ERR_USAGE, "the trusted-keys directory path is too long");
    }
    return 0;
}

int cli_crypto_init(const char *cmd)
{
    ap_error err;
    ap_error_clear(&err);
    if (ap_minisign_init(&err) == 0)
        return 0;
    fprintf(stderr, "airpack %s: %s\n", cmd, err.msg);
    return 2;
}

int trusted_keys_prepare(trusted_keys *t, const char *cmd, bool quiet, ap_trust_policy *p,
                         ap_revoked_key **storage, ap_error *err)
{
    if (t->n == 0 && trusted_keys_add_defaults(t, cmd, quiet, err) < 0)
        return -1;
    return trust_policy_load_revocations(p, storage, err);
}

int trust_policy_load_revocations(ap_trust_policy *p, ap_revoked_key **storage, ap_error *err)
{
    char dir[4096];
    struct stat st;
    *storage = NULL;
    if (trusted_dir(dir, sizeof dir, err) < 0)
        return -1;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (ap_trust_revocations(dir, storage, &p->n_revoked, err) < 0) {
        ap_error_prefix(err, "revocations in %s", dir);
        return -1;
    }
    p->revoked = *storage;
    return 0;
}

int trust_successions_load(load_state_link **out, size_t *n, ap_error *err)
{
    char dir[4096];
    struct stat st;
    ap_trusted_key *keys = NULL;
    size_t nk = 0;
    *out = NULL;
    *n = 0;
    if (trusted_dir(dir, sizeof dir, err) < 0)
        return -1;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (ap_trust_keys(dir, &keys, &nk, err) < 0) {
        ap_error_prefix(err, "trusted keys in %s", dir);
        return -1;
    }
    if (nk && !(*out = calloc(nk, sizeof **out))) {
        free(keys);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nk; i++)
        if (keys[i].predecessor[0]) {
            memcpy((*out)[*n].from, keys[i].predecessor, sizeof (*out)[*n].from);
            memcpy((*out)[*n].to, keys[i].key_id, sizeof (*out)[*n].to);
            (*n)++;
        }
    free(keys);
    return 0;
}

int trusted_keys_add_default_dir(trusted_keys *t, ap_error *err)
{
    char dir[4096];
    if (trusted_dir(dir, sizeof dir, err) < 0)
        return -1;
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return 0;   /* no trusted-keys directory: nothing to add */
        return ap_fail_errno(err, AP_ERR_IO, "reading trusted keys directory %s", dir);
    }
    if (S_ISREG(st.st_mode))   /* AIRPACK_TRUSTED_KEYS may name one key file */
        return trusted_keys_add_file(t, dir, err);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return ap_fail_errno(err, AP_ERR_IO, "reading trusted keys directory %s", dir);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && names[i]->d_name[0] != '.' && ends_with_pub(names[i]->d_name)) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            rc = trusted_keys_add_file(t, path, err);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

void trusted_keys_free(trusted_keys *t)
{
    free(t->keys);
    t->keys = NULL;
    t->n = 0;
}

/* A secret key that is not one is a key problem (could not run), not a failed verification. */
static int key_failed(ap_error *err)
{
    if (err && err->code == AP_ERR_FORMAT)
        err->code = AP_ERR_CRYPTO;
    return -1;
}

int secret_key_load(const char *path, const char *password_file, ap_seckey *out, ap_error *err)
{
    char def[4096];
    if (!path) {
        if (ap_default_seckey_path(def, sizeof def, err) != 0)
            return -1;
        path = def;
    }
    bool encrypted = false;
    if (ap_seckey_is_encrypted(path, &encrypted, err) != 0) {
        if (err && err->code == AP_ERR_IO && access(path, F_OK) != 0 && path == def)
            ap_fail(err, AP_ERR_IO,
                    "reading secret key %s: no such file (create a key with 'airpack keygen' or pass -s FILE)", path);
        return key_failed(err);
    }
    char *password = NULL;
    if (encrypted) {
        char prompt[4200];
        snprintf(prompt, sizeof prompt, "Password for %s: ", path);
        password = ap_read_password(password_file, prompt, false, err);
        if (!password) {
            ap_error_prefix(err, "secret key %s is encrypted", path);
            return -1;
        }
    }
    int rc = ap_seckey_load(path, password, out, err);
    ap_password_free(password);
    return rc < 0 ? key_failed(err) : 0;
}

int trusted_keys_add_defaults(trusted_keys *t, const char *cmd, bool quiet, ap_error *err)
{
    if (trusted_keys_add_default_dir(t, err) < 0)
        return -1;
    size_t from_dir = t->n;
    bool local = access("airpack.pub", R_OK) == 0;
    if (local && trusted_keys_add_file(t, "airpack.pub", err) < 0)
        return -1;
    if (!quiet) {
        const char *env = getenv("AIRPACK_TRUSTED_KEYS");
        char dir[4096] = "the trusted-keys directory";
        if (env && *env)
            snprintf(dir, sizeof dir, "%s", env);
        else if (config_dir(dir, sizeof dir - 10, NULL) == 0)
            strcat(dir, "/trusted.d");
        if (from_dir > 0)
            fprintf(stderr, "airpack %s: using %zu trusted key%s from %s\n", cmd, from_dir,
                    from_dir == 1 ? "" : "s", dir);
        if (local)
            fprintf(stderr, "airpack %s: using trusted key ./airpack.pub\n", cmd);
    }
    if (t->n == 0)
        return ap_fail(err, AP_ERR_USAGE,
                       "no trusted key: give -p KEY.pub or -P BASE64, or put KEY.pub files in the "
                       "trusted-keys directory, or ./airpack.pub");
    return 0;
}
