/* fuzz_parts.c: the split-bundle sidecar parser and the part reader on arbitrary bytes.
 * Mode by the first byte:
 *   < 0x80       the rest is parsed as a sidecar (NAME.parts); whatever parses must
 *                write back canonically and parse again to the same bytes;
 *   0x80..0xbf   the rest is (offset, byte) edits applied to a valid sidecar (odd first
 *                byte: a version 2 sidecar with parity parts, whose code parameters,
 *                when they parse, must be within the code's limits and fit the parts);
 *   >= 0xc0      the rest is a bundle cut into up to three part files (sizes from the
 *                next two bytes) and read back through the part reader, with a
 *                sidecar made from the same bytes with one byte changed at an offset
 *                the fuzzer picks (or no sidecar), then explain() on the result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../formats/digest.h"
#include "../../formats/parity.h"
#include "../../formats/part_reader.h"
#include "../../formats/parts.h"

static const char valid[] =
    "{\"airpack_parts\":1,\"bundle\":\"b.tar\",\"size\":2097162,\"part_size\":1048576,\"parts\":["
    "{\"name\":\"b.tar.000\",\"size\":1048576,\"sha256\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
    "{\"name\":\"b.tar.001\",\"size\":1048576,\"sha256\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"},"
    "{\"name\":\"b.tar.002\",\"size\":10,\"sha256\":\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"}]}\n";

static const char valid_parity[] =
    "{\"airpack_parts\":2,\"bundle\":\"b.tar\",\"size\":2097162,\"part_size\":1048576,\"parts\":["
    "{\"name\":\"b.tar.000\",\"size\":1048576,\"sha256\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
    "{\"name\":\"b.tar.001\",\"size\":1048576,\"sha256\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"},"
    "{\"name\":\"b.tar.002\",\"size\":10,\"sha256\":\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"}],"
    "\"parity\":{\"code\":\"reed-solomon-cauchy-gf256\",\"data_parts\":3,\"parity_parts\":2},"
    "\"parity_parts\":[{\"name\":\"b.tar.p00\",\"size\":1048576,\"sha256\":\"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"},"
    "{\"name\":\"b.tar.p01\",\"size\":1048576,\"sha256\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"}]}\n";

static char dir[64];

static void check_sidecar(const char *buf, size_t len)
{
    ap_parts_manifest m;
    ap_error err;
    if (ap_parts_parse(buf, len, &m, &err) < 0)
        return;
    size_t n1, n2;
    char *w1 = ap_parts_write(&m, &n1, &err);
    if (!w1)
        abort();
    ap_parts_manifest back;
    if (ap_parts_parse(w1, n1, &back, &err) < 0)
        abort();
    char *w2 = ap_parts_write(&back, &n2, &err);
    if (!w2 || n1 != n2 || memcmp(w1, w2, n1))
        abort();
    size_t at;
    uint64_t off;
    if (m.size > 0 && ap_parts_locate(&m, m.size - 1, &at, &off) < 0)
        abort();
    if (m.n_parity) {   /* parameters that parsed are ones the code can take */
        if (m.n_parity > AP_PARITY_MAX || m.n_parts + m.n_parity > 256 || back.n_parity != m.n_parity)
            abort();
        for (size_t i = 0; i < m.n_parity; i++)
            if (m.parity[i].size != m.part_size)
                abort();
        ap_rs *rs = ap_rs_encoder(m.n_parts, m.n_parity, &err);
        if (!rs)
            abort();
        ap_rs_free(rs);
    }
    free(w1);
    free(w2);
    ap_parts_free(&back);
    ap_parts_free(&m);
}

static void write_part(const char *base, size_t i, const uint8_t *data, size_t len)
{
    char name[128];
    ap_part_name(name, sizeof name, base, i);
    FILE *f = fopen(name, "wb");
    if (!f)
        abort();
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

static void check_reader(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/airpack-fuzz-parts-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    if (size < 4)
        return;
    uint8_t mode = data[0], cut1 = data[1], cut2 = data[2], flip = data[3];
    data += 4;
    size -= 4;
    size_t a = size ? cut1 % (size + 1) : 0;
    size_t b = a + (size - a ? cut2 % (size - a + 1) : 0);
    size_t len[3] = {a, b - a, size - b};
    char base[128];
    snprintf(base, sizeof base, "%s/f.tar", dir);
    for (size_t i = 0; i < 4; i++) {
        char name[128];
        ap_part_name(name, sizeof name, base, i);
        unlink(name);
    }
    size_t n = (mode & 1) ? 2 : 3;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        write_part(base, i, data + at, len[i]);
        at += len[i];
    }
    ap_part_info parts[3];
    memset(parts, 0, sizeof parts);
    ap_parts_manifest m = {.version = 1, .size = size, .part_size = 256, .parts = parts, .n_parts = 3};
    snprintf(m.bundle, sizeof m.bundle, "f.tar");
    uint8_t *copy = malloc(size + 1);
    memcpy(copy, data, size);
    if (size && (mode & 2))
        copy[flip % size] ^= (uint8_t)(1 + (mode >> 2 & 7));
    at = 0;
    for (size_t i = 0; i < 3; i++) {
        ap_part_name(parts[i].name, sizeof parts[i].name, "f.tar", i);
        parts[i].size = len[i];
        ap_sha256_hex(copy + at, len[i], parts[i].sha256);
        at += len[i];
    }
    free(copy);
    ap_error err;
    ap_part_reader *r = ap_part_reader_open(base, (mode & 4) ? NULL : &m, &err);
    if (!r)
        return;
    int rc = ap_part_reader_check_all(r, &err);
    uint8_t buf[97];
    uint64_t total = 0;
    ssize_t got = 0;
    while (rc == 0 && (got = ap_part_read(r, buf, sizeof buf, &err)) > 0)
        total += (uint64_t)got;
    if (got == 0 && rc == 0 && (mode & 4) == 0 && total != size)
        abort();   /* with a sidecar, a clean end means every listed byte came */
    if (got < 0 || rc < 0 || (mode & 8)) {
        if (got >= 0 && rc == 0)
            ap_fail(&err, AP_ERR_VERIFY, "downstream fault");
        ap_part_reader_explain(r, (mode & 16) ? "blobs/sha256/x" : NULL, flip, (mode & 32) != 0, &err);
        if (!memchr(err.msg, '\0', sizeof err.msg))
            abort();
    }
    ap_part_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] < 0x80) {
        check_sidecar((const char *)data + 1, size - 1);
        return 0;
    }
    if (data[0] < 0xc0) {
        const char *from = (data[0] & 1) ? valid_parity : valid;
        size_t len = strlen(from);
        char buf[sizeof valid_parity];
        memcpy(buf, from, len + 1);
        for (size_t i = 1; i + 2 < size; i += 3)
            buf[((size_t)data[i] << 8 | data[i + 1]) % len] = (char)data[i + 2];
        check_sidecar(buf, len);
        return 0;
    }
    check_reader(data + 1, size - 1);
    return 0;
}
