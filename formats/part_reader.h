/* part_reader.h: the parts of a split bundle (NAME.000, NAME.001, ...) read as one stream.
 *
 * ap_part_read is an ap_read_fn: it reads the parts in order, never returning
 * bytes of two parts in one call, with one part file open at a time.
 * With a sidecar (NAME.parts, see parts.h) every part must exist and have its
 * listed size (ap_part_reader_check_all checks that up front; reading checks it
 * again), and each part's sha256 is checked when its last byte has been read:
 * a mismatch fails the read there, before any byte of the next part is
 * returned, naming the part ("damaged", or "holds the bytes of NAME.002" when
 * it matches another part: swapped or misnamed copies). Without a sidecar it
 * reads NAME.000, NAME.001, ... until the next one does not exist.
 * After a failure further down the pipeline (the verifier), ap_part_reader_explain
 * finishes hashing the current part and rewrites the error to name the damaged
 * part, the bundle entry and the byte offset inside the part. */
#ifndef AIRPACK_PART_READER_H
#define AIRPACK_PART_READER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "parts.h"

typedef struct ap_part_reader ap_part_reader;

/* base: the path without ".NNN" ("dir/site.airpack"). manifest: the parsed
 * sidecar (the reader keeps a copy) or NULL to read until a part is missing.
 * Fails (AP_ERR_IO) when NAME.000 cannot be opened. */
ap_part_reader *ap_part_reader_open(const char *base, const ap_parts_manifest *manifest, ap_error *err);
void ap_part_reader_free(ap_part_reader *r);

/* A SIGINT/SIGTERM flag: when it becomes nonzero, reads fail with AP_ERR_INTERRUPTED. */
void ap_part_reader_set_cancel(ap_part_reader *r, volatile sig_atomic_t *cancel);

/* With a sidecar: every listed part exists as a regular file of its listed size,
 * and no NAME.NNN beyond the last listed exists (a stale part). AP_ERR_VERIFY
 * naming the part. Without a sidecar: nothing to check, returns 0. */
int ap_part_reader_check_all(ap_part_reader *r, ap_error *err);

/* With a sidecar that lists parity parts: bad (data parts, then parity parts;
 * from formats/part_scan.h) names the parts not to read; each bad data part is
 * rebuilt while it is read, a stripe at a time (one stripe of each of the K
 * parts it is rebuilt from in memory, whatever the part size), from the first
 * K good parts, and its sha256 checked at its end like any part's. A mismatch
 * there means a part it was rebuilt from is damaged too (FAIL: damaged). Call
 * before reading. Fails when fewer than K parts are good. */
int ap_part_reader_heal(ap_part_reader *r, const bool *bad, ap_error *err);
/* Data parts being rebuilt. */
size_t ap_part_reader_healed(const ap_part_reader *r);

/* ap_read_fn over the parts; ctx is the ap_part_reader. */
ssize_t ap_part_read(void *ctx, void *buf, size_t n, ap_error *err);

/* Total size: the sidecar's, or the parts' sizes found on disk when opened. */
uint64_t ap_part_reader_total(const ap_part_reader *r);
size_t ap_part_reader_count(const ap_part_reader *r);

/* The part name and offset inside it of a bundle offset (from the sidecar, or
 * the sizes on disk). Returns -1 when the offset is past the end. */
int ap_part_reader_locate(const ap_part_reader *r, uint64_t offset, char *name, size_t n, uint64_t *in_part);

/* After a failed read of the whole stream: err holds the failure. If it came
 * from a part (missing, short, damaged), or the sidecar shows the current part
 * is damaged (its sha256 is computed by reading the rest of it), err is
 * rewritten to name that part; `entry` / `entry_offset` (where the pipeline
 * found the fault: an entry path or NULL, and its bundle offset; located=false
 * when unknown) are turned into "entry E at byte N of NAME.00k". Without a
 * damaged part found, a located fault gets "(byte N of NAME.00k)" added. */
void ap_part_reader_explain(ap_part_reader *r, const char *entry, uint64_t entry_offset, bool located,
                            ap_error *err);

#endif
