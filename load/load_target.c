/* load_target.c: opening a load target by its name. A table maps each name's prefix
 * to its kind's constructor (one file per kind, load_<kind>.c); the targets are then
 * driven only through their load_target_ops. The helpers targets share are in
 * target_common.c, so no target calls back into this file. */
#include "load_target.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each kind's constructor takes the spec after its prefix (rest) or the whole spec. */
typedef struct {
    const char *prefix;
    load_target *(*open)(const char *spec, const char *rest, const load_options *opts, ap_error *err);
    bool layer_compression;     /* takes --layer-compression */
} target_kind;

static load_target *open_docker_archive(const char *spec, const char *rest, const load_options *opts,
                                        ap_error *err)
{
    (void)spec;
    return load_archive_open("docker-archive", rest, opts, err);
}

static load_target *open_oci_archive(const char *spec, const char *rest, const load_options *opts,
                                     ap_error *err)
{
    (void)spec;
    return load_archive_open("oci-archive", rest, opts, err);
}

static load_target *open_oci(const char *spec, const char *rest, const load_options *opts, ap_error *err)
{
    if (!*rest) {
        ap_fail(err, AP_ERR_USAGE, "target '%s': oci: needs a directory (oci:DIR)", spec);
        return NULL;
    }
    return load_oci_open(rest, opts, err);
}

static load_target *open_docker_daemon(const char *spec, const char *rest, const load_options *opts,
                                       ap_error *err)
{
    (void)spec;
    return load_docker_daemon_open(*rest ? rest : NULL, opts, err);
}

static load_target *open_registry(const char *spec, const char *rest, const load_options *opts, ap_error *err)
{
    (void)rest;
    return load_registry_open(spec, opts, err);
}

static load_target *open_containerd(const char *spec, const char *rest, const load_options *opts,
                                    ap_error *err)
{
    (void)spec;
    return load_containerd_open(*rest ? rest : NULL, opts, err);
}

static load_target *open_containers_storage(const char *spec, const char *rest, const load_options *opts,
                                            ap_error *err)
{
    (void)rest;
    return load_containers_storage_open(spec, opts, err);
}

static const target_kind kinds[] = {
    {"docker-archive:", open_docker_archive, true},
    {"oci-archive:", open_oci_archive, true},
    {"oci:", open_oci, false},
    {"docker-daemon:", open_docker_daemon, false},
    {"docker://", open_registry, false},
    {"containerd:", open_containerd, false},
    {"containers-storage:", open_containers_storage, false},
};

load_target *load_target_open(const char *spec, const load_options *opts, ap_error *err)
{
    if (!spec || !*spec) {
        ap_fail(err, AP_ERR_USAGE, "no target given");
        return NULL;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const target_kind *k = &kinds[i];
        size_t n = strlen(k->prefix);
        if (strncmp(spec, k->prefix, n))
            continue;
        if (opts && opts->layer_compression && !k->layer_compression) {
            ap_fail(err, AP_ERR_USAGE, "--layer-compression is for docker-archive:FILE and "
                    "oci-archive:FILE only, not '%s'", spec);
            return NULL;
        }
        return k->open(spec, spec + n, opts, err);
    }
    ap_fail(err, AP_ERR_USAGE,
            "unknown target '%s': use oci:DIR, docker-daemon:[SOCKET], "
            "docker://HOST[:PORT][/PREFIX], containerd:[NAMESPACE], containers-storage:, "
            "docker-archive:FILE or oci-archive:FILE",
            spec);
    return NULL;
}
