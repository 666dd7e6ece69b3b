/* bundle_peek.h: `airpack ls`: the index at the front of a bundle, read and parsed but not
 * verified (its signature is not checked: that is the verifier's job, verifier.h).
 *
 * path is what bundle_input.h takes (a file, - for standard input, the first part of a split
 * bundle); only the index entry is read. A bundle whose first entry is not the index, an
 * index over AP_INDEX_MAX_SIZE, or one that does not parse is AP_ERR_FORMAT. */
#ifndef AIRPACK_BUNDLE_PEEK_H
#define AIRPACK_BUNDLE_PEEK_H

#include "../formats/bundle_index.h"
#include "../formats/error.h"

int bundle_peek_index(const char *path, ap_bundle_index *idx, ap_error *err);

#endif
