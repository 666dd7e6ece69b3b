/* split_output.c: see split_output.h. */
#include "split_output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/digest.h"
#include "../formats/parity.h"
#include "../formats/part_stripes.h"
#include "../formats/stream.h"

typedef struct {
    bool exists;
    bool dirty;             /* written out of order: hash it again from disk */
    bool have_digest;
    uint64_t hashed_to;     /* bytes hashed in order from its start */
    char sha256[AP_HEX_LEN + 1];
} part_state;

struct split_output {
    char *output;
    char *dir;              /* temporary directory */
    uint64_t part_size;
    size_t n_parity;        /* --parity N: parity parts p00.. written at finish */
    part_state parts[AP_PARTS_MAX];
    size_t n_parts;         /* parts created (indexes below exist or were removed) */
    int fd;                 /* the one open part */
    size_t fd_part;
    ap_sha256 *hash;        /* in-order hash of part seq_part */
    bool seq_active;
    size_t seq_part;
    bool committed;
    bool parity_written;
    /* parts written out of order are hashed in the background once they are final
     * (split_output_stable), while the bundle is still being written */
    pthread_t hasher;
    bool hasher_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t queue[AP_PARTS_MAX];
    size_t q_head, q_tail;
    bool stop;
    size_t next_check;      /* parts below were considered */
    bool bg_done[AP_PARTS_MAX];
    char bg_hex[AP_PARTS_MAX][AP_HEX_LEN + 1];
};

static void temp_name(const split_output *s, size_t i, char *out, size_t n);

static void *hasher_main(void *arg)
{
    split_output *s = arg;
    unsigned char *buf = malloc(1u << 20);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->q_head == s->q_tail && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->q_head == s->q_tail) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        size_t i = s->queue[s->q_head++];
        pthread_mutex_unlock(&s->mu);
        char name[4200], hex[AP_HEX_LEN + 1];
        temp_name(s, i, name, sizeof name);
        int fd = buf ? open(name, O_RDONLY | O_CLOEXEC) : -1;
        if (fd < 0)
            continue;   /* left for the pass at the end */
        ap_sha256 *h = ap_sha256_new();
        uint64_t off = 0;
        bool ok = h != NULL;
        while (ok && off < s->part_size) {
            size_t want = s->part_size - off < (1u << 20) ? (size_t)(s->part_size - off) : (1u << 20);
            ssize_t got = pread(fd, buf, want, (off_t)off);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                ok = false;
                break;
            }
            ap_sha256_update(h, buf, (size_t)got);
            off += (uint64_t)got;
        }
        close(fd);
        if (ok) {
            ap_sha256_final_hex(h, hex);
            pthread_mutex_lock(&s->mu);
            memcpy(s->bg_hex[i], hex, sizeof hex);
            s->bg_done[i] = true;
            pthread_mutex_unlock(&s->mu);
        }
        ap_sha256_free(h);
    }
    free(buf);
    return NULL;
}

/* Waits for the background hasher to finish what it was given. */
static void hasher_stop(split_output *s)
{
    if (!s->hasher_started)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->hasher, NULL);
    s->hasher_started = false;
}

