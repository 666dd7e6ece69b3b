/* test_bundle_index.c: the bundle index writer and its strict parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../formats/bundle_index.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HEX_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define HEX_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* One image (two names, one layer), and every entry a bundle has. */
static char *names[] = {"docker.io/library/nginx:1.25", "localhost:5000/nginx:1.25"};
static ap_index_layer layer = {
    .digest = "sha256:" HEX_A, .size = 111, .diff_id = "sha256:" HEX_D,
    .uncompressed_size = 4096, .media_type = "application/vnd.oci.image.layer.v1.tar+zstd"};
static ap_index_image image = {
    .names = names, .n_names = 2,
    .manifest = {"sha256:" HEX_C, 333}, .config = {"sha256:" HEX_B, 222},
    .platform = "linux/amd64", .layers = &layer, .n_layers = 1};
static ap_index_entry entries[] = {
    {"blobs/sha256/" HEX_A, 111, HEX_A},
    {"blobs/sha256/" HEX_B, 222, HEX_B},
    {"blobs/sha256/" HEX_C, 333, HEX_C},
    {"oci-layout", 30, HEX_E},
    {"index.json", 400, HEX_E},
    {"manifest.json", 500, HEX_E},
};
static const ap_bundle_index sample = {
    .version = 1, .created = "2026-11-28T00:00:00Z", .tool = "airpack 0.1.0", .compression = "zstd",
    .images = &image, .n_images = 1, .entries = entries, .n_entries = 6};

static char *sample_json(size_t *len)
{
    ap_error err;
    char *s = ap_bundle_index_write(&sample, len, &err);
    if (!s)
        fail_msg("write failed: %s", err.msg);
    return s;
}

/* sample JSON with the first `from` replaced by `to`. */
static char *sample_with(const char *from, const char *to)
{
    size_t len;
    char *s = sample_json(&len);
    char *at = strstr(s, from);
    if (!at)
        fail_msg("'%s' not in the sample JSON", from);
    size_t fl = strlen(from), tl = strlen(to);
    char *out = malloc(len - fl + tl + 1);
    memcpy(out, s, (size_t)(at - s));
    memcpy(out + (at - s), to, tl);
    strcpy(out + (at - s) + tl, at + fl);
    free(s);
    return out;
}

static void assert_refused(const char *json, const char *reason)
{
    ap_bundle_index idx;
    ap_error err;
    ap_error_clear(&err);
    int rc = ap_bundle_index_parse(json, strlen(json), &idx, &err);
    if (rc == 0)
        fail_msg("accepted, wanted refusal with '%s'", reason);
    assert_int_equal(err.code, AP_ERR_FORMAT);
    if (!strstr(err.msg, reason))
        fail_msg("message '%s' lacks '%s'", err.msg, reason);
}

static void refuse_edit(const char *from, const char *to, const char *reason)
{
    char *s = sample_with(from, to);
    assert_refused(s, reason);
    free(s);
}

static void test_round_trip(void **state)
{
    (void)state;
    size_t len;
    char *s = sample_json(&len);
    assert_int_equal(strlen(s), len);
    ap_bundle_index idx;
    ap_error err;
    assert_int_equal(ap_bundle_index_parse(s, len, &idx, &err), 0);
    assert_int_equal(idx.version, 1);
    assert_string_equal(idx.created, sample.created);
    assert_string_equal(idx.tool, sample.tool);
    assert_string_equal(idx.compression, "zstd");
    assert_int_equal(idx.n_images, 1);
    assert_int_equal(idx.images[0].n_names, 2);
    assert_string_equal(idx.images[0].names[1], "localhost:5000/nginx:1.25");
    assert_string_equal(idx.images[0].config.digest, "sha256:" HEX_B);
    assert_int_equal(idx.images[0].manifest.size, 333);
    assert_string_equal(idx.images[0].platform, "linux/amd64");
    assert_int_equal(idx.images[0].n_layers, 1);
    assert_string_equal(idx.images[0].layers[0].diff_id, "sha256:" HEX_D);
    assert_int_equal(idx.images[0].layers[0].uncompressed_size, 4096);
    assert_string_equal(idx.images[0].layers[0].media_type, layer.media_type);
    assert_int_equal(idx.n_entries, 6);
    assert_string_equal(idx.entries[5].path, "manifest.json");
    assert_string_equal(idx.entries[0].sha256, HEX_A);
    assert_non_null(ap_bundle_index_find(&idx, "index.json"));
    assert_null(ap_bundle_index_find(&idx, "nope"));
    /* write(parse(write(x))) == write(x), byte for byte */
    size_t len2;
    char *s2 = ap_bundle_index_write(&idx, &len2, &err);
    assert_non_null(s2);
    assert_int_equal(len, len2);
    assert_memory_equal(s, s2, len);
    ap_bundle_index_free(&idx);
    free(s2);
    free(s);
}

