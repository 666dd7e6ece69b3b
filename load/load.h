/* load.h: what load/ offers: putting verified bundles into stores, and reading stores.
 * Below it verify/, remote/ and formats/.
 *
 *   load_input.h   load from a bundle input: the target and its rollback state opened, a
 *                  damaged split bundle loaded again through its parity parts
 *   loader.h       load in one pass: the verifier drives a target, which commits only once
 *                  the whole bundle verified
 *   load_target.h  the targets (oci:, docker-daemon:, docker://, containerd:,
 *                  containers-storage:, docker-archive:, oci-archive:) behind one ops table
 *   inventory.h    what a target holds, as a have list (airpack inventory)
 *   delta_check.h  a delta bundle's expectations, checked against a target before loading
 *   load_state.h   the sequences a store has loaded, so that load refuses a rollback */
#ifndef AIRPACK_LOAD_H
#define AIRPACK_LOAD_H

#include "load_input.h"
#include "loader.h"
#include "load_target.h"
#include "inventory.h"
#include "delta_check.h"
#include "load_state.h"

#endif