void split_output_stable(split_output *s, uint64_t head_end, uint64_t upto)
{
    for (; s->next_check < AP_PARTS_MAX && (uint64_t)(s->next_check + 1) * s->part_size <= upto; s->next_check++) {
        size_t i = s->next_check;
        part_state *p = &s->parts[i];
        if ((uint64_t)i * s->part_size < head_end || !p->exists || (!p->dirty && p->have_digest))
            continue;   /* the head is written last; an in-order digest is already there */
        if (!s->hasher_started) {
            if (pthread_create(&s->hasher, NULL, hasher_main, s) != 0)
                return; /* the pass at the end hashes it */
            s->hasher_started = true;
        }
        pthread_mutex_lock(&s->mu);
        s->queue[s->q_tail++] = i;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static void temp_name(const split_output *s, size_t i, char *out, size_t n)
{
    snprintf(out, n, "%s/%03zu", s->dir, i);
}

static void parity_temp_name(const split_output *s, size_t i, char *out, size_t n)
{
    snprintf(out, n, "%s/p%02zu", s->dir, i);
}

split_output *split_output_open(const char *output, uint64_t part_size, size_t n_parity, ap_error *err)
{
    if (n_parity && ap_rs_check(1, n_parity, err) < 0)
        return NULL;
    split_output *s = calloc(1, sizeof *s);
    if (!s) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->fd = -1;
    s->part_size = part_size;
    s->n_parity = n_parity;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->output = strdup(output);
    s->hash = ap_sha256_new();
    char *dir_copy = strdup(output), *base_copy = strdup(output);
    size_t tlen = strlen(output) + 64;
    s->dir = malloc(tlen);
    if (!s->output || !s->hash || !dir_copy || !base_copy || !s->dir) {
        free(dir_copy);
        free(base_copy);
        free(s->dir);
        s->dir = NULL;
        split_output_free(s);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(s->dir, tlen, "%s/.%s.airpack-tmp-XXXXXX", dirname(dir_copy), basename(base_copy));
    free(dir_copy);
    free(base_copy);
    if (!mkdtemp(s->dir)) {
        ap_fail_errno(err, AP_ERR_IO, "creating a temporary directory next to %s", output);
        free(s->dir);
        s->dir = NULL;
        split_output_free(s);
        return NULL;
    }
    return s;
}

static int part_fd(split_output *s, size_t i, ap_error *err)
{
    if (s->fd >= 0 && s->fd_part == i)
        return s->fd;
    if (s->fd >= 0) {
        /* moving on: start writing the part back now, so the fsync at the end is short */
        if (i > s->fd_part)
            sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        close(s->fd);
        s->fd = -1;
    }
    char name[4200];
    temp_name(s, i, name, sizeof name);
    s->fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "creating part %zu of %s (%s)", i, s->output, name);
    s->fd_part = i;
    s->parts[i].exists = true;
    if (i + 1 > s->n_parts)
        s->n_parts = i + 1;
    return s->fd;
}

int split_output_pwrite(split_output *s, const void *buf, size_t n, uint64_t off, ap_error *err)
{
    const unsigned char *p = buf;
    while (n > 0) {
        uint64_t idx = off / s->part_size;
        if (idx >= AP_PARTS_MAX)
            return ap_fail(err, AP_ERR_USAGE,
                           "%s: the bundle needs more than %d parts of %llu bytes; choose a larger --split", s->output,
                           AP_PARTS_MAX, (unsigned long long)s->part_size);
        uint64_t poff = off % s->part_size;
        size_t take = n;
        if (take > s->part_size - poff)
            take = (size_t)(s->part_size - poff);
        int fd = part_fd(s, (size_t)idx, err);
        if (fd < 0)
            return -1;
        /* no hashing here: a part is hashed once, in the background, when it is final
         * (split_output_stable), or at the end; hashing as it is written was wasted on
         * every part whose entry header is filled in later */
        size_t done = 0;
        while (done < take) {
            ssize_t put = pwrite(fd, p + done, take - done, (off_t)(poff + done));
            if (put < 0) {
                if (errno == EINTR)
                    continue;
                return ap_fail_errno(err, AP_ERR_IO, "writing part %llu of %s", (unsigned long long)idx, s->output);
            }
            done += (size_t)put;
        }
        p += take;
        n -= take;
        off += take;
    }
    return 0;
}

int split_output_truncate(split_output *s, uint64_t len, ap_error *err)
{
    size_t keep = (size_t)((len + s->part_size - 1) / s->part_size);   /* parts that keep bytes */
    char name[4200];
    for (size_t i = keep; i < s->n_parts; i++) {
        if (s->fd >= 0 && s->fd_part == i) {
            close(s->fd);
            s->fd = -1;
        }
        if (s->parts[i].exists) {
            temp_name(s, i, name, sizeof name);
            unlink(name);
        }
        if (s->seq_active && s->seq_part == i)
            s->seq_active = false;
        memset(&s->parts[i], 0, sizeof s->parts[i]);
    }
    if (keep < s->n_parts)
        s->n_parts = keep;
    if (keep == 0)
        return 0;
    size_t last = keep - 1;
    uint64_t plen = len - (uint64_t)last * s->part_size;
    if (s->parts[last].exists) {
        temp_name(s, last, name, sizeof name);
        if (truncate(name, (off_t)plen) < 0)
            return ap_fail_errno(err, AP_ERR_IO, "writing %s", name);
    }
    part_state *p = &s->parts[last];
    if (p->hashed_to > plen) {
        p->dirty = true;
        p->have_digest = false;
        if (s->seq_active && s->seq_part == last)
            s->seq_active = false;
    }
    return 0;
}

typedef struct {
    char (*names)[4200];
    size_t n;
    bool failed;
    size_t failed_at;
    int failed_errno;
} syncer;

static void *sync_main(void *arg)
{
    syncer *sy = arg;
    for (size_t i = 0; i < sy->n && !sy->failed; i++) {
        int fd = open(sy->names[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0) {
            sy->failed = true;
            sy->failed_at = i;
            sy->failed_errno = errno;
        }
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

int split_output_finish(split_output *s, uint64_t total, ap_parts_manifest *out, ap_error *err)
{
    memset(out, 0, sizeof *out);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    hasher_stop(s);
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->bg_done[i] && (uint64_t)(i + 1) * s->part_size <= total) {
            part_state *p = &s->parts[i];
            memcpy(p->sha256, s->bg_hex[i], sizeof p->sha256);
            p->have_digest = true;
            p->dirty = false;
            p->hashed_to = s->part_size;
        }
    size_t n = (size_t)((total + s->part_size - 1) / s->part_size);
    if (n == 0 || n > AP_PARTS_MAX || n != s->n_parts)
        return ap_fail(err, AP_ERR_IO, "%s: %zu parts written for %llu bytes", s->output, s->n_parts,
                       (unsigned long long)total);
    out->parts = calloc(n, sizeof *out->parts);
    if (!out->parts)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    out->version = AP_PARTS_FORMAT_VERSION;
    out->n_parts = n;
    out->size = total;
    out->part_size = s->part_size;
    char *base_copy = strdup(s->output);
    if (!base_copy)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    snprintf(out->bundle, sizeof out->bundle, "%.250s", basename(base_copy));
    free(base_copy);
    if (s->n_parity && ap_rs_check(n, s->n_parity, err) < 0) {
        ap_error_prefix(err, "%s", s->output);
        return -1;
    }
    /* each part's digest: kept from writing in order, else taken in one pass over
     * the parts (two threads), the pass that also encodes the parity parts */
    ap_stripe_file *in = calloc(n, sizeof *in), *par = calloc(s->n_parity + 1, sizeof *par);
    char (*names)[4200] = calloc(n + s->n_parity, sizeof *names);
    size_t n_in = 0;
    int rc = 0;
    if (!in || !par || !names)
        rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        part_state *p = &s->parts[i];
        uint64_t size = i + 1 < n ? s->part_size : total - (uint64_t)i * s->part_size;
        temp_name(s, i, names[i], sizeof names[i]);
        if (!p->dirty && !p->have_digest && s->seq_active && s->seq_part == i && p->hashed_to == size) {
            ap_sha256_final_hex(s->hash, p->sha256);
            p->have_digest = true;
            s->seq_active = false;
        }
        bool need = p->dirty || !p->have_digest || p->hashed_to != size;
        if (need || s->n_parity)
            in[n_in++] = (ap_stripe_file){.path = names[i], .size = size, .hash = need};
        ap_part_name(out->parts[i].name, sizeof out->parts[i].name, out->bundle, i);
        out->parts[i].size = size;
    }
    for (size_t j = 0; rc == 0 && j < s->n_parity; j++) {
        parity_temp_name(s, j, names[n + j], sizeof names[n + j]);
        par[j] = (ap_stripe_file){.path = names[n + j], .size = s->part_size, .hash = true};
    }
    /* the parts are fsynced in a thread of their own while the pass runs */
    syncer sy = {.names = names, .n = n};
    pthread_t sync_thread;
    bool syncing = rc == 0 && pthread_create(&sync_thread, NULL, sync_main, &sy) == 0;
    if (rc == 0 && !syncing)
        sync_main(&sy);
    ap_rs *rs = NULL;
    if (rc == 0 && s->n_parity && !(rs = ap_rs_encoder(n, s->n_parity, err)))
        rc = -1;
    if (rc == 0 && n_in > 0 && ap_stripes_run(in, n_in, rs, par, s->n_parity, s->part_size, NULL, err) < 0)
        rc = -1;
    ap_rs_free(rs);
    if (syncing)
        pthread_join(sync_thread, NULL);
    if (rc == 0 && sy.failed)
        rc = ap_fail(err, AP_ERR_IO, "writing %s: %s", names[sy.failed_at], strerror(sy.failed_errno));
    if (rc == 0 && s->n_parity) {
        s->parity_written = true;
        out->parity = calloc(s->n_parity, sizeof *out->parity);
        if (!out->parity)
            rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
        else
            out->n_parity = s->n_parity;
        for (size_t j = 0; rc == 0 && j < s->n_parity; j++) {
            ap_parity_name(out->parity[j].name, sizeof out->parity[j].name, out->bundle, j);
            out->parity[j].size = s->part_size;
            memcpy(out->parity[j].sha256, par[j].hex, sizeof par[j].hex);
        }
        out->version = AP_PARTS_FORMAT_VERSION_PARITY;
    }
    for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
        part_state *p = &s->parts[i];
        if (k < n_in && in[k].path == names[i]) {
            if (in[k].hash)
                memcpy(p->sha256, in[k].hex, sizeof p->sha256);
            k++;
        }
        memcpy(out->parts[i].sha256, p->sha256, sizeof p->sha256);
    }
    free(in);
    free(par);
    free(names);
    return rc;
}

static int write_file(const char *path, const char *data, size_t len, ap_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "creating %s", path);
    size_t done = 0;
    while (done < len) {
        ssize_t put = write(fd, data + done, len - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0) {
            close(fd);
            return ap_fail_errno(err, AP_ERR_IO, "writing %s", path);
        }
        done += (size_t)put;
    }
    if (fsync(fd) < 0 || close(fd) < 0)
        return ap_fail_errno(err, AP_ERR_IO, "writing %s", path);
    return 0;
}

int split_output_commit(split_output *s, const char *sidecar, size_t len, const char *sig, size_t sig_len,
                        ap_error *err)
{
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/parts", s->dir);
    if (write_file(from, sidecar, len, err) < 0)
        return -1;
    if (sig) {
        snprintf(from, sizeof from, "%s/parts.minisig", s->dir);
        if (write_file(from, sig, sig_len, err) < 0)
            return -1;
    }
    /* the parts first, then the sidecar that lists them */
    for (size_t i = 0; i < s->n_parts; i++) {
        temp_name(s, i, from, sizeof from);
        if (ap_part_name(to, sizeof to, s->output, i) < 0)
            return ap_fail(err, AP_ERR_USAGE, "%s: name too long", s->output);
        if (rename(from, to) < 0)
            return ap_fail_errno(err, AP_ERR_IO, "renaming %s to %s", from, to);
    }
    for (size_t i = s->n_parts; i < AP_PARTS_MAX; i++) {    /* parts of an earlier, longer pack */
        ap_part_name(to, sizeof to, s->output, i);
        if (unlink(to) < 0)
            break;
    }
    for (size_t j = 0; j < AP_PARITY_MAX; j++) {
        if (ap_parity_name(to, sizeof to, s->output, j) < 0)
            return ap_fail(err, AP_ERR_USAGE, "%s: name too long", s->output);
        if (j < s->n_parity && s->parity_written) {
            parity_temp_name(s, j, from, sizeof from);
            if (rename(from, to) < 0)
                return ap_fail_errno(err, AP_ERR_IO, "renaming %s to %s", from, to);
        } else {
            unlink(to);     /* parity parts of an earlier pack */
        }
    }
    snprintf(from, sizeof from, "%s/parts", s->dir);
    snprintf(to, sizeof to, "%s%s", s->output, AP_PARTS_SUFFIX);
    if (rename(from, to) < 0)
        return ap_fail_errno(err, AP_ERR_IO, "renaming %s to %s", from, to);
    snprintf(to, sizeof to, "%s%s", s->output, AP_PARTS_SIG_SUFFIX);
    if (sig) {
        snprintf(from, sizeof from, "%s/parts.minisig", s->dir);
        if (rename(from, to) < 0)
            return ap_fail_errno(err, AP_ERR_IO, "renaming %s to %s", from, to);
    } else {
        unlink(to);
    }
    s->committed = true;
    rmdir(s->dir);
    return ap_fsync_parent_dir(s->output, err);
}

void split_output_abort(split_output *s)
{
    if (!s)
        return;
    hasher_stop(s);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->dir && !s->committed)
        split_output_remove_temp_signal_safe(s->dir);
}

