/* remote.h: what remote/ offers: talking to the outside, for packer/ and load/.
 * Below it only formats/.
 *
 *   registry_client.h  an HTTP client for the OCI distribution API (libcurl): auth, TLS,
 *                      manifests and blobs, streamed
 *   docker_engine.h    the one Docker Engine API client (DOCKER_HOST, timeouts)
 *   run_tool.h         running an external tool (ctr, skopeo) with its output captured */
#ifndef AIRPACK_REMOTE_H
#define AIRPACK_REMOTE_H

#include "docker_engine.h"
#include "registry_client.h"
#include "run_tool.h"

#endif