static void test_canonical_key_order(void **state)
{
    (void)state;
    size_t len;
    char *s = sample_json(&len);
    const char *want_prefix =
        "{\"airpack_bundle\":1,\"created\":\"2026-11-28T00:00:00Z\",\"tool\":\"airpack 0.1.0\","
        "\"compression\":\"zstd\",\"images\":[{\"names\":[\"docker.io/library/nginx:1.25\","
        "\"localhost:5000/nginx:1.25\"],\"manifest\":{\"digest\":\"sha256:" HEX_C "\",\"size\":333},"
        "\"config\":{\"digest\":\"sha256:" HEX_B "\",\"size\":222},\"platform\":\"linux/amd64\","
        "\"layers\":[{\"digest\":\"sha256:" HEX_A "\",\"size\":111,\"diff_id\":\"sha256:" HEX_D "\","
        "\"uncompressed_size\":4096,\"media_type\":\"application/vnd.oci.image.layer.v1.tar+zstd\"}]}],"
        "\"entries\":[{\"path\":\"blobs/sha256/" HEX_A "\",\"size\":111,\"sha256\":\"" HEX_A "\"},";
    assert_memory_equal(s, want_prefix, strlen(want_prefix));
    assert_null(strstr(s, ", "));
    assert_null(strstr(s, ": "));
    assert_null(strchr(s, '\n'));
    assert_int_equal(s[len - 1], '}');
    free(s);
}

static void test_padding_allowed_garbage_refused(void **state)
{
    (void)state;
    size_t len;
    char *s = sample_json(&len);
    char *padded = malloc(len + 100);
    memcpy(padded, s, len);
    memset(padded + len, ' ', 90);
    padded[len + 88] = '\n';
    padded[len + 89] = '\t';
    ap_bundle_index idx;
    ap_error err;
    assert_int_equal(ap_bundle_index_parse(padded, len + 90, &idx, &err), 0);
    ap_bundle_index_free(&idx);
    padded[len + 50] = 'x';
    assert_int_equal(ap_bundle_index_parse(padded, len + 90, &idx, &err), -1);
    padded[len + 50] = '\0';
    assert_int_equal(ap_bundle_index_parse(padded, len + 90, &idx, &err), -1);
    free(padded);
    free(s);
}

static void test_bad_digest(void **state)
{
    (void)state;
    /* uppercase hex, short hex, other algorithm, in image and layer fields */
    refuse_edit("sha256:" HEX_B, "sha256:" "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", "config");
    refuse_edit("\"diff_id\":\"sha256:" HEX_D, "\"diff_id\":\"sha256:dd", "diff_id");
    refuse_edit("\"digest\":\"sha256:" HEX_C, "\"digest\":\"sha512:" HEX_C, "manifest");
    refuse_edit("\"sha256\":\"" HEX_A "\"", "\"sha256\":\"" HEX_A "0\"", "sha256");
    /* a blob entry whose name is not its sha256 */
    refuse_edit("\"sha256\":\"" HEX_A "\"", "\"sha256\":\"" HEX_E "\"", "does not match the blob's name");
}

