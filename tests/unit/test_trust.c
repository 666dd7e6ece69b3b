/* test_trust.c: trust over time: times, the index's trust fields, the expiry policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../formats/bundle_index.h"
#include "../../formats/timefmt.h"
#include "../../verify/trust_policy.h"
#include "../../load/load_state.h"
#include "../../formats/statement.h"

#include <unistd.h>

static void test_time_parse(void **state)
{
    (void)state;
    int64_t t;
    char buf[AP_TIME_LEN + 1];
    assert_int_equal(ap_time_parse("1970-01-01T00:00:00Z", &t, "t", NULL), 0);
    assert_int_equal(t, 0);
    assert_int_equal(ap_time_parse("2024-02-29T12:34:56Z", &t, "t", NULL), 0);
    ap_time_format(t, buf);
    assert_string_equal(buf, "2024-02-29T12:34:56Z");
    const char *bad[] = {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
                         "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00+00:00",
                         "1969-12-31T23:59:59Z", "", "2024-1-01T00:00:00Z", "+024-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ap_error err;
        assert_int_equal(ap_time_parse(bad[i], &t, "t", &err), -1);
        assert_int_equal(err.code, AP_ERR_FORMAT);
    }
}

static void test_durations(void **state)
{
    (void)state;
    int64_t d;
    assert_int_equal(ap_duration_parse("30d", &d, NULL), 0);
    assert_int_equal(d, 30 * 86400);
    assert_int_equal(ap_duration_parse("2s", &d, NULL), 0);
    assert_int_equal(d, 2);
    assert_int_equal(ap_duration_parse("2w", &d, NULL), 0);
    assert_int_equal(d, 14 * 86400);
    const char *bad[] = {"0s", "s", "30", "30x", "-1d", "99999999999999999999d", "1d2h", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ap_duration_parse(bad[i], &d, NULL), -1);
    assert_int_equal(ap_expiry_parse("2027-01-31", 0, &d, NULL), 0);
    assert_int_equal(ap_time_parse("2027-01-31T00:00:00Z", &d, "t", NULL) == 0, 1);
    assert_int_equal(ap_expiry_parse("1h", 100, &d, NULL), 0);
    assert_int_equal(d, 3700);
    char s[64];
    ap_duration_format(3, s, sizeof s);
    assert_string_equal(s, "3 s");
    ap_duration_format(3 * 86400 + 4 * 3600 + 5, s, sizeof s);
    assert_string_equal(s, "3 days 4 h");
}

static ap_bundle_index base_index(void)
{
    ap_bundle_index idx = {.version = 1, .created = "2026-11-28T00:00:00Z", .tool = "airpack 0.1.0",
                           .compression = "zstd"};
    return idx;
}

static void test_index_defaults_left_out(void **state)
{
    (void)state;
    ap_bundle_index idx = base_index();
    ap_error err;
    size_t len;
    char *s = ap_bundle_index_write(&idx, &len, &err);
    assert_non_null(s);
    assert_null(strstr(s, "trust"));   /* readable by airpack from before "trust" */
    ap_bundle_index back;
    assert_int_equal(ap_bundle_index_parse(s, len, &back, &err), 0);
    int64_t created;
    ap_time_parse("2026-11-28T00:00:00Z", &created, "t", NULL);
    assert_int_equal(back.sequence, (uint64_t)created);
    assert_string_equal(ap_bundle_index_channel(&back), "default");
    int64_t e;
    assert_int_equal(ap_bundle_index_expiry(&back, &e), 0);
    ap_bundle_index_free(&back);
    free(s);
}

static void test_index_trust_round_trip(void **state)
{
    (void)state;
    ap_bundle_index idx = base_index();
    idx.sequence = 42;
    idx.sequence_set = true;
    idx.channel = "apps";
    idx.expires = "2026-12-28T00:00:00Z";
    idx.base_sequence = 41;
    ap_error err;
    size_t len;
    char *s = ap_bundle_index_write(&idx, &len, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"trust\":{\"channel\":\"apps\",\"sequence\":42,\"expires\":\"2026-12-28T00:00:00Z\","
                              "\"base_sequence\":41}"));
    ap_bundle_index back;
    assert_int_equal(ap_bundle_index_parse(s, len, &back, &err), 0);
    assert_int_equal(back.sequence, 42);
    assert_string_equal(back.channel, "apps");
    assert_string_equal(back.expires, "2026-12-28T00:00:00Z");
    assert_int_equal(back.base_sequence, 41);
    ap_bundle_index_free(&back);
    free(s);
}

