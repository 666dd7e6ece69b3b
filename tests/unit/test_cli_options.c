/* test_cli_options.c: the option tables every command parses with (cli/options.c) and the one
 * error-to-exit-status function (cli/status.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/keys.c"
#include "../../cli/options.c"
#include "../../cli/status.c"

/* What a parse printed on stderr (the messages) and stdout (--help). */
static char captured[8192];
static int saved_err = -1, saved_out = -1;
static FILE *cap_file;

static void capture_begin(void)
{
    fflush(stdout);
    fflush(stderr);
    cap_file = tmpfile();
    assert_non_null(cap_file);
    saved_err = dup(STDERR_FILENO);
    saved_out = dup(STDOUT_FILENO);
    dup2(fileno(cap_file), STDERR_FILENO);
    dup2(fileno(cap_file), STDOUT_FILENO);
}

static void capture_end(void)
{
    fflush(stdout);
    fflush(stderr);
    dup2(saved_err, STDERR_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    close(saved_err);
    close(saved_out);
    rewind(cap_file);
    size_t n = fread(captured, 1, sizeof captured - 1, cap_file);
    captured[n] = '\0';
    fclose(cap_file);
}

static const char usage[] = "usage: airpack test [options] BUNDLE\n";

typedef struct {
    trusted_keys keys;
    unsigned window;
    const char *into;
    cli_strings images;
    cli_registry_opts reg;
    bool json, quiet;
} args;

/* Parses argv (NULL-terminated, argv[0] the command) with the shared entries. */
static int parse(args *a, int flags, char **argv)
{
    memset(a, 0, sizeof *a);
    a->reg.tls_verify = true;
    const cli_option opts[] = {
        OPT_TRUSTED_KEYS(&a->keys),
        OPT_WINDOW(&a->window),
        OPT_STRING(0, "into", &a->into),
        OPT_STRING_LIST(0, "image", &a->images),
        OPT_REGISTRY(&a->reg),
        OPT_JSON(&a->json),
        OPT_QUIET(&a->quiet),
        OPT_END(),
    };
    int argc = 0;
    while (argv[argc])
        argc++;
    capture_begin();
    int r = cli_parse_options("test", usage, opts, flags, argc, argv);
    capture_end();
    return r;
}

static void free_args(args *a)
{
    trusted_keys_free(&a->keys);
    cli_strings_free(&a->images);
}

static void test_every_kind(void **state)
{
    (void)state;
    ap_error err;
    assert_int_equal(ap_minisign_init(&err), 0);
    ap_pubkey pk;
    ap_seckey sk;
    ap_keypair_generate(&pk, &sk);
    char b64[AP_PUBKEY_B64_LEN + 1];
    ap_pubkey_base64(&pk, b64);
    char *argv[] = {"test", "-qP", b64, "--window=20", "--into", "oci:x", "--image", "a", "--image=b",
                    "--tls-verify=false", "--authfile", "auth.json", "--json", "BUNDLE", NULL};
    args a;
    int first = parse(&a, CLI_PARSE_IN_ORDER, argv);
    assert_int_equal(first, 13);
    assert_string_equal(argv[first], "BUNDLE");
    assert_true(a.quiet);
    assert_true(a.json);
    assert_int_equal(a.keys.n, 1);
    assert_memory_equal(&a.keys.keys[0], &pk, sizeof pk);
    assert_int_equal(a.window, 20);
    assert_string_equal(a.into, "oci:x");
    assert_int_equal(a.images.n, 2);
    assert_string_equal(a.images.v[0], "a");
    assert_string_equal(a.images.v[1], "b");
    assert_null(a.images.v[2]);
    assert_false(a.reg.tls_verify);
    assert_string_equal(a.reg.authfile, "auth.json");
    assert_null(a.reg.creds);
    assert_string_equal(captured, "");
    free_args(&a);
    ap_seckey_wipe(&sk);
}

/* In order, options end at the first argument; otherwise they may follow it. Parsing twice
 * in one process starts afresh. */
static void test_order(void **state)
{
    (void)state;
    args a;
    char *in_order[] = {"test", "BUNDLE", "--json", NULL};
    assert_int_equal(parse(&a, CLI_PARSE_IN_ORDER, in_order), 1);
    assert_false(a.json);
    free_args(&a);
    char *permuted[] = {"test", "BUNDLE", "--json", NULL};
    int first = parse(&a, 0, permuted);
    assert_true(a.json);
    assert_int_equal(first, 2);
    assert_string_equal(permuted[first], "BUNDLE");
    free_args(&a);
    char *dashdash[] = {"test", "-q", "--", "--json", NULL};
    first = parse(&a, 0, dashdash);
    assert_true(a.quiet);
    assert_false(a.json);
    assert_string_equal(dashdash[first], "--json");
    free_args(&a);
}

static void expect_error(char **argv, const char *message)
{
    args a;
    int r = parse(&a, CLI_PARSE_IN_ORDER, argv);
    assert_int_equal(r, CLI_PARSE_ERROR);
    assert_int_equal(cli_parse_status(r), 2);
    if (!strstr(captured, message))
        fail_msg("wanted '%s' in: %s", message, captured);
    free_args(&a);
}

static void test_errors(void **state)
{
    (void)state;
    char *unknown_long[] = {"test", "--frobnicate", "B", NULL};
    expect_error(unknown_long, "airpack test: option --frobnicate is not known");
    char *unknown_short[] = {"test", "-qz", "B", NULL};
    expect_error(unknown_short, "airpack test: option -z is not known");
    char *missing_long[] = {"test", "--into", NULL};
    expect_error(missing_long, "airpack test: option --into needs an argument");
    char *missing_short[] = {"test", "-p", NULL};
    expect_error(missing_short, "airpack test: option -p needs an argument");
    char *value_to_flag[] = {"test", "--json=yes", "B", NULL};
    expect_error(value_to_flag, "airpack test: option --json takes no value");
    char *bad_window[] = {"test", "--window", "5", "B", NULL};
    expect_error(bad_window, "airpack test: --window takes a number from 10 to 31 (log2 bytes), not '5'");
    char *bad_window2[] = {"test", "--window", "20x", "B", NULL};
    expect_error(bad_window2, "not '20x'");
    char *bad_tls[] = {"test", "--tls-verify=maybe", "B", NULL};
    expect_error(bad_tls, "airpack test: --tls-verify takes true or false, not 'maybe'");
    char *bad_key[] = {"test", "-P", "not-a-key", "B", NULL};
    expect_error(bad_key, "airpack test: public key given with -P");
    /* an unknown option shows the usage; a bad value only says what is wrong */
    expect_error(unknown_long, usage);
}

static void test_help(void **state)
{
    (void)state;
    args a;
    char *help[] = {"test", "--json", "--help", "B", NULL};
    int r = parse(&a, CLI_PARSE_IN_ORDER, help);
    assert_int_equal(r, CLI_PARSE_HELP);
    assert_int_equal(cli_parse_status(r), 0);
    assert_string_equal(captured, usage);
    free_args(&a);
    char *h[] = {"test", "-h", NULL};
    assert_int_equal(parse(&a, 0, h), CLI_PARSE_HELP);
    free_args(&a);
}

static int status_of(ap_code code)
{
    ap_error err;
    ap_error_clear(&err);
    err.code = code;
    return exit_status(&err);
}

static void test_exit_status(void **state)
{
    (void)state;
    assert_int_equal(status_of(AP_ERR_VERIFY), 1);
    assert_int_equal(status_of(AP_ERR_FORMAT), 1);
    assert_int_equal(status_of(AP_ERR_IO), 2);          /* a read error, even in the middle of a bundle */
    assert_int_equal(status_of(AP_ERR_USAGE), 2);
    assert_int_equal(status_of(AP_ERR_TARGET), 2);
    assert_int_equal(status_of(AP_ERR_NOMEM), 2);
    assert_int_equal(status_of(AP_ERR_CRYPTO), 2);
    assert_int_equal(status_of(AP_ERR_INTERRUPTED), 2);
    assert_int_equal(status_of(AP_OK), 2);              /* a failure that set no code is not a verdict */
    assert_int_equal(exit_status(NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_exit_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
