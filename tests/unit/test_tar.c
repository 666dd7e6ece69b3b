/* test_tar.c: the tar writer and the strict tar reader, against each other and
 * against archives made by GNU tar; every strict refusal and its message;
 * corrupt, truncated and over-long archives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../formats/tar_reader.h"
#include "../../formats/tar_writer.h"

/* ---- helpers ---- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} membuf;

static void put(membuf *m, const void *buf, size_t n)
{
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n)
            cap *= 2;
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, n);
    m->len += n;
}

static void put_zeros(membuf *m, size_t n)
{
    static const unsigned char z[4096];
    while (n > 0) {
        size_t k = n < sizeof z ? n : sizeof z;
        put(m, z, k);
        n -= k;
    }
}

/* Reader over memory giving at most `chunk` bytes per call (0: everything). */
typedef struct {
    const unsigned char *p;
    size_t len, pos, chunk;
} memreader;

static ssize_t mem_read(void *ctx, void *buf, size_t n, ap_error *err)
{
    (void)err;
    memreader *r = ctx;
    size_t k = r->len - r->pos;
    if (k > n)
        k = n;
    if (r->chunk && k > r->chunk)
        k = r->chunk;
    memcpy(buf, r->p + r->pos, k);
    r->pos += k;
    return (ssize_t)k;
}

static void add_entry(membuf *m, const char *path, const void *data, uint64_t size)
{
    unsigned char hdr[AP_TAR_HEADER_MAX];
    ap_error err;
    size_t n = ap_tar_header_write(hdr, path, size, 1700000000, &err);
    if (n == 0)
        fail_msg("%s", err.msg);
    assert_int_equal(n, ap_tar_header_size(path, size));
    put(m, hdr, n);
    put(m, data, (size_t)size);
    put_zeros(m, ap_tar_padding(size));
}

/* A raw ustar header with any name/type/size, correct checksum unless told. */
static void raw_header(unsigned char h[512], const char *name, char type, uint64_t size,
                       const char *linkname)
{
    memset(h, 0, 512);
    memcpy(h, name, strlen(name) > 100 ? 100 : strlen(name));
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    char sz[32];
    snprintf(sz, sizeof sz, "%011llo", (unsigned long long)(size & 077777777777ull));
    memcpy(h + 124, sz, 12);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = (unsigned char)type;
    if (linkname)
        memcpy(h + 157, linkname, strlen(linkname));
    memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

static void add_raw(membuf *m, const char *name, char type, const void *data, uint64_t size)
{
    unsigned char h[512];
    raw_header(h, name, type, size, type == '1' || type == '2' ? "target" : NULL);
    put(m, h, 512);
    put(m, data, (size_t)size);
    put_zeros(m, ap_tar_padding(size));
}

static void add_pax(membuf *m, const char *records)
{
    add_raw(m, "PaxHeaders.0/x", 'x', records, strlen(records));
}

/* Reads a whole archive; returns 0 or -1 with err. Counts entries and data bytes. */
static int read_all(const unsigned char *p, size_t len, size_t chunk, unsigned flags,
                    ap_error *err, int *entries, uint64_t *bytes)
{
    memreader mr = {p, len, 0, chunk};
    ap_tar_reader *r = ap_tar_reader_new(mem_read, &mr, "site.tar", flags, err);
    assert_non_null(r);
    int n = 0, rc;
    uint64_t total = 0;
    ap_tar_entry e;
    static unsigned char buf[300000];
    while ((rc = ap_tar_next(r, &e, err)) == 1) {
        n++;
        ssize_t got;
        uint64_t here = 0;
        while ((got = ap_tar_read(r, buf, (n % 2) ? sizeof buf : 1000, err)) > 0)
            here += (uint64_t)got;
        if (got < 0) {
            rc = -1;
            break;
        }
        assert_int_equal(here, e.size);
        total += here;
    }
    if (rc == 0)
        rc = ap_tar_finish(r, err);
    ap_tar_reader_free(r);
    if (entries)
        *entries = n;
    if (bytes)
        *bytes = total;
    return rc;
}

static void expect_error(const membuf *m, unsigned flags, const char *want)
{
    ap_error err;
    ap_error_clear(&err);
    int rc = read_all(m->p, m->len, 0, flags, &err, NULL, NULL);
    if (rc != -1)
        fail_msg("expected error \"%s\", archive was accepted", want);
    if (!strstr(err.msg, want))
        fail_msg("expected \"%s\" in \"%s\"", want, err.msg);
    assert_int_equal(err.code, AP_ERR_FORMAT);
}

static char tmpdir[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tar.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "cd %s && { %s; }", tmpdir, cmd);
    if (system(full) != 0)
        fail_msg("command failed: %s", cmd);
}

