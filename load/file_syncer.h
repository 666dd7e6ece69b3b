/* file_syncer.h: fsync of finished files in a background thread.
 *
 * A writer hands over a file descriptor it has finished writing; the syncer
 * thread fsyncs and closes it, in the order handed over, while the writer goes
 * on with the next file. At most `max_pending` descriptors wait at a time
 * (ap_file_syncer_add blocks beyond that), so open files stay bounded.
 * ap_file_syncer_wait returns once every file handed over is durable, or with
 * the first failure (naming the file); after a failure the later files are
 * closed without syncing. A file is durable only when wait returned 0: the
 * caller must not publish (rename) it before that. If the thread cannot be
 * started, add syncs in the caller's thread. One caller thread only. */
#ifndef AIRPACK_FILE_SYNCER_H
#define AIRPACK_FILE_SYNCER_H

#include <stddef.h>

#include "../formats/error.h"

typedef struct ap_file_syncer ap_file_syncer;

ap_file_syncer *ap_file_syncer_new(size_t max_pending, ap_error *err);
/* Takes fd (it will be closed by the syncer); `name` names it in an error. Returns -1
 * (fd closed) when an earlier file already failed, with that failure in err. */
int ap_file_syncer_add(ap_file_syncer *s, int fd, const char *name, ap_error *err);
/* Waits until every file added so far is fsynced and closed. 0, or -1 with the first
 * failure (AP_ERR_TARGET, "cannot sync NAME: ..."). */
int ap_file_syncer_wait(ap_file_syncer *s, ap_error *err);
/* Closes what is still queued without syncing, stops the thread. */
void ap_file_syncer_free(ap_file_syncer *s);

#endif