static void test_negative_and_bad_sizes(void **state)
{
    (void)state;
    refuse_edit("\"size\":111", "\"size\":-111", "negative");
    refuse_edit("\"uncompressed_size\":4096", "\"uncompressed_size\":-1", "negative");
    refuse_edit("\"size\":30", "\"size\":30.0", "not an integer");
    refuse_edit("\"size\":30", "\"size\":\"30\"", "not an integer");
    /* more than int64 holds: jansson refuses, so do we */
    refuse_edit("\"size\":30", "\"size\":18446744073709551616", "invalid JSON");
}

static void test_unknown_version(void **state)
{
    (void)state;
    refuse_edit("\"airpack_bundle\":1", "\"airpack_bundle\":4", "unknown bundle format version 4");
    /* version 2 is a delta's: it must expect a layer in the target */
    refuse_edit("\"airpack_bundle\":1", "\"airpack_bundle\":2", "no layer is expected in the target");
    /* version 3 is a dense bundle: it must say so, and only it may */
    refuse_edit("\"airpack_bundle\":1", "\"airpack_bundle\":3", "\"dense\" must be present exactly in a version 3");
    refuse_edit("\"compression\":", "\"dense\":{\"window_log\":27,\"unique_bytes\":1,\"zstd\":\"1.5.4\",\"blob_level\":1},"
                "\"compression\":", "\"dense\" must be present exactly in a version 3");
    refuse_edit("{\"path\":\"oci-layout\"", "{\"path\":\"airpack/dense/recipe\"", "in a bundle that is not dense");
    refuse_edit("\"airpack_bundle\":1", "\"airpack_bundle\":\"1\"", "unknown bundle format version");
    refuse_edit("\"airpack_bundle\":1", "\"airpack_bundlf\":1", "not an airpack bundle index");
}

static void test_duplicate_path(void **state)
{
    (void)state;
    refuse_edit("{\"path\":\"oci-layout\"", "{\"path\":\"index.json\"", "listed twice");
    /* duplicate keys in an object are refused too */
    refuse_edit("\"tool\":", "\"tool\":\"x\",\"tool\":", "invalid JSON");
}

static void test_image_blob_not_listed(void **state)
{
    (void)state;
    /* the layer entry now names another blob: the image's layer is unlisted */
    refuse_edit("{\"path\":\"blobs/sha256/" HEX_A "\",\"size\":111,\"sha256\":\"" HEX_A "\"}",
                "{\"path\":\"blobs/sha256/" HEX_E "\",\"size\":111,\"sha256\":\"" HEX_E "\"}",
                "is not a listed entry");
    /* listed, but the image says another size */
    refuse_edit("\"config\":{\"digest\":\"sha256:" HEX_B "\",\"size\":222}",
                "\"config\":{\"digest\":\"sha256:" HEX_B "\",\"size\":223}", "has size 223");
}

static void test_bad_paths_and_keys(void **state)
{
    (void)state;
    refuse_edit("\"path\":\"oci-layout\"", "\"path\":\"../oci-layout\"", "is not one a bundle may hold");
    refuse_edit("\"path\":\"oci-layout\"", "\"path\":\"/etc/passwd\"", "is not one a bundle may hold");
    refuse_edit("\"path\":\"oci-layout\"", "\"path\":\"blobs/sha256/../../x\"", "is not one a bundle may hold");
    refuse_edit("\"tool\":", "\"extra\":1,\"tool\":", "unknown key \"extra\"");
    refuse_edit("\"compression\":\"zstd\"", "\"compression\":\"lz4\"", "unknown compression");
    refuse_edit("\"media_type\":\"application/vnd.oci.image.layer.v1.tar+zstd\"",
                "\"media_type\":\"text/plain\"", "unknown layer media type");
    refuse_edit("\"names\":[\"docker.io/library/nginx:1.25\"", "\"names\":[7", "names[0]");
    assert_refused("[1,2,3]", "not a JSON object");
    assert_refused("", "invalid JSON");
}

