/* test_load_pipeline.c: the threads behind a fast load: the hash pipe (sha256 in a
 * second thread), the file syncer (fsync in a background thread), and the oci: target
 * that uses it publishing nothing before commit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../formats/digest.h"
#include "../../load/file_syncer.h"
#include "../../verify/hash_pipe.h"
#include "../../load/load_target.h"

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *d = malloc(n);
    assert_non_null(d);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = (unsigned char)x;
    }
    return d;
}

/* Streams data through the pipe in pieces of the given sizes (cycled), like the verifier. */
static void stream(ap_hash_pipe *p, const unsigned char *data, size_t len, const size_t *sizes, size_t n_sizes)
{
    size_t at = 0;
    for (size_t k = 0; at < len; k++) {
        size_t n = sizes[k % n_sizes];
        if (n > ap_hash_pipe_buffer_size(p))
            n = ap_hash_pipe_buffer_size(p);
        if (n > len - at)
            n = len - at;
        unsigned char *b = ap_hash_pipe_buffer(p);
        memcpy(b, data + at, n);
        ap_hash_pipe_submit(p, b, n);
        /* the caller still reads its buffer while the hasher works on it */
        assert_memory_equal(b, data + at, n);
        at += n;
    }
}

static void test_hash_pipe_matches_one_shot(void **state)
{
    (void)state;
    ap_error err;
    ap_hash_pipe *p = ap_hash_pipe_new(2, 64 << 10, &err);
    assert_non_null(p);
    assert_true(ap_hash_pipe_threaded(p));
    size_t lens[] = {0, 1, 63, 64, (64 << 10) - 1, 64 << 10, (5 << 20) + 17};
    size_t sizes[] = {1, 7, 4096, 64 << 10, 65535, 333};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        unsigned char *d = pattern(lens[i] ? lens[i] : 1, (unsigned)i);
        char want[AP_HEX_LEN + 1], got[AP_HEX_LEN + 1];
        ap_sha256_hex(d, lens[i], want);
        stream(p, d, lens[i], sizes + i % 3, 3);
        ap_hash_pipe_final_hex(p, got);   /* and the next entry starts a new digest */
        assert_string_equal(got, want);
        free(d);
    }
    ap_hash_pipe_free(p);
}

/* The tap: a second reader of the same buffers in its own thread (the verifier decompresses
 * layers there). It sees exactly the bytes submitted while it is set, in order, for small
 * (hashed inline) and large (threaded) pieces alike; the hash is unchanged. */
typedef struct {
    ap_sha256 *h;
    size_t bytes;
} tap_seen;

static void tap_fn(void *ctx, const unsigned char *buf, size_t n)
{
    tap_seen *t = ctx;
    ap_sha256_update(t->h, buf, n);
    t->bytes += n;
}

static void test_hash_pipe_tap_sees_what_is_submitted(void **state)
{
    (void)state;
    ap_error err;
    ap_hash_pipe *p = ap_hash_pipe_new(3, 64 << 10, &err);
    assert_non_null(p);
    size_t len = (3 << 20) + 5;
    unsigned char *d = pattern(len, 11);
    size_t sizes[] = {64 << 10, 3, 20000, 16 << 10, 65535};
    for (int round = 0; round < 3; round++) {
        tap_seen t = {.h = ap_sha256_new()};
        assert_non_null(t.h);
        stream(p, d, 1000, sizes, 5);              /* before the tap: not seen by it */
        ap_hash_pipe_set_tap(p, tap_fn, &t);
        stream(p, d, len, sizes + round, 5 - (size_t)round);
        ap_hash_pipe_set_tap(p, NULL, NULL);       /* waits for the tap */
        stream(p, d, 1000, sizes, 5);              /* after: not seen either */
        char want[AP_HEX_LEN + 1], tapped[AP_HEX_LEN + 1], hashed[AP_HEX_LEN + 1];
        ap_sha256_hex(d, len, want);
        ap_sha256_final_hex(t.h, tapped);
        assert_int_equal(t.bytes, len);
        assert_string_equal(tapped, want);
        ap_hash_pipe_final_hex(p, hashed);         /* the pipe's own digest: all three pieces */
        ap_sha256 *all = ap_sha256_new();
        ap_sha256_update(all, d, 1000);
        ap_sha256_update(all, d, len);
        ap_sha256_update(all, d, 1000);
        ap_sha256_final_hex(all, want);
        ap_sha256_free(all);
        assert_string_equal(hashed, want);
        ap_sha256_free(t.h);
    }
    free(d);
    ap_hash_pipe_free(p);
}