static void load(const char *name, membuf *m)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        put(m, buf, got);
    fclose(f);
}

static void save(const char *name, const membuf *m)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m->p, 1, m->len, f), m->len);
    fclose(f);
}

static const char *long_path(size_t n)
{
    static char p[AP_TAR_PATH_MAX];
    size_t i = 0;
    while (i < n) {
        p[i] = (i % 20 == 19 && i + 1 < n) ? '/' : (char)('a' + i % 26);
        i++;
    }
    p[n] = '\0';
    return p;
}

/* ---- writer + reader ---- */

static void test_round_trip(void **state)
{
    (void)state;
    const char *paths[] = {"airpack/bundle.json", "airpack/bundle.json.minisig",
                           "blobs/sha256/0123", NULL, NULL, "manifest.json"};
    char p100[101], p150[151], p400[401];
    strcpy(p100, long_path(100));
    strcpy(p150, long_path(150));
    strcpy(p400, long_path(400));
    paths[3] = p150;
    paths[4] = p400;
    const size_t sizes[] = {0, 1, 512, 700000, 1000, 513};
    membuf m = {0};
    uint64_t expect_len = 0;
    unsigned char *data = malloc(700000);
    for (size_t i = 0; i < 700000; i++)
        data[i] = (unsigned char)(i * 31 + 7);
    for (int i = 0; i < 6; i++) {
        add_entry(&m, paths[i], data, sizes[i]);
        expect_len += ap_tar_entry_span(paths[i], sizes[i]);
    }
    add_entry(&m, p100, "x", 1);        /* exactly 100 bytes: no pax header */
    assert_int_equal(ap_tar_header_size(p100, 1), 512);
    expect_len += 1024;
    put_zeros(&m, AP_TAR_END_SIZE);
    assert_int_equal(m.len, expect_len + AP_TAR_END_SIZE);

    size_t chunks[] = {0, 1, 7, 4096};
    for (size_t c = 0; c < 4; c++) {
        memreader mr = {m.p, m.len, 0, chunks[c]};
        ap_error err;
        ap_tar_reader *r = ap_tar_reader_new(mem_read, &mr, "b.tar", AP_TAR_STRICT, &err);
        ap_tar_entry e;
        uint64_t off = 0;
        for (int i = 0; i < 7; i++) {
            const char *want = i < 6 ? paths[i] : p100;
            size_t size = i < 6 ? sizes[i] : 1;
            if (ap_tar_next(r, &e, &err) != 1)
                fail_msg("entry %d: %s", i, err.msg);
            assert_string_equal(e.path, want);
            assert_int_equal(e.size, size);
            assert_int_equal(e.type, '0');
            assert_int_equal(e.mode, 0644);
            assert_int_equal(e.mtime, 1700000000);
            assert_int_equal(e.header_offset, off);
            assert_int_equal(e.data_offset, off + ap_tar_header_size(want, size));
            assert_int_equal(ap_tar_offset(r), e.data_offset);
            if (i == 2)     /* leave this one unread: next() skips it */
                goto next;
            unsigned char *buf = malloc(size + 1);
            size_t got = 0;
            ssize_t k;
            while ((k = ap_tar_read(r, buf + got, size + 1 - got, &err)) > 0)
                got += (size_t)k;
            assert_int_equal(k, 0);
            assert_int_equal(got, size);
            assert_memory_equal(buf, i < 6 ? data : (unsigned char *)"x", size);
            assert_int_equal(ap_tar_offset(r), e.data_offset + size);
            free(buf);
        next:
            off += ap_tar_entry_span(want, size);
        }
        assert_int_equal(ap_tar_next(r, &e, &err), 0);
        assert_int_equal(ap_tar_next(r, &e, &err), 0);
        assert_int_equal(ap_tar_finish(r, &err), 0);
        assert_int_equal(ap_tar_offset(r), m.len);
        ap_tar_reader_free(r);
    }

    /* GNU tar agrees on names and contents. */
    save("rt.tar", &m);
    sh("mkdir rt && tar -xf rt.tar -C rt && test \"$(wc -c < rt/blobs/sha256/0123)\" = 512 "
       "&& test -f rt/%s && test \"$(tar -tf rt.tar | wc -l)\" = 7 "
       "&& tar --numeric-owner -tvf rt.tar | grep -q '^-rw-r--r-- 0/0 *700000 2023-11-14'", p400);
    free(data);
    free(m.p);
}

