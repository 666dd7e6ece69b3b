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
 *                the fuzzer picks (or no sidecar), then explain() on the result; with bit 6
 *                of the next byte set, the bytes are instead up to three data parts of 256
 *                bytes and two parity parts encoded from them, one part deleted or cut and
 *                one byte flipped where the fuzzer says, read back through the healing
 *                reader: a read that ends cleanly must give exactly the original bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../formats/digest.h"
#include "../../formats/parity.h"
#include "../../formats/part_reader.h"
#include "../../formats/part_scan.h"
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

static void write_named(const char *name, const uint8_t *data, size_t len)
{
    FILE *f = fopen(name, "wb");
    if (!f)
        abort();
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

/* Parity parts: any damage the reader does not refuse must leave the bytes intact. */
static void check_heal(const char *base, uint8_t mode, uint8_t cut1, uint8_t cut2, uint8_t flip, const uint8_t *data,
                       size_t size)
{
    enum { PS = 256, KMAX = 3, N = 2 };
    if (size == 0)
        return;
    if (size > KMAX * PS)
        size = KMAX * PS;
    size_t k = (size + PS - 1) / PS;
    unsigned char stripes[KMAX + N][PS];
    unsigned char *in[KMAX], *out[N];
    memset(stripes, 0, sizeof stripes);
    for (size_t i = 0; i < k; i++) {
        size_t n = size - i * PS < PS ? size - i * PS : PS;
        memcpy(stripes[i], data + i * PS, n);
        in[i] = stripes[i];
    }
    for (size_t j = 0; j < N; j++)
        out[j] = stripes[k + j];
    ap_error err;
    ap_rs *rs = ap_rs_encoder(k, N, &err);
    if (!rs)
        abort();
    ap_rs_run(rs, PS, in, out);
    ap_rs_free(rs);
    ap_part_info parts[KMAX], parity[N];
    memset(parts, 0, sizeof parts);
    memset(parity, 0, sizeof parity);
    ap_parts_manifest m = {.version = 2, .size = size, .part_size = PS, .parts = parts, .n_parts = k,
                           .parity = parity, .n_parity = N};
    snprintf(m.bundle, sizeof m.bundle, "f.tar");
    char name[160];
    for (size_t i = 0; i < k + N; i++) {
        ap_part_info *pi = i < k ? &parts[i] : &parity[i - k];
        pi->size = i < k ? (i + 1 < k ? PS : size - i * PS) : PS;
        if (i < k)
            ap_part_name(pi->name, sizeof pi->name, "f.tar", i);
        else
            ap_parity_name(pi->name, sizeof pi->name, "f.tar", i - k);
        ap_sha256_hex(stripes[i], pi->size, pi->sha256);
        ap_parts_any_name(base, &m, i, name, sizeof name);
        write_named(name, stripes[i], pi->size);
    }
    /* the damage: one part deleted or cut short, one byte flipped (maybe none) */
    size_t gone = cut1 % (k + N + 1), hit = cut2 % (k + N + 1);
    if (gone < k + N) {
        ap_parts_any_name(base, &m, gone, name, sizeof name);
        if (mode & 1)
            truncate(name, (off_t)(ap_parts_any(&m, gone)->size / 2));
        else
            unlink(name);
    }
    if (hit < k + N && hit != gone) {
        ap_parts_any_name(base, &m, hit, name, sizeof name);
        FILE *f = fopen(name, "r+b");
        if (f) {
            fseek(f, (long)(flip % ap_parts_any(&m, hit)->size), SEEK_SET);
            int c = fgetc(f);
            fseek(f, (long)(flip % ap_parts_any(&m, hit)->size), SEEK_SET);
            fputc((c ^ (1 + (mode >> 1 & 7))) & 0xff, f);
            fclose(f);
        }
    }
    ap_parts_damage d;
    if (ap_parts_scan(base, &m, (mode & 16) ? AP_SCAN_HASH_ALL : AP_SCAN_STAT, &d, NULL, &err) < 0)
        return;
    bool bad[KMAX + N];
    for (size_t i = 0; i < k + N; i++)
        bad[i] = ap_part_bad(d.st[i].state);
    char desc[2048];
    ap_parts_damage_describe(base, &m, &d, desc, sizeof desc);
    bool repairable = ap_parts_damage_repairable(&d);
    ap_parts_damage_free(&d);
    ap_part_reader *r = ap_part_reader_open(base, &m, &err);
    if (!r)
        return;
    if (repairable && ap_part_reader_heal(r, bad, &err) == 0 && ap_part_reader_check_all(r, &err) == 0) {
        uint8_t got_all[KMAX * PS + 1];  /* one byte spare: the last read asks for more, so the reader
                                            checks the last part (a read of 0 bytes returns 0 unchecked) */
        size_t total = 0;
        ssize_t got;
        while ((got = ap_part_read(r, got_all + total, sizeof got_all - total > 97 ? 97 : sizeof got_all - total,
                                   &err)) > 0)
            total += (size_t)got;
        if (got == 0 && (total != size || memcmp(got_all, data, size)))
            abort();    /* a clean end with other bytes than the original */
        if (got < 0)
            ap_part_reader_explain(r, NULL, 0, false, &err);
    }
    ap_part_reader_free(r);
    for (size_t i = 0; i < k + N; i++) {
        ap_parts_any_name(base, &m, i, name, sizeof name);
        unlink(name);
    }
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
    if (mode & 64) {
        check_heal(base, mode, cut1, cut2, flip, data, size);
        return;
    }
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
