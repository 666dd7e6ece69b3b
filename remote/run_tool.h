/* run_tool.h: running an external tool (ctr, skopeo) from library code.
 *
 * The tool runs with execvp (no shell, so nothing is quoted or interpreted),
 * its standard input fed by a callback through a socket (a tool that exits
 * early gives the feeder an error, never a SIGPIPE), its standard output
 * captured up to a cap and the tail of its standard error kept for messages.
 * Nothing is printed. */
#ifndef AIRPACK_RUN_TOOL_H
#define AIRPACK_RUN_TOOL_H

#include <stddef.h>

#include "../formats/error.h"

/* Writes the tool's standard input to fd (use run_tool_write); returns 0 or -1 with err. */
typedef int (*run_feed_fn)(void *ctx, int fd, ap_error *err);

typedef struct {
    int exit_status;            /* 0..255, or 128 + signal number */
    char *out;                  /* standard output, NUL-terminated (at most out_max bytes) */
    size_t out_len;
    char err_tail[2048];        /* the end of standard error, one line, printable */
} run_result;

/* Returns 0 when the tool ran to its end (whatever its exit status), -1
 * (AP_ERR_TARGET) when it could not be started or waited for. A feeder error
 * is reported in *feed_err (the tool's own failure usually says more). */
int run_tool(char *const argv[], run_feed_fn feed, void *feed_ctx, size_t out_max, run_result *res,
             ap_error *feed_err, ap_error *err);
void run_result_free(run_result *res);

/* Writes all n bytes to a feed fd without raising SIGPIPE. */
int run_tool_write(int fd, const void *buf, size_t n, ap_error *err);

/* "ctr -n x images import -" for messages. */
void run_tool_cmdline(char *const argv[], char *out, size_t n);

#endif
