/* test_have_list.c: have.json (what a far-side store holds): writer, strict parser, lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../formats/have_list.h"

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
                       c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define GZ "application/vnd.oci.image.layer.v1.tar+gzip"

static void parse_fails(const char *json, const char *want)
{
    ap_have_list h;
    ap_error err;
    ap_error_clear(&err);
    assert_int_equal(ap_have_parse(json, strlen(json), &h, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("message '%s' does not say '%s'", err.msg, want);
    assert_int_equal(err.code, AP_ERR_FORMAT);
}

static void test_round_trip(void **state)
{
    (void)state;
    ap_have_list h;
    ap_error err;
    assert_int_equal(ap_have_init(&h, "registry", "docker://127.0.0.1:5000/m", 0, &err), 0);
    assert_int_equal(ap_have_add_layer(&h, D("a"), 10, GZ, D("b"), "m/app", &err), 0);
    assert_int_equal(ap_have_add_layer(&h, D("a"), 10, GZ, D("b"), "m/other", &err), 0); /* same blob: once */
    assert_int_equal(ap_have_add_layer(&h, D("c"), 20, "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                       D("d"), NULL, &err), 0);
    assert_int_equal(h.n_layers, 2);
    size_t len;
    char *s = ap_have_write(&h, &len, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, "{\"airpack_have\":1,\"kind\":\"registry\","));
    ap_have_list back;
    assert_int_equal(ap_have_parse(s, len, &back, &err), 0);
    assert_string_equal(back.kind, "registry");
    assert_int_equal(back.n_layers, 2);
    assert_string_equal(back.layers[0].repository, "m/app");
    assert_null(back.layers[1].repository);
    char *s2 = ap_have_write(&back, NULL, &err);
    assert_string_equal(s, s2);
    free(s);
    free(s2);
    ap_have_free(&back);
    ap_have_free(&h);
}

static void test_holds_by_diff_id(void **state)
{
    (void)state;
    ap_have_list h;
    ap_error err;
    assert_int_equal(ap_have_init(&h, "oci", "oci:/x", 0, &err), 0);
    assert_int_equal(ap_have_add_layer(&h, D("a"), 10, GZ, D("b"), NULL, &err), 0);
    const char *ids[] = {D("9"), D("b")};
    ap_have_layer got;
    assert_false(ap_have_holds(&h, ids, 0, &got));
    assert_true(ap_have_holds(&h, ids, 1, &got));   /* OCI: by diff_id, whatever lies below */
    assert_string_equal(got.digest, D("a"));
    assert_int_equal(got.size, 10);
    assert_string_equal(got.media_type, GZ);
    ap_have_free(&h);
}

static void test_docker_chains(void **state)
{
    (void)state;
    ap_have_list h;
    ap_error err;
    assert_int_equal(ap_have_init(&h, "docker", "docker-daemon:", 0, &err), 0);
    const char *chain[] = {D("1"), D("2"), D("3")};
    assert_int_equal(ap_have_add_chain(&h, chain, 3, &err), 0);
    assert_int_equal(ap_have_add_chain(&h, chain, 3, &err), 0);
    assert_int_equal(h.n_chains, 1);
    const char *same_base[] = {D("1"), D("2"), D("7")};
    const char *other_base[] = {D("5"), D("2")};
    ap_have_layer got;
    assert_true(ap_have_holds(&h, same_base, 0, &got));
    assert_string_equal(got.digest, D("1"));         /* named by its diff_id: no blob */
    assert_string_equal(got.media_type, AP_HAVE_DOCKER_MEDIA_TYPE);
    assert_true(ap_have_holds(&h, same_base, 1, NULL));
    assert_false(ap_have_holds(&h, same_base, 2, NULL));
    /* diff_id 2 is held, but not on top of diff_id 5: docker would read it */
    assert_false(ap_have_holds(&h, other_base, 1, NULL));
    char *s = ap_have_write(&h, NULL, &err);
    assert_non_null(strstr(s, "\"layers\":[],\"chains\":[["));
    ap_have_list back;
    assert_int_equal(ap_have_parse(s, strlen(s), &back, &err), 0);
    assert_int_equal(back.n_chains, 1);
    assert_int_equal(back.chains[0].n, 3);
    free(s);
    ap_have_free(&back);
    ap_have_free(&h);
}

static void test_hostile(void **state)
{
    (void)state;
    const char *L = "\"target\":\"x\",\"created\":\"x\",\"layers\":";
    char buf[2048];
    parse_fails("", "invalid JSON");
    parse_fails("[]", "not a JSON object");
    parse_fails("{}", "no \"airpack_have\"");
    parse_fails("{\"airpack_have\":2,\"kind\":\"oci\"}", "unknown format version");
    parse_fails("{\"airpack_have\":\"1\"}", "unknown format version");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"nfs\",%s[]}", L);
    parse_fails(buf, "unknown target kind");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s[],\"x\":1}", L);
    parse_fails(buf, "unknown key \"x\"");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s{}}", L);
    parse_fails(buf, "\"layers\" is missing or not an array");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s[{\"digest\":\"sha256:../x\",\"size\":1,"
             "\"media_type\":\"" GZ "\",\"diff_id\":\"" D("b") "\"}]}", L);
    parse_fails(buf, "layers[0]: \"digest\"");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s[{\"digest\":\"" D("a") "\",\"size\":-5,"
             "\"media_type\":\"" GZ "\",\"diff_id\":\"" D("b") "\"}]}", L);
    parse_fails(buf, "\"size\" is not a non-negative integer");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s[{\"digest\":\"" D("a") "\",\"size\":1,"
             "\"media_type\":\"text/plain\",\"diff_id\":\"" D("b") "\"}]}", L);
    parse_fails(buf, "unknown layer media type");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s[{\"digest\":\"" D("a") "\",\"size\":1,"
             "\"media_type\":\"" GZ "\",\"diff_id\":\"" D("b") "\",\"repository\":\"a b\"}]}", L);
    parse_fails(buf, "not a repository path");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s[{\"digest\":\"" D("a") "\",\"size\":1,"
             "\"media_type\":\"" GZ "\",\"diff_id\":\"" D("b") "\",\"media_type\":\"" GZ "\"}]}", L);
    parse_fails(buf, "invalid JSON");   /* duplicate key */
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"docker\",%s[],\"chains\":[[\"" D("a") "\",7]]}", L);
    parse_fails(buf, "chains[0][1]: not a string");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",%s[],\"chains\":[[\"" D("a") "\"]]}", L);
    parse_fails(buf, "only kind \"docker\" lists chains");
    snprintf(buf, sizeof buf, "{\"airpack_have\":1,\"kind\":\"oci\",\"target\":\"a\\u0000b\",\"created\":\"x\","
             "\"layers\":[]}");
    parse_fails(buf, "NUL");
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = '\0';
    parse_fails(deep, "nested deeper");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_holds_by_diff_id),
        cmocka_unit_test(test_docker_chains),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
