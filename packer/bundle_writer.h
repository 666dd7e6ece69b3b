/* bundle_writer.h: writes a bundle file: reserved head, entries, end marker.
 *
 * The index must come first in the tar but lists the sizes and digests of
 * entries written after it. So the writer reserves room for the index and its
 * signature (an upper bound the packer computes from the final structure),
 * streams every later entry after that room, hashing each as it goes, and at
 * the end writes the index (padded with whitespace to the reserved size) and
 * signature into the head. Each entry's header is filled in when its data is
 * complete, so a layer's size and digest need not be known in advance.
 * The file is written under a temporary name in the output's directory and
 * renamed over the output only by bundle_writer_commit(); bundle_writer_abort()
 * (or a failed commit) removes it.
 * Split (bundle_writer_open_split with a part size): the same bytes go to parts
 * NAME.000, NAME.001, ... through split_output.h, and commit also writes the
 * NAME.parts sidecar, signed by the signer set with bundle_writer_set_sidecar_signer
 * (none: an unsigned sidecar). */
#ifndef AIRPACK_BUNDLE_WRITER_H
#define AIRPACK_BUNDLE_WRITER_H

#include <stdint.h>

#include "../formats/bundle_index.h"
#include "../formats/error.h"

typedef struct bundle_writer bundle_writer;

/* head_index_size: bytes reserved for the index JSON; sig_size: exact size of
 * the signature file, or 0 for an unsigned bundle (no signature entry). */
bundle_writer *bundle_writer_open(const char *output, int64_t mtime, size_t head_index_size,
                                  size_t sig_size, ap_error *err);
/* Like bundle_writer_open; part_size > 0 writes parts of that size (0: one file). */
/* n_parity: with parts, also N parity parts (packer/split_output.h). */
bundle_writer *bundle_writer_open_split(const char *output, uint64_t part_size, size_t n_parity, int64_t mtime,
                                        size_t head_index_size, size_t sig_size, ap_error *err);

/* Signs the sidecar text (file: its base name, for the trusted comment): *sig malloc'd. */
typedef int (*bundle_sidecar_sign_fn)(void *ctx, const char *text, size_t len, const char *file, char **sig,
                                      size_t *sig_len, ap_error *err);
void bundle_writer_set_sidecar_signer(bundle_writer *w, bundle_sidecar_sign_fn sign, void *ctx);

/* Streams one entry. Its path may be given at the end (blob paths depend on
 * the digest): pass NULL to begin and the path to end. */
int bundle_writer_begin(bundle_writer *w, ap_error *err);
int bundle_writer_write(bundle_writer *w, const void *buf, size_t n, ap_error *err);
/* An ap_sink_fn over bundle_writer_write: ctx is the bundle_writer. */
int bundle_writer_sink(void *ctx, const void *buf, size_t n, ap_error *err);
/* Finishes the entry; out (may be NULL) receives path, size and sha256. If
 * path is NULL, the entry is named blobs/sha256/<its sha256>. */
int bundle_writer_end(bundle_writer *w, const char *path, ap_index_entry *out, ap_error *err);

/* Takes back the entry just ended (the last one written): the file is cut back
 * to where its header began. For a layer that turned out not to be wanted
 * once its content was hashed. Call only right after bundle_writer_end(). */
int bundle_writer_drop_last(bundle_writer *w, ap_error *err);

/* A whole entry from memory. */
int bundle_writer_add(bundle_writer *w, const char *path, const void *data, size_t n,
                      ap_index_entry *out, ap_error *err);

/* Writes the end marker, then index and signature into the head (index_len
 * must be <= head_index_size; sig_len must equal sig_size), fsyncs and renames. */
int bundle_writer_commit(bundle_writer *w, const char *index, size_t index_len, const char *sig,
                         size_t sig_len, ap_error *err);

/* Removes the temporary file (safe after a failed commit, and to call twice). */
void bundle_writer_abort(bundle_writer *w);
void bundle_writer_free(bundle_writer *w);

/* The temporary file's path, for a signal handler to unlink (async-signal-safe use);
 * when split, the temporary directory (see split_output_remove_temp_signal_safe). */
const char *bundle_writer_temp_path(const bundle_writer *w);

/* Total bytes written so far. */
uint64_t bundle_writer_offset(const bundle_writer *w);

#endif
