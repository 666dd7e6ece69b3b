#include "file_syncer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int fd;
    char *name;
} job;

struct ap_file_syncer {
    pthread_mutex_t mu;
    pthread_cond_t work;    /* caller -> syncer: a job was queued, or stop */
    pthread_cond_t done;    /* syncer -> caller: a job finished */
    job *q;                 /* ring of cap jobs */
    size_t cap, head, n;    /* queued: q[head], ... q[head + n - 1] */
    bool running;           /* the syncer is working on a job it took from the queue */
    bool stop;
    bool threaded;
    pthread_t thread;
    /* the first failure (written by whoever syncs, under mu) */
    bool failed;
    int fail_errno;
    char *fail_name;
};

/* fsync + close one file; the first failure is kept. Called with mu not held. */
static void sync_one(ap_file_syncer *s, job *j, bool skip)
{
    int e = 0;
    if (!skip && fsync(j->fd) < 0 && errno != EINVAL)
        e = errno;
    if (close(j->fd) < 0 && !e && !skip)
        e = errno;
    if (e) {
        pthread_mutex_lock(&s->mu);
        if (!s->failed) {
            s->failed = true;
            s->fail_errno = e;
            s->fail_name = j->name;
            j->name = NULL;
        }
        pthread_mutex_unlock(&s->mu);
    }
    free(j->name);
    j->name = NULL;
}

static void *syncer(void *arg)
{
    ap_file_syncer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->n && !s->stop)
            pthread_cond_wait(&s->work, &s->mu);
        if (!s->n)
            break;
        job j = s->q[s->head];
        s->head = (s->head + 1) % s->cap;
        s->n--;
        s->running = true;
        bool skip = s->failed || s->stop;
        pthread_mutex_unlock(&s->mu);
        sync_one(s, &j, skip);
        pthread_mutex_lock(&s->mu);
        s->running = false;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

ap_file_syncer *ap_file_syncer_new(size_t max_pending, ap_error *err)
{
    ap_file_syncer *s = calloc(1, sizeof *s);
    if (max_pending < 1)
        max_pending = 1;
    if (!s || !(s->q = calloc(max_pending, sizeof *s->q))) {
        free(s);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->cap = max_pending;
    if (pthread_mutex_init(&s->mu, NULL)) {
        free(s->q);
        free(s);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    /* Without the condition variables or the thread, files are synced in add(). */
    if (pthread_cond_init(&s->work, NULL) == 0) {
        if (pthread_cond_init(&s->done, NULL) == 0) {
            s->threaded = pthread_create(&s->thread, NULL, syncer, s) == 0;
            if (!s->threaded)
                pthread_cond_destroy(&s->done);
        }
        if (!s->threaded)
            pthread_cond_destroy(&s->work);
    }
    return s;
}

/* The first failure as an ap_error (caller's thread). */
static int report_failure(ap_file_syncer *s, ap_error *err)
{
    errno = s->fail_errno;
    return ap_fail_errno(err, AP_ERR_TARGET, "cannot sync %s", s->fail_name ? s->fail_name : "a file");
}

int ap_file_syncer_add(ap_file_syncer *s, int fd, const char *name, ap_error *err)
{
    job j = {.fd = fd, .name = strdup(name ? name : "a file")};
    if (!j.name) {
        close(fd);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    if (!s->threaded) {
        if (!s->failed)
            sync_one(s, &j, false);
        else {
            close(fd);
            free(j.name);
        }
        return s->failed ? report_failure(s, err) : 0;
    }
    pthread_mutex_lock(&s->mu);
    while (s->n == s->cap && !s->failed)
        pthread_cond_wait(&s->done, &s->mu);
    if (s->failed) {
        pthread_mutex_unlock(&s->mu);
        close(fd);
        free(j.name);
        return report_failure(s, err);
    }
    s->q[(s->head + s->n) % s->cap] = j;
    s->n++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int ap_file_syncer_wait(ap_file_syncer *s, ap_error *err)
{
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        while (s->n || s->running)
            pthread_cond_wait(&s->done, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
    return s->failed ? report_failure(s, err) : 0;
}

void ap_file_syncer_free(ap_file_syncer *s)
{
    if (!s)
        return;
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;   /* what is still queued is closed unsynced */
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->done);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->fail_name);
    free(s->q);
    free(s);
}
