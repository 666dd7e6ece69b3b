/* gunzip_fast.h: a streaming gzip decoder on ISA-L's igzip (about twice zlib's speed here),
 * for the hot path of a faithful pack, where every gzip layer is decompressed once only to
 * hash its tar (diff_id) and count its size. Concatenated members are read as one stream
 * (as zlib's reader in codec.c does); anything after the last member that is not gzip, a
 * broken member, or a stream that ends inside a member is an error naming the compressed
 * offset. The output goes to the sink in pieces of at most 1 MiB. */
#ifndef AIRPACK_GUNZIP_FAST_H
#define AIRPACK_GUNZIP_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "error.h"

typedef struct ap_gunzip_fast ap_gunzip_fast;

/* False in a build linked without ISA-L's igzip (the static build): use ap_decompressor. */
bool ap_gunzip_fast_available(void);

ap_gunzip_fast *ap_gunzip_fast_new(ap_sink_fn sink, void *sink_ctx, ap_error *err);
int ap_gunzip_fast_write(ap_gunzip_fast *g, const void *buf, size_t n, ap_error *err);
/* The input ended: it must end exactly at the end of a member. */
int ap_gunzip_fast_finish(ap_gunzip_fast *g, ap_error *err);
void ap_gunzip_fast_free(ap_gunzip_fast *g);

#endif
