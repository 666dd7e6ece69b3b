/* fuzz_load_state.c: arbitrary bytes through the strict state-file parser
 * (load/load_state.c). Mode by the first byte: < 0x80, the rest is parsed as a
 * state file; otherwise the rest is (offset, byte) edits of a valid one, to reach
 * the checks past the JSON syntax. Whatever parses must write back and parse again
 * to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../load/load_state.h"

static const char valid[] =
    "{\"airpack_state\":1,\"target\":\"docker-daemon:/run/d.sock\",\"streams\":["
    "{\"key\":\"0123456789ABCDEF\",\"channel\":\"default\",\"sequence\":1796000000,"
    "\"created\":\"2026-11-30T00:53:20Z\",\"loaded\":\"2026-12-02T17:37:48Z\"},"
    "{\"key\":\"0123456789ABCDEF\",\"channel\":\"apps\",\"sequence\":5,"
    "\"created\":\"2026-11-30T00:53:20Z\",\"loaded\":\"2026-12-02T17:37:48Z\"}]}";

static void check(const char *buf, size_t len)
{
    load_state_doc d, back;
    ap_error err;
    if (load_state_parse(buf, len, "state", &d, &err) < 0)
        return;
    size_t n1, n2;
    char *w1 = load_state_write(&d, &n1, &err);
    if (!w1 || load_state_parse(w1, n1, "state", &back, &err) < 0)
        abort();
    char *w2 = load_state_write(&back, &n2, &err);
    if (!w2 || n1 != n2 || memcmp(w1, w2, n1))
        abort();
    free(w1);
    free(w2);
    load_state_doc_free(&back);
    load_state_doc_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] < 0x80) {
        check((const char *)data + 1, size - 1);
        return 0;
    }
    size_t n = sizeof valid - 1;
    char *buf = malloc(n);
    memcpy(buf, valid, n);
    for (size_t i = 1; i + 2 < size; i += 3)
        buf[((size_t)data[i] << 8 | data[i + 1]) % n] = (char)data[i + 2];
    check(buf, n);
    free(buf);
    return 0;
}
