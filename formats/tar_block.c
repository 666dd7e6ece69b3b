/* tar_block.c: one fixed-size ustar header (see ap_tar_header_block in tar_writer.h). */
#include <stdio.h>
#include <string.h>

#include "tar_writer.h"

static void octal(unsigned char *field, size_t width, uint64_t v)
{
    /* width-1 octal digits, then NUL */
    snprintf((char *)field, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

int ap_tar_header_block(unsigned char out[512], const char *path, uint64_t size, int64_t mtime,
                        ap_error *err)
{
    size_t plen = strlen(path);
    if (plen == 0 || plen > AP_TAR_LEN(name))
        return ap_fail(err, AP_ERR_USAGE, "tar path '%s' must be 1 to 100 bytes", path);
    if (mtime < 0 || (uint64_t)mtime > 077777777777ULL)
        return ap_fail(err, AP_ERR_USAGE, "tar mtime %lld out of range", (long long)mtime);
    struct ap_tar_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.name, path, plen);
    octal(h.mode, sizeof h.mode, 0644);
    octal(h.uid, sizeof h.uid, 0);
    octal(h.gid, sizeof h.gid, 0);
    if (size <= 077777777777ULL) {
        octal(h.size, sizeof h.size, size);
    } else {
        h.size[0] = 0x80;                  /* GNU base-256: 0x80 then big-endian */
        for (int i = 11; i >= 4; i--) {
            h.size[i] = (unsigned char)(size & 0xff);
            size >>= 8;
        }
    }
    octal(h.mtime, sizeof h.mtime, (uint64_t)mtime);
    memset(h.chksum, ' ', sizeof h.chksum);   /* as spaces while summing */
    h.typeflag[0] = '0';                      /* regular file */
    memcpy(h.magic, AP_TAR_MAGIC_USTAR, sizeof h.magic + sizeof h.version);   /* "ustar\0" "00" */
    const unsigned char *bytes = (const unsigned char *)&h;
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += bytes[i];
    snprintf((char *)h.chksum, 8, "%06o", sum);   /* six digits, NUL, then the space stays */
    h.chksum[7] = ' ';
    memcpy(out, &h, sizeof h);
    return 0;
}
