/* part_scan.h: which parts of a split bundle with parity parts are bad, and
 * whether the parity parts can rebuild them.
 *
 * A part is bad when it is missing, not a regular file, of another size than
 * the signed list (NAME.parts) says (truncated, too long), or when its sha256
 * differs (damaged, or holding the bytes listed for another part: swapped or
 * misnamed; a parity part of another bundle is "damaged"). With N parity parts
 * any N bad parts, data or parity, can be rebuilt (formats/parity.h). */
#ifndef AIRPACK_PART_SCAN_H
#define AIRPACK_PART_SCAN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "parts.h"

typedef enum {
    AP_PART_GOOD = 0,
    AP_PART_UNCHECKED,      /* right size, content not hashed (a scan without hashing) */
    AP_PART_MISSING,
    AP_PART_NOT_FILE,
    AP_PART_TRUNCATED,
    AP_PART_TOO_LONG,
    AP_PART_DAMAGED,
    AP_PART_HOLDS_OTHER     /* holds the bytes listed for part `other` */
} ap_part_state;

typedef struct {
    ap_part_state state;
    size_t other;           /* AP_PART_HOLDS_OTHER: index among data then parity parts */
    uint64_t found_size;
} ap_part_status;

typedef struct {
    size_t k, n;            /* data parts, parity parts */
    ap_part_status *st;     /* k + n: data parts, then parity parts */
} ap_parts_damage;

static inline bool ap_part_bad(ap_part_state s)
{
    return s != AP_PART_GOOD && s != AP_PART_UNCHECKED;
}

/* Every part of m (base: the path without ".NNN"): stat for presence and size;
 * `hash` (AP_SCAN_HASH_DATA and/or AP_SCAN_HASH_PARITY) also hashes every
 * such part of the right size (both cores, streaming); the others of the right
 * size stay UNCHECKED. */
enum { AP_SCAN_STAT = 0, AP_SCAN_HASH_DATA = 1, AP_SCAN_HASH_PARITY = 2, AP_SCAN_HASH_ALL = 3 };
int ap_parts_scan(const char *base, const ap_parts_manifest *m, unsigned hash, ap_parts_damage *d,
                  volatile sig_atomic_t *cancel, ap_error *err);
void ap_parts_damage_free(ap_parts_damage *d);

size_t ap_parts_damage_bad(const ap_parts_damage *d, size_t *bad_data, size_t *bad_parity);
static inline bool ap_parts_damage_repairable(const ap_parts_damage *d)
{
    return ap_parts_damage_bad(d, NULL, NULL) <= d->n;
}

/* The name of part i (data then parity) into out. */
void ap_parts_any_name(const char *base, const ap_parts_manifest *m, size_t i, char *out, size_t n);

/* "3 of 12 data parts and 0 of 2 parity parts are bad: site.tar.004 damaged,
 * site.tar.007 missing; repairable (2 parity parts)", or beyond N: "...; not
 * repairable: 2 parity parts rebuild at most 2 bad parts; bring again
 * site.tar.004 (or any other 1 of the bad parts)". */
void ap_parts_damage_describe(const char *base, const ap_parts_manifest *m, const ap_parts_damage *d, char *out,
                              size_t n);

#endif
