/* test_docker_engine.c: the one Docker Engine client's socket choice, request paths,
 * error messages, and its error when nothing listens (a real unix socket path with no
 * engine: the request is made for real). The engine itself is tested by load_docker.sh,
 * pack_daemon.sh and delta.sh against a private dockerd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../remote/docker_engine.h"

static void test_socket_choice(void **state)
{
    (void)state;
    ap_engine e;
    ap_error err;
    unsetenv("DOCKER_HOST");
    assert_int_equal(ap_engine_init(&e, NULL, &err), 0);
    assert_string_equal(e.socket, AP_ENGINE_DEFAULT_SOCKET);
    assert_int_equal(e.code, AP_ERR_IO);
    setenv("DOCKER_HOST", "unix:///run/user/1/docker.sock", 1);
    assert_int_equal(ap_engine_init(&e, "", &err), 0);
    assert_string_equal(e.socket, "/run/user/1/docker.sock");
    /* a named socket wins over DOCKER_HOST, with or without unix:// */
    assert_int_equal(ap_engine_init(&e, "/tmp/d.sock", &err), 0);
    assert_string_equal(e.socket, "/tmp/d.sock");
    assert_int_equal(ap_engine_init(&e, "unix:///tmp/e.sock", &err), 0);
    assert_string_equal(e.socket, "/tmp/e.sock");
    /* only unix sockets */
    setenv("DOCKER_HOST", "tcp://10.0.0.1:2375", 1);
    assert_int_equal(ap_engine_init(&e, NULL, &err), -1);
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "DOCKER_HOST=tcp://10.0.0.1:2375"));
    assert_int_equal(ap_engine_init(&e, "tcp://10.0.0.1:2375", &err), -1);
    assert_int_equal(err.code, AP_ERR_USAGE);
    assert_int_equal(ap_engine_init(&e, "unix://", &err), -1);
    unsetenv("DOCKER_HOST");
}

static void test_path_and_message(void **state)
{
    (void)state;
    char p[64];
    ap_error err;
    assert_int_equal(ap_engine_path(p, sizeof p, "/images/", "sample/app:1.0", "/json", &err), 0);
    assert_string_equal(p, "/images/sample%2Fapp%3A1.0/json");
    assert_int_equal(ap_engine_path(p, sizeof p, "/images/", "a-b_c.d~e", "", &err), 0);
    assert_string_equal(p, "/images/a-b_c.d~e");
    char big[100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ap_engine_path(p, sizeof p, "/images/", big, "/json", &err), -1);
    assert_int_equal(ap_engine_path(p, 40, "/images/", "/////////////", "/json", &err), -1);

    char m[64];
    ap_engine_message("{\"message\":\"No such image: x:1\"}\n", m, sizeof m);
    assert_string_equal(m, "No such image: x:1");
    ap_engine_message("{\"error\":\"bad\\nthing\"}", m, sizeof m);
    assert_string_equal(m, "bad thing");
    ap_engine_message("plain text\r\n", m, sizeof m);
    assert_string_equal(m, "plain text");
    ap_engine_message(NULL, m, sizeof m);
    assert_string_equal(m, "");
}

/* Nothing listens on the socket: the error names the socket and the call, with the
 * code the caller chose; no status came. */
static void test_unreachable(void **state)
{
    (void)state;
    char sock[] = "/tmp/airpack-engine-test-XXXXXX";
    int fd = mkstemp(sock);
    assert_true(fd >= 0);
    close(fd);
    unlink(sock);
    ap_engine e;
    ap_error err;
    assert_int_equal(ap_engine_init(&e, sock, &err), 0);
    e.code = AP_ERR_TARGET;
    long status = -1;
    assert_null(ap_engine_get_json(&e, "/version", 0, &status, &err));
    assert_int_equal(status, 0);
    assert_int_equal(err.code, AP_ERR_TARGET);
    assert_non_null(strstr(err.msg, "cannot reach the Docker engine at"));
    assert_non_null(strstr(err.msg, sock));
    assert_non_null(strstr(err.msg, "GET /version"));
    assert_null(strstr(err.msg, "port 80"));   /* what connect(2) said, not curl's localhost:80 */
    assert_non_null(strstr(err.msg, "No such file or directory"));
    ap_engine_reply reply;
    ap_engine_request rq = {.method = "POST"};
    assert_int_equal(ap_engine_call(&e, "/images/load", &rq, &reply, &err), -1);
    assert_int_equal(reply.status, 0);
    assert_null(reply.body);
    assert_non_null(strstr(err.msg, "POST /images/load"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_choice),
        cmocka_unit_test(test_path_and_message),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