static void test_hash_pipe_buffers_bounded(void **state)
{
    (void)state;
    ap_error err;
    ap_hash_pipe *p = ap_hash_pipe_new(3, 4096, &err);
    assert_non_null(p);
    unsigned char *seen[3] = {0};
    size_t n_seen = 0;
    unsigned char *d = pattern(4096, 7);
    ap_sha256 *h = ap_sha256_new();
    for (int i = 0; i < 200; i++) {
        unsigned char *b = ap_hash_pipe_buffer(p);
        /* asked again without submitting: the same buffer (a read that got nothing) */
        assert_ptr_equal(ap_hash_pipe_buffer(p), b);
        bool known = false;
        for (size_t k = 0; k < n_seen; k++)
            known |= seen[k] == b;
        if (!known) {
            assert_true(n_seen < 3);
            seen[n_seen++] = b;
        }
        size_t n = (size_t)(i * 37 % 4096) + 1;
        memcpy(b, d, n);
        ap_hash_pipe_submit(p, b, n);
        ap_sha256_update(h, d, n);
    }
    assert_int_equal(n_seen, 3);
    char want[AP_HEX_LEN + 1], got[AP_HEX_LEN + 1];
    ap_sha256_final_hex(h, want);
    ap_hash_pipe_final_hex(p, got);
    assert_string_equal(got, want);
    ap_sha256_free(h);
    free(d);
    ap_hash_pipe_free(p);   /* with nothing pending, and below with work pending */
    p = ap_hash_pipe_new(2, 1 << 20, &err);
    unsigned char *b = ap_hash_pipe_buffer(p);
    memset(b, 1, 1 << 20);
    ap_hash_pipe_submit(p, b, 1 << 20);
    ap_hash_pipe_free(p);
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/test_load_pipeline.XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void test_file_syncer_syncs_and_closes_all(void **state)
{
    (void)state;
    char *dir = tmpdir();
    ap_error err;
    ap_file_syncer *s = ap_file_syncer_new(2, &err);   /* fewer slots than files: add waits */
    assert_non_null(s);
    int fds[20];
    for (int i = 0; i < 20; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        fds[i] = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fds[i] >= 0);
        assert_int_equal(write(fds[i], path, strlen(path)), (ssize_t)strlen(path));
        assert_int_equal(ap_file_syncer_add(s, fds[i], path, &err), 0);
    }
    assert_int_equal(ap_file_syncer_wait(s, &err), 0);
    for (int i = 0; i < 20; i++) {   /* every descriptor was closed by the syncer */
        errno = 0;
        assert_int_equal(fcntl(fds[i], F_GETFD), -1);
        assert_int_equal(errno, EBADF);
    }
    assert_int_equal(ap_file_syncer_wait(s, &err), 0);   /* again, with nothing queued */
    ap_file_syncer_free(s);
    rm_rf(dir);
    free(dir);
}

static void test_file_syncer_reports_first_failure(void **state)
{
    (void)state;
    char *dir = tmpdir();
    ap_error err;
    ap_file_syncer *s = ap_file_syncer_new(4, &err);
    assert_non_null(s);
    int bad = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(bad >= 0);
    close(bad);   /* a closed descriptor: fsync fails with EBADF */
    assert_int_equal(ap_file_syncer_add(s, bad, "blob-one", &err), 0);
    assert_int_equal(ap_file_syncer_wait(s, &err), -1);
    assert_int_equal(err.code, AP_ERR_TARGET);
    assert_non_null(strstr(err.msg, "cannot sync blob-one"));
    /* later files are refused (and closed), still naming the first failure */
    char path[600];
    snprintf(path, sizeof path, "%s/later", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ap_file_syncer_add(s, fd, path, &err), -1);
    assert_non_null(strstr(err.msg, "blob-one"));
    errno = 0;
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    ap_file_syncer_free(s);
    rm_rf(dir);
    free(dir);
}

/* ---- oci: nothing at a digest name before commit ---- */

