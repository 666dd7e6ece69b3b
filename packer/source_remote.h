/* source_remote.h: the inputs that are not files, as one ops table each, for source.c.
 *
 * A registry (docker://HOST/REPO[:TAG|@DIGEST], source_registry.c) and a Docker
 * daemon (docker-daemon:NAME[:TAG|@DIGEST], source_daemon.c). source.c picks the
 * table by the spec's prefix and calls only through it; the backends call nothing
 * in source.c (they describe images with source_image.h). open fills s->images the
 * way the file inputs do (first pass: small metadata only, every digest checked),
 * and stream hands layers to the packer as readers over the network, never holding
 * a layer in memory. */
#ifndef AIRPACK_SOURCE_REMOTE_H
#define AIRPACK_SOURCE_REMOTE_H

#include "source.h"

typedef struct remote_state remote_state;

typedef struct {
    const char *prefix;         /* the spec's prefix: "docker://", "docker-daemon:" */
    bool layers_by_content;     /* see source.h */
    /* ref is the spec after the prefix; *st is set (and freed by free) even on failure. */
    int (*open)(source *s, const char *ref, const source_options *o, remote_state **st, ap_error *err);
    int (*stream)(source *s, remote_state *st, source_wanted_fn wanted, source_layer_fn fn, void *ctx,
                  void (*progress)(void *ctx, uint64_t done), ap_error *err);
    void (*free)(remote_state *st);
} source_remote_ops;

extern const source_remote_ops source_registry_ops;
extern const source_remote_ops source_daemon_ops;

#endif
