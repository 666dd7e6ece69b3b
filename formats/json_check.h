/* json_check.h: the checks every JSON document airpack reads from input goes through.
 *
 * Shared by the parsers of the bundle index (bundle_index.c) and of have.json
 * (have_list.c): a size limit and a nesting limit before any parser sees the
 * bytes, duplicate keys refused, and objects that may hold only the keys the
 * format defines. Every error is AP_ERR_FORMAT and names the document (`what`)
 * or the place in it (`where`). */
#ifndef AIRPACK_JSON_CHECK_H
#define AIRPACK_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"

/* At most this many keys and values in any JSON document read (counted as the ',' ':'
 * '[' '{' outside strings), so that parsing it stays within bounded memory: 1.6 million
 * short strings take about 165 MiB in jansson. An index of 12,800 one-layer images has
 * 666,000; 16,384 such images, 852,000. */
#define AP_JSON_MAX_TOKENS 1600000u

/* Refuses JSON nested deeper than max_depth (counting [ and { outside strings), or with
 * more than AP_JSON_MAX_TOKENS keys and values, before any parser sees it. Used for every
 * JSON airpack reads from input. */
int ap_json_check_depth(const char *buf, size_t len, int max_depth, const char *what, ap_error *err);

/* Parses buf after refusing more than max_size bytes ("WHAT: N bytes, over the
 * M MiB limit") and nesting deeper than max_depth; duplicate keys are refused.
 * Returns the root (the caller owns it) or NULL with *err set. */
json_t *ap_json_load_strict(const char *buf, size_t len, unsigned max_size, int max_depth, const char *what,
                            ap_error *err);

/* Only the listed keys may appear in obj ("WHERE: unknown key "K""). */
int ap_json_check_keys(json_t *obj, const char *const *keys, size_t n, const char *where, ap_error *err);

/* Is s one of the n strings in list? */
bool ap_str_in_list(const char *s, const char *const *list, size_t n);

#endif