static void test_depth_cap(void **state)
{
    (void)state;
    ap_error err;
    char deep[200];
    /* 32 levels pass the check, 33 do not; brackets inside strings do not count */
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    deep[64] = 0;
    assert_int_equal(ap_json_check_depth(deep, 64, AP_JSON_MAX_DEPTH, "x", &err), 0);
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    deep[66] = 0;
    assert_int_equal(ap_json_check_depth(deep, 66, AP_JSON_MAX_DEPTH, "x", &err), -1);
    assert_non_null(strstr(err.msg, "nested deeper than 32"));
    const char *str = "[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[\"]";
    assert_int_equal(ap_json_check_depth(str, strlen(str), 2, "x", &err), 0);
    /* the parser applies the cap itself */
    char *s = sample_with("\"tool\":", "\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],\"tool\":");
    assert_refused(s, "nested deeper than 32");
    free(s);
}

static void test_size_cap(void **state)
{
    (void)state;
    ap_bundle_index idx;
    ap_error err;
    /* refused by its length alone, before a byte is looked at */
    assert_int_equal(ap_bundle_index_parse("{}", (size_t)AP_INDEX_MAX_SIZE + 1, &idx, &err), -1);
    assert_non_null(strstr(err.msg, "over the 24 MiB limit"));
}

static void test_layer_described_twice_differently(void **state)
{
    (void)state;
    ap_index_layer l2 = layer;
    memcpy(l2.diff_id, "sha256:" HEX_E, AP_DIGEST_LEN + 1);
    ap_index_image images[2] = {image, image};
    images[1].layers = &l2;
    ap_bundle_index idx = sample;
    idx.images = images;
    idx.n_images = 2;
    ap_error err;
    size_t len;
    /* the writer refuses what the parser would refuse */
    assert_null(ap_bundle_index_write(&idx, &len, &err));
    assert_non_null(strstr(err.msg, "described differently"));
}

static void test_no_platform_no_names(void **state)
{
    (void)state;
    ap_index_image im = image;
    im.platform = NULL;
    im.n_names = 0;
    ap_bundle_index idx = sample;
    idx.images = &im;
    ap_error err;
    size_t len;
    char *s = ap_bundle_index_write(&idx, &len, &err);
    assert_non_null(s);
    assert_null(strstr(s, "platform"));
    ap_bundle_index back;
    assert_int_equal(ap_bundle_index_parse(s, len, &back, &err), 0);
    assert_null(back.images[0].platform);
    assert_int_equal(back.images[0].n_names, 0);
    ap_bundle_index_free(&back);
    free(s);
}

/* A delta: the layer is expected in the target, not carried (no entry). */
static void test_expected_layer(void **state)
{
    (void)state;
    ap_index_layer l = layer;
    l.expected = true;
    l.media_type = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    ap_index_image im = image;
    im.layers = &l;
    ap_bundle_index idx = sample;
    idx.images = &im;
    idx.entries = &entries[1];      /* no entry for the layer blob */
    idx.n_entries = 5;
    ap_error err;
    size_t len;
    char *s = ap_bundle_index_write(&idx, &len, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"airpack_bundle\":2,"));
    assert_non_null(strstr(s, "\"expected\":true"));
    ap_bundle_index back;
    assert_int_equal(ap_bundle_index_parse(s, len, &back, &err), 0);
    assert_int_equal(back.version, AP_BUNDLE_FORMAT_DELTA_VERSION);
    assert_true(back.images[0].layers[0].expected);
    assert_int_equal(ap_bundle_index_n_expected(&back), 1);
    ap_bundle_index_free(&back);
    /* an expected layer must not also be carried */
    idx.entries = entries;
    idx.n_entries = 6;
    assert_null(ap_bundle_index_write(&idx, &len, &err));
    assert_non_null(strstr(err.msg, "also listed as an entry"));
    /* "expected" must be true, and only in a version 2 index */
    char *t = strstr(s, "\"expected\":true");
    memcpy(t, "\"expected\":1   ", 15);
    assert_int_equal(ap_bundle_index_parse(s, len, &back, &err), -1);
    assert_non_null(strstr(err.msg, "\"expected\" is not true"));
    free(s);
    /* a carried layer has one of the OCI layer media types or, carried byte for byte
     * from a Docker schema 2 manifest, Docker's gzip or plain one: not Docker's zstd */
    l.expected = false;
    l.media_type = "application/vnd.docker.image.rootfs.diff.tar.zstd";
    idx.entries = entries;
    assert_null(ap_bundle_index_write(&idx, &len, &err));
    assert_non_null(strstr(err.msg, "unknown layer media type"));
}

