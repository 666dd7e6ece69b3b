/* load_state.h: what a target store has loaded, so that `load` refuses a rollback.
 *
 * Per target store, a state file records for each (signing key ID, channel) the
 * highest sequence loaded, with that bundle's created time and when it was loaded
 * (formats/BUNDLE-FORMAT.md "State file"). It lives in the store where the store is a
 * directory (oci:DIR: DIR/airpack-state.json), else in a state directory
 * (STATE_DIR/<kind>-<16 hex>.json, named after the target). Archive targets
 * (docker-archive:, oci-archive:) are files written whole, not stores: they have none.
 *
 * An open state holds a lock until it is closed (flock of ".<name>.lock" beside a file in
 * the state directory; for oci:DIR the store's own load lock, DIR/.airpack.lock, which the
 * target holds for the whole load), so loads into one store run one after the other and
 * each sees what the one before recorded: two loads racing keep the higher sequence. The file is
 * replaced atomically (temporary file, fsync, rename, directory fsync). A file that
 * is a symbolic link, not a regular file, or does not parse is refused with a
 * message naming it, never reset: airpack does not forget what was loaded. */
#ifndef AIRPACK_LOAD_STATE_H
#define AIRPACK_LOAD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"
#include "../formats/minisign.h"
#include "../formats/timefmt.h"

#define AP_STATE_FORMAT_VERSION 1
#define AP_STATE_FILE "airpack-state.json"
#define AP_STATE_MAX_SIZE (1u << 20)
#define AP_STATE_MAX_STREAMS 10000

typedef struct {
    char key_id[2 * AP_KEYNUM_LEN + 1];
    char channel[AP_CHANNEL_MAX + 1];
    uint64_t sequence;
    char created[AP_TIME_LEN + 1];    /* the bundle's created time */
    char loaded[AP_TIME_LEN + 1];     /* when it was loaded */
} load_state_stream;

typedef struct {
    char *target;                     /* the target the file is for (NULL in an oci:DIR store) */
    load_state_stream *streams;
    size_t n;
} load_state_doc;

/* Strict parser (the fuzz target's entry): size and depth caps, no unknown keys, every
 * field checked, no (key, channel) twice. AP_ERR_FORMAT naming `what`. */
int load_state_parse(const char *buf, size_t len, const char *what, load_state_doc *out, ap_error *err);
char *load_state_write(const load_state_doc *doc, size_t *len, ap_error *err);
void load_state_doc_free(load_state_doc *doc);

/* The default state directory: $AIRPACK_STATE_DIR, else /var/lib/airpack as root, else $XDG_STATE_HOME/airpack,
 * else ~/.local/state/airpack. */
int load_state_default_dir(char *out, size_t n, ap_error *err);

/* Where the state of `target` lives: 1 and *path set, or 0 for a target without state
 * (archives). state_dir NULL: the default. AP_ERR_USAGE for an unknown target. */
int load_state_path(const char *target, const char *state_dir, char *path, size_t n, ap_error *err);

typedef struct load_state load_state;

/* Opens the state at path for `target` (named in messages; recorded in and checked against
 * the file unless in_store, a state kept in the store itself, which may move), holding its lock (exclusive when `writing`,
 * else shared; a missing file and, when not writing, a missing directory are an empty
 * state). Refusals (symlink, not a regular file, corrupt, for another target) are
 * AP_ERR_FORMAT; a lock or read failure AP_ERR_IO. */
load_state *load_state_open(const char *path, const char *target, bool in_store, bool writing, ap_error *err);
void load_state_close(load_state *s);
/* What an open state holds. */
const load_state_doc *load_state_get(const load_state *s);

/* Who signed a bundle, and which keys succeed which (from the trusted-keys directory,
 * verify/trust_store.h): a key's records count for the keys it succeeds, so once a
 * successor loaded sequence S on a channel, an older key's bundle below S is a rollback. */
typedef struct {
    char from[2 * AP_KEYNUM_LEN + 1];   /* the old key */
    char to[2 * AP_KEYNUM_LEN + 1];     /* its successor */
} load_state_link;

typedef struct {
    const char *key_id;
    const load_state_link *successions;
    size_t n_successions;
} load_state_signer;

/* The rollback check: a lower sequence than the highest the store loaded on the bundle's
 * channel from the signer or any key that (transitively) succeeds it is AP_ERR_VERIFY
 * naming both sequences and created times and when the newer was loaded, unless
 * allow_rollback (then `note` says so). For a delta, `note` says when the store is not at
 * its base sequence. The file is read again first: a load that starts over (damaged parts
 * rebuilt) lets go of the store's lock and takes it again, and another load may have
 * recorded a sequence meanwhile. A file that became unusable is AP_ERR_TARGET. */
int load_state_check(load_state *s, const load_state_signer *signer, const ap_bundle_index *idx,
                     bool allow_rollback, char *note, size_t note_len, ap_error *err);
/* The same check against every state file in a state directory (verify --state-dir). */
int load_state_check_dir(const char *dir, const load_state_signer *signer, const ap_bundle_index *idx,
                         bool allow_rollback, char *note, size_t note_len, ap_error *err);

/* After a load committed: records the bundle's sequence when it is higher than the
 * recorded one (or the first), atomically. */
int load_state_record(load_state *s, const char *key_id, const ap_bundle_index *idx, ap_error *err);

#endif
