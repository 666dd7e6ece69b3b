/* fuzz_bundle_index.c: arbitrary bytes through the strict bundle index parser.
 * Mode by the first byte: < 0x80, the rest is parsed as an index; otherwise the
 * rest is a list of (offset, byte) edits applied to a valid index written at
 * startup, so the fuzzer reaches the checks past the JSON syntax. Whatever
 * parses must write back canonically and parse again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/bundle_index.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static char *valid;
static size_t valid_len;

static void make_valid(void)
{
    static char *names[] = {"docker.io/library/a:1", "b:2"};
    static ap_index_layer layer = {.digest = "sha256:" HEX_A, .size = 10, .diff_id = "sha256:" HEX_C,
                                   .uncompressed_size = 20,
                                   .media_type = "application/vnd.oci.image.layer.v1.tar+gzip"};
    static ap_index_image image = {.names = names, .n_names = 2, .manifest = {"sha256:" HEX_C, 30},
                                   .config = {"sha256:" HEX_B, 40}, .platform = "linux/amd64",
                                   .layers = &layer, .n_layers = 1};
    static ap_index_entry entries[] = {{"blobs/sha256/" HEX_A, 10, HEX_A}, {"blobs/sha256/" HEX_B, 40, HEX_B},
                                       {"blobs/sha256/" HEX_C, 30, HEX_C}, {"oci-layout", 5, HEX_A},
                                       {"index.json", 6, HEX_B}, {"manifest.json", 7, HEX_C}};
    ap_bundle_index idx = {.version = 1, .created = "x", .tool = "fuzz", .compression = "gzip",
                           .images = &image, .n_images = 1, .entries = entries, .n_entries = 6};
    ap_error err;
    valid = ap_bundle_index_write(&idx, &valid_len, &err);
    if (!valid)
        abort();
}

static void check(const char *buf, size_t len)
{
    ap_bundle_index idx;
    ap_error err;
    (void)ap_json_check_depth(buf, len, AP_JSON_MAX_DEPTH, "fuzz", &err);
    if (ap_bundle_index_parse(buf, len, &idx, &err) < 0)
        return;
    size_t n1, n2;
    char *w1 = ap_bundle_index_write(&idx, &n1, &err);
    if (!w1)
        abort();    /* what parses must write */
    ap_bundle_index back;
    if (ap_bundle_index_parse(w1, n1, &back, &err) < 0)
        abort();
    char *w2 = ap_bundle_index_write(&back, &n2, &err);
    if (!w2 || n1 != n2 || memcmp(w1, w2, n1))
        abort();    /* canonical: write(parse(write(x))) == write(x) */
    free(w1);
    free(w2);
    ap_bundle_index_free(&back);
    ap_bundle_index_free(&idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!valid)
        make_valid();
    if (size == 0)
        return 0;
    if (data[0] < 0x80) {
        check((const char *)data + 1, size - 1);
        return 0;
    }
    char *buf = malloc(valid_len);
    memcpy(buf, valid, valid_len);
    for (size_t i = 1; i + 2 < size; i += 3)
        buf[((size_t)data[i] << 8 | data[i + 1]) % valid_len] = (char)data[i + 2];
    check(buf, valid_len);
    free(buf);
    return 0;
}
