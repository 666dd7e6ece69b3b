/* test_load_engines.c: target names and credentials for the registry,
 * containerd and containers-storage targets (no network, no daemon: opening a
 * target does not contact anything). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../load/load_target.h"
#include "../../remote/registry_client.h"

static load_options opts = {.tls_verify = true};

static void registry_specs(void **state)
{
    (void)state;
    ap_error err = {0};
    load_target *t = load_registry_open("docker://", &opts, &err);
    assert_null(t);
    assert_int_equal(err.code, AP_ERR_USAGE);
    t = load_registry_open("docker://127.0.0.1:5000/Mirror", &opts, &err);
    assert_null(t);
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "prefix"));
    t = load_registry_open("docker://127.0.0.1:5000/mirror:tag", &opts, &err);
    assert_null(t);
    t = load_registry_open("docker://127.0.0.1:5000/mirror/sub/", &opts, &err);
    assert_non_null(t);
    assert_string_equal(t->ops->kind, "docker");
    t->ops->close(t);
    t = load_registry_open("docker://registry.example.com", &opts, &err);
    assert_non_null(t);
    t->ops->close(t);
}

static void registry_creds(void **state)
{
    (void)state;
    ap_error err = {0};
    reg_client_opts o = {.tls_verify = true, .creds = "alice"};
    assert_null(reg_client_open("127.0.0.1:5000", &o, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "USER:PASSWORD"));
    o.creds = NULL;
    o.authfile = "/nonexistent/airpack/config.json";
    assert_null(reg_client_open("127.0.0.1:5000", &o, &err));
    assert_int_equal(err.code, AP_ERR_USAGE);
    char path[] = "/tmp/airpack-authfile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *bad = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"***\"}}}";
    assert_int_equal(write(fd, bad, strlen(bad)), (int)strlen(bad));
    close(fd);
    o.authfile = path;
    assert_null(reg_client_open("127.0.0.1:5000", &o, &err));
    assert_int_equal(err.code, AP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "base64"));
    /* the entry for another host is not used; a good one is */
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"auths\":{\"https://other:1/v1/\":{\"auth\":\"***\"},"
               "\"http://127.0.0.1:5000\":{\"auth\":\"YWxpY2U6cHc=\"}}}");
    fclose(f);
    reg_client *c = reg_client_open("127.0.0.1:5000", &o, &err);
    assert_non_null(c);
    assert_string_equal(reg_client_host(c), "127.0.0.1:5000");
    assert_null(reg_client_base_url(c));   /* no network until the first request */
    reg_client_free(c);
    unlink(path);
    assert_null(reg_client_open("host/path", &o, &err));
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void layout_targets(void **state)
{
    (void)state;
    char tmp[] = "/tmp/airpack-unit-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    setenv("TMPDIR", tmp, 1);
    ap_error err = {0};
    load_target *t = load_containerd_open("bad/ns", &opts, &err);
    assert_null(t);
    assert_int_equal(err.code, AP_ERR_USAGE);
    t = load_containerd_open(NULL, &opts, &err);
    assert_non_null(t);
    assert_string_equal(t->ops->kind, "containerd");
    assert_int_equal(count_entries(tmp), 1);   /* its private layout */
    t->ops->abort(t);
    t->ops->close(t);
    assert_int_equal(count_entries(tmp), 0);
    t = load_containers_storage_open("containers-storage:[vfs@/x", &opts, &err);
    assert_null(t);
    assert_int_equal(err.code, AP_ERR_USAGE);
    t = load_containers_storage_open("containers-storage:[vfs@/x+/y]", &opts, &err);
    assert_non_null(t);
    assert_string_equal(t->ops->kind, "containers-storage");
    t->ops->close(t);
    t = load_containers_storage_open("containers-storage:", &opts, &err);
    assert_non_null(t);
    t->ops->close(t);
    assert_int_equal(count_entries(tmp), 0);
    unsetenv("TMPDIR");
    rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_specs),
        cmocka_unit_test(registry_creds),
        cmocka_unit_test(layout_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
