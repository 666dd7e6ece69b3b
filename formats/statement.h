/* statement.h: signed statements about keys: succession and revocation.
 *
 * A statement is a small JSON file, with a minisign signature beside it
 * (STATEMENT.minisig, prehashed Ed25519 as for bundles), so `minisign -Vm STATEMENT
 * -p KEY.pub` checks it too. formats/BUNDLE-FORMAT.md ("Key statements") is the
 * contract:
 *
 *   {"airpack_statement":1,"type":"succession","created":"2026-12-02T17:00:00Z",
 *    "key":"<old key ID>","successor":"<new public key, its base64 line>"}
 *   {"airpack_statement":1,"type":"revocation","created":"2026-12-02T17:00:00Z",
 *    "key":"<revoked key ID>","reason":"leaked"}
 *
 * A succession is signed by the old key; a revocation by the revoked key itself or
 * by its successor. The parser is strict and bounded: at most AP_STATEMENT_MAX_SIZE
 * bytes, nesting 1, no unknown or missing keys, every field checked. */
#ifndef AIRPACK_STATEMENT_H
#define AIRPACK_STATEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "minisign.h"
#include "timefmt.h"

#define AP_STATEMENT_FORMAT_VERSION 1
#define AP_STATEMENT_MAX_SIZE 4096u
#define AP_STATEMENT_REASON_MAX 200

typedef enum { AP_STATEMENT_SUCCESSION = 1, AP_STATEMENT_REVOCATION = 2 } ap_statement_type;

typedef struct {
    ap_statement_type type;
    char created[AP_TIME_LEN + 1];
    char key_id[2 * AP_KEYNUM_LEN + 1];         /* the old key (succession) or the revoked key */
    ap_pubkey successor;                        /* succession only */
    char reason[AP_STATEMENT_REASON_MAX + 1];   /* revocation only; may be empty */
} ap_statement;

const char *ap_statement_type_name(ap_statement_type t);   /* "succession", "revocation" */

/* Is this a key ID as minisign prints it (16 uppercase hex digits)? */
bool ap_key_id_valid(const char *s);

int ap_statement_parse(const char *buf, size_t len, ap_statement *out, ap_error *err);
/* Canonical compact JSON and a newline, NUL-terminated; caller frees. */
char *ap_statement_write(const ap_statement *st, size_t *len, ap_error *err);

/* Writes the statement to path and its signature by sk to path.minisig (each by temporary
 * file and rename; the signature first, so a statement never appears unsigned). */
int ap_statement_save(const char *path, const ap_statement *st, const ap_seckey *sk, ap_error *err);

/* Reads path and path.minisig (each bounded). *text and *sig are malloc'd, NUL-terminated;
 * a missing signature is AP_ERR_VERIFY "is not signed". */
int ap_statement_read(const char *path, char **text, size_t *len, char **sig, size_t *sig_len, ap_error *err);

#endif
