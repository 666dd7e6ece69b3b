/* keys.h: where the subcommands find keys and passwords.
 *
 * Trusted public keys come from -p FILE (repeatable), -P BASE64 (repeatable),
 * and the trusted-keys directory ($AIRPACK_TRUSTED_KEYS, else
 * $AIRPACK_CONFIG_DIR/trusted.d, else ~/.airpack/trusted.d: every *.pub there).
 * The secret key is -s FILE, else $AIRPACK_CONFIG_DIR/airpack.key, else
 * ~/.airpack/airpack.key (as minisign keeps ~/.minisign/minisign.key). */
#ifndef AIRPACK_KEYS_H
#define AIRPACK_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "../formats/formats.h"
#include "../load/load.h"
#include "../verify/verify.h"

typedef struct {
    ap_pubkey *keys;
    size_t n;
} trusted_keys;

int trusted_keys_add_file(trusted_keys *t, const char *path, ap_error *err);
int trusted_keys_add_base64(trusted_keys *t, const char *b64, ap_error *err);
/* Adds every *.pub in the default trusted-keys directory when it exists. */
int trusted_keys_add_default_dir(trusted_keys *t, ap_error *err);
void trusted_keys_free(trusted_keys *t);

/* The keys used when none is given with -p or -P: the trusted-keys directory,
 * then ./airpack.pub if it exists. Says on stderr which were used (as
 * "airpack CMD: ...") unless quiet. No key at all is AP_ERR_USAGE. */
int trusted_keys_add_defaults(trusted_keys *t, const char *cmd, bool quiet, ap_error *err);

/* Loads the secret key (path NULL = the default), asking for the password when
 * the key is encrypted: AIRPACK_PASSWORD, then password_file, then the terminal.
 * A file that is not a secret key is AP_ERR_CRYPTO (exit status 2, as a wrong password). */
int secret_key_load(const char *path, const char *password_file, ap_seckey *out, ap_error *err);

/* The trusted-keys directory: $AIRPACK_TRUSTED_KEYS, else $AIRPACK_CONFIG_DIR/trusted.d,
 * else ~/.airpack/trusted.d (it may not exist; AIRPACK_TRUSTED_KEYS may name one file). */
int trusted_dir(char *out, size_t n, ap_error *err);

/* Starts the crypto library for "airpack CMD"; on failure says why on stderr and returns
 * 2 (could not run), else 0. */
int cli_crypto_init(const char *cmd);

/* The keys to verify with when none was given (trusted_keys_add_defaults), then the
 * recorded revocations (trust_policy_load_revocations): what verify and load need. */
int trusted_keys_prepare(trusted_keys *t, const char *cmd, bool quiet, ap_trust_policy *p,
                         ap_revoked_key **storage, ap_error *err);

/* The revocations recorded in the trusted-keys directory, for verify and load
 * (verify/trust_policy.h); *storage is freed by the caller. */
int trust_policy_load_revocations(ap_trust_policy *p, ap_revoked_key **storage, ap_error *err);

/* Which keys succeed which, from the succession records in the trusted-keys directory,
 * for the rollback check (load/load_state.h); *out is freed by the caller. */
int trust_successions_load(load_state_link **out, size_t *n, ap_error *err);

/* The config directory: $AIRPACK_CONFIG_DIR or ~/.airpack. */
int config_dir(char *out, size_t n, ap_error *err);

#endif
