/* test_bundle_writer.c: the bundle writer's reserved head, entries and cleanup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../formats/digest.h"
#include "../../formats/tar_reader.h"
#include "../../formats/tar_writer.h"
#include "../../packer/bundle_writer.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/airpack-bw-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static size_t count_files(void)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || strncmp(e->d_name, ".", 2) != 0)
            n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Entries come back in order with their sizes and bytes; the head holds the
 * padded index and the signature. */
static void test_round_trip(void **state)
{
    (void)state;
    char out[300];
    snprintf(out, sizeof out, "%s/b.tar", dir);
    ap_error err;
    const char index[] = "{\"x\":1}";
    const char sig[] = "signature text\n";
    bundle_writer *w = bundle_writer_open(out, 1700000000, 100, sizeof sig - 1, &err);
    assert_non_null(w);
    /* a streamed blob named by its digest, written in pieces */
    assert_int_equal(bundle_writer_begin(w, &err), 0);
    unsigned char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    assert_int_equal(bundle_writer_write(w, big, 1234, &err), 0);
    assert_int_equal(bundle_writer_write(w, big + 1234, sizeof big - 1234, &err), 0);
    ap_index_entry e;
    assert_int_equal(bundle_writer_end(w, NULL, &e, &err), 0);
    char hex[AP_HEX_LEN + 1];
    ap_sha256_hex(big, sizeof big, hex);
    assert_string_equal(e.sha256, hex);
    assert_int_equal(e.size, sizeof big);
    assert_int_equal(strncmp(e.path, "blobs/sha256/", 13), 0);
    assert_string_equal(e.path + 13, hex);
    free(e.path);
    assert_int_equal(bundle_writer_add(w, "manifest.json", "[]", 2, &e, &err), 0);
    free(e.path);
    assert_int_equal(bundle_writer_commit(w, index, sizeof index - 1, sig, sizeof sig - 1, &err), 0);
    bundle_writer_free(w);
    assert_int_equal(count_files(), 1);

    int fd = open(out, O_RDONLY);
    assert_true(fd >= 0);
    ap_fd_reader fr = {.fd = fd, .name = out};
    ap_tar_reader *r = ap_tar_reader_new(ap_fd_read, &fr, out, AP_TAR_STRICT, &err);
    assert_non_null(r);
    ap_tar_entry te;
    char buf[6000];
    assert_int_equal(ap_tar_next(r, &te, &err), 1);
    assert_string_equal(te.path, "airpack/bundle.json");
    assert_int_equal(te.size, 100);
    assert_int_equal(te.mtime, 1700000000);
    assert_int_equal(ap_tar_read(r, buf, sizeof buf, &err), 100);
    assert_memory_equal(buf, index, sizeof index - 1);
    for (size_t i = sizeof index - 1; i < 99; i++)
        assert_int_equal(buf[i], ' ');
    assert_int_equal(buf[99], '\n');
    assert_int_equal(ap_tar_next(r, &te, &err), 1);
    assert_string_equal(te.path, "airpack/bundle.json.minisig");
    assert_int_equal(ap_tar_read(r, buf, sizeof buf, &err), (ssize_t)(sizeof sig - 1));
    assert_int_equal(ap_tar_next(r, &te, &err), 1);
    assert_int_equal(te.size, sizeof big);
    size_t got = 0;
    ssize_t n;
    while ((n = ap_tar_read(r, buf + got, sizeof buf - got, &err)) > 0)
        got += (size_t)n;
    assert_int_equal(got, sizeof big);
    assert_memory_equal(buf, big, sizeof big);
    assert_int_equal(ap_tar_next(r, &te, &err), 1);
    assert_string_equal(te.path, "manifest.json");
    assert_int_equal(ap_tar_next(r, &te, &err), 0);
    assert_int_equal(ap_tar_finish(r, &err), 0);
    ap_tar_reader_free(r);
    close(fd);
}

/* An index larger than its reserved room, or an abort, leaves no file at all. */
static void test_failure_leaves_nothing(void **state)
{
    (void)state;
    char out[300];
    snprintf(out, sizeof out, "%s/c.tar", dir);
    ap_error err;
    bundle_writer *w = bundle_writer_open(out, 0, 4, 0, &err);
    assert_non_null(w);
    assert_int_equal(bundle_writer_add(w, "oci-layout", "{}", 2, NULL, &err), 0);
    assert_int_equal(bundle_writer_commit(w, "{\"toolong\":1}", 13, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "reserved"));
    bundle_writer_free(w);
    assert_int_equal(count_files(), 0);
    assert_int_equal(access(out, F_OK), -1);

    w = bundle_writer_open(out, 0, 4, 0, &err);
    assert_non_null(w);
    assert_int_equal(bundle_writer_begin(w, &err), 0);
    assert_int_equal(bundle_writer_write(w, "abc", 3, &err), 0);
    bundle_writer_abort(w);
    bundle_writer_free(w);
    assert_int_equal(count_files(), 0);
}

/* Sizes of 8 GiB and more go in GNU base-256 form in a single header block. */
static void test_large_size_header(void **state)
{
    (void)state;
    unsigned char h[512 * 2];
    memset(h, 0, sizeof h);
    ap_error err;
    uint64_t size = (9ULL << 30) + 5;
    assert_int_equal(ap_tar_header_block(h, "blobs/sha256/x", size, 0, &err), 0);
    assert_int_equal(h[124], 0x80);
    /* parse it back with the strict reader: it must see the size, then find the data missing */
    struct {
        const unsigned char *p;
        size_t n, off;
    } src = {h, 512, 0};
    (void)src;
    char path[] = "/tmp/airpack-bw-big-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, h, 512), 512);
    lseek(fd, 0, SEEK_SET);
    ap_fd_reader fr = {.fd = fd, .name = path};
    ap_tar_reader *r = ap_tar_reader_new(ap_fd_read, &fr, "big", AP_TAR_STRICT, &err);
    ap_tar_entry te;
    assert_int_equal(ap_tar_next(r, &te, &err), 1);
    assert_int_equal(te.size, size);
    char buf[16];
    assert_int_equal(ap_tar_read(r, buf, sizeof buf, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    ap_tar_reader_free(r);
    close(fd);
    unlink(path);
    /* a path over 100 bytes does not fit one block */
    char longp[120];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(ap_tar_header_block(h, longp, 1, 0, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test(test_large_size_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
