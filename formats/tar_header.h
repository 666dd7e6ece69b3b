/* tar_header.h: the one layout of a 512-byte ustar header, every field named
 * (as git's tar.h names them). Everything in airpack that reads or writes a tar
 * header (tar_reader.c, tar_writer.c, tar_block.c, chunker.c) goes through these
 * names, never bare offsets. A header block in a byte buffer is viewed as
 * `const struct ap_tar_header *` (all fields are bytes: no alignment, no padding).
 *
 * Numeric fields are octal text, NUL or space terminated; GNU tar stores values
 * that do not fit as base-256 (high bit of the first byte set). `chksum` is the
 * sum of all 512 bytes with its own 8 bytes counted as spaces. */
#ifndef AIRPACK_TAR_HEADER_H
#define AIRPACK_TAR_HEADER_H

#include <stddef.h>

#define AP_TAR_BLOCK 512

struct ap_tar_header {                 /* offset */
    unsigned char name[100];           /*   0 */
    unsigned char mode[8];             /* 100 */
    unsigned char uid[8];              /* 108 */
    unsigned char gid[8];              /* 116 */
    unsigned char size[12];            /* 124 */
    unsigned char mtime[12];           /* 136 */
    unsigned char chksum[8];           /* 148 */
    unsigned char typeflag[1];         /* 156 */
    unsigned char linkname[100];       /* 157 */
    unsigned char magic[6];            /* 257: "ustar\0" (POSIX); GNU: "ustar " */
    unsigned char version[2];          /* 263: "00" (POSIX); GNU: " \0" */
    unsigned char uname[32];           /* 265 */
    unsigned char gname[32];           /* 297 */
    unsigned char devmajor[8];         /* 329 */
    unsigned char devminor[8];         /* 337 */
    unsigned char prefix[155];         /* 345: ustar only, path = prefix "/" name */
    unsigned char padding[12];         /* 500 */
};

_Static_assert(sizeof(struct ap_tar_header) == AP_TAR_BLOCK, "a ustar header is one block");
_Static_assert(offsetof(struct ap_tar_header, prefix) == 345, "ustar field offsets");

#define AP_TAR_MAGIC_USTAR "ustar\0" "00"   /* magic + version, POSIX */
#define AP_TAR_MAGIC_GNU "ustar  \0"        /* magic + version, old GNU */

/* The field's offset and width in a header block, for code that loops over bytes. */
#define AP_TAR_OFF(field) offsetof(struct ap_tar_header, field)
#define AP_TAR_LEN(field) sizeof(((struct ap_tar_header *)0)->field)

#endif
