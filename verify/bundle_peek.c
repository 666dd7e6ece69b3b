/* bundle_peek.c: see bundle_peek.h. */
#include "bundle_peek.h"

#include <stdlib.h>
#include <string.h>

#include "../formats/json_check.h"
#include "../formats/tar_reader.h"
#include "bundle_input.h"

int bundle_peek_index(const char *path, ap_bundle_index *idx, ap_error *err)
{
    bundle_input in;
    if (bundle_input_open(&in, path, 0, NULL, err) < 0)
        return -1;
    ap_tar_reader *r = ap_tar_reader_new(in.read, in.read_ctx, path, AP_TAR_STRICT, err);
    int rc = -1;
    char *buf = NULL;
    ap_tar_entry e;
    if (!r)
        goto out;
    int got = ap_tar_next(r, &e, err);
    if (got < 0)
        goto out;
    if (got == 0 || strcmp(e.path, AP_INDEX_PATH)) {
        ap_fail(err, AP_ERR_FORMAT, "%s: not an airpack bundle (its first entry is not %s)", path,
                AP_INDEX_PATH);
        goto out;
    }
    if (e.size > AP_INDEX_MAX_SIZE) {
        ap_fail(err, AP_ERR_FORMAT, "%s: index of %llu bytes is larger than the %u MiB cap", path,
                (unsigned long long)e.size, AP_INDEX_MAX_SIZE >> 20);
        goto out;
    }
    buf = malloc(e.size + 1);
    if (!buf) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t have = 0;
    while (have < e.size) {
        ssize_t n = ap_tar_read(r, buf + have, e.size - have, err);
        if (n < 0)
            goto out;
        if (n == 0) {
            ap_fail(err, AP_ERR_FORMAT, "%s: index truncated", path);
            goto out;
        }
        have += (size_t)n;
    }
    if (ap_json_check_depth(buf, e.size, AP_JSON_MAX_DEPTH, AP_INDEX_PATH, err) < 0 ||
        ap_bundle_index_parse(buf, e.size, idx, err) < 0) {
        ap_error_prefix(err, "%s", path);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    ap_tar_reader_free(r);
    if (rc < 0)
        bundle_input_explain(&in, NULL, err);
    bundle_input_close(&in);
    return rc;
}
