/* load_containerd.c: the containerd:[NAMESPACE] target (default namespace "default").
 *
 * Verified blobs gather in a private temporary OCI layout (load_via_layout.h);
 * only at commit, after the whole bundle verified, is a tar of that layout
 * streamed into `ctr -n NAMESPACE images import --all-platforms -` (with
 * `--address $CONTAINERD_ADDRESS` when set; ctr also honours
 * $CONTAINERD_SNAPSHOTTER). Names come from the layout's
 * io.containerd.image.name annotations, so images keep their full names
 * (docker.io/library/nginx:1.25) and their manifest digests; an image without
 * a name is not kept by containerd. After the import every name is checked in
 * `ctr images ls`; ctr's own error is reported when it fails. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "load_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_via_layout.h"
#include "../remote/run_tool.h"

#define LS_MAX (16u << 20)

typedef struct {
    char *ns;
    char *address;      /* $CONTAINERD_ADDRESS or NULL */
} ctrd_ctx;

static void ctrd_free(void *p)
{
    ctrd_ctx *c = p;
    if (c) {
        free(c->ns);
        free(c->address);
        free(c);
    }
}

/* argv: ctr [--address A] -n NS <rest...> */
static void ctr_argv(const ctrd_ctx *c, char **argv, size_t cap, char *const *rest)
{
    size_t n = 0;
    argv[n++] = "ctr";
    if (c->address) {
        argv[n++] = "--address";
        argv[n++] = c->address;
    }
    argv[n++] = "-n";
    argv[n++] = c->ns;
    for (size_t i = 0; rest[i] && n + 1 < cap; i++)
        argv[n++] = rest[i];
    argv[n] = NULL;
}

/* The manifest digest `ctr images ls` shows for a name, or "" (out: AP_DIGEST_LEN+1). */
static void ls_target(const char *ls, const char *name, char *out)
{
    out[0] = '\0';
    const char *line = ls;
    size_t nl = strlen(name);
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nl && strncmp(line, name, nl) == 0 && (line[nl] == ' ' || line[nl] == '\t')) {
            /* REF TYPE DIGEST ... */
            char buf[1024];
            snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf - 1 ? len : sizeof buf - 1), line);
            char *save = NULL;
            strtok_r(buf, " \t", &save);
            strtok_r(NULL, " \t", &save);
            char *dg = strtok_r(NULL, " \t", &save);
            if (dg && strlen(dg) == AP_DIGEST_LEN)
                snprintf(out, AP_DIGEST_LEN + 1, "%s", dg);
            return;
        }
        line = end ? end + 1 : NULL;
    }
}

static int ctr_ls(const ctrd_ctx *c, run_result *res, ap_error *err)
{
    char *rest[] = {"images", "ls", NULL};
    char *argv[16];
    ctr_argv(c, argv, 16, rest);
    if (run_tool(argv, NULL, NULL, LS_MAX, res, NULL, err) < 0)
        return -1;
    if (res->exit_status != 0) {
        char cmd[512];
        run_tool_cmdline(argv, cmd, sizeof cmd);
        ap_fail(err, AP_ERR_TARGET, "containerd (namespace %s): `%s` failed (exit %d): %s", c->ns, cmd,
                res->exit_status, res->err_tail[0] ? res->err_tail : "no message");
        run_result_free(res);
        return -1;
    }
    return 0;
}

typedef struct {
    const char *dir;
} feed_ctx;

static int feed_tar(void *p, int fd, ap_error *err)
{
    feed_ctx *f = p;
    return layout_write_tar(f->dir, fd, err);
}

static int ctrd_import(void *p, const char *dir, const ap_bundle_index *idx, const bool *sel,
                       load_result **results, size_t *n_results, ap_error *err)
{
    ctrd_ctx *c = p;
    run_result before;
    if (ctr_ls(c, &before, err) < 0)
        return -1;
    char *rest[] = {"images", "import", "--all-platforms", "-", NULL};
    char *argv[16];
    ctr_argv(c, argv, 16, rest);
    feed_ctx f = {.dir = dir};
    run_result res;
    ap_error feed_err = {0};
    if (run_tool(argv, feed_tar, &f, 64u << 10, &res, &feed_err, err) < 0) {
        run_result_free(&before);
        return -1;
    }
    int rc = 0;
    if (res.exit_status != 0 || feed_err.code != AP_OK) {
        char cmd[512];
        run_tool_cmdline(argv, cmd, sizeof cmd);
        if (res.exit_status != 0)
            rc = ap_fail(err, AP_ERR_TARGET, "containerd (namespace %s): `%s` failed (exit %d): %s", c->ns, cmd,
                         res.exit_status, res.err_tail[0] ? res.err_tail : "no message");
        else
            rc = ap_fail(err, AP_ERR_TARGET, "containerd (namespace %s): feeding `%s`: %s", c->ns, cmd,
                         feed_err.msg);
    }
    run_result_free(&res);
    run_result after = {0};
    if (rc == 0 && ctr_ls(c, &after, err) < 0)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < idx->n_images; i++) {
        if (!sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        for (size_t k = 0; rc == 0 && k < im->n_names; k++) {
            char was[AP_DIGEST_LEN + 1], now[AP_DIGEST_LEN + 1];
            ls_target(before.out ? before.out : "", im->names[k], was);
            ls_target(after.out ? after.out : "", im->names[k], now);
            /* a name several platforms carry points to its image index */
            const ap_index_index *x = load_index_for(idx, sel, im->names[k]);
            const char *want = x ? x->blob.digest : im->manifest.digest;
            if (strcmp(now, want) != 0) {
                rc = ap_fail(err, AP_ERR_TARGET,
                             "containerd (namespace %s): after the import, image %s points to %s, not %s", c->ns,
                             im->names[k], now[0] ? now : "nothing", want);
                break;
            }
            rc = layout_add_result(results, n_results, im->names[k], im->config.digest, strcmp(was, want) != 0, err);
        }
    }
    run_result_free(&before);
    run_result_free(&after);
    if (rc < 0) {
        load_results_free(*results, *n_results);
        *results = NULL;
        *n_results = 0;
    }
    return rc;
}

/* containerd answers (`ctr images ls` in the namespace) before any blob is read. */
static int ctrd_check(void *p, ap_error *err)
{
    run_result res;
    if (ctr_ls(p, &res, err) < 0)
        return -1;
    run_result_free(&res);
    return 0;
}

static bool ns_ok(const char *ns)
{
    if (!*ns || strlen(ns) > 76)
        return false;
    for (const char *p = ns; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

load_target *load_containerd_open(const char *ns, const load_options *opts, ap_error *err)
{
    if (ns && strncmp(ns, "containerd:", 11) == 0)
        ns += 11;
    if (!ns || !*ns)
        ns = "default";
    if (!ns_ok(ns)) {
        ap_fail(err, AP_ERR_USAGE, "target containerd:%s: a namespace is letters, digits, '.', '_' and '-'", ns);
        return NULL;
    }
    ctrd_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->ns = strdup(ns))) {
        ctrd_free(c);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const char *addr = getenv("CONTAINERD_ADDRESS");
    if (addr && *addr && !(c->address = strdup(addr))) {
        ctrd_free(c);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return layout_target_open("containerd", opts, ctrd_check, ctrd_import, c, ctrd_free, err);
}