/* A dense bundle: its layer blob is remade, not an entry; the recipe and a segment are. */
static int parse_dense(const char *compression, const char *media_type, const char *digest, uint64_t size,
                       ap_error *err)
{
    ap_index_layer l = layer;
    l.media_type = (char *)media_type;
    strcpy(l.digest, digest);
    l.size = size;
    ap_index_image im = image;
    im.layers = &l;
    ap_index_entry e[] = {
        {"airpack/dense/recipe", 64, HEX_E},
        {"airpack/dense/000000.zst", 100, HEX_E},
        {"blobs/sha256/" HEX_B, 222, HEX_B},
        {"blobs/sha256/" HEX_C, 333, HEX_C},
        {"oci-layout", 30, HEX_E},
        {"index.json", 400, HEX_E},
        {"manifest.json", 500, HEX_E},
    };
    ap_bundle_index d = sample;
    d.version = 3;
    d.compression = (char *)compression;
    d.images = &im;
    d.entries = e;
    d.n_entries = 7;
    d.dense_window_log = 27;
    d.dense_unique_bytes = 4096;
    d.dense_zstd = "1.5.4";
    d.dense_blob_level = strcmp(compression, "none") ? 1 : 0;
    size_t len;
    char *json = ap_bundle_index_write(&d, &len, err);   /* the writer checks as the parser does */
    if (!json)
        return -1;
    ap_bundle_index idx;
    ap_error_clear(err);
    int rc = ap_bundle_index_parse(json, len, &idx, err);
    if (rc == 0)
        ap_bundle_index_free(&idx);
    free(json);
    return rc;
}

/* Faithful images: a Docker manifest, an index for the name, a cosign signature; each
 * round-trips, and each inconsistency is refused with its reason. */
