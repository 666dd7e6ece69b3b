/* trust_store.h: the trusted-keys directory as a store of keys that can change.
 *
 * The directory (~/.airpack/trusted.d, see cli/keys.h) holds, as before, every trusted
 * public key as a *.pub file, and now beside them (formats/BUNDLE-FORMAT.md "Key
 * statements"):
 *
 *   ID.succession (+ .minisig)  the statement by which key ID was accepted: signed by the
 *                               key it succeeds, which was trusted then;
 *   ID.revocation (+ .minisig)  key ID is revoked: a statement imported from the key
 *                               itself or its successor, or recorded here (unsigned) by
 *                               `airpack trust revoke`.
 *
 * A revoked key's *.pub is renamed *.pub.revoked, so no airpack trusts it any more, and
 * verify/load refuse its bundles by name (trust_policy.h) even when it is given with -p.
 * Every statement is verified before anything in it is believed, and every file this
 * reads is bounded and parsed strictly. Nothing here prints. */
#ifndef AIRPACK_TRUST_STORE_H
#define AIRPACK_TRUST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/error.h"
#include "../formats/minisign.h"
#include "../formats/statement.h"
#include "trust_policy.h"

/* Every revocation recorded in dir (none when dir does not exist). A record that does
 * not parse, or whose name is not its key ID, is AP_ERR_FORMAT naming the file. */
int ap_trust_revocations(const char *dir, ap_revoked_key **out, size_t *n, ap_error *err);

typedef struct {
    char key_id[2 * AP_KEYNUM_LEN + 1];
    char file[256];                      /* its name in the directory */
    ap_pubkey key;
    char predecessor[2 * AP_KEYNUM_LEN + 1];   /* from ID.succession; empty when added without */
    char since[AP_TIME_LEN + 1];               /* that statement's time */
} ap_trusted_key;

/* Every *.pub in dir whose key is not revoked, with its succession record. */
int ap_trust_keys(const char *dir, ap_trusted_key **out, size_t *n, ap_error *err);

/* Accepts `key` (NULL: the successor the statement names) into dir: with force, as it
 * is; else only with the succession statement at stmt_path (and stmt_path.minisig),
 * signed by a key dir trusts, naming that key as the old one and `key` as its
 * successor. A key that is revoked is refused. *id gets the accepted key's ID, and
 * *already whether it was trusted before. Refusals are AP_ERR_VERIFY. */
int ap_trust_add(const char *dir, const ap_pubkey *key, const char *stmt_path, bool force,
                 char id[2 * AP_KEYNUM_LEN + 1], bool *already, ap_error *err);

/* Records that key_id is revoked (an unsigned local record; reason may be empty) at `now`
 * and renames its *.pub files. *already: it was revoked before (nothing changed). */
int ap_trust_revoke(const char *dir, const char *key_id, const char *reason, int64_t now, bool *already,
                    ap_error *err);

/* Imports a signed statement: a succession as ap_trust_add without a key; a revocation
 * only when signed by the revoked key itself or by the key dir accepted as its successor.
 * *out tells what it was. */
int ap_trust_import(const char *dir, const char *stmt_path, ap_statement *out, ap_error *err);

#endif
