/* report.c: see report.h. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>

int run_on_bundle(const char *path, volatile sig_atomic_t *cancel, bundle_run_fn fn, void *ctx, const char **name,
                  bool *read_failed, ap_error *err)
{
    bundle_input in;
    *read_failed = false;
    int r = bundle_input_open(&in, path, BUNDLE_INPUT_ALL_PARTS, cancel, err);
    *name = r < 0 ? path : in.name;
    if (r != 0)
        return r;
    r = fn(&in, ctx, err);
    *read_failed = in.read_failed;
    bundle_input_close(&in);
    return r;
}

void json_put_verified(json_t *o, const ap_verify_report *rep)
{
    if (rep->sequence) {
        json_object_set_new(o, "channel", json_string(rep->channel));
        json_object_set_new(o, "sequence", json_integer((json_int_t)rep->sequence));
        json_object_set_new(o, "expires", rep->expires[0] ? json_string(rep->expires) : json_null());
    }
    if (rep->warning[0])
        json_object_set_new(o, "warning", json_string(rep->warning));
}

void json_print_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}
