/* packer.h: what packer/ offers: many images in, one deduplicated, signed bundle out.
 * Below it remote/ and formats/.
 *
 *   pack.h          pack_run: the inputs (source.h: archives, OCI layouts, registries, the
 *                   Docker engine), layers stored once, written and signed
 *   pack_request.h  what `airpack pack` was asked (options, --images-from, --have/--since,
 *                   SOURCE_DATE_EPOCH, --expires), checked and made into pack_run's options
 *   have_source.h   what the far side holds, for a delta (pack --have / --since)
 *   split_output.h  the output as parts (pack --split)
 *   part_repair.h   rebuilding the bad parts of a split bundle from its parity parts (repair) */
#ifndef AIRPACK_PACKER_H
#define AIRPACK_PACKER_H

#include "pack.h"
#include "pack_request.h"
#include "source.h"
#include "have_source.h"
#include "split_output.h"
#include "part_repair.h"

#endif
