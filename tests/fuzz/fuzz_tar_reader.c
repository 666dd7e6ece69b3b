/* fuzz_tar_reader.c: any bytes through the tar reader, strict and not, with
 * short reads; it must return errors, never crash, read past a buffer or hang. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../formats/tar_reader.h"

typedef struct {
    const uint8_t *p;
    size_t len, pos, chunk;
} fuzz_input;

static ssize_t fuzz_read(void *ctx, void *buf, size_t n, ap_error *err)
{
    (void)err;
    fuzz_input *in = ctx;
    size_t k = in->len - in->pos;
    if (k > n)
        k = n;
    if (in->chunk && k > in->chunk)
        k = in->chunk;
    memcpy(buf, in->p + in->pos, k);
    in->pos += k;
    return (ssize_t)k;
}

static void run(const uint8_t *data, size_t size, unsigned flags, size_t chunk, size_t readsz)
{
    fuzz_input in = {data, size, 0, chunk};
    ap_error err;
    ap_tar_reader *r = ap_tar_reader_new(fuzz_read, &in, "fuzz.tar", flags, &err);
    if (!r)
        return;
    static unsigned char buf[200000];
    ap_tar_entry e;
    int rc, entries = 0;
    while ((rc = ap_tar_next(r, &e, &err)) == 1) {
        if (strnlen(e.path, sizeof e.path) == sizeof e.path ||
            strnlen(e.linkname, sizeof e.linkname) == sizeof e.linkname)
            __builtin_trap();       /* paths must be terminated */
        if ((flags & AP_TAR_STRICT) && (e.type != '0' || e.path[0] == '/' || !e.path[0]))
            __builtin_trap();       /* strict mode let a forbidden entry through */
        uint64_t got = 0;
        ssize_t k;
        /* read every other entry's data, skip the rest */
        if (entries++ % 2 == 0) {
            while ((k = ap_tar_read(r, buf, readsz, &err)) > 0)
                got += (uint64_t)k;
            if (k == 0 && got != e.size)
                __builtin_trap();
            if (k < 0)
                break;
        }
    }
    if (rc == 0)
        (void)ap_tar_finish(r, &err);
    if (ap_tar_offset(r) > size)
        __builtin_trap();
    ap_tar_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size ? (size_t)(data[size - 1] % 4) * 300 : 0;   /* 0 = unlimited */
    run(data, size, AP_TAR_STRICT, chunk, 200000);
    run(data, size, 0, chunk ? chunk + 1 : 0, 1000);
    return 0;
}