static void test_writer_rejects_bad_paths(void **state)
{
    (void)state;
    unsigned char hdr[AP_TAR_HEADER_MAX];
    const char *bad[] = {"", "/etc/passwd", "a/../b", "..", "a//b", "./a", "a/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ap_error err;
        assert_int_equal(ap_tar_header_write(hdr, bad[i], 1, 0, &err), 0);
    }
    ap_error err;
    assert_int_equal(ap_tar_header_write(hdr, long_path(600), 1, 0, &err), 0);
    assert_non_null(strstr(err.msg, "too long"));
    assert_int_equal(ap_tar_padding(0), 0);
    assert_int_equal(ap_tar_padding(1), 511);
    assert_int_equal(ap_tar_padding(512), 0);
}

static void test_writer_is_deterministic(void **state)
{
    (void)state;
    unsigned char a[AP_TAR_HEADER_MAX], b[AP_TAR_HEADER_MAX];
    ap_error err;
    memset(a, 0xaa, sizeof a);
    memset(b, 0x55, sizeof b);
    const char *p = long_path(200);
    assert_int_equal(ap_tar_header_write(a, p, 12345, 86400, &err), 1536);
    assert_int_equal(ap_tar_header_write(b, p, 12345, 86400, &err), 1536);
    assert_memory_equal(a, b, 1536);
    /* ustar header: mode 0644, uid/gid 0, empty names, magic ustar\0 00, type '0' */
    const unsigned char *h = a + 1024;
    assert_memory_equal(h + 100, "0000644", 8);
    assert_memory_equal(h + 108, "0000000", 8);
    assert_memory_equal(h + 116, "0000000", 8);
    assert_memory_equal(h + 257, "ustar\0" "00", 8);
    assert_int_equal(h[156], '0');
    assert_int_equal(h[265], 0);
    assert_int_equal(h[297], 0);
    assert_int_equal(a[156], 'x');
}