static int count_names(const char *dir, int *temps)
{
    *temps = 0;
    DIR *d = opendir(dir);
    if (!d && errno == ENOENT)
        return 0;   /* an aborted first load removes the directories it made */
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strncmp(de->d_name, ".airpack-tmp-", 13))
            (*temps)++;
        else if (de->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

static void test_oci_publishes_blobs_only_at_commit(void **state)
{
    (void)state;
    enum { N = 12 };
    static char hex[N][AP_HEX_LEN + 1], path[N][128];
    unsigned char *data[N];
    size_t len[N];
    ap_index_entry entries[N];
    ap_index_layer layers[N - 2];
    memset(entries, 0, sizeof entries);
    memset(layers, 0, sizeof layers);
    for (int i = 0; i < N; i++) {
        len[i] = (size_t)(i + 1) * 300000;   /* several MiB in all: writeback kicks too */
        data[i] = pattern(len[i], (unsigned)i + 100);
        ap_sha256_hex(data[i], len[i], hex[i]);
        snprintf(path[i], sizeof path[i], "blobs/sha256/%.64s", hex[i]);
        entries[i].path = path[i];
        entries[i].size = len[i];
        memcpy(entries[i].sha256, hex[i], sizeof hex[i]);
    }
    for (int i = 0; i < N - 2; i++) {
        snprintf(layers[i].digest, sizeof layers[i].digest, "sha256:%.64s", hex[i]);
        layers[i].size = len[i];
        layers[i].media_type = "application/vnd.oci.image.layer.v1.tar";
    }
    char *names[1] = {"docker.io/library/many:1"};
    ap_index_image image;
    memset(&image, 0, sizeof image);
    snprintf(image.config.digest, sizeof image.config.digest, "sha256:%.64s", hex[N - 2]);
    image.config.size = len[N - 2];
    snprintf(image.manifest.digest, sizeof image.manifest.digest, "sha256:%.64s", hex[N - 1]);
    image.manifest.size = len[N - 1];
    image.names = names;
    image.n_names = 1;
    image.platform = "linux/amd64";
    image.layers = layers;
    image.n_layers = N - 2;
    ap_bundle_index idx;
    memset(&idx, 0, sizeof idx);
    idx.version = 1;
    idx.images = &image;
    idx.n_images = 1;
    idx.entries = entries;
    idx.n_entries = N;

    char *dir = tmpdir();
    char blobs[600];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dir);
    for (int round = 0; round < 2; round++) {   /* round 0 aborts, round 1 commits */
        ap_error err;
        load_options opts = {.tls_verify = true};
        load_target *t = load_oci_open(dir, &opts, &err);
        assert_non_null(t);
        assert_int_equal(t->ops->begin(t, &idx, &err), 0);
        for (int i = 0; i < N; i++) {
            assert_int_equal(t->ops->entry_begin(t, &entries[i], &err), 1);
            for (size_t at = 0; at < len[i]; at += 65536) {
                size_t n = len[i] - at < 65536 ? len[i] - at : 65536;
                assert_int_equal(t->ops->entry_data(t, data[i] + at, n, &err), 0);
            }
            assert_int_equal(t->ops->entry_end(t, &entries[i], &err), 0);
        }
        int temps;
        /* every blob verified and handed to the syncer: still none under its digest name */
        assert_int_equal(count_names(blobs, &temps), 0);
        assert_int_equal(temps, N);
        if (round == 0) {
            t->ops->abort(t);
            t->ops->close(t);
            assert_int_equal(count_names(blobs, &temps), 0);
            assert_int_equal(temps, 0);
            continue;
        }
        load_result *res = NULL;
        size_t n_res = 0;
        assert_int_equal(t->ops->commit(t, &idx, &res, &n_res, &err), 0);
        t->ops->close(t);
        load_results_free(res, n_res);
        assert_int_equal(count_names(blobs, &temps), N);
        assert_int_equal(temps, 0);
        for (int i = 0; i < N; i++) {   /* each file holds its bytes */
            char p[800];
            snprintf(p, sizeof p, "%s/%.64s", blobs, hex[i]);
            FILE *f = fopen(p, "rb");
            assert_non_null(f);
            unsigned char *back = malloc(len[i] + 1);
            assert_int_equal(fread(back, 1, len[i] + 1, f), len[i]);
            assert_memory_equal(back, data[i], len[i]);
            free(back);
            fclose(f);
        }
    }
    for (int i = 0; i < N; i++)
        free(data[i]);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_pipe_matches_one_shot),
        cmocka_unit_test(test_hash_pipe_buffers_bounded),
        cmocka_unit_test(test_hash_pipe_tap_sees_what_is_submitted),
        cmocka_unit_test(test_file_syncer_syncs_and_closes_all),
        cmocka_unit_test(test_file_syncer_reports_first_failure),
        cmocka_unit_test(test_oci_publishes_blobs_only_at_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
