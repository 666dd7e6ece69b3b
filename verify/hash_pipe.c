#include "hash_pipe.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define INLINE_MAX (128u << 10)   /* up to this (and a quarter buffer) is hashed in the caller's thread */

struct ap_hash_pipe {
    ap_sha256 *hash;
    size_t n, size;
    unsigned char **buf;
    size_t *len;
    bool *busy;             /* submitted and not yet hashed */
    bool *tapped;           /* submitted to the tap and not yet through it */
    size_t give;            /* the slot ap_hash_pipe_buffer gives (until it is submitted) */
    /* shared with the hasher, under mu */
    pthread_mutex_t mu;
    pthread_cond_t work;    /* caller -> hasher: a slot was submitted, or stop */
    pthread_cond_t done;    /* hasher -> caller: a slot is free again */
    size_t next;            /* the slot the hasher hashes next */
    size_t n_busy;
    bool stop;
    bool threaded;
    pthread_t thread;
    /* the tap: a third thread that reads the same buffers (see ap_hash_pipe_set_tap) */
    ap_hash_tap_fn tap;
    void *tap_ctx;
    size_t tap_next;        /* the slot the tap reads next */
    size_t n_tapped;
    bool tap_threaded;
    pthread_t tap_thread;
    pthread_cond_t tap_work;
};

/* The loop of the two threads that read submitted buffers in ring order: the hasher (tap
 * false) and the tap (tap true), each with its own count, flags, next slot and wake-up. */
static void *ring_reader(ap_hash_pipe *p, bool tap)
{
    size_t *count = tap ? &p->n_tapped : &p->n_busy;
    size_t *next = tap ? &p->tap_next : &p->next;
    bool *pending = tap ? p->tapped : p->busy;
    pthread_cond_t *work = tap ? &p->tap_work : &p->work;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!*count && !p->stop)
            pthread_cond_wait(work, &p->mu);
        if (!*count)
            break;   /* stop, and nothing left */
        size_t i = *next;
        ap_hash_tap_fn fn = p->tap;
        void *ctx = p->tap_ctx;
        pthread_mutex_unlock(&p->mu);
        if (tap)
            fn(ctx, p->buf[i], p->len[i]);
        else
            ap_sha256_update(p->hash, p->buf[i], p->len[i]);
        pthread_mutex_lock(&p->mu);
        pending[i] = false;
        (*count)--;
        *next = (i + 1) % p->n;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *tapper(void *arg)
{
    return ring_reader(arg, true);
}

static void *hasher(void *arg)
{
    return ring_reader(arg, false);
}

/* Frees p's buffers, flags, hash and p (what may have been allocated of them). */
static void free_memory(ap_hash_pipe *p)
{
    for (size_t i = 0; p->buf && i < p->n; i++)
        free(p->buf[i]);
    free(p->buf);
    free(p->len);
    free(p->busy);
    free(p->tapped);
    ap_sha256_free(p->hash);
    free(p);
}

ap_hash_pipe *ap_hash_pipe_new(size_t n_buffers, size_t buf_size, ap_error *err)
{
    if (n_buffers < 2)
        n_buffers = 2;
    ap_hash_pipe *p = calloc(1, sizeof *p);
    if (!p)
        goto nomem;
    p->n = n_buffers;
    p->size = buf_size;
    p->hash = ap_sha256_new();
    p->buf = calloc(n_buffers, sizeof *p->buf);
    p->len = calloc(n_buffers, sizeof *p->len);
    p->busy = calloc(n_buffers, sizeof *p->busy);
    p->tapped = calloc(n_buffers, sizeof *p->tapped);
    if (!p->hash || !p->buf || !p->len || !p->busy || !p->tapped)
        goto nomem;
    for (size_t i = 0; i < n_buffers; i++)
        if (!(p->buf[i] = malloc(buf_size ? buf_size : 1)))
            goto nomem;
    if (pthread_mutex_init(&p->mu, NULL))
        goto nomem;
    if (pthread_cond_init(&p->work, NULL)) {
        pthread_mutex_destroy(&p->mu);
        goto nomem;
    }
    if (pthread_cond_init(&p->done, NULL)) {
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->mu);
        goto nomem;
    }
    if (pthread_cond_init(&p->tap_work, NULL)) {
        pthread_cond_destroy(&p->done);
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->mu);
        goto nomem;
    }
    p->threaded = pthread_create(&p->thread, NULL, hasher, p) == 0;
    p->tap_threaded = p->threaded && pthread_create(&p->tap_thread, NULL, tapper, p) == 0;
    return p;
