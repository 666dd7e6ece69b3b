/* test_pack_sources.c: pieces of the remote pack inputs: platform matching,
 * the thread-to-reader feed (a producer's failure is the reader's failure, an
 * early stop does not hang), and the bundle writer taking back its last entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../packer/bundle_writer.h"
#include "../../packer/feed.h"
#include "../../packer/source.h"

static void test_platform_matches(void **state)
{
    (void)state;
    assert_true(source_platform_matches("linux/amd64", "linux/amd64"));
    assert_true(source_platform_matches("linux/arm64", "linux/arm64/v8"));
    assert_true(source_platform_matches("linux/arm64/v8", "linux/arm64"));
    assert_true(source_platform_matches("linux/arm/v7", "linux/arm/v7"));
    assert_false(source_platform_matches("linux/arm/v6", "linux/arm/v7"));
    assert_false(source_platform_matches("linux/arm/v7", "linux/arm"));
    assert_false(source_platform_matches("linux/amd64", "linux/arm64"));
    assert_false(source_platform_matches("linux/arm", "linux/arm64"));
    assert_false(source_platform_matches("windows/amd64", "linux/amd64"));
}

typedef struct {
    size_t total;     /* bytes to produce */
    int fail_at_end;  /* then fail */
} producer_spec;

static int produce(void *ctx, ap_sink_fn sink, void *sink_ctx, ap_error *err)
{
    producer_spec *p = ctx;
    unsigned char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (size_t done = 0; done < p->total;) {
        size_t n = p->total - done < sizeof buf ? p->total - done : sizeof buf;
        if (sink(sink_ctx, buf, n, err) < 0)
            return -1;
        done += n;
    }
    if (p->fail_at_end)
        return ap_fail(err, AP_ERR_VERIFY, "blob sha256:00 does not match its digest");
    return 0;
}

static size_t drain(feed *f, int *rc, ap_error *err)
{
    unsigned char buf[8192];
    size_t total = 0;
    ssize_t got;
    while ((got = feed_read(f, buf, sizeof buf, err)) > 0)
        total += (size_t)got;
    *rc = got < 0 ? -1 : 0;
    return total;
}

static void test_feed_whole_stream(void **state)
{
    (void)state;
    ap_error err;
    producer_spec p = {3u << 20, 0};
    feed *f = feed_start(produce, &p, &err);
    assert_non_null(f);
    int rc;
    assert_int_equal(drain(f, &rc, &err), 3u << 20);
    assert_int_equal(rc, 0);
    assert_int_equal(feed_finish(f, &err), 0);
}

static void test_feed_producer_failure_is_read_failure(void **state)
{
    (void)state;
    ap_error err;
    producer_spec p = {100000, 1};
    feed *f = feed_start(produce, &p, &err);
    assert_non_null(f);
    int rc;
    drain(f, &rc, &err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "does not match its digest"));
    assert_int_equal(feed_finish(f, NULL), -1);
}

static void test_feed_early_stop(void **state)
{
    (void)state;
    ap_error err;
    producer_spec p = {64u << 20, 0}; /* far more than the socket buffers */
    feed *f = feed_start(produce, &p, &err);
    assert_non_null(f);
    unsigned char buf[1000];
    assert_true(feed_read(f, buf, sizeof buf, &err) > 0);
    /* the producer is blocked on a full socket; finishing must not hang */
    assert_int_equal(feed_finish(f, &err), -1);
}

static void test_drop_last_entry(void **state)
{
    (void)state;
    char dir[] = "/tmp/airpack-ps-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[200], cmd[600];
    snprintf(out, sizeof out, "%s/b.tar", dir);
    ap_error err;
    bundle_writer *w = bundle_writer_open(out, 1700000000, 64, 0, &err);
    assert_non_null(w);
    assert_int_equal(bundle_writer_add(w, "keep", "kept", 4, NULL, &err), 0);
    uint64_t before = bundle_writer_offset(w);
    /* a large entry, so part of it reaches the disk before it is dropped */
    assert_int_equal(bundle_writer_begin(w, &err), 0);
    char *big = calloc(1, 9u << 20);
    assert_non_null(big);
    assert_int_equal(bundle_writer_write(w, big, 9u << 20, &err), 0);
    free(big);
    assert_int_equal(bundle_writer_end(w, "dropped", NULL, &err), 0);
    assert_int_equal(bundle_writer_drop_last(w, &err), 0);
    assert_int_equal(bundle_writer_offset(w), before);
    assert_int_equal(bundle_writer_add(w, "after", "next", 4, NULL, &err), 0);
    assert_int_equal(bundle_writer_commit(w, "{}", 2, NULL, 0, &err), 0);
    bundle_writer_free(w);
    snprintf(cmd, sizeof cmd, "tar -tf %s | tr '\\n' ' ' > %s/list && tar -xOf %s after > %s/after", out, dir, out, dir);
    assert_int_equal(system(cmd), 0);
    char list[200] = "", after[16] = "";
    snprintf(cmd, sizeof cmd, "%s/list", dir);
    FILE *fl = fopen(cmd, "r");
    assert_non_null(fl);
    assert_non_null(fgets(list, sizeof list, fl));
    fclose(fl);
    assert_string_equal(list, "airpack/bundle.json keep after ");
    snprintf(cmd, sizeof cmd, "%s/after", dir);
    fl = fopen(cmd, "r");
    assert_non_null(fl);
    assert_non_null(fgets(after, sizeof after, fl));
    fclose(fl);
    assert_string_equal(after, "next");
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_true((uint64_t)st.st_size < (1u << 20));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_platform_matches),
        cmocka_unit_test(test_feed_whole_stream),
        cmocka_unit_test(test_feed_producer_failure_is_read_failure),
        cmocka_unit_test(test_feed_early_stop),
        cmocka_unit_test(test_drop_last_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
