/* test_load_oci.c: the oci:DIR target driven directly (as the loader drives it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../../load/load_target.h"

typedef struct {
    const char *data;
    char hex[AP_HEX_LEN + 1];
    char path[128];
} blob;

typedef struct {
    blob b[3];                  /* layer, config, manifest */
    char *names[1];
    ap_index_layer layer;
    ap_index_image image;
    ap_index_entry entries[3];
    ap_bundle_index idx;
} bundle;

static void make_bundle(bundle *s, const char *name, const char *salt)
{
    memset(s, 0, sizeof *s);
    static char bufs[8][64];
    static int next;
    const char *kinds[3] = {"layer", "config", "manifest"};
    for (int i = 0; i < 3; i++) {
        char *d = bufs[next++ % 8];
        snprintf(d, 64, "%s-%s", kinds[i], salt);
        s->b[i].data = d;
        ap_sha256_hex(d, strlen(d), s->b[i].hex);
        memcpy(s->b[i].path, "blobs/sha256/", 13);
        memcpy(s->b[i].path + 13, s->b[i].hex, sizeof s->b[i].hex);
        s->entries[i].path = s->b[i].path;
        s->entries[i].size = strlen(d);
        memcpy(s->entries[i].sha256, s->b[i].hex, sizeof s->b[i].hex);
    }
    snprintf(s->layer.digest, sizeof s->layer.digest, "sha256:%s", s->b[0].hex);
    s->layer.size = strlen(s->b[0].data);
    s->layer.media_type = "application/vnd.oci.image.layer.v1.tar";
    snprintf(s->image.config.digest, sizeof s->image.config.digest, "sha256:%s", s->b[1].hex);
    s->image.config.size = strlen(s->b[1].data);
    snprintf(s->image.manifest.digest, sizeof s->image.manifest.digest, "sha256:%s", s->b[2].hex);
    s->image.manifest.size = strlen(s->b[2].data);
    s->names[0] = (char *)name;
    s->image.names = s->names;
    s->image.n_names = 1;
    s->image.platform = "linux/amd64";
    s->image.layers = &s->layer;
    s->image.n_layers = 1;
    s->idx.version = 1;
    s->idx.images = &s->image;
    s->idx.n_images = 1;
    s->idx.entries = s->entries;
    s->idx.n_entries = 3;
}

/* Drives the target like the loader; fail_at >= 0 aborts after that many entries. */
static int drive(const char *dir, bundle *s, int fail_at, load_result **res, size_t *n)
{
    ap_error err;
    load_options opts = {.tls_verify = true};
    load_target *t = load_oci_open(dir, &opts, &err);
    assert_non_null(t);
    assert_int_equal(t->ops->begin(t, &s->idx, &err), 0);
    for (int i = 0; i < 3; i++) {
        if (i == fail_at) {
            t->ops->abort(t);
            t->ops->close(t);
            return -1;
        }
        int want = t->ops->entry_begin(t, &s->entries[i], &err);
        assert_true(want >= 0);
        if (want) {
            assert_int_equal(t->ops->entry_data(t, s->b[i].data, 3, &err), 0);
            assert_int_equal(t->ops->entry_data(t, s->b[i].data + 3, strlen(s->b[i].data) - 3, &err), 0);
            assert_int_equal(t->ops->entry_end(t, &s->entries[i], &err), 0);
        }
    }
    int rc = t->ops->commit(t, &s->idx, res, n, &err);
    t->ops->close(t);
    return rc;
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/test_load_oci.XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || strncmp(de->d_name, ".airpack-tmp-", 13) == 0)
            n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static json_t *load_index(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/index.json", dir);
    return json_load_file(p, 0, NULL);
}

static void test_load_twice_and_second_image(void **state)
{
    (void)state;
    char *root = tmpdir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/new/layout", root);
    bundle a, b;
    make_bundle(&a, "docker.io/library/one:1", "a");
    make_bundle(&b, "docker.io/library/two:1", "b");
    load_result *res = NULL;
    size_t n = 0;
    assert_int_equal(drive(dir, &a, -1, &res, &n), 0);
    assert_int_equal(n, 1);
    assert_true(res[0].is_new);
    assert_string_equal(res[0].id, a.image.config.digest);
    load_results_free(res, n);

    char blobs[600];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dir);
    assert_int_equal(count_files(blobs), 3);
    json_t *ix = load_index(dir);
    assert_non_null(ix);
    json_t *m = json_object_get(ix, "manifests");
    assert_int_equal(json_array_size(m), 1);
    json_t *ann = json_object_get(json_array_get(m, 0), "annotations");
    assert_string_equal(json_string_value(json_object_get(ann, "io.containerd.image.name")),
                        "docker.io/library/one:1");
    /* ref.name is the full name too: a tag alone ("1") may name several images */
    assert_string_equal(json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name")),
                        "docker.io/library/one:1");
    json_decref(ix);

    /* again: already present, nothing written */
    assert_int_equal(drive(dir, &a, -1, &res, &n), 0);
    assert_false(res[0].is_new);
    load_results_free(res, n);

    /* a second image keeps the first */
    assert_int_equal(drive(dir, &b, -1, &res, &n), 0);
    load_results_free(res, n);
    ix = load_index(dir);
    assert_int_equal(json_array_size(json_object_get(ix, "manifests")), 2);
    json_decref(ix);
    assert_int_equal(count_files(blobs), 6);
    rm_rf(root);
    free(root);
}