nomem:
    if (p)
        free_memory(p);
    ap_fail(err, AP_ERR_NOMEM, "out of memory");
    return NULL;
}

size_t ap_hash_pipe_buffer_size(const ap_hash_pipe *p)
{
    return p->size;
}

int ap_hash_pipe_threaded(const ap_hash_pipe *p)
{
    return p->threaded;
}

/* Waits, when its thread runs, until *count (under mu) comes down to zero. */
static void wait_zero(ap_hash_pipe *p, bool threaded, const size_t *count)
{
    if (!threaded)
        return;
    pthread_mutex_lock(&p->mu);
    while (*count)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Waits until the hasher has hashed every submitted buffer. */
static void wait_idle(ap_hash_pipe *p)
{
    wait_zero(p, p->threaded, &p->n_busy);
}

/* Waits until the tap has read every buffer submitted to it. */
static void wait_tap_idle(ap_hash_pipe *p)
{
    wait_zero(p, p->tap_threaded, &p->n_tapped);
}

void ap_hash_pipe_set_tap(ap_hash_pipe *p, ap_hash_tap_fn fn, void *ctx)
{
    wait_tap_idle(p);
    pthread_mutex_lock(&p->mu);
    p->tap = fn;
    p->tap_ctx = ctx;
    p->tap_next = p->give;
    pthread_mutex_unlock(&p->mu);
}

void ap_hash_pipe_tap_wait(ap_hash_pipe *p)
{
    wait_tap_idle(p);
}

/* Buffers are submitted in ring order: `give` moves on only when its buffer is submitted. */
unsigned char *ap_hash_pipe_buffer(ap_hash_pipe *p)
{
    size_t i = p->give;
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        while (p->busy[i] || p->tapped[i])
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    return p->buf[i];
}

void ap_hash_pipe_submit(ap_hash_pipe *p, unsigned char *buf, size_t n)
{
    if (n == 0)
        return;
    size_t i = p->give;
    if (!p->threaded || buf != p->buf[i] || n > p->size || (n <= INLINE_MAX && n <= p->size / 4)) {
        /* no thread, not the buffer just given, or too small to be worth two thread switches
         * (a bundle of many tiny blobs): hash it here, after what came before */
        wait_idle(p);
        ap_sha256_update(p->hash, buf, n);
        if (p->tap) {
            wait_tap_idle(p);
            p->tap(p->tap_ctx, buf, n);
        }
        if (buf == p->buf[i]) {
            /* the ring turns as if it had been submitted; the threads are idle */
            pthread_mutex_lock(&p->mu);
            p->give = p->next = (i + 1) % p->n;
            if (p->tap)
                p->tap_next = p->give;
            pthread_mutex_unlock(&p->mu);
        }
        return;
    }
    if (p->tap && !p->tap_threaded) {
        p->tap(p->tap_ctx, buf, n);   /* no tap thread: read it here, before the hasher may free it */
    }
    pthread_mutex_lock(&p->mu);
    p->len[i] = n;
    p->busy[i] = true;
    p->n_busy++;
    pthread_cond_signal(&p->work);
    if (p->tap && p->tap_threaded) {
        p->tapped[i] = true;
        p->n_tapped++;
        pthread_cond_signal(&p->tap_work);
    }
    pthread_mutex_unlock(&p->mu);
    p->give = (i + 1) % p->n;
}

void ap_hash_pipe_final_hex(ap_hash_pipe *p, char hex_out[AP_HEX_LEN + 1])
{
    wait_idle(p);
    ap_sha256_final_hex(p->hash, hex_out);
}

void ap_hash_pipe_free(ap_hash_pipe *p)
{
    if (!p)
        return;
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->work);
        pthread_cond_signal(&p->tap_work);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        if (p->tap_threaded)
            pthread_join(p->tap_thread, NULL);
    }
    pthread_cond_destroy(&p->tap_work);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free_memory(p);
}
