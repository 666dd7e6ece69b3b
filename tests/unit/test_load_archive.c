/* test_load_archive.c: the docker-archive:/oci-archive: targets driven directly (as the loader drives them). */
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

#include "../../load/load_target.h"

typedef struct {
    const char *data;
    char hex[AP_HEX_LEN + 1];
    char path[128];
} blob;

/* One image: an uncompressed "layer" (its diff_id is its own digest), a config, a manifest. */
typedef struct {
    blob b[3];
    char *names[1];
    ap_index_layer layer;
    ap_index_image image;
    ap_index_entry entries[3];
    ap_bundle_index idx;
} bundle;

static void make_bundle(bundle *s, const char *name)
{
    memset(s, 0, sizeof *s);
    static const char *data[3] = {"layer bytes, not really a tar", "{\"config\":1}", "{\"manifest\":1}"};
    for (int i = 0; i < 3; i++) {
        s->b[i].data = data[i];
        ap_sha256_hex(data[i], strlen(data[i]), s->b[i].hex);
        memcpy(s->b[i].path, "blobs/sha256/", 13);
        memcpy(s->b[i].path + 13, s->b[i].hex, sizeof s->b[i].hex);
        s->entries[i].path = s->b[i].path;
        s->entries[i].size = strlen(data[i]);
        memcpy(s->entries[i].sha256, s->b[i].hex, sizeof s->b[i].hex);
    }
    snprintf(s->layer.digest, sizeof s->layer.digest, "sha256:%s", s->b[0].hex);
    snprintf(s->layer.diff_id, sizeof s->layer.diff_id, "sha256:%s", s->b[0].hex);
    s->layer.size = s->layer.uncompressed_size = strlen(data[0]);
    s->layer.media_type = "application/vnd.oci.image.layer.v1.tar";
    snprintf(s->image.config.digest, sizeof s->image.config.digest, "sha256:%s", s->b[1].hex);
    s->image.config.size = strlen(data[1]);
    snprintf(s->image.manifest.digest, sizeof s->image.manifest.digest, "sha256:%s", s->b[2].hex);
    s->image.manifest.size = strlen(data[2]);
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

/* Drives the target like the loader. fail_at >= 0 aborts before that entry. Returns the
 * first failing step's rc (and its message in msg) or commit's. */
static int drive(const char *spec, const char *comp, bundle *s, int fail_at, char *msg, size_t msg_len)
{
    ap_error err;
    ap_error_clear(&err);
    load_options opts = {.tls_verify = true, .layer_compression = comp};
    load_target *t = load_target_open(spec, &opts, &err);
    assert_non_null(t);
    int rc = t->ops->begin(t, &s->idx, &err);
    for (int i = 0; rc == 0 && i < 3; i++) {
        if (i == fail_at) {
            rc = -1;
            break;
        }
        int want = t->ops->entry_begin(t, &s->entries[i], &err);
        if (want < 0) {
            rc = -1;
            break;
        }
        if (want) {
            rc = t->ops->entry_data(t, s->b[i].data, 3, &err);
            if (rc == 0)
                rc = t->ops->entry_data(t, s->b[i].data + 3, strlen(s->b[i].data) - 3, &err);
            if (rc == 0)
                rc = t->ops->entry_end(t, &s->entries[i], &err);
        }
    }
    load_result *res = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = t->ops->commit(t, &s->idx, &res, &n, &err);
    if (rc < 0)
        t->ops->abort(t);
    else
        assert_int_equal(n, 1);
    load_results_free(res, n);
    t->ops->close(t);
    snprintf(msg, msg_len, "%s", err.msg);
    return rc;
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/test_load_archive.XXXXXX");
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
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

/* The entry names of the tar at path, one line, space-separated. */
static void tar_list(const char *path, char *out, size_t n)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "tar -tf '%s' | tr '\\n' ' '", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    assert_int_equal(pclose(p), 0);
}

static void test_docker_archive_written_and_renamed(void **state)
{
    (void)state;
    char *dir = tmpdir(), spec[1100], file[512], list[4096], msg[2048], want[1024];
    snprintf(file, sizeof file, "%s/out.tar", dir);
    snprintf(spec, sizeof spec, "docker-archive:%s", file);
    bundle s;
    make_bundle(&s, "docker.io/library/one:1");
    assert_int_equal(drive(spec, NULL, &s, -1, msg, sizeof msg), 0);
    assert_int_equal(count_files(dir), 1);   /* FILE only, no temporary file */
    tar_list(file, list, sizeof list);
    /* layer, config, the bundle's manifest (its only layer, a plain tar, went in as it is,
     * so the manifest keeps its digest), oci-layout, index.json, manifest.json */
    snprintf(want, sizeof want, "blobs/sha256/%s blobs/sha256/%s blobs/sha256/%s ", s.b[0].hex, s.b[1].hex,
             s.b[2].hex);
    assert_memory_equal(list, want, strlen(want));
    assert_non_null(strstr(list, " oci-layout index.json manifest.json "));
    rm_rf(dir);
    free(dir);
}

static void test_oci_archive_has_no_manifest_json(void **state)
{
    (void)state;
    char *dir = tmpdir(), spec[1100], file[512], list[4096], msg[2048];
    snprintf(file, sizeof file, "%s/oci.tar", dir);
    snprintf(spec, sizeof spec, "oci-archive:%s", file);
    bundle s;
    make_bundle(&s, "docker.io/library/one:1");
    assert_int_equal(drive(spec, "none", &s, -1, msg, sizeof msg), 0);
    tar_list(file, list, sizeof list);
    assert_null(strstr(list, "manifest.json"));
    assert_non_null(strstr(list, " oci-layout index.json "));
    rm_rf(dir);
    free(dir);
}

static void test_wrong_diff_id_leaves_nothing(void **state)
{
    (void)state;
    char *dir = tmpdir(), spec[1100], msg[2048];
    snprintf(spec, sizeof spec, "docker-archive:%s/out.tar", dir);
    bundle s;
    make_bundle(&s, "docker.io/library/one:1");
    s.layer.diff_id[20] = s.layer.diff_id[20] == 'a' ? 'b' : 'a';
    assert_int_equal(drive(spec, NULL, &s, -1, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "the index says diff_id"));
    assert_int_equal(count_files(dir), 0);
    rm_rf(dir);
    free(dir);
}

static void test_longer_than_uncompressed_size_refused(void **state)
{
    (void)state;
    char *dir = tmpdir(), spec[1100], msg[2048];
    snprintf(spec, sizeof spec, "docker-archive:%s/out.tar", dir);
    bundle s;
    make_bundle(&s, "docker.io/library/one:1");
    s.layer.uncompressed_size = 5;
    assert_int_equal(drive(spec, NULL, &s, -1, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "uncompressed_size of 5"));
    assert_int_equal(count_files(dir), 0);
    rm_rf(dir);
    free(dir);
}

static void test_abort_keeps_existing_file(void **state)
{
    (void)state;
    char *dir = tmpdir(), spec[1100], file[512], msg[2048], buf[64] = {0};
    snprintf(file, sizeof file, "%s/keep.tar", dir);
    snprintf(spec, sizeof spec, "oci-archive:%s", file);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("old contents", f);
    fclose(f);
    bundle s;
    make_bundle(&s, "docker.io/library/one:1");
    assert_int_equal(drive(spec, "gzip", &s, 1, msg, sizeof msg), -1);
    assert_int_equal(count_files(dir), 1);
    f = fopen(file, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "old contents");
    rm_rf(dir);
    free(dir);
}

static void test_options_refused(void **state)
{
    (void)state;
    ap_error err;
    load_options opts = {.tls_verify = true, .layer_compression = "zstd"};
    assert_null(load_target_open("docker-archive:/tmp/x.tar", &opts, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
    opts.layer_compression = "gzip";
    assert_null(load_target_open("oci:/tmp/x", &opts, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "--layer-compression"));
    opts.layer_compression = NULL;
    assert_null(load_target_open("oci-archive:", &opts, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_null(load_target_open("docker-archive:/tmp/", &opts, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_archive_written_and_renamed),
        cmocka_unit_test(test_oci_archive_has_no_manifest_json),
        cmocka_unit_test(test_wrong_diff_id_leaves_nothing),
        cmocka_unit_test(test_longer_than_uncompressed_size_refused),
        cmocka_unit_test(test_abort_keeps_existing_file),
        cmocka_unit_test(test_options_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
