/* tar_block.c: one fixed-size ustar header (see ap_tar_header_block in tar_writer.h). */
#include <stdio.h>
#include <string.h>

#include "tar_writer.h"

static void octal(char *field, size_t width, uint64_t v)
{
    /* width-1 octal digits, then NUL */
    snprintf(field, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

int ap_tar_header_block(unsigned char out[512], const char *path, uint64_t size, int64_t mtime,
                        ap_error *err)
{
    size_t plen = strlen(path);
    if (plen == 0 || plen > 100)
        return ap_fail(err, AP_ERR_USAGE, "tar path '%s' must be 1 to 100 bytes", path);
    if (mtime < 0 || (uint64_t)mtime > 077777777777ULL)
        return ap_fail(err, AP_ERR_USAGE, "tar mtime %lld out of range", (long long)mtime);
    char h[512];
    memset(h, 0, sizeof h);
    memcpy(h, path, plen);                 /* name[100] */
    octal(h + 100, 8, 0644);               /* mode */
    octal(h + 108, 8, 0);                  /* uid */
    octal(h + 116, 8, 0);                  /* gid */
    if (size <= 077777777777ULL) {
        octal(h + 124, 12, size);          /* size */
    } else {
        unsigned char *f = (unsigned char *)h + 124;   /* GNU base-256: 0x80 then big-endian */
        f[0] = 0x80;
        for (int i = 11; i >= 4; i--) {
            f[i] = (unsigned char)(size & 0xff);
            size >>= 8;
        }
    }
    octal(h + 136, 12, (uint64_t)mtime);   /* mtime */
    memset(h + 148, ' ', 8);               /* chksum, as spaces while summing */
    h[156] = '0';                          /* typeflag: regular file */
    memcpy(h + 257, "ustar", 6);           /* magic "ustar\0" */
    memcpy(h + 263, "00", 2);              /* version */
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);     /* six digits, NUL, then the space stays */
    h[155] = ' ';
    memcpy(out, h, sizeof h);
    return 0;
}
