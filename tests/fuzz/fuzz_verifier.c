/* fuzz_verifier.c: arbitrary bytes as a bundle through ap_verify_stream, with a
 * fixed trusted key. Mode by the first byte:
 *   bit 0 clear: the rest is the bundle (most of it fails at the tar or the signature);
 *   bit 0 set:   the rest is a list of (offset, byte) edits, and optionally a cut,
 *                applied to a valid signed bundle built at startup, so the fuzzer
 *                reaches the entry checks and --deep.
 *   bit 1: --deep.  bits 2-4: read chunk size (short reads).
 * The verifier must refuse or accept without crashing; an accepted mutated bundle
 * must have the signed bytes of the original (only unsigned padding may differ). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/tar_reader.h"
#include "../../verify/verifier.h"
#include "../tools/mem_bundle.c"

static ap_pubkey pk;
static membuf valid;
static mem_bundle_parts parts;
static int ready;

static void init(void)
{
    ap_seckey sk;
    ap_error err;
    if (ap_minisign_init(&err) < 0)
        abort();
    ap_keypair_generate(&pk, &sk);
    if (mem_bundle_make(&sk, &valid, &parts, &err) < 0)
        abort();
    ap_seckey_wipe(&sk);
    /* self-check: the valid bundle verifies, deep too */
    memreader rd = {valid.data, valid.len, 0, 0};
    ap_verify_opts opts = {.keys = &pk, .n_keys = 1, .deep = true};
    if (ap_verify_stream(mem_read, &rd, "fuzz.tar", &opts, NULL, NULL, NULL, &err) < 0)
        abort();
    ready = 1;
}

static int count_data(void *ctx, const void *buf, size_t n, ap_error *err)
{
    (void)buf;
    (void)err;
    *(uint64_t *)ctx += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        init();
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    static const size_t chunks[8] = {0, 1, 3, 512, 513, 4096, 65536, 7};
    const unsigned char *bundle = data + 1;
    size_t len = size - 1;
    unsigned char *copy = NULL;
    if (mode & 1) {
        copy = malloc(valid.len);
        memcpy(copy, valid.data, valid.len);
        len = valid.len;
        size_t i = 1;
        for (; i + 2 < size; i += 3) {
            size_t off = ((size_t)data[i] << 8 | data[i + 1]) % valid.len;
            copy[off] = data[i + 2];
        }
        if (i + 1 < size && (data[i] & 1))      /* a cut */
            len = ((size_t)data[i + 1] * 64) % (valid.len + 1);
        bundle = copy;
    }
    memreader rd = {bundle, len, 0, chunks[(mode >> 2) & 7]};
    ap_verify_opts opts = {.keys = &pk, .n_keys = 1, .deep = (mode & 2) != 0};
    uint64_t seen = 0;
    ap_verify_sink sink = {.on_entry_data = count_data};
    ap_verify_report rep;
    ap_error err;
    int rc = ap_verify_stream(mem_read, &rd, "fuzz.tar", &opts, &sink, &seen, &rep, &err);
    if (rc == 0 && rep.entries_checked != 6)
        abort();    /* the signed index lists 6 entries: nothing else can verify */
    if (rc < 0 && (err.msg[0] == '\0' || err.code == AP_OK))
        abort();    /* every refusal says why */
    free(copy);
    return 0;
}
