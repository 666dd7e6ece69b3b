/* fuzz_statement.c: arbitrary bytes through the strict key-statement parser
 * (formats/statement.c). Mode by the first byte: < 0x80, the rest is parsed as a
 * statement; otherwise the rest is (offset, byte) edits of a valid succession or
 * revocation, to reach the checks past the JSON syntax. Whatever parses must write
 * back and parse again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/statement.h"

static const char *const valid[2] = {
    "{\"airpack_statement\":1,\"type\":\"succession\",\"created\":\"2026-12-02T17:45:39Z\","
    "\"key\":\"93149FD187DEB494\",\"successor\":\"RWTrLec/7Z6A1TKb4ynPte8EeVJAj3e6SdFGBQ0JpdPotLlYzzgafkdb\"}\n",
    "{\"airpack_statement\":1,\"type\":\"revocation\",\"created\":\"2026-12-02T17:45:39Z\","
    "\"key\":\"93149FD187DEB494\",\"reason\":\"laptop stolen\"}\n",
};

static void check(const char *buf, size_t len)
{
    ap_statement st, back;
    ap_error err;
    if (ap_statement_parse(buf, len, &st, &err) < 0)
        return;
    size_t n1, n2;
    char *w1 = ap_statement_write(&st, &n1, &err);
    if (!w1 || ap_statement_parse(w1, n1, &back, &err) < 0)
        abort();
    char *w2 = ap_statement_write(&back, &n2, &err);
    if (!w2 || n1 != n2 || memcmp(w1, w2, n1))
        abort();
    free(w1);
    free(w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] < 0x80) {
        check((const char *)data + 1, size - 1);
        return 0;
    }
    int v = data[0] & 1;
    size_t n = strlen(valid[v]);
    char *buf = malloc(n);
    memcpy(buf, valid[v], n);
    for (size_t i = 1; i + 2 < size; i += 3)
        buf[((size_t)data[i] << 8 | data[i + 1]) % n] = (char)data[i + 2];
    check(buf, n);
    free(buf);
    return 0;
}