/* "trust" with a bad field: each refused as a format error naming it. */
static void test_index_trust_strict(void **state)
{
    (void)state;
    const char *head = "{\"airpack_bundle\":1,\"created\":\"2026-11-28T00:00:00Z\",\"tool\":\"t\",\"compression\":\"zstd\",";
    const char *tail = ",\"images\":[],\"entries\":[]}";
    const char *bad[] = {
        "\"trust\":{\"channel\":\"Apps\",\"sequence\":1}",
        "\"trust\":{\"channel\":\"a\",\"sequence\":0}",
        "\"trust\":{\"channel\":\"a\",\"sequence\":-5}",
        "\"trust\":{\"channel\":\"a\",\"sequence\":\"5\"}",
        "\"trust\":{\"channel\":\"a\"}",
        "\"trust\":{\"sequence\":3}",
        "\"trust\":{\"channel\":\"a\",\"sequence\":1,\"expires\":\"2026-11-27T00:00:00Z\"}",
        "\"trust\":{\"channel\":\"a\",\"sequence\":1,\"expires\":\"tomorrow\"}",
        "\"trust\":{\"channel\":\"a\",\"sequence\":1,\"other\":1}",
        "\"trust\":{\"channel\":\"a\",\"sequence\":1,\"base_sequence\":0}",
        "\"trust\":[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s%s%s", head, bad[i], tail);
        ap_bundle_index idx;
        ap_error err;
        if (ap_bundle_index_parse(buf, strlen(buf), &idx, &err) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.code, AP_ERR_FORMAT);
    }
}

static void test_expiry_policy(void **state)
{
    (void)state;
    ap_bundle_index idx = base_index();
    idx.expires = "2026-12-08T00:00:00Z";   /* 10 days of validity */
    int64_t created, expires;
    ap_time_parse(idx.created, &created, "t", NULL);
    ap_time_parse(idx.expires, &expires, "t", NULL);
    char warn[320];
    ap_error err;
    ap_trust_policy p = {.now = created + 86400};
    assert_int_equal(ap_trust_check_expiry(&p, &idx, warn, sizeof warn, &err), 0);
    assert_string_equal(warn, "");
    p.now = expires - 3600;   /* under a tenth left */
    assert_int_equal(ap_trust_check_expiry(&p, &idx, warn, sizeof warn, &err), 0);
    assert_non_null(strstr(warn, "less than a tenth"));
    p.now = expires + 3;
    assert_int_equal(ap_trust_check_expiry(&p, &idx, warn, sizeof warn, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "expired at 2026-12-08T00:00:00Z, 3 s ago"));
    p.allow_expired = true;
    assert_int_equal(ap_trust_check_expiry(&p, &idx, warn, sizeof warn, &err), 0);
    assert_non_null(strstr(warn, "--allow-expired"));
    ap_revoked_key rk = {.key_id = "0123456789ABCDEF", .revoked_at = "2026-12-01T00:00:00Z", .reason = "leaked"};
    ap_trust_policy r = {.revoked = &rk, .n_revoked = 1};
    assert_int_equal(ap_trust_check_signer(&r, "0123456789ABCDEF", &err), -1);
    assert_non_null(strstr(err.msg, "0123456789ABCDEF, which was revoked at 2026-12-01T00:00:00Z (leaked)"));
    assert_int_equal(ap_trust_check_signer(&r, "1123456789ABCDEF", &err), 0);
}

static void test_state_parse_strict(void **state)
{
    (void)state;
    const char *ok = "{\"airpack_state\":1,\"streams\":[{\"key\":\"0123456789ABCDEF\",\"channel\":\"default\","
                     "\"sequence\":7,\"created\":\"2026-11-30T00:53:20Z\",\"loaded\":\"2026-12-02T17:37:48Z\"}]}";
    load_state_doc d;
    ap_error err;
    assert_int_equal(load_state_parse(ok, strlen(ok), "s", &d, &err), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.streams[0].sequence, 7);
    load_state_doc_free(&d);
    const char *bad[] = {
        "{\"airpack_state\":2,\"streams\":[]}",
        "{\"airpack_state\":1}",
        "{\"airpack_state\":1,\"streams\":[],\"x\":1}",
        "{\"airpack_state\":1,\"streams\":[{\"key\":\"0123456789abcdef\",\"channel\":\"default\",\"sequence\":7,"
        "\"created\":\"2026-11-30T00:53:20Z\",\"loaded\":\"2026-12-02T17:37:48Z\"}]}",
        "{\"airpack_state\":1,\"streams\":[{\"key\":\"0123456789ABCDEF\",\"channel\":\"default\",\"sequence\":0,"
        "\"created\":\"2026-11-30T00:53:20Z\",\"loaded\":\"2026-12-02T17:37:48Z\"}]}",
        "{\"airpack_state\":1,\"streams\":[{\"key\":\"0123456789ABCDEF\",\"channel\":\"default\",\"sequence\":7,"
        "\"created\":\"yesterday\",\"loaded\":\"2026-12-02T17:37:48Z\"}]}",
        "{\"airpack_state\":1,\"streams\":[{\"key\":\"0123456789ABCDEF\",\"channel\":\"default\",\"sequence\":7,"
        "\"created\":\"2026-11-30T00:53:20Z\",\"loaded\":\"2026-12-02T17:37:48Z\"},{\"key\":\"0123456789ABCDEF\","
        "\"channel\":\"default\",\"sequence\":8,\"created\":\"2026-11-30T00:53:20Z\",\"loaded\":\"2026-12-02T17:37:48Z\"}]}",
        "[]", "", "{\"airpack_state\":1,\"streams\":[",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (load_state_parse(bad[i], strlen(bad[i]), "s", &d, &err) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.code, AP_ERR_FORMAT);
    }
}

