/* inventory.h: what a load target holds, as a have list (formats/have_list.h).
 *
 * `airpack inventory --from TARGET` writes it out for `pack --have`; loading
 * a delta bundle asks the same question of the target it loads into.
 *   oci:DIR        walks index.json, nested indexes, manifests and configs:
 *                  layer i of a manifest has diff_id config.rootfs.diff_ids[i]
 *                  (every JSON blob read is checked against its digest).
 *   docker://HOST[:PORT][/PREFIX]  the catalog under PREFIX, each repository's
 *                  tags, their manifests (and indexes) and configs; each layer
 *                  records a repository that holds it.
 *   docker-daemon:[SOCKET]  every image's diff_id chain (a Docker engine keeps
 *                  layers by chain and no compressed blobs).
 * Other targets (containerd, containers-storage) are AP_ERR_USAGE. Every
 * manifest, index and config read is capped in size; layers are never read. */
#ifndef AIRPACK_INVENTORY_H
#define AIRPACK_INVENTORY_H

#include <stdint.h>

#include "../formats/error.h"
#include "../formats/have_list.h"
#include "load_target.h"

int inventory_target(const char *spec, const load_options *opts, int64_t epoch, ap_have_list *out,
                     ap_error *err);
int inventory_oci(const char *dir, const char *name, int64_t epoch, ap_have_list *out, ap_error *err);
int inventory_docker(const char *socket, const char *name, int64_t epoch, ap_have_list *out,
                     ap_error *err);
int inventory_registry(const char *spec, const load_options *opts, int64_t epoch, ap_have_list *out,
                       ap_error *err);

#endif
