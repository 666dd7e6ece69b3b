/* fuzz_have_list.c: arbitrary bytes through the strict have.json parser
 * (formats/have_list.c). Mode by the first byte: < 0x80, the rest is parsed as
 * have.json; otherwise the rest is (offset, byte) edits of a valid one written
 * at startup, to reach the checks past the JSON syntax. Whatever parses must
 * write back, parse again, write the same bytes, and answer lookups. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/have_list.h"

#define HA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char *valid[2];
static size_t valid_len[2];

static void make_valid(void)
{
    ap_error err;
    ap_have_list h;
    if (ap_have_init(&h, "registry", "docker://r/p", 0, &err) < 0 ||
        ap_have_add_layer(&h, HA, 10, "application/vnd.oci.image.layer.v1.tar+gzip", HB, "p/a", &err) < 0 ||
        ap_have_add_layer(&h, HB, 7, "application/vnd.docker.image.rootfs.diff.tar.gzip", HA, NULL, &err) < 0 ||
        !(valid[0] = ap_have_write(&h, &valid_len[0], &err)))
        abort();
    ap_have_free(&h);
    const char *chain[] = {HA, HB};
    if (ap_have_init(&h, "docker", "docker-daemon:", 0, &err) < 0 || ap_have_add_chain(&h, chain, 2, &err) < 0 ||
        !(valid[1] = ap_have_write(&h, &valid_len[1], &err)))
        abort();
    ap_have_free(&h);
}

static void check(const char *buf, size_t len)
{
    ap_have_list h, back;
    ap_error err;
    if (ap_have_parse(buf, len, &h, &err) < 0)
        return;
    size_t n1, n2;
    char *w1 = ap_have_write(&h, &n1, &err);
    if (!w1 || ap_have_parse(w1, n1, &back, &err) < 0)
        abort();
    char *w2 = ap_have_write(&back, &n2, &err);
    if (!w2 || n1 != n2 || memcmp(w1, w2, n1))
        abort();
    const char *ids[] = {HA, HB};
    ap_have_layer got;
    (void)ap_have_holds(&h, ids, 1, &got);
    free(w1);
    free(w2);
    ap_have_free(&back);
    ap_have_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!valid[0])
        make_valid();
    if (size == 0)
        return 0;
    if (data[0] < 0x80) {
        check((const char *)data + 1, size - 1);
        return 0;
    }
    int v = data[0] & 1;
    char *buf = malloc(valid_len[v]);
    memcpy(buf, valid[v], valid_len[v]);
    for (size_t i = 1; i + 2 < size; i += 3)
        buf[((size_t)data[i] << 8 | data[i + 1]) % valid_len[v]] = (char)data[i + 2];
    check(buf, valid_len[v]);
    free(buf);
    return 0;
}
