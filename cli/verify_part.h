/* verify_part.h: `airpack verify --part NAME.NNN` (and `verify NAME.003`): one part of a
 * split bundle checked against its signed sidecar (verify/part_check.h), printed as
 * text or one JSON object. Returns the exit status: 0 good, 1 bad (or the sidecar's
 * signature fails), 2 could not check. */
#ifndef AIRPACK_VERIFY_PART_H
#define AIRPACK_VERIFY_PART_H

#include <stdbool.h>

#include "keys.h"

int verify_one_part(const char *path, const trusted_keys *keys, bool as_json);

#endif
