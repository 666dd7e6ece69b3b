#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void format_bytes(char *out, size_t n, double bytes)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

void progress_init(progress_line *p, const char *label, uint64_t total, bool quiet)
{
    p->label = label;
    p->total = total;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->start = now();
    p->last = 0;
}

void progress_update(void *ctx, uint64_t done)
{
    progress_line *p = ctx;
    if (!p || !p->enabled)
        return;
    double t = now();
    if (t - p->last < 0.25)
        return;
    p->last = t;
    double el = t - p->start;
    double rate = el > 0 ? (double)done / el : 0;
    char d[32], r[32];
    format_bytes(d, sizeof d, (double)done);
    format_bytes(r, sizeof r, rate);
    if (p->total > 0 && rate > 0 && done <= p->total) {
        char tot[32];
        format_bytes(tot, sizeof tot, (double)p->total);
        double left = (double)(p->total - done) / rate;
        fprintf(stderr, "\r\033[K%s: %s of %s (%.0f%%), %s/s, %.0fs left", p->label, d, tot,
                100.0 * (double)done / (double)p->total, r, left);
    } else {
        fprintf(stderr, "\r\033[K%s: %s, %s/s", p->label, d, r);
    }
    fflush(stderr);
}

void progress_done(progress_line *p)
{
    if (p && p->enabled) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
