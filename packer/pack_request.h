/* pack_request.h: what `airpack pack` was asked, made into pack_run's options.
 *
 * The command line fills a pack_request (the options as given: codec, level, threads,
 * dense, delta sources, the inputs named and --images-from, --expires); pack_request_prepare
 * checks the combinations, applies the defaults that depend on others (--dense writes plain
 * tars unless a codec was given; -j with --dense is the number of segments compressed at
 * once), takes the time from SOURCE_DATE_EPOCH, reads --images-from, loads --have/--since
 * (checking their signatures with have_keys) and fills req->o ready for pack_run. Every
 * failure is an ap_error: AP_ERR_USAGE for options that do not go together, AP_ERR_IO for a
 * file that cannot be read, AP_ERR_VERIFY/AP_ERR_FORMAT for a have list or old bundle that
 * is forged or malformed. The caller then sets the key (pack_request_set_key) and the
 * progress callbacks. */
#ifndef AIRPACK_PACK_REQUEST_H
#define AIRPACK_PACK_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "../formats/error.h"
#include "../formats/have_list.h"
#include "../formats/minisign.h"
#include "pack.h"
#include "source.h"

typedef struct {
    pack_options o;                 /* as given; completed by pack_request_prepare */
    source_options so;              /* remote inputs, platforms */
    bool codec_given, threads_given;
    const char *const *args;        /* inputs named on the command line */
    size_t n_args;
    const char *images_from;        /* more inputs, one a line (# comments); NULL: none */
    const char *have_path;          /* pack --have FILE */
    const char *since_path;         /* pack --since OLD-BUNDLE */
    const ap_pubkey *have_keys;     /* checks FILE.minisig / the old bundle's signature */
    size_t n_have_keys;
    const char *expires;            /* a duration (30d) or a date; NULL: never */
    /* owned by the request, freed by pack_request_free */
    ap_have_list have;
    char *list_text;
    const char **inputs;
} pack_request;

/* The defaults: zstd, one thread per core. */
void pack_request_init(pack_request *req);
int pack_request_prepare(pack_request *req, ap_error *err);
/* Signs with key (NULL: unsigned); with --have, the delta's base sequence is what the far
 * side last loaded from this key on this channel. After pack_request_prepare. */
void pack_request_set_key(pack_request *req, const ap_seckey *key);
void pack_request_free(pack_request *req);

#endif
