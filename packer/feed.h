/* feed.h: turns a producer that pushes bytes into a sink (an HTTP download)
 * into a reader the packer can pull from, without holding the data.
 *
 * The producer runs in its own thread and writes into one end of a socket
 * pair; feed_read() reads the other end. The producer's result is part of the
 * stream: feed_read() returns 0 (end) only once the producer has finished and
 * succeeded; if it failed, the reader fails with the producer's error, so a
 * download that breaks off half-way is never taken for a short, complete one.
 * feed_finish() may be called early: the producer then sees a broken pipe,
 * stops, and is joined. Memory is bounded by the socket's buffer. */
#ifndef AIRPACK_FEED_H
#define AIRPACK_FEED_H

#include <sys/types.h>

#include "../formats/error.h"
#include "../formats/stream.h"

typedef int (*feed_producer)(void *ctx, ap_sink_fn sink, void *sink_ctx, ap_error *err);

typedef struct feed feed;

feed *feed_start(feed_producer produce, void *ctx, ap_error *err);
/* an ap_read_fn; ctx is the feed */
ssize_t feed_read(void *ctx, void *buf, size_t n, ap_error *err);
/* Stops reading, joins the producer and frees the feed. Returns the
 * producer's result (0, or -1 with its error in *err when err is given). */
int feed_finish(feed *f, ap_error *err);

#endif