static void test_faithful_indexes_referrers(void **state)
{
    (void)state;
    static ap_index_entry ents[] = {
        {"blobs/sha256/" HEX_A, 111, HEX_A}, {"blobs/sha256/" HEX_B, 222, HEX_B},
        {"blobs/sha256/" HEX_C, 333, HEX_C}, {"blobs/sha256/" HEX_D, 44, HEX_D},
        {"blobs/sha256/" HEX_E, 55, HEX_E},  {"oci-layout", 30, HEX_E},
        {"index.json", 400, HEX_E},          {"manifest.json", 500, HEX_E},
    };
    ap_index_image im = image;
    im.manifest_media_type = AP_DOCKER_MANIFEST_MEDIA_TYPE;
    char mdigest[][AP_DIGEST_LEN + 1] = {"sha256:" HEX_C};
    char *iname[] = {names[0]};
    ap_index_index ix = {.names = iname, .n_names = 1, .blob = {"sha256:" HEX_D, 44},
                         .media_type = AP_DOCKER_LIST_MEDIA_TYPE, .manifests = mdigest, .n_manifests = 1,
                         .carried = true};
    ap_index_blob rblob = {"sha256:" HEX_B, 222};
    ap_index_referrer rf = {.subject = "sha256:" HEX_C, .tag = "sha256-" HEX_C ".sig",
                            .media_type = AP_OCI_MANIFEST_MEDIA_TYPE, .manifest = {"sha256:" HEX_E, 55},
                            .blobs = &rblob, .n_blobs = 1};
    ap_bundle_index b = sample;
    b.images = &im;
    b.entries = ents;
    b.n_entries = 8;
    b.indexes = &ix;
    b.n_indexes = 1;
    b.referrers = &rf;
    b.n_referrers = 1;
    size_t len;
    ap_error err;
    char *s = ap_bundle_index_write(&b, &len, &err);
    if (!s)
        fail_msg("write failed: %s", err.msg);
    ap_bundle_index back;
    assert_int_equal(ap_bundle_index_parse(s, len, &back, &err), 0);
    assert_string_equal(ap_index_image_manifest_type(&back.images[0]), AP_DOCKER_MANIFEST_MEDIA_TYPE);
    assert_int_equal(back.n_indexes, 1);
    assert_true(back.indexes[0].carried);
    assert_string_equal(back.indexes[0].manifests[0], "sha256:" HEX_C);
    assert_int_equal(back.n_referrers, 1);
    assert_string_equal(back.referrers[0].tag, "sha256-" HEX_C ".sig");
    ap_bundle_index_free(&back);
    /* refusals */
    struct { const char *from, *to, *why; } bad[] = {
        {"manifest.v2+json\"", "manifest.v3+json\"", "manifest_media_type"},
        {"\"manifests\":[\"sha256:" HEX_C, "\"manifests\":[\"sha256:" HEX_A, "is no image of the index"},
        {"list.v2+json\",\"manifests", "list.v9+json\",\"manifests", "is not an image index's"},
        {"\"tag\":\"sha256-" HEX_C ".sig", "\"tag\":\"sha256-" HEX_C ".xyz", "is not sha256-<subject hex>"},
        {"\"subject\":\"sha256:" HEX_C, "\"subject\":\"sha256:" HEX_A, "is not sha256-<subject hex>"},
        {"\"size\":55}", "\"size\":56}", "has size"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *at = strstr(s, bad[i].from);
        if (!at)
            fail_msg("'%s' not in the JSON", bad[i].from);
        char *t = strdup(s);
        memcpy(t + (at - s), bad[i].to, strlen(bad[i].to));
        assert_refused(t, bad[i].why);
        free(t);
    }
    free(s);
}

static void test_dense_layer_forms(void **state)
{
    (void)state;
    ap_error err;
    const char *zst = "application/vnd.oci.image.layer.v1.tar+zstd", *tar = "application/vnd.oci.image.layer.v1.tar";
    /* zstd blobs (the default) */
    assert_int_equal(parse_dense("zstd", zst, "sha256:" HEX_A, 111, &err), 0);
    assert_int_equal(parse_dense("zstd", tar, "sha256:" HEX_A, 111, &err), -1);
    assert_non_null(strstr(err.msg, "compression zstd has application/vnd.oci.image.layer.v1.tar+zstd layers"));
    /* --compression none: the plain tar, its digest the diff_id */
    assert_int_equal(parse_dense("none", tar, "sha256:" HEX_D, 4096, &err), 0);
    assert_int_equal(parse_dense("none", zst, "sha256:" HEX_D, 4096, &err), -1);
    assert_non_null(strstr(err.msg, "compression none has application/vnd.oci.image.layer.v1.tar layers"));
    assert_int_equal(parse_dense("none", tar, "sha256:" HEX_A, 4096, &err), -1);
    assert_non_null(strstr(err.msg, "must have its diff_id as digest"));
    assert_int_equal(parse_dense("none", tar, "sha256:" HEX_D, 111, &err), -1);
    assert_non_null(strstr(err.msg, "uncompressed size as size"));
    /* never gzip */
    assert_int_equal(parse_dense("gzip", zst, "sha256:" HEX_A, 111, &err), -1);
    assert_non_null(strstr(err.msg, "zstd or none, not gzip"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_canonical_key_order),
        cmocka_unit_test(test_padding_allowed_garbage_refused),
        cmocka_unit_test(test_bad_digest),
        cmocka_unit_test(test_negative_and_bad_sizes),
        cmocka_unit_test(test_unknown_version),
        cmocka_unit_test(test_duplicate_path),
        cmocka_unit_test(test_image_blob_not_listed),
        cmocka_unit_test(test_bad_paths_and_keys),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_layer_described_twice_differently),
        cmocka_unit_test(test_no_platform_no_names),
        cmocka_unit_test(test_expected_layer),
        cmocka_unit_test(test_dense_layer_forms),
        cmocka_unit_test(test_faithful_indexes_referrers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
