/* parts.h: split bundles: part names, the --split size, and the parts sidecar.
 *
 * `pack --split SIZE -o NAME` writes the bundle as NAME.000, NAME.001, ...: every
 * part but the last exactly SIZE bytes, the parts concatenated byte for byte the
 * bundle. NAME.parts (the sidecar) lists them, canonical compact JSON:
 *   {"airpack_parts":1,"bundle":"NAME","size":N,"part_size":S,
 *    "parts":[{"name":"NAME.000","size":S,"sha256":"<hex>"},...]}
 * signed by NAME.parts.minisig (same key as the bundle). With `--parity N` the
 * sidecar is format version 2 and also holds
 *   "parity":{"code":"reed-solomon-cauchy-gf256","data_parts":K,"parity_parts":N},
 *   "parity_parts":[{"name":"NAME.p00","size":S,"sha256":"<hex>"},...]
 * (formats/parity.h: the code; every parity part is part_size bytes). A version 1
 * reader refuses version 2 rather than misreading it. Names in the sidecar
 * are base names (no directory). ap_parts_parse is strict on hostile input:
 * size cap, known version, names exactly bundle + "." + three digits in order,
 * sizes consistent (every part but the last is part_size, the sum is size);
 * the parity parameters are checked against the parts (data_parts is the number
 * of parts, parity_parts the number listed, 1..AP_PARITY_MAX, K + N <= 256, each
 * parity part part_size bytes) before anything is decoded. */
#ifndef AIRPACK_PARTS_H
#define AIRPACK_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "minisign.h"

#define AP_PARTS_FORMAT_VERSION 1          /* without parity parts */
#define AP_PARTS_FORMAT_VERSION_PARITY 2   /* with them */
#define AP_PARTS_MAX 1000                   /* NAME.000 .. NAME.999: `cat NAME.*` keeps the order */
#define AP_PARTS_MIN_SIZE (1ull << 20)      /* --split below 1 MiB is refused */
#define AP_PARTS_SIDECAR_MAX (1u << 20)     /* a larger sidecar is refused */
#define AP_PARTS_SIG_MAX (8u << 10)
#define AP_PARTS_SUFFIX ".parts"
#define AP_PARTS_SIG_SUFFIX ".parts.minisig"

typedef struct {
    char name[256];                   /* base name, "NAME.003" */
    uint64_t size;
    char sha256[AP_HEX_LEN + 1];
} ap_part_info;

typedef struct {
    int version;
    char bundle[252];                 /* base name of the unsplit bundle */
    uint64_t size;                    /* the whole bundle */
    uint64_t part_size;
    ap_part_info *parts;
    size_t n_parts;
    ap_part_info *parity;             /* NAME.p00 ..: n_parity of them, each part_size bytes */
    size_t n_parity;                  /* 0: no parity parts (format version 1) */
} ap_parts_manifest;

/* "4G", "4480M", "700M", "1048576": digits and an optional K, M or G (either
 * case; powers of 1024). Refuses anything else, 0, overflow, and sizes below
 * AP_PARTS_MIN_SIZE, with a message naming `what` ("--split"). */
int ap_parse_split_size(const char *s, uint64_t *out, const char *what, ap_error *err);

/* "NAME.003" into out (base may include a directory). Returns -1 if it does not fit. */
int ap_part_name(char *out, size_t n, const char *base, size_t index);

/* Whether path looks like a part ("DIR/NAME.NNN", three digits after the last
 * dot, something before it): sets *index and copies the base into base_out. */
bool ap_part_split_name(const char *path, char *base_out, size_t n, size_t *index);

/* Part i of the K + N the code sees: data parts first, then parity parts. */
const ap_part_info *ap_parts_any(const ap_parts_manifest *m, size_t i);

/* Whether path names a parity part ("DIR/NAME.pNN"): sets *index and the base. */
bool ap_parity_split_name(const char *path, char *base_out, size_t n, size_t *index);

/* Canonical JSON (with a final newline). Caller frees. */
char *ap_parts_write(const ap_parts_manifest *m, size_t *len, ap_error *err);
/* Parses and validates; *out owns memory: free with ap_parts_free. */
int ap_parts_parse(const char *buf, size_t len, ap_parts_manifest *out, ap_error *err);
void ap_parts_free(ap_parts_manifest *m);
/* A deep copy (free with ap_parts_free). */
int ap_parts_copy(ap_parts_manifest *dst, const ap_parts_manifest *src, ap_error *err);

/* The part at a bundle offset: *index and *offset_in_part (offset < size). */
int ap_parts_locate(const ap_parts_manifest *m, uint64_t offset, size_t *index, uint64_t *offset_in_part);

/* Reads a whole small file (at most max bytes) into a NUL-terminated buffer.
 * A missing file is AP_ERR_IO with errno ENOENT preserved in *missing. */
char *ap_read_small_file(const char *path, size_t max, size_t *len, bool *missing, ap_error *err);

/* The signed list of the split bundle base: base.parts read, its signature base.parts.minisig
 * checked against keys (sig_info filled), the list parsed into *m (free with ap_parts_free).
 * A bad signature or list is AP_ERR_VERIFY, its message naming the file. When a file is
 * missing, *missing says which (AP_PARTS_LIST_MISSING, AP_PARTS_SIG_MISSING; else 0), for
 * the caller to say what that means to it. */
enum { AP_PARTS_LIST_MISSING = 1, AP_PARTS_SIG_MISSING = 2 };
int ap_parts_read_signed(const char *base, const ap_pubkey *keys, size_t n_keys, ap_parts_manifest *m,
                         ap_sig_info *sig_info, int *missing, ap_error *err);

#endif
