/* bundle_input.h: where `verify`, `ls` and `load` read a bundle from.
 *
 * The argument is "-" (standard input), a bundle file, the first part of a
 * split bundle (NAME.000), or NAME when NAME does not exist but NAME.000 does.
 * Parts are read in order as one stream (formats/part_reader.h), checked
 * against the NAME.parts sidecar when it is there. A later part (NAME.003) is
 * refused here: `verify` checks such a part on its own (part_check.h).
 * bundle_input_explain turns a verification failure into one that names the
 * part (missing, short, swapped, damaged), the entry and the byte offset in
 * the part. */
#ifndef AIRPACK_BUNDLE_INPUT_H
#define AIRPACK_BUNDLE_INPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../formats/error.h"
#include "../formats/part_reader.h"
#include "../formats/part_scan.h"
#include "../formats/parts.h"
#include "../formats/stream.h"
#include "verifier.h"

typedef struct {
    const char *name;                 /* for messages: "stdin" or the argument */
    bool from_stdin;
    bool split;                       /* reading parts */
    bool have_sidecar;
    uint64_t total;                   /* bytes to read when known (progress), else 0 */
    size_t n_parts;
    ap_read_fn read;                  /* read with read_ctx */
    void *read_ctx;
    bool read_failed;                 /* a read failed (I/O error, connection reset, a part
                                         missing): the bundle could not be read, which is
                                         not a verification failure */
    /* private */
    ap_read_fn source_read;           /* the file's, stdin's or the parts' own read */
    void *source_ctx;
    int fd;
    ap_fd_reader fdr;
    volatile sig_atomic_t *cancel;
    ap_part_reader *parts;
    ap_parts_manifest sidecar;
    /* parity parts (sidecar version 2): which parts are bad, what is rebuilt */
    char base[4096];
    bool have_damage;
    ap_parts_damage damage;           /* from stat when opened; hashed after a failure */
    bool hashed_all;                  /* damage comes from hashing every part */
    bool retry;                       /* bundle_input_retry can read again through more damage */
    unsigned flags;
} bundle_input;

enum {
    BUNDLE_INPUT_ALL_PARTS = 1 << 0   /* verify, load: with a sidecar, every part must be present up front */
};

/* cancel (may be NULL): a signal flag; once nonzero, reads fail with AP_ERR_INTERRUPTED. */
int bundle_input_open(bundle_input *in, const char *arg, unsigned flags, volatile sig_atomic_t *cancel,
                      ap_error *err);
void bundle_input_close(bundle_input *in);

/* After reading failed: names the part at fault when there is one (see part_reader.h).
 * With parity parts it hashes every part, says which are bad and whether they can
 * be rebuilt (formats/part_scan.h), and when they can and more are bad than the
 * reader rebuilt, sets in->retry. */
void bundle_input_explain(bundle_input *in, const ap_verify_report *rep, ap_error *err);

/* After bundle_input_explain set in->retry: reopens the parts to read them again,
 * rebuilding every bad data part. 1: ready to read again; 0: no retry; -1: error. */
int bundle_input_retry(bundle_input *in, ap_error *err);

/* With parity parts: data parts rebuilt while reading (0 without parity). */
size_t bundle_input_healed(const bundle_input *in);

/* After a whole read succeeded, with parity parts: hashes the parity parts
 * (the data parts were checked as they were read) and describes the damage
 * into out ("" when every part is good, or without parity). Returns the number of
 * bad parts, or -1 on error. */
int bundle_input_damage(bundle_input *in, char *out, size_t n, ap_error *err);

/* Whether arg names a part other than the first (NAME.001 ... NAME.999) that exists
 * as a file, with NAME.000 or NAME.parts next to it. */
bool bundle_input_is_later_part(const char *arg);

#endif
