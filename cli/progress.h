/* progress.h: one self-rewriting progress line on stderr, only when stderr is a terminal. */
#ifndef AIRPACK_PROGRESS_H
#define AIRPACK_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *label;
    uint64_t total;        /* 0 when unknown (a pipe) */
    bool enabled;
    double start;
    double last;
} progress_line;

void progress_init(progress_line *p, const char *label, uint64_t total, bool quiet);
/* Suitable as a progress callback: ctx is progress_line*. Rate-limited to ~4/s. */
void progress_update(void *ctx, uint64_t done);
void progress_done(progress_line *p);   /* clears the line */

/* "1.5 MiB": bytes in powers of 1024, for people. */
void format_bytes(char *out, size_t n, double bytes);

#endif
