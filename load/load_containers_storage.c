/* load_containers_storage.c: the containers-storage: target (podman, buildah, CRI-O).
 *
 * Spec: "containers-storage:" (the default store, per storage.conf and
 * $CONTAINERS_STORAGE_CONF) or, as skopeo writes it,
 * "containers-storage:[DRIVER@ROOT+RUNROOT]" (also without the brackets), e.g.
 * containers-storage:[vfs@/tmp/x/root+/tmp/x/run].
 *
 * Verified blobs gather in a private temporary OCI layout (load_via_layout.h);
 * only at commit, after the whole bundle verified, does
 * `skopeo copy oci:TMP:REF containers-storage:[STORE]NAME` run once per image
 * name. skopeo keeps the config byte for byte, so the image ID in the store is
 * the config digest (what `podman images` shows) and the name is the bundle's
 * full name. Each name is then read back (`skopeo inspect --config --raw`) and
 * its config digest checked. An image without a name is stored by its ID. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "load_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "load_via_layout.h"
#include "../remote/run_tool.h"

#define REF_ANNOTATION "org.opencontainers.image.ref.name"
#define CONFIG_MAX (64u << 20)

typedef struct {
    char *store;        /* "" or "[vfs@/root+/run]" */
} storage_ctx;

static void storage_free(void *p)
{
    storage_ctx *s = p;
    if (s) {
        free(s->store);
        free(s);
    }
}

/* Our private layout gets an index.json whose ref names are unique ("airpack-3"):
 * the bundle's tags alone ("latest") may repeat across images. */
