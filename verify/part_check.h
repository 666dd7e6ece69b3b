/* part_check.h: `airpack verify --part NAME.NNN`: one part of a split bundle,
 * checked on its own against the signed sidecar, before the other parts arrive.
 *
 * Reads NAME.parts and NAME.parts.minisig next to the part, verifies the
 * signature with the trusted keys (an unsigned sidecar is refused: it proves
 * nothing), then checks the part's size and sha256 against its line in the
 * sidecar. The part is read once, in bounded memory. */
#ifndef AIRPACK_PART_CHECK_H
#define AIRPACK_PART_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/error.h"
#include "../formats/minisign.h"

typedef struct {
    size_t index;           /* 0 for NAME.000 (or NAME.p00 when parity) */
    size_t n_parts;         /* parts the sidecar lists */
    bool parity;            /* a parity part, NAME.pNN */
    size_t n_parity;        /* parity parts the sidecar lists */
    uint64_t size;          /* the size the sidecar lists */
    ap_sig_info sig;        /* who signed the sidecar */
    bool good;              /* size and sha256 match */
    char why[1024];         /* when not good: what differs */
    bool read_failed;       /* the part could not be opened or read (err: AP_ERR_IO): not a verdict */
} part_check_result;

/* Returns 0 with res->good telling the verdict, or -1 when the part could not
 * be checked: not a part name, no sidecar (AP_ERR_IO), a sidecar that does not
 * parse or whose signature does not verify (AP_ERR_VERIFY). */
int part_check(const char *part_path, const ap_pubkey *keys, size_t n_keys, part_check_result *res,
               ap_error *err);

#endif
