/* minisign.h: minisign-compatible Ed25519 keys and signatures (libsodium).
 *
 * Files are byte-compatible with the minisign program: public keys
 * ("untrusted comment:" line + base64 of "Ed" || keynum[8] || pk[32]), secret
 * keys (base64 of "Ed" || kdf "Sc" or "\0\0" || "B2" || salt[32] || opslimit[8]
 * || memlimit[8] || (keynum[8] || sk[64] || checksum[32]) xored with the scrypt
 * stream), and signatures ("ED" prehashed with BLAKE2b-512, plus the global
 * signature over signature || trusted comment). Secret material is wiped with
 * sodium_memzero when freed. Legacy non-prehashed ("Ed") signatures verify too,
 * for interop, but airpack only writes "ED". */
#ifndef AIRPACK_MINISIGN_H
#define AIRPACK_MINISIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define AP_KEYNUM_LEN 8
#define AP_PK_LEN 32
#define AP_SK_LEN 64
#define AP_TRUSTED_COMMENT_MAX 1024
#define AP_UNTRUSTED_COMMENT_MAX 1003   /* minisign reads comment lines with fgets(1024) */
#define AP_PASSWORD_MAX 1022            /* minisign reads passwords with fgets(1024) */

typedef struct {
    uint8_t keynum[AP_KEYNUM_LEN];
    uint8_t pk[AP_PK_LEN];
} ap_pubkey;

typedef struct {
    uint8_t keynum[AP_KEYNUM_LEN];
    uint8_t sk[AP_SK_LEN];            /* libsodium Ed25519 secret key (seed || pk) */
} ap_seckey;

typedef struct {
    char key_id[2 * AP_KEYNUM_LEN + 1];   /* hex, as minisign prints it (big-endian of the LE keynum) */
    char trusted_comment[AP_TRUSTED_COMMENT_MAX + 1];
} ap_sig_info;

int ap_minisign_init(ap_error *err);  /* sodium_init; call once before anything else */

/* Public keys: a minisign .pub file's text, or just its base64 line. */
int ap_pubkey_parse(const char *text, size_t len, ap_pubkey *out, ap_error *err);
int ap_pubkey_load(const char *path, ap_pubkey *out, ap_error *err);
int ap_pubkey_save(const char *path, const ap_pubkey *pk, ap_error *err);
/* Like ap_pubkey_save with "untrusted comment: <comment>" (NULL: minisign's
 * "minisign public key <KEY ID>"). Mode 0644, via temp + rename. */
int ap_pubkey_save_comment(const char *path, const ap_pubkey *pk, const char *comment, ap_error *err);
void ap_pubkey_key_id(const ap_pubkey *pk, char out[2 * AP_KEYNUM_LEN + 1]);
/* The key's base64 line (as in a .pub file, without the newline): 56 characters + NUL. */
#define AP_PUBKEY_B64_LEN 56
void ap_pubkey_base64(const ap_pubkey *pk, char out[AP_PUBKEY_B64_LEN + 1]);

/* Secret keys. *encrypted tells whether a password is needed. */
int ap_seckey_is_encrypted(const char *path, bool *encrypted, ap_error *err);
/* password may be NULL for an unencrypted key. A wrong password is AP_ERR_CRYPTO
 * "wrong password for KEY". */
int ap_seckey_load(const char *path, const char *password, ap_seckey *out, ap_error *err);
/* password NULL writes an unencrypted key (minisign -W). Mode 0600, via temp + rename. */
int ap_seckey_save(const char *path, const ap_seckey *sk, const char *password, ap_error *err);
void ap_seckey_wipe(ap_seckey *sk);
/* Tests only: lower the scrypt limits ap_seckey_save uses for new encrypted keys
 * (real keys use minisign's OPSLIMIT/MEMLIMIT_SENSITIVE). 0, 0 restores them. */
void ap_minisign_set_kdf_limits_for_tests(unsigned long long opslimit, size_t memlimit);

void ap_keypair_generate(ap_pubkey *pk, ap_seckey *sk);
void ap_seckey_public(const ap_seckey *sk, ap_pubkey *pk);

/* The exact byte length of the signature file ap_sign will produce for these comments. */
size_t ap_signature_size(const char *untrusted_comment, const char *trusted_comment);

/* Signs msg (prehashed, "ED"). *sig_text is malloc'd, NUL-terminated, *sig_len excludes the NUL. */
int ap_sign(const ap_seckey *sk, const void *msg, size_t msg_len,
            const char *untrusted_comment, const char *trusted_comment,
            char **sig_text, size_t *sig_len, ap_error *err);

/* Verifies against any of the trusted keys (matched by key id; a signature from
 * a key not in the list is "signed by untrusted key ID"). Checks the signature
 * and the global signature over the trusted comment. Fills *info on success. */
int ap_verify(const ap_pubkey *keys, size_t n_keys, const void *msg, size_t msg_len,
              const char *sig_text, size_t sig_len, ap_sig_info *info, ap_error *err);

/* The key ID a signature names (its line 2), without verifying anything: for refusing a
 * revoked key by name. AP_ERR_FORMAT when the text is not a minisign signature. */
int ap_signature_key_id(const char *sig_text, size_t sig_len, char out[2 * AP_KEYNUM_LEN + 1], ap_error *err);

/* Reads a password: AIRPACK_PASSWORD, else the file, else the terminal (no echo).
 * prompt is shown on the terminal; confirm asks twice (keygen). Caller wipes and frees. */
char *ap_read_password(const char *password_file, const char *prompt, bool confirm, ap_error *err);
/* Wipes and frees what ap_read_password returned (NULL is fine). */
void ap_password_free(char *password);

/* The user's home directory: $HOME, else the password database's; NULL when neither names one. */
const char *ap_home_dir(void);

/* Default secret key path: $AIRPACK_SECRET_KEY, else $AIRPACK_CONFIG_DIR/airpack.key,
 * else ~/.airpack/airpack.key (as cli/keys.h says). Writes into out. */
int ap_default_seckey_path(char *out, size_t n, ap_error *err);

#endif