static void test_size_8gib_header(void **state)
{
    (void)state;
    /* Our writer: pax size record; header only, then EOF. */
    uint64_t big = 9ull << 30;
    unsigned char hdr[AP_TAR_HEADER_MAX];
    ap_error err;
    assert_int_equal(ap_tar_header_size("big.layer", big), 1536);
    assert_int_equal(ap_tar_header_write(hdr, "big.layer", big, 0, &err), 1536);
    assert_int_equal(ap_tar_header_size("small", (8ull << 30) - 1), 512);
    assert_int_equal(ap_tar_header_size("small", 8ull << 30), 1536);

    memreader mr = {hdr, 1536, 0, 0};
    ap_tar_reader *r = ap_tar_reader_new(mem_read, &mr, "big.tar", AP_TAR_STRICT, &err);
    ap_tar_entry e;
    assert_int_equal(ap_tar_next(r, &e, &err), 1);
    assert_string_equal(e.path, "big.layer");
    assert_int_equal(e.size, big);
    char buf[100];
    assert_int_equal(ap_tar_read(r, buf, sizeof buf, &err), -1);
    assert_string_equal(err.msg, "big.tar: truncated at offset 1536 (inside entry big.layer)");
    ap_tar_reader_free(r);

    /* the packer's fixed single block (GNU base-256 size) reads in strict mode */
    unsigned char one[512];
    assert_int_equal(ap_tar_header_block(one, "blobs/sha256/big", big, 0, &err), 0);
    memreader mr1 = {one, 512, 0, 0};
    r = ap_tar_reader_new(mem_read, &mr1, "blk.tar", AP_TAR_STRICT, &err);
    assert_int_equal(ap_tar_next(r, &e, &err), 1);
    assert_int_equal(e.size, big);
    assert_int_equal(ap_tar_next(r, &e, &err), -1);
    assert_string_equal(err.msg, "blk.tar: truncated at offset 512 (inside entry blobs/sha256/big)");
    ap_tar_reader_free(r);

    /* GNU tar's own headers for a 9 GiB sparse file: pax (posix) and base-256 (gnu). */
    sh("truncate -s 9G big && tar --format=posix -cf - big | head -c 4096 > big-posix.hdr; "
       "tar --format=gnu -cf - big | head -c 4096 > big-gnu.hdr; true");
    const char *files[] = {"big-posix.hdr", "big-gnu.hdr"};
    for (int i = 0; i < 2; i++) {
        membuf m = {0};
        load(files[i], &m);
        assert_int_equal(m.len, 4096);
        memreader mr2 = {m.p, m.len, 0, 0};
        r = ap_tar_reader_new(mem_read, &mr2, files[i], i == 0 ? AP_TAR_STRICT : 0, &err);
        if (ap_tar_next(r, &e, &err) != 1)
            fail_msg("%s: %s", files[i], err.msg);
        assert_string_equal(e.path, "big");
        assert_int_equal(e.size, big);
        assert_int_equal(ap_tar_next(r, &e, &err), -1);
        assert_non_null(strstr(err.msg, "truncated at offset 4096 (inside entry big)"));
        ap_tar_reader_free(r);
        free(m.p);
    }
    sh("rm -f big");
}

/* ---- GNU tar archives ---- */

static void test_gnu_tar_archives(void **state)
{
    (void)state;
    char p150[151], p300[301];
    strcpy(p150, long_path(150));
    strcpy(p300, long_path(300));
    sh("mkdir -p src && cd src && printf hello > a.txt && head -c 100000 /dev/urandom > r.bin "
       "&& mkdir -p $(dirname %s) $(dirname %s) && printf one > %s && printf two > %s",
       p150, p300, p150, p300);
    /* posix (pax) and ustar (prefix field) formats of regular files only: strict accepts */
    sh("cd src && tar --format=posix -cf ../posix.tar a.txt r.bin %s %s", p150, p300);
    sh("cd src && tar --format=ustar -cf ../ustar.tar a.txt r.bin %s", p150);
    sh("cd src && tar --format=gnu -cf ../gnu.tar a.txt r.bin %s", p300);
    struct {
        const char *file;
        unsigned flags;
        int entries;
        const char *last;
    } cases[] = {
        {"posix.tar", AP_TAR_STRICT, 4, p300},
        {"ustar.tar", AP_TAR_STRICT, 3, p150},
        {"gnu.tar", 0, 3, p300},
    };
    for (int i = 0; i < 3; i++) {
        membuf m = {0};
        load(cases[i].file, &m);
        memreader mr = {m.p, m.len, 0, 0};
        ap_error err;
        ap_tar_reader *r = ap_tar_reader_new(mem_read, &mr, cases[i].file, cases[i].flags, &err);
        ap_tar_entry e;
        int n = 0, rc;
        char last[AP_TAR_PATH_MAX] = "";
        while ((rc = ap_tar_next(r, &e, &err)) == 1) {
            n++;
            strcpy(last, e.path);
            if (strcmp(e.path, "a.txt") == 0) {
                char buf[16];
                assert_int_equal(ap_tar_read(r, buf, sizeof buf, &err), 5);
                assert_memory_equal(buf, "hello", 5);
            }
            if (strcmp(e.path, "r.bin") == 0)
                assert_int_equal(e.size, 100000);
        }
        if (rc != 0)
            fail_msg("%s: %s", cases[i].file, err.msg);
        assert_int_equal(n, cases[i].entries);
        assert_string_equal(last, cases[i].last);
        assert_int_equal(ap_tar_finish(r, &err), 0);   /* GNU tar pads to 10 KiB records */
        ap_tar_reader_free(r);
        free(m.p);
    }
    /* the GNU long-name archive is refused in strict mode */
    membuf m = {0};
    load("gnu.tar", &m);
    expect_error(&m, AP_TAR_STRICT, "uses a GNU long name extension");
    free(m.p);
}