static void test_abort_leaves_store(void **state)
{
    (void)state;
    char *dir = tmpdir();
    bundle a, b;
    make_bundle(&a, "docker.io/library/one:1", "c");
    make_bundle(&b, "docker.io/library/two:1", "d");
    load_result *res = NULL;
    size_t n = 0;
    assert_int_equal(drive(dir, &a, -1, &res, &n), 0);
    load_results_free(res, n);
    char blobs[600];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dir);
    assert_int_equal(drive(dir, &b, 2, &res, &n), -1);
    assert_int_equal(count_files(blobs), 3);   /* b's two written blobs removed, no temp file */
    json_t *ix = load_index(dir);
    assert_int_equal(json_array_size(json_object_get(ix, "manifests")), 1);
    json_decref(ix);
    rm_rf(dir);
    free(dir);
}

static void test_abort_in_fresh_dir_removes_it(void **state)
{
    (void)state;
    char *root = tmpdir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fresh", root);
    bundle a;
    make_bundle(&a, "docker.io/library/one:1", "e");
    assert_int_equal(drive(dir, &a, 1, NULL, NULL), -1);
    struct stat st;
    assert_int_equal(stat(dir, &st), -1);
    rm_rf(root);
    free(root);
}

static void test_same_name_replaced(void **state)
{
    (void)state;
    char *dir = tmpdir();
    bundle a, b;
    make_bundle(&a, "docker.io/library/app:1", "f");
    make_bundle(&b, "docker.io/library/app:1", "g");
    load_result *res = NULL;
    size_t n = 0;
    assert_int_equal(drive(dir, &a, -1, &res, &n), 0);
    load_results_free(res, n);
    assert_int_equal(drive(dir, &b, -1, &res, &n), 0);
    assert_true(res[0].is_new);
    load_results_free(res, n);
    json_t *ix = load_index(dir);
    json_t *m = json_object_get(ix, "manifests");
    assert_int_equal(json_array_size(m), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "digest")),
                        b.image.manifest.digest);
    json_decref(ix);
    rm_rf(dir);
    free(dir);
}

static void test_stale_temp_removed_and_bad_size_rewritten(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char p[700];
    snprintf(p, sizeof p, "%s/blobs", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/blobs/sha256", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/blobs/sha256/.airpack-tmp-stale1", dir);
    FILE *f = fopen(p, "w");
    fputs("junk", f);
    fclose(f);
    bundle a;
    make_bundle(&a, "docker.io/library/one:1", "h");
    snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, a.b[0].hex);
    f = fopen(p, "w");      /* a short (half-written) blob under the right name */
    fputs("la", f);
    fclose(f);
    load_result *res = NULL;
    size_t n = 0;
    assert_int_equal(drive(dir, &a, -1, &res, &n), 0);
    load_results_free(res, n);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal((size_t)st.st_size, strlen(a.b[0].data));
    snprintf(p, sizeof p, "%s/blobs/sha256", dir);
    assert_int_equal(count_files(p), 3);
    rm_rf(dir);
    free(dir);
}

static void test_image_filter(void **state)
{
    (void)state;
    bundle a;
    make_bundle(&a, "docker.io/library/one:1", "i");
    bool sel[1];
    ap_error err;
    const char *ok[] = {"one:1"};
    load_options o = {.images = ok, .n_images = 1};
    assert_int_equal(load_select_images(&a.idx, &o, sel, &err), 0);
    assert_true(sel[0]);
    const char *bad[] = {"two"};
    o.images = bad;
    assert_int_equal(load_select_images(&a.idx, &o, sel, &err), -1);
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "two"));
}

static void test_target_names(void **state)
{
    (void)state;
    ap_error err;
    load_options o = {.tls_verify = true};
    assert_null(load_target_open("tarball:/x", &o, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "oci:DIR"));
    assert_null(load_target_open("oci:", &o, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_twice_and_second_image),
        cmocka_unit_test(test_abort_leaves_store),
        cmocka_unit_test(test_abort_in_fresh_dir_removes_it),
        cmocka_unit_test(test_same_name_replaced),
        cmocka_unit_test(test_stale_temp_removed_and_bad_size_rewritten),
        cmocka_unit_test(test_image_filter),
        cmocka_unit_test(test_target_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