static void test_state_record_and_check(void **state)
{
    (void)state;
    char dir[] = "/tmp/airpack-test-state.XXXXXX", path[256], note[640];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/%s", dir, AP_STATE_FILE);
    ap_error err;
    ap_bundle_index w1 = base_index(), w2 = base_index();
    w2.created = "2026-12-05T00:00:00Z";
    w1.sequence = 100;
    w2.sequence = 200;
    load_state *s = load_state_open(path, "containerd:x", false, true, &err);
    assert_non_null(s);
    assert_int_equal(load_state_check(s, &(load_state_signer){"0123456789ABCDEF", NULL, 0}, &w2, false, note, sizeof note, &err), 0);
    assert_int_equal(load_state_record(s, "0123456789ABCDEF", &w2, &err), 0);
    load_state_close(s);
    s = load_state_open(path, "containerd:x", false, true, &err);
    assert_non_null(s);
    assert_int_equal(load_state_check(s, &(load_state_signer){"0123456789ABCDEF", NULL, 0}, &w1, false, note, sizeof note, &err), -1);
    assert_int_equal(err.code, AP_ERR_VERIFY);
    assert_non_null(strstr(err.msg, "sequence 100 (created 2026-11-28T00:00:00Z)"));
    assert_non_null(strstr(err.msg, "already loaded sequence 200 (created 2026-12-05T00:00:00Z)"));
    assert_int_equal(load_state_check(s, &(load_state_signer){"1123456789ABCDEF", NULL, 0}, &w1, false, note, sizeof note, &err), 0);   /* another key */
    assert_int_equal(load_state_check(s, &(load_state_signer){"0123456789ABCDEF", NULL, 0}, &w1, true, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "rollback allowed"));
    assert_int_equal(load_state_record(s, "0123456789ABCDEF", &w1, &err), 0);   /* keeps 200 */
    assert_int_equal(load_state_check(s, &(load_state_signer){"0123456789ABCDEF", NULL, 0}, &w2, false, note, sizeof note, &err), 0);
    ap_bundle_index delta = base_index();
    delta.sequence = 300;
    delta.base_sequence = 150;
    assert_int_equal(load_state_check(s, &(load_state_signer){"0123456789ABCDEF", NULL, 0}, &delta, false, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "builds on sequence 150"));
    /* a successor's record counts for its predecessor's bundles (and not the other way) */
    load_state_link links[] = {{"0123456789ABCDEF", "2123456789ABCDEF"}, {"2123456789ABCDEF", "3123456789ABCDEF"}};
    ap_bundle_index w3 = base_index();
    w3.created = "2026-12-10T00:00:00Z";
    w3.sequence = 300;
    assert_int_equal(load_state_record(s, "3123456789ABCDEF", &w3, &err), 0);
    load_state_signer old_key = {"0123456789ABCDEF", links, 2}, newest = {"3123456789ABCDEF", links, 2};
    assert_int_equal(load_state_check(s, &old_key, &w2, false, note, sizeof note, &err), -1);
    assert_non_null(strstr(err.msg, "from key ID 3123456789ABCDEF, which succeeds it"));
    assert_int_equal(load_state_check(s, &newest, &w3, false, note, sizeof note, &err), 0);
    load_state_signer unrelated = {"4123456789ABCDEF", links, 2};
    assert_int_equal(load_state_check(s, &unrelated, &w1, false, note, sizeof note, &err), 0);
    load_state_close(s);
    /* the file of another target, copied into place, is refused */
    assert_null(load_state_open(path, "containerd:other", false, true, &err));
    assert_non_null(strstr(err.msg, "is for target 'containerd:x', not 'containerd:other'"));
    /* a symlink in its place is refused, not followed or reset */
    char real[300];
    snprintf(real, sizeof real, "%s.real", path);
    assert_int_equal(rename(path, real), 0);
    assert_int_equal(symlink(real, path), 0);
    assert_null(load_state_open(path, "containerd:x", false, true, &err));
    assert_non_null(strstr(err.msg, "symbolic link"));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_statements(void **state)
{
    (void)state;
    ap_error err;
    ap_pubkey pk;
    ap_seckey sk;
    assert_int_equal(ap_minisign_init(&err), 0);
    ap_keypair_generate(&pk, &sk);
    ap_statement st = {.type = AP_STATEMENT_SUCCESSION, .key_id = "0123456789ABCDEF",
                       .created = "2026-12-02T17:45:39Z", .successor = pk};
    size_t len;
    char *text = ap_statement_write(&st, &len, &err);
    assert_non_null(text);
    ap_statement back;
    assert_int_equal(ap_statement_parse(text, len, &back, &err), 0);
    assert_int_equal(back.type, AP_STATEMENT_SUCCESSION);
    assert_memory_equal(&back.successor, &pk, sizeof pk);
    free(text);
    ap_statement rv = {.type = AP_STATEMENT_REVOCATION, .key_id = "0123456789ABCDEF",
                       .created = "2026-12-02T17:45:39Z", .reason = "leaked"};
    text = ap_statement_write(&rv, &len, &err);
    assert_non_null(text);
    assert_string_equal(text, "{\"airpack_statement\":1,\"type\":\"revocation\",\"created\":\"2026-12-02T17:45:39Z\","
                              "\"key\":\"0123456789ABCDEF\",\"reason\":\"leaked\"}\n");
    free(text);
    const char *bad[] = {
        "{\"airpack_statement\":2,\"type\":\"revocation\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789ABCDEF\"}",
        "{\"airpack_statement\":1,\"type\":\"promotion\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789ABCDEF\"}",
        "{\"airpack_statement\":1,\"type\":\"revocation\",\"created\":\"2026-12-02\",\"key\":\"0123456789ABCDEF\"}",
        "{\"airpack_statement\":1,\"type\":\"revocation\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789abcdef\"}",
        "{\"airpack_statement\":1,\"type\":\"revocation\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789ABCDEF\","
        "\"successor\":\"x\"}",
        "{\"airpack_statement\":1,\"type\":\"revocation\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789ABCDEF\","
        "\"reason\":\"a\\nb\"}",
        "{\"airpack_statement\":1,\"type\":\"succession\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789ABCDEF\"}",
        "{\"airpack_statement\":1,\"type\":\"succession\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789ABCDEF\","
        "\"successor\":\"RWTrLec/7Z6A1TKb4ynPte8EeVJAj3e6SdFGBQ0JpdPotLlYzzgafkd\"}",
        "{\"airpack_statement\":1,\"type\":\"revocation\",\"created\":\"2026-12-02T17:45:39Z\",\"key\":\"0123456789ABCDEF\","
        "\"nested\":{}}",
        "[1]", "", "{",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ap_statement_parse(bad[i], strlen(bad[i]), &back, &err) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.code, AP_ERR_FORMAT);
    }
    ap_seckey_wipe(&sk);
}

