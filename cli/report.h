/* report.h: what the commands that read a bundle (verify, load) share: opening it, running
 * over it, and writing their --json report. */
#ifndef AIRPACK_REPORT_H
#define AIRPACK_REPORT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "../verify/verify.h"

typedef int (*bundle_run_fn)(bundle_input *in, void *ctx, ap_error *err);

/* Opens path (or - for standard input; every part of a split bundle; cancel, when not NULL,
 * stops the reads), runs fn(in, ctx, err) over it and closes it. *name is the bundle's
 * name for messages, *read_failed whether a read failed. Returns what bundle_input_open
 * returned when it failed, else what fn returned. */
int run_on_bundle(const char *path, volatile sig_atomic_t *cancel, bundle_run_fn fn, void *ctx, const char **name,
                  bool *read_failed, ap_error *err);

/* Puts the verified bundle's channel, sequence and expiry (when it has a sequence) and
 * its warning (when there is one) into o. */
void json_put_verified(json_t *o, const ap_verify_report *rep);

/* Prints o as one compact line on standard output and drops it. */
void json_print_line(json_t *o);

#endif
