/* part_stripes.c: see part_stripes.h. */
#include "part_stripes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"

typedef struct {
    unsigned char **in;             /* n_in stripes */
    unsigned char **out;            /* n_out stripes */
    uint64_t off;
    size_t len;
    bool full;                      /* handed to the writer */
} stripe_set;

typedef struct {
    ap_stripe_file *in, *out;
    size_t n_in, n_out;
    int *in_fd, *out_fd;
    ap_sha256 **in_hash, **out_hash;
    stripe_set set[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;                      /* no more stripes */
    bool failed;                    /* either side */
    ap_error werr;
} run_state;

static size_t real_len(const ap_stripe_file *f, uint64_t off, size_t len)
{
    if (off >= f->size)
        return 0;
    return f->size - off < len ? (size_t)(f->size - off) : len;
}

static void *writer_main(void *arg)
{
    run_state *st = arg;
    for (size_t s = 0;; s++) {
        stripe_set *set = &st->set[s % 2];
        pthread_mutex_lock(&st->mu);
        while (!set->full && !st->done && !st->failed)
            pthread_cond_wait(&st->cv, &st->mu);
        bool stop = !set->full || st->failed;
        pthread_mutex_unlock(&st->mu);
        if (stop)
            return NULL;
        int rc = 0;
        for (size_t j = 0; j < st->n_out && rc == 0; j++) {
            size_t n = real_len(&st->out[j], set->off, set->len);
            if (n == 0)
                continue;
            if (st->out_hash[j])
                ap_sha256_update(st->out_hash[j], set->out[j], n);
            size_t done = 0;
            while (done < n) {
                ssize_t put = pwrite(st->out_fd[j], set->out[j] + done, n - done, (off_t)(set->off + done));
                if (put < 0 && errno == EINTR)
                    continue;
                if (put < 0) {
                    rc = ap_fail_errno(&st->werr, AP_ERR_IO, "writing %s", st->out[j].path);
                    break;
                }
                done += (size_t)put;
            }
            if (rc == 0)    /* start writing it back now: the fsync at the end is then short */
                sync_file_range(st->out_fd[j], (off_t)set->off, (off_t)n, SYNC_FILE_RANGE_WRITE);
        }
        for (size_t i = 1; i < st->n_in; i += 2)
            if (st->in_hash[i]) {
                size_t n = real_len(&st->in[i], set->off, set->len);
                if (n)
                    ap_sha256_update(st->in_hash[i], set->in[i], n);
            }
        pthread_mutex_lock(&st->mu);
        set->full = false;
        if (rc < 0)
            st->failed = true;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
        if (rc < 0)
            return NULL;
    }
}

static void free_state(run_state *st)
{
    for (int b = 0; b < 2; b++) {
        for (size_t i = 0; st->set[b].in && i < st->n_in; i++)
            free(st->set[b].in[i]);
        for (size_t j = 0; st->set[b].out && j < st->n_out; j++)
            free(st->set[b].out[j]);
        free(st->set[b].in);
        free(st->set[b].out);
    }
    for (size_t i = 0; st->in_fd && i < st->n_in; i++)
        if (st->in_fd[i] >= 0)
            close(st->in_fd[i]);
    for (size_t j = 0; st->out_fd && j < st->n_out; j++)
        if (st->out_fd[j] >= 0)
            close(st->out_fd[j]);
    for (size_t i = 0; st->in_hash && i < st->n_in; i++)
        ap_sha256_free(st->in_hash[i]);
    for (size_t j = 0; st->out_hash && j < st->n_out; j++)
        ap_sha256_free(st->out_hash[j]);
    free(st->in_fd);
    free(st->out_fd);
    free(st->in_hash);
    free(st->out_hash);
}

static int setup(run_state *st, size_t stripe, ap_error *err)
{
    st->in_fd = malloc((st->n_in + 1) * sizeof *st->in_fd);
    st->out_fd = malloc((st->n_out + 1) * sizeof *st->out_fd);
    st->in_hash = calloc(st->n_in + 1, sizeof *st->in_hash);
    st->out_hash = calloc(st->n_out + 1, sizeof *st->out_hash);
    if (!st->in_fd || !st->out_fd || !st->in_hash || !st->out_hash)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < st->n_in; i++)
        st->in_fd[i] = -1;
    for (size_t j = 0; j < st->n_out; j++)
        st->out_fd[j] = -1;
    for (int b = 0; b < 2; b++) {
        st->set[b].in = calloc(st->n_in + 1, sizeof *st->set[b].in);
        st->set[b].out = calloc(st->n_out + 1, sizeof *st->set[b].out);
        if (!st->set[b].in || !st->set[b].out)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < st->n_in; i++)
            if (!(st->set[b].in[i] = aligned_alloc(64, stripe)))
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < st->n_out; j++)
            if (!(st->set[b].out[j] = aligned_alloc(64, stripe)))
                return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < st->n_in; i++) {
        st->in_fd[i] = open(st->in[i].path, O_RDONLY | O_CLOEXEC);
        if (st->in_fd[i] < 0)
            return ap_fail_errno(err, AP_ERR_IO, "cannot open %s", st->in[i].path);
        posix_fadvise(st->in_fd[i], 0, 0, POSIX_FADV_SEQUENTIAL);
        if (st->in[i].hash && !(st->in_hash[i] = ap_sha256_new()))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < st->n_out; j++) {
        st->out_fd[j] = open(st->out[j].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (st->out_fd[j] < 0)
            return ap_fail_errno(err, AP_ERR_IO, "creating %s", st->out[j].path);
        if (st->out[j].hash && !(st->out_hash[j] = ap_sha256_new()))
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int ap_stripes_run(ap_stripe_file *in, size_t n_in, const ap_rs *rs, ap_stripe_file *out, size_t n_out,
                   uint64_t part_size, volatile sig_atomic_t *cancel, ap_error *err)
{
    if ((!rs && n_out) || (rs && (ap_rs_inputs(rs) != n_in || ap_rs_outputs(rs) != n_out)))
        return ap_fail(err, AP_ERR_USAGE, "stripes: %zu inputs and %zu outputs do not fit the code", n_in, n_out);
    for (size_t i = 0; i < n_in; i++)
        if (in[i].size > part_size)
            return ap_fail(err, AP_ERR_USAGE, "%s: %llu bytes, over the part size", in[i].path,
                           (unsigned long long)in[i].size);
    run_state st;
    memset(&st, 0, sizeof st);
    st.in = in;
    st.out = out;
    st.n_in = n_in;
    st.n_out = n_out;
    size_t stripe = rs ? ap_rs_stripe(n_in, n_out) : AP_PARITY_STRIPE;
    ap_error_clear(&st.werr);
    if (setup(&st, stripe, err) < 0) {
        free_state(&st);
        return -1;
    }
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    pthread_t writer;
    if (pthread_create(&writer, NULL, writer_main, &st) != 0) {
        pthread_mutex_destroy(&st.mu);
        pthread_cond_destroy(&st.cv);
        free_state(&st);
        return ap_fail(err, AP_ERR_NOMEM, "cannot start a thread");
    }
    int rc = 0;
    for (size_t s = 0; (uint64_t)s * stripe < part_size; s++) {
        stripe_set *set = &st.set[s % 2];
        pthread_mutex_lock(&st.mu);
        while (set->full && !st.failed)
            pthread_cond_wait(&st.cv, &st.mu);
        bool stop = st.failed;
        pthread_mutex_unlock(&st.mu);
        if (stop)
            break;
        if (cancel && *cancel) {
            rc = ap_fail(err, AP_ERR_INTERRUPTED, "interrupted");
            break;
        }
        set->off = (uint64_t)s * stripe;
        set->len = part_size - set->off < stripe ? (size_t)(part_size - set->off) : stripe;
        for (size_t i = 0; i < n_in && rc == 0; i++) {
            size_t n = real_len(&in[i], set->off, set->len);
            if (n && ap_pread_all(st.in_fd[i], set->in[i], n, set->off, in[i].path, err) < 0)
                rc = -1;
            if (n < set->len)
                memset(set->in[i] + n, 0, set->len - n);
            if (rc == 0 && n && (i % 2) == 0 && st.in_hash[i])
                ap_sha256_update(st.in_hash[i], set->in[i], n);
        }
        if (rc < 0)
            break;
        if (rs)
            ap_rs_run(rs, set->len, set->in, set->out);
        pthread_mutex_lock(&st.mu);
        set->full = true;
        pthread_cond_broadcast(&st.cv);
        pthread_mutex_unlock(&st.mu);
    }
    pthread_mutex_lock(&st.mu);
    st.done = true;
    if (rc < 0)
        st.failed = true;
    pthread_cond_broadcast(&st.cv);
    pthread_mutex_unlock(&st.mu);
    pthread_join(writer, NULL);
    if (rc == 0 && st.werr.code != AP_OK) {
        *err = st.werr;
        rc = -1;
    }
    for (size_t j = 0; rc == 0 && j < n_out; j++)
        if (fsync(st.out_fd[j]) < 0)
            rc = ap_fail_errno(err, AP_ERR_IO, "writing %s", out[j].path);
    for (size_t i = 0; rc == 0 && i < n_in; i++)
        if (st.in_hash[i])
            ap_sha256_final_hex(st.in_hash[i], in[i].hex);
    for (size_t j = 0; rc == 0 && j < n_out; j++)
        if (st.out_hash[j])
            ap_sha256_final_hex(st.out_hash[j], out[j].hex);
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
    free_state(&st);
    return rc;
}