/* A load that starts over holds its state open while the store's lock is let go: the check
 * reads the file again, so what another load recorded meanwhile counts. */
static void test_state_check_reads_again(void **state)
{
    (void)state;
    char dir[] = "/tmp/airpack-test-state.XXXXXX", path[256], note[640];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, AP_STATE_FILE);
    ap_error err;
    ap_bundle_index older = base_index(), newer = base_index();
    older.sequence = 100;
    newer.sequence = 200;
    load_state_signer sg = {"0123456789ABCDEF", NULL, 0};
    load_state *mine = load_state_open(path, "oci:x", true, true, &err);
    load_state *other = load_state_open(path, "oci:x", true, true, &err);
    assert_non_null(mine);
    assert_non_null(other);
    assert_int_equal(load_state_record(other, "0123456789ABCDEF", &newer, &err), 0);
    assert_int_equal(load_state_check(mine, &sg, &older, false, note, sizeof note, &err), -1);
    assert_non_null(strstr(err.msg, "already loaded sequence 200"));
    load_state_close(other);
    load_state_close(mine);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_index_defaults_left_out),
        cmocka_unit_test(test_index_trust_round_trip),
        cmocka_unit_test(test_index_trust_strict),
        cmocka_unit_test(test_expiry_policy),
        cmocka_unit_test(test_state_parse_strict),
        cmocka_unit_test(test_state_record_and_check),
        cmocka_unit_test(test_statements),
        cmocka_unit_test(test_state_check_reads_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
