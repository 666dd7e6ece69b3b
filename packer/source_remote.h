/* source_remote.h: the inputs that are not files, for source.c.
 *
 * A registry (docker://HOST/REPO[:TAG|@DIGEST]) and a Docker daemon
 * (docker-daemon:NAME[:TAG|@DIGEST]). Each open fills s->images the way the
 * file inputs do (first pass: small metadata only, every digest checked), and
 * each stream hands layers to the packer as readers over the network, never
 * holding a layer in memory. */
#ifndef AIRPACK_SOURCE_REMOTE_H
#define AIRPACK_SOURCE_REMOTE_H

#include "source.h"

typedef struct remote_state remote_state;

int source_registry_open(source *s, const char *ref, const source_options *o, remote_state **st,
                         ap_error *err);
int source_registry_stream(source *s, remote_state *st, source_wanted_fn wanted, source_layer_fn fn,
                           void *ctx, void (*progress)(void *ctx, uint64_t done), ap_error *err);
void source_registry_free(remote_state *st);

int source_daemon_open(source *s, const char *ref, const source_options *o, remote_state **st,
                       ap_error *err);
int source_daemon_stream(source *s, remote_state *st, source_wanted_fn wanted, source_layer_fn fn,
                         void *ctx, void (*progress)(void *ctx, uint64_t done), ap_error *err);
void source_daemon_free(remote_state *st);

/* shared with source.c */
int source_add_name(source_image *img, const char *name, const source *s, ap_error *err);
/* Appends a zeroed image to s->images; NULL when out of memory. */
source_image *source_new_image(source *s, ap_error *err);
/* Sets img->platform from a config's os/architecture/variant. */
void source_platform_from(source_image *img, const char *os, const char *arch, const char *variant);

#endif
