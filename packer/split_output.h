/* split_output.h: the bundle writer's output when `pack --split SIZE`: parts
 * NAME.000, NAME.001, ... (formats/parts.h), every part but the last SIZE bytes.
 *
 * It takes positioned writes and truncation over the whole bundle's offsets,
 * as the bundle writer issues them (it rewrites entry headers and, at commit,
 * the reserved head), and maps them onto part files in a temporary directory
 * next to the output (.NAME.airpack-tmp-XXXXXX/000, 001, ...), one file open
 * at a time. Each part is hashed once, from the page cache, by a background
 * thread as soon as the writer says it is final (split_output_stable: no entry
 * header in it is still to be filled in); the rest (the head's part 000, the
 * last part) at the end, in one pass over the parts
 * (formats/part_stripes.h, two threads) that with --parity N also
 * encodes the N parity parts (temporary names p00 ..), streaming, a stripe at a
 * time, hashing them as they are written.
 * split_output_commit() writes the sidecar and its signature, then renames the
 * parts, the sidecar and the signature into place (removing stale NAME.NNN
 * beyond the new last part and a stale NAME.parts.minisig); until then nothing
 * appears under the output's name, and abort removes the temporary directory.
 * A bundle that would need more than AP_PARTS_MAX parts is refused. */
#ifndef AIRPACK_SPLIT_OUTPUT_H
#define AIRPACK_SPLIT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "../formats/error.h"
#include "../formats/parts.h"

typedef struct split_output split_output;

/* n_parity: 0, or N parity parts (formats/parity.h) encoded at finish. */
split_output *split_output_open(const char *output, uint64_t part_size, size_t n_parity, ap_error *err);

int split_output_pwrite(split_output *s, const void *buf, size_t n, uint64_t off, ap_error *err);
/* The writer says no byte in [head_end, upto) will be written again (nor cut off):
 * parts wholly in that range that were written out of order are hashed by a
 * background thread now, instead of at the end. */
void split_output_stable(split_output *s, uint64_t head_end, uint64_t upto);

/* Cuts the bundle back to len bytes (removing whole parts past it). */
int split_output_truncate(split_output *s, uint64_t len, ap_error *err);

/* The bundle is complete at `total` bytes: fsyncs the parts, writes the parity
 * parts, and fills *out (free with ap_parts_free) with each part's name, size
 * and sha256 (and the parity parts'). */
int split_output_finish(split_output *s, uint64_t total, ap_parts_manifest *out, ap_error *err);

/* Writes the sidecar text (and signature, unless sig is NULL), then renames everything into place. */
int split_output_commit(split_output *s, const char *sidecar, size_t len, const char *sig, size_t sig_len,
                        ap_error *err);

/* Removes the temporary directory and its files (safe to call twice, and after commit). */
void split_output_abort(split_output *s);
void split_output_free(split_output *s);

const char *split_output_temp_dir(const split_output *s);

/* For a signal handler: removes what split_output may have left in `dir`
 * (part files, sidecar, the directory); async-signal-safe. Harmless when
 * dir is not such a directory. */
void split_output_remove_temp_signal_safe(const char *dir);

#endif
