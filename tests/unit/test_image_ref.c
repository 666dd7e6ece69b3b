/* test_image_ref.c: image names normalized the way Docker does it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../formats/image_ref.h"

static void expect_norm(const char *in, const char *want)
{
    char out[512];
    ap_error err;
    assert_int_equal(image_ref_normalize(in, out, sizeof out, &err), 0);
    assert_string_equal(out, want);
}

static void test_normalize(void **state)
{
    (void)state;
    expect_norm("nginx", "docker.io/library/nginx:latest");
    expect_norm("nginx:1.25", "docker.io/library/nginx:1.25");
    expect_norm("me/app:2.3", "docker.io/me/app:2.3");
    expect_norm("docker.io/library/redis:7", "docker.io/library/redis:7");
    expect_norm("localhost/app:1", "localhost/app:1");
    expect_norm("localhost:5000/team/app", "localhost:5000/team/app:latest");
    expect_norm("registry.lan/x/y/z:tag-1", "registry.lan/x/y/z:tag-1");
}

static void test_refuse(void **state)
{
    (void)state;
    char out[512];
    ap_error err;
    assert_int_equal(image_ref_normalize("", out, sizeof out, &err), -1);
    assert_int_equal(image_ref_normalize("Nginx:1", out, sizeof out, &err), -1);
    assert_non_null(strstr(err.msg, "lower case"));
    assert_int_equal(image_ref_normalize("a b", out, sizeof out, &err), -1);
    assert_int_equal(image_ref_normalize("nginx@sha256:abc", out, sizeof out, &err), -1);
    assert_int_equal(image_ref_normalize("nginx:", out, sizeof out, &err), -1);
}

static void test_familiar_and_tag(void **state)
{
    (void)state;
    char out[512];
    image_ref_familiar("docker.io/library/nginx:1.25", out, sizeof out);
    assert_string_equal(out, "nginx:1.25");
    image_ref_familiar("docker.io/me/app:1", out, sizeof out);
    assert_string_equal(out, "me/app:1");
    image_ref_familiar("localhost:5000/x:1", out, sizeof out);
    assert_string_equal(out, "localhost:5000/x:1");
    assert_string_equal(image_ref_tag("localhost:5000/x:1"), "1");
    assert_string_equal(image_ref_tag("docker.io/library/nginx:1.25"), "1.25");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_refuse),
        cmocka_unit_test(test_familiar_and_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