static int write_private_index(const char *dir, const ap_bundle_index *idx, const bool *sel, ap_error *err)
{
    json_t *index = json_object();
    json_t *mans = json_array();
    json_object_set_new(index, "schemaVersion", json_integer(2));
    json_object_set_new(index, "mediaType", json_string("application/vnd.oci.image.index.v1+json"));
    json_object_set_new(index, "manifests", mans);
    for (size_t i = 0; i < idx->n_images; i++) {
        if (!sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        char ref[64];
        snprintf(ref, sizeof ref, "airpack-%zu", i);
        json_t *d = json_object();
        json_object_set_new(d, "mediaType", json_string("application/vnd.oci.image.manifest.v1+json"));
        json_object_set_new(d, "digest", json_string(im->manifest.digest));
        json_object_set_new(d, "size", json_integer((json_int_t)im->manifest.size));
        json_t *a = json_object();
        json_object_set_new(a, REF_ANNOTATION, json_string(ref));
        json_object_set_new(d, "annotations", a);
        json_array_append_new(mans, d);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    int rc = json_dump_file(index, path, JSON_COMPACT);
    json_decref(index);
    if (rc != 0)
        return ap_fail(err, AP_ERR_TARGET, "cannot write %s", path);
    return 0;
}

/* sha256 of what `skopeo inspect --config --raw` gives for a name, or "" when it has none. */
static int stored_config(const storage_ctx *s, const char *name, char out[AP_DIGEST_LEN + 1], ap_error *err)
{
    char ref[2048];
    snprintf(ref, sizeof ref, "containers-storage:%s%s", s->store, name);
    char *argv[] = {"skopeo", "inspect", "--config", "--raw", ref, NULL};
    run_result res;
    out[0] = '\0';
    if (run_tool(argv, NULL, NULL, CONFIG_MAX, &res, NULL, err) < 0)
        return -1;
    if (res.exit_status == 0 && res.out) {
        char hex[AP_HEX_LEN + 1];
        ap_sha256_hex(res.out, res.out_len, hex);
        snprintf(out, AP_DIGEST_LEN + 1, "sha256:%s", hex);
    }
    run_result_free(&res);
    return 0;
}

static int storage_import(void *p, const char *dir, const ap_bundle_index *idx, const bool *sel,
                          load_result **results, size_t *n_results, ap_error *err)
{
    storage_ctx *s = p;
    if (write_private_index(dir, idx, sel, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < idx->n_images; i++) {
        if (!sel[i])
            continue;
        const ap_index_image *im = &idx->images[i];
        for (size_t k = 0; rc == 0 && k < (im->n_names ? im->n_names : 1); k++) {
            char name[1024];
            if (im->n_names)
                snprintf(name, sizeof name, "%s", im->names[k]);
            else
                snprintf(name, sizeof name, "@%s", im->config.digest + 7);
            char was[AP_DIGEST_LEN + 1];
            if (stored_config(s, name, was, err) < 0) {
                rc = -1;
                break;
            }
            char src[4200], dst[2048];
            snprintf(src, sizeof src, "oci:%s:airpack-%zu", dir, i);
            snprintf(dst, sizeof dst, "containers-storage:%s%s", s->store, name);
            char *argv[] = {"skopeo", "copy", "--quiet", src, dst, NULL};
            run_result res;
            if (run_tool(argv, NULL, NULL, 64u << 10, &res, NULL, err) < 0) {
                rc = -1;
                break;
            }
            if (res.exit_status != 0) {
                rc = ap_fail(err, AP_ERR_TARGET, "containers-storage: image %s: `skopeo copy ... %s` failed (exit %d): %s",
                             im->n_names ? im->names[k] : im->config.digest, dst, res.exit_status,
                             res.err_tail[0] ? res.err_tail : "no message");
                run_result_free(&res);
                break;
            }
            run_result_free(&res);
            char now[AP_DIGEST_LEN + 1];
            if (stored_config(s, name, now, err) < 0) {
                rc = -1;
                break;
            }
            if (strcmp(now, im->config.digest) != 0) {
                rc = ap_fail(err, AP_ERR_TARGET, "containers-storage: after the copy, %s has config %s, not %s",
                             name, now[0] ? now : "(none)", im->config.digest);
                break;
            }
            rc = layout_add_result(results, n_results, im->n_names ? im->names[k] : NULL, im->config.digest,
                                   strcmp(was, im->config.digest) != 0, err);
        }
    }
    if (rc < 0) {
        load_results_free(*results, *n_results);
        *results = NULL;
        *n_results = 0;
    }
    return rc;
}

/* skopeo runs, before any blob is read. */
static int storage_check(void *p, ap_error *err)
{
    (void)p;
    char *argv[] = {"skopeo", "--version", NULL};
    run_result res;
    if (run_tool(argv, NULL, NULL, 4096, &res, NULL, err) < 0)
        return -1;
    int status = res.exit_status;
    run_result_free(&res);
    if (status != 0)
        return ap_fail(err, AP_ERR_TARGET,
                       "containers-storage: this target needs skopeo (`skopeo --version` exit %d: %s)", status,
                       res.err_tail[0] ? res.err_tail : "no message");
    return 0;
}

load_target *load_containers_storage_open(const char *spec, const load_options *opts, ap_error *err)
{
    const char *s = spec ? spec : "";
    if (strncmp(s, "containers-storage:", 19) == 0)
        s += 19;
    size_t len = strlen(s);
    char store[4096];
    if (len == 0) {
        store[0] = '\0';
    } else if (s[0] == '[') {
        if (s[len - 1] != ']' || strchr(s + 1, '[') || strchr(s, ']') != s + len - 1) {
            ap_fail(err, AP_ERR_USAGE,
                    "target '%s': use containers-storage: or containers-storage:[DRIVER@ROOT+RUNROOT] "
                    "(names come from the bundle)", spec);
            return NULL;
        }
        snprintf(store, sizeof store, "%s", s);
    } else {
        if (strpbrk(s, "[]") || len + 3 > sizeof store) {
            ap_fail(err, AP_ERR_USAGE, "target '%s': use containers-storage:[DRIVER@ROOT+RUNROOT]", spec);
            return NULL;
        }
        snprintf(store, sizeof store, "[%s]", s);
    }
    storage_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->store = strdup(store))) {
        storage_free(c);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return layout_target_open("containers-storage", opts, storage_check, storage_import, c, storage_free, err);
}