void split_output_free(split_output *s)
{
    if (!s)
        return;
    split_output_abort(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    ap_sha256_free(s->hash);
    free(s->output);
    free(s->dir);
    free(s);
}

const char *split_output_temp_dir(const split_output *s)
{
    return s->dir;
}

void split_output_remove_temp_signal_safe(const char *dir)
{
    char path[4200];
    size_t len = 0;
    while (dir[len] && len < sizeof path - 32) {
        path[len] = dir[len];
        len++;
    }
    if (dir[len])
        return;
    path[len] = '/';
    static const char *const extra[] = {"parts", "parts.minisig"};
    for (size_t k = 0; k < 2; k++) {
        size_t j = 0;
        for (; extra[k][j]; j++)
            path[len + 1 + j] = extra[k][j];
        path[len + 1 + j] = '\0';
        unlink(path);
    }
    for (int i = 0; i < AP_PARITY_MAX; i++) {
        path[len + 1] = 'p';
        path[len + 2] = (char)('0' + i / 10);
        path[len + 3] = (char)('0' + i % 10);
        path[len + 4] = '\0';
        unlink(path);
    }
    for (int i = 0; i < AP_PARTS_MAX; i++) {
        path[len + 1] = (char)('0' + i / 100);
        path[len + 2] = (char)('0' + i / 10 % 10);
        path[len + 3] = (char)('0' + i % 10);
        path[len + 4] = '\0';
        unlink(path);
    }
    path[len] = '\0';
    rmdir(path);
}