static void test_gnu_tar_strict_refusals(void **state)
{
    (void)state;
    sh("mkdir -p s && cd s && printf x > f && ln -sf f sym && ln -f f hard && mkdir -p d && "
       "rm -f fifo && mkfifo fifo");
    sh("cd s && tar --format=posix -cf ../sym.tar f sym && tar --format=posix -cf ../dir.tar f d "
       "&& tar --format=posix -cf ../hard.tar f hard && tar --format=posix -cf ../fifo.tar fifo "
       "&& tar --format=posix -P -cf ../abs.tar $PWD/f && tar --format=posix -P -cf ../dotdot.tar ../s/f");
    struct {
        const char *file, *want;
    } cases[] = {
        {"sym.tar", "site.tar: entry sym at offset 2048: is a symbolic link"},
        {"dir.tar", "site.tar: entry d/ at offset 2048: is a directory"},
        {"hard.tar", "site.tar: entry hard at offset 2048: is a hard link"},
        {"fifo.tar", "site.tar: entry fifo at offset 0: is a FIFO"},
        {"abs.tar", "has an absolute path"},
        {"dotdot.tar", "site.tar: entry ../s/f at offset 0: has a '..' component"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        membuf m = {0};
        load(cases[i].file, &m);
        expect_error(&m, AP_TAR_STRICT, cases[i].want);
        /* not strict: the same archive reads, links reported with their targets */
        memreader mr = {m.p, m.len, 0, 0};
        ap_error err;
        ap_tar_reader *r = ap_tar_reader_new(mem_read, &mr, cases[i].file, 0, &err);
        ap_tar_entry e;
        int rc;
        while ((rc = ap_tar_next(r, &e, &err)) == 1) {
            if (e.type == '2' || e.type == '1')
                assert_string_equal(e.linkname, "f");
        }
        if (rc != 0)
            fail_msg("%s non-strict: %s", cases[i].file, err.msg);
        assert_int_equal(ap_tar_finish(r, &err), 0);
        ap_tar_reader_free(r);
        free(m.p);
    }
}

/* ---- hand-made archives ---- */

static void test_strict_refusals_raw(void **state)
{
    (void)state;
    struct {
        const char *name;
        char type;
        const char *want;
    } cases[] = {
        {"dev/null", '3', "site.tar: entry dev/null at offset 1024: is a device"},
        {"dev/sda", '4', "site.tar: entry dev/sda at offset 1024: is a device"},
        {"/etc/passwd", '0', "site.tar: entry /etc/passwd at offset 1024: has an absolute path"},
        {"a/../../b", '0', "site.tar: entry a/../../b at offset 1024: has a '..' component"},
        {"a//b", '0', "has an empty or '.' component"},
        {"pax_global_header", 'g', "site.tar: entry pax_global_header at offset 1024: is a global pax header"},
        {"././@LongLink", 'L', "uses a GNU long name extension"},
        {"link", '2', "site.tar: entry link at offset 1024: is a symbolic link"},
        {"odd", 'Z', "site.tar: entry odd at offset 1024: has an unsupported entry type 'Z'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        membuf m = {0};
        add_entry(&m, "ok.txt", "hi", 2);
        add_raw(&m, cases[i].name, cases[i].type, "data", cases[i].type == '2' ? 0 : 4);
        add_entry(&m, "after.txt", "x", 1);
        put_zeros(&m, 1024);
        expect_error(&m, AP_TAR_STRICT, cases[i].want);
        free(m.p);
    }
    /* empty path (pax header with a blank path falls back to the header name) */
    membuf m = {0};
    add_raw(&m, "", '0', "", 0);
    put_zeros(&m, 1024);
    expect_error(&m, AP_TAR_STRICT, "site.tar: entry at offset 0: has an empty path");
    free(m.p);
}

static void test_duplicate_path(void **state)
{
    (void)state;
    membuf m = {0};
    char name[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "blobs/sha256/%04d", i);
        add_entry(&m, name, "x", 1);
    }
    add_entry(&m, "blobs/sha256/1234", "y", 1);
    put_zeros(&m, 1024);
    int n = 0;
    ap_error err;
    assert_int_equal(read_all(m.p, m.len, 0, 0, &err, &n, NULL), 0);
    assert_int_equal(n, 3001);
    char want[128];
    snprintf(want, sizeof want, "site.tar: entry blobs/sha256/1234 at offset %d: appears twice",
             3000 * 1024);
    expect_error(&m, AP_TAR_STRICT, want);
    free(m.p);
}

static void test_pax_records(void **state)
{
    (void)state;
    struct {
        const char *records, *want;
    } bad[] = {
        {"30 path=short\n", "whose length 30 is wrong"},
        {"12 path=abc\nxx", "malformed pax record at byte 12"},
        {"5 path=abcdef\n", "whose length 5 is wrong"},
        {"abc path=x\n", "malformed pax record"},
        {"12 pathabcd\n", "without key=value"},
        {"14 size=12x45\n", "invalid pax size"},
        {"29 size=99999999999999999999\n", "invalid pax size"},
        {"0 path=\n", "wrong"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        membuf m = {0};
        add_pax(&m, bad[i].records);
        add_raw(&m, "file", '0', "abc", 3);
        put_zeros(&m, 1024);
        expect_error(&m, 0, bad[i].want);
        free(m.p);
    }
    /* NUL inside a pax path */
    membuf m = {0};
    add_raw(&m, "PaxHeaders.0/x", 'x', "12 path=a\0b\n", 12);
    add_raw(&m, "file", '0', "abc", 3);
    put_zeros(&m, 1024);
    expect_error(&m, 0, "NUL byte");
    free(m.p);

    /* pax data over the 1 MiB cap */
    m = (membuf){0};
    unsigned char h[512];
    raw_header(h, "PaxHeaders.0/x", 'x', 2u << 20, NULL);
    put(&m, h, 512);
    put_zeros(&m, 2u << 20);
    expect_error(&m, 0, "bytes of pax header data");
    free(m.p);

    /* a pax header at the end with no entry after it */
    m = (membuf){0};
    add_pax(&m, "12 path=abc\n");
    put_zeros(&m, 1024);
    expect_error(&m, 0, "is not followed by an entry");
    free(m.p);

    /* good records: path, linkpath, size, mtime with fraction, unknown keys ignored */
    m = (membuf){0};
    add_pax(&m, "22 path=real/name.txt\n27 mtime=1234567890.123456\n16 uname=nobody\n");
    add_raw(&m, "trunc", '0', "abcdef", 6);
    put_zeros(&m, 1024);
    memreader mr = {m.p, m.len, 0, 0};
    ap_error err;
    ap_tar_reader *r = ap_tar_reader_new(mem_read, &mr, "p.tar", AP_TAR_STRICT, &err);
    ap_tar_entry e;
    assert_int_equal(ap_tar_next(r, &e, &err), 1);
    assert_string_equal(e.path, "real/name.txt");
    assert_int_equal(e.mtime, 1234567890);
    assert_int_equal(e.size, 6);
    assert_int_equal(e.header_offset, 0);
    assert_int_equal(e.data_offset, 1536);
    assert_int_equal(ap_tar_next(r, &e, &err), 0);
    assert_int_equal(ap_tar_finish(r, &err), 0);
    ap_tar_reader_free(r);
    free(m.p);

    /* global header skipped when not strict */
    m = (membuf){0};
    add_raw(&m, "pax_global_header", 'g', "19 comment=hello12\n", 19);
    add_entry(&m, "f", "z", 1);
    put_zeros(&m, 1024);
    int n;
    assert_int_equal(read_all(m.p, m.len, 0, 0, &err, &n, NULL), 0);
    assert_int_equal(n, 1);
    free(m.p);
}

static void test_checksum_and_garbage(void **state)
{
    (void)state;
    membuf m = {0};
    add_entry(&m, "one", "1", 1);
    add_entry(&m, "two", "2", 1);
    put_zeros(&m, 1024);
    m.p[1024 + 10] ^= 1;        /* inside the second header's name */
    expect_error(&m, AP_TAR_STRICT, "site.tar: corrupt header at offset 1024 (checksum mismatch)");
    m.p[1024 + 10] ^= 1;
    m.p[148] = '9';             /* unparsable checksum */
    expect_error(&m, AP_TAR_STRICT, "site.tar: not a tar archive");
    free(m.p);

    /* gzip data is not a tar */
    m = (membuf){0};
    put(&m, "\x1f\x8b\x08\0\0\0\0\0", 8);
    put_zeros(&m, 2000);
    expect_error(&m, 0, "not a tar archive");
    free(m.p);

    /* a size field that is not octal */
    m = (membuf){0};
    unsigned char h[512];
    raw_header(h, "f", '0', 0, NULL);
    memcpy(h + 124, "0000000008x", 11);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    put(&m, h, 512);
    put_zeros(&m, 1024);
    expect_error(&m, 0, "site.tar: entry f at offset 0: has a corrupt size field");
    free(m.p);
}

static void test_end_of_archive(void **state)
{
    (void)state;
    membuf m = {0};
    add_entry(&m, "one", "1", 1);
    size_t end = m.len;

    /* missing end marker */
    expect_error(&m, 0, "site.tar: truncated at offset 1024: no end-of-archive marker");

    /* a single zero block then EOF: accepted as GNU tar does, but not in a bundle */
    put_zeros(&m, 512);
    ap_error err;
    assert_int_equal(read_all(m.p, m.len, 0, 0, &err, NULL, NULL), 0);
    expect_error(&m, AP_TAR_STRICT, "site.tar: truncated at offset 1536: the end-of-archive marker is cut short");

    /* record padding (zeros) after the end is fine, up to a 10 KiB record and beyond */
    put_zeros(&m, 512 + 8704 + 100000);
    assert_int_equal(read_all(m.p, m.len, 3, AP_TAR_STRICT, &err, NULL, NULL), 0);

    /* any nonzero byte after the end is refused, naming its offset */
    m.p[m.len - 777] = 'x';
    char want[128];
    snprintf(want, sizeof want, "site.tar: data after the end of the archive at offset %zu",
             m.len - 777);
    expect_error(&m, AP_TAR_STRICT, want);

    /* another entry after a lone zero block */
    m.len = end;
    put_zeros(&m, 512);
    add_entry(&m, "two", "2", 1);
    put_zeros(&m, 1024);
    expect_error(&m, 0, "single zero block at offset 1024");
    free(m.p);
}

static void test_truncation_at_every_offset(void **state)
{
    (void)state;
    membuf m = {0};
    char p200[201];
    strcpy(p200, long_path(200));
    add_entry(&m, "airpack/bundle.json", "{\"a\":1}", 7);
    add_entry(&m, p200, "0123456789", 10);
    add_entry(&m, "empty", "", 0);
    add_entry(&m, "blob", "abcdefghijklmnopqrstuvwxyz", 26);
    put_zeros(&m, 1024);
    for (size_t cut = 0; cut < m.len; cut++) {
        for (size_t chunk = 0; chunk < 3; chunk++) {
            ap_error err;
            ap_error_clear(&err);
            int rc = read_all(m.p, cut, chunk == 0 ? 0 : chunk == 1 ? 1 : 511, AP_TAR_STRICT,
                              &err, NULL, NULL);
            if (rc != -1)
                fail_msg("truncated at %zu was accepted", cut);
            if (!strstr(err.msg, "truncated"))
                fail_msg("cut at %zu: %s", cut, err.msg);
            char at[64];
            snprintf(at, sizeof at, "truncated at offset %zu", cut);
            if (!strstr(err.msg, at))
                fail_msg("cut at %zu: wrong offset in \"%s\"", cut, err.msg);
        }
    }
    /* inside a data entry, the message names it */
    ap_error err;
    assert_int_equal(read_all(m.p, 1536 + 1024 + 3, 0, AP_TAR_STRICT, &err, NULL, NULL), -1);
    char want[400];
    snprintf(want, sizeof want, "site.tar: truncated at offset %d (inside entry %s)", 1536 + 1024 + 3, p200);
    assert_string_equal(err.msg, want);
    free(m.p);
}

static void test_large_entry_direct_reads(void **state)
{
    (void)state;
    size_t n = 3u << 20;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i ^ (i >> 9));
    membuf m = {0};
    add_entry(&m, "a", data, 100);
    add_entry(&m, "big", data, n);
    add_entry(&m, "c", data, 5);
    put_zeros(&m, 1024);
    for (size_t chunk = 0; chunk < 2; chunk++) {
        memreader mr = {m.p, m.len, 0, chunk ? 100000 : 0};
        ap_error err;
        ap_tar_reader *r = ap_tar_reader_new(mem_read, &mr, "l.tar", AP_TAR_STRICT, &err);
        ap_tar_entry e;
        assert_int_equal(ap_tar_next(r, &e, &err), 1);
        assert_int_equal(ap_tar_next(r, &e, &err), 1);  /* skips a's data */
        assert_string_equal(e.path, "big");
        unsigned char *back = malloc(n);
        size_t got = 0;
        while (got < n) {
            ssize_t k = ap_tar_read(r, back + got, 1u << 20, &err);
            assert_true(k > 0);
            got += (size_t)k;
            assert_int_equal(ap_tar_offset(r), e.data_offset + got);
        }
        assert_memory_equal(back, data, n);
        assert_int_equal(ap_tar_next(r, &e, &err), 1);
        assert_string_equal(e.path, "c");
        assert_int_equal(ap_tar_next(r, &e, &err), 0);
        assert_int_equal(ap_tar_finish(r, &err), 0);
        free(back);
        ap_tar_reader_free(r);
    }
    free(data);
    free(m.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_writer_rejects_bad_paths),
        cmocka_unit_test(test_writer_is_deterministic),
        cmocka_unit_test(test_size_8gib_header),
        cmocka_unit_test(test_gnu_tar_archives),
        cmocka_unit_test(test_gnu_tar_strict_refusals),
        cmocka_unit_test(test_strict_refusals_raw),
        cmocka_unit_test(test_duplicate_path),
        cmocka_unit_test(test_pax_records),
        cmocka_unit_test(test_checksum_and_garbage),
        cmocka_unit_test(test_end_of_archive),
        cmocka_unit_test(test_truncation_at_every_offset),
        cmocka_unit_test(test_large_entry_direct_reads),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
