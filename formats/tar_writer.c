/* tar_writer.c: deterministic ustar headers, with a pax 'x' header in front when
 * the path is longer than 100 bytes or the size does not fit 11 octal digits. */
#include "tar_writer.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NAME_LEN AP_TAR_LEN(name)
#define OCTAL_SIZE_MAX ((uint64_t)077777777777)     /* 8 GiB - 1 */
#define PAX_NAME_PREFIX "PaxHeaders.0/"

static bool needs_pax(size_t path_len, uint64_t size)
{
    return path_len > NAME_LEN || size > OCTAL_SIZE_MAX;
}

/* Length of one pax record "LEN key=value\n", LEN counting its own digits. */
static size_t pax_record_len(const char *key, size_t value_len)
{
    size_t base = 1 + strlen(key) + 1 + value_len + 1;   /* ' ' key '=' value '\n' */
    size_t len = base + 1;
    for (;;) {
        char digits[32];
        size_t d = (size_t)snprintf(digits, sizeof digits, "%zu", len);
        if (base + d == len)
            return len;
        len = base + d;
    }
}

static size_t pax_data_len(size_t path_len, uint64_t size)
{
    size_t n = 0;
    if (path_len > NAME_LEN)
        n += pax_record_len("path", path_len);
    if (size > OCTAL_SIZE_MAX) {
        char v[32];
        n += pax_record_len("size", (size_t)snprintf(v, sizeof v, "%llu", (unsigned long long)size));
    }
    return n;
}

size_t ap_tar_header_size(const char *path, uint64_t size)
{
    size_t len = strlen(path);
    if (!needs_pax(len, size))
        return AP_TAR_BLOCK;
    size_t data = pax_data_len(len, size);
    return AP_TAR_BLOCK + (data + AP_TAR_BLOCK - 1) / AP_TAR_BLOCK * AP_TAR_BLOCK + AP_TAR_BLOCK;
}

size_t ap_tar_padding(uint64_t size)
{
    return (size_t)((AP_TAR_BLOCK - size % AP_TAR_BLOCK) % AP_TAR_BLOCK);
}

uint64_t ap_tar_entry_span(const char *path, uint64_t size)
{
    return ap_tar_header_size(path, size) + size + ap_tar_padding(size);
}

/* Writes v as zero-padded octal filling width-1 digits and a NUL. */
static void put_octal(unsigned char *field, size_t width, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%0*llo", (int)(width - 1), (unsigned long long)v);
    memcpy(field, tmp, width - 1);
    field[width - 1] = '\0';
}

/* GNU base-256: high bit set in the first byte, big-endian value in the rest. */
static void put_base256(unsigned char *field, size_t width, uint64_t v)
{
    memset(field, 0, width);
    for (size_t i = width; i-- > 1 && v; v >>= 8)
        field[i] = (unsigned char)(v & 0xff);
    field[0] = 0x80;
}

static void fill_header(unsigned char *block, const char *name, size_t name_len, uint64_t size,
                        int64_t mtime, char type)
{
    struct ap_tar_header *h = (struct ap_tar_header *)block;
    memset(h, 0, AP_TAR_BLOCK);
    memcpy(h->name, name, name_len > NAME_LEN ? NAME_LEN : name_len);
    put_octal(h->mode, sizeof h->mode, 0644);
    put_octal(h->uid, sizeof h->uid, 0);
    put_octal(h->gid, sizeof h->gid, 0);
    if (size > OCTAL_SIZE_MAX)
        put_base256(h->size, sizeof h->size, size);   /* the pax "size" record is authoritative */
    else
        put_octal(h->size, sizeof h->size, size);
    put_octal(h->mtime, sizeof h->mtime, (uint64_t)mtime);
    h->typeflag[0] = (unsigned char)type;
    memcpy(h->magic, AP_TAR_MAGIC_USTAR, sizeof h->magic + sizeof h->version);
    put_octal(h->devmajor, sizeof h->devmajor, 0);
    put_octal(h->devminor, sizeof h->devminor, 0);
    memset(h->chksum, ' ', sizeof h->chksum);
    unsigned sum = 0;
    for (size_t i = 0; i < AP_TAR_BLOCK; i++)
        sum += block[i];
    char tmp[16];
    snprintf(tmp, sizeof tmp, "%06o", sum & 0777777);
    memcpy(h->chksum, tmp, 6);                        /* six digits, NUL, space */
    h->chksum[6] = '\0';
    h->chksum[7] = ' ';
}

static int check_path(const char *path, size_t len, ap_error *err)
{
    if (len == 0)
        return ap_fail(err, AP_ERR_USAGE, "tar entry has an empty path");
    if (path[0] == '/')
        return ap_fail(err, AP_ERR_USAGE, "tar entry %.300s has an absolute path", path);
    for (const char *c = path; *c;) {
        const char *end = strchr(c, '/');
        size_t clen = end ? (size_t)(end - c) : strlen(c);
        if (clen == 0 || (clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
            return ap_fail(err, AP_ERR_USAGE,
                           "tar entry %.300s has an empty, '.' or '..' component", path);
        if (!end)
            break;
        c = end + 1;
        if (!*c)
            return ap_fail(err, AP_ERR_USAGE, "tar entry %.300s ends with '/'", path);
    }
    return 0;
}

size_t ap_tar_header_write(unsigned char *out, const char *path, uint64_t size,
                           int64_t mtime, ap_error *err)
{
    size_t len = strlen(path);
    if (check_path(path, len, err))
        return 0;
    if (mtime < 0 || (uint64_t)mtime > (uint64_t)077777777777) {
        ap_fail(err, AP_ERR_USAGE, "tar entry %.300s: mtime %lld is out of range", path,
                (long long)mtime);
        return 0;
    }
    if (!needs_pax(len, size)) {
        fill_header(out, path, len, size, mtime, '0');
        return AP_TAR_BLOCK;
    }
    size_t data_len = pax_data_len(len, size);
    if (data_len > AP_TAR_BLOCK) {
        ap_fail(err, AP_ERR_USAGE, "tar entry %.300s...: path of %zu bytes is too long", path, len);
        return 0;
    }
    /* Pax header name: "PaxHeaders.0/<basename>", cut to 100 bytes. */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char pax_name[NAME_LEN + 1];
    snprintf(pax_name, sizeof pax_name, "%s%s", PAX_NAME_PREFIX, base);
    fill_header(out, pax_name, strlen(pax_name), data_len, mtime, 'x');

    unsigned char *data = out + AP_TAR_BLOCK;
    memset(data, 0, AP_TAR_BLOCK);
    size_t pos = 0;
    if (len > NAME_LEN)
        pos += (size_t)sprintf((char *)data + pos, "%zu path=%s\n", pax_record_len("path", len), path);
    if (size > OCTAL_SIZE_MAX) {
        char v[32];
        size_t vlen = (size_t)snprintf(v, sizeof v, "%llu", (unsigned long long)size);
        pos += (size_t)sprintf((char *)data + pos, "%zu size=%s\n", pax_record_len("size", vlen), v);
    }
    (void)pos;
    fill_header(out + 2 * AP_TAR_BLOCK, path, len, size, mtime, '0');
    return 3 * AP_TAR_BLOCK;
}
