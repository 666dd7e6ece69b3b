/* feed.c: see feed.h. */
#include "feed.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct feed {
    int rd, wr;
    pthread_t thread;
    bool started, joined, stopped;
    feed_producer produce;
    void *ctx;
    int result;
    ap_error err;
};

static int feed_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    feed *f = ctx;
    const char *p = buf;
    while (n > 0) {
        ssize_t put = send(f->wr, p, n, MSG_NOSIGNAL);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            return ap_fail(err, AP_ERR_INTERRUPTED, "the reader stopped");
        }
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

static void *feed_main(void *arg)
{
    feed *f = arg;
    ap_error_clear(&f->err);
    f->result = f->produce(f->ctx, feed_sink, f, &f->err);
    shutdown(f->wr, SHUT_WR);
    return NULL;
}

feed *feed_start(feed_producer produce, void *ctx, ap_error *err)
{
    feed *f = calloc(1, sizeof *f);
    if (!f) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        ap_fail_errno(err, AP_ERR_IO, "socketpair");
        free(f);
        return NULL;
    }
    f->rd = sv[0];
    f->wr = sv[1];
    f->produce = produce;
    f->ctx = ctx;
    if (pthread_create(&f->thread, NULL, feed_main, f) != 0) {
        ap_fail(err, AP_ERR_IO, "could not start a download thread");
        close(f->rd);
        close(f->wr);
        free(f);
        return NULL;
    }
    f->started = true;
    return f;
}

static void join(feed *f)
{
    if (f->started && !f->joined) {
        pthread_join(f->thread, NULL);
        f->joined = true;
    }
}

ssize_t feed_read(void *ctx, void *buf, size_t n, ap_error *err)
{
    feed *f = ctx;
    for (;;) {
        ssize_t got = recv(f->rd, buf, n, 0);
        if (got > 0)
            return got;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return ap_fail_errno(err, AP_ERR_IO, "reading a download");
        join(f);
        if (f->result != 0) {
            if (err)
                *err = f->err;
            return -1;
        }
        return 0;
    }
}

int feed_finish(feed *f, ap_error *err)
{
    if (!f)
        return 0;
    /* closing our end frees what is queued and wakes the producer, whose next
     * send fails with EPIPE, so it stops */
    close(f->rd);
    join(f);
    int rc = f->result;
    if (rc != 0 && err)
        *err = f->err;
    close(f->wr);
    free(f);
    return rc;
}
