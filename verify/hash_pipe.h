/* hash_pipe.h: SHA-256 of a stream in a second thread, pipelined with the reader.
 *
 * The caller reads into a buffer from ap_hash_pipe_buffer(), hands it over with
 * ap_hash_pipe_submit() and may go on reading the buffer (to write it somewhere)
 * while the hasher thread hashes it. The pipe owns a fixed ring of buffers
 * (count x size, chosen at creation), so memory is bounded. ap_hash_pipe_buffer()
 * gives the same buffer until it is submitted, then the next one in the ring,
 * once the hasher is done with it; the caller must not write to a buffer after
 * submitting it, and must be done reading it before the ring comes back to it
 * (n_buffers submissions later). ap_hash_pipe_final_hex() waits for every
 * submitted byte and gives the digest of everything since the last final.
 * If the thread cannot be started, hashing happens in the caller's thread
 * (same results, no overlap). One caller thread only.
 *
 * A tap (ap_hash_pipe_set_tap) is a second reader of the same buffers, in a third
 * thread: the verifier decompresses a layer there and checks its diff_id while the
 * main thread copies the bytes to a target. A buffer comes back to the caller only
 * once both the hasher and the tap are done with it. The tap function runs in the
 * tap thread only (or in the caller's, when no thread could be started), one
 * buffer at a time, in submission order. */
#ifndef AIRPACK_HASH_PIPE_H
#define AIRPACK_HASH_PIPE_H

#include <stddef.h>

#include "../formats/digest.h"
#include "../formats/error.h"

typedef struct ap_hash_pipe ap_hash_pipe;

/* n_buffers >= 2 buffers of buf_size bytes. NULL with AP_ERR_NOMEM. */
ap_hash_pipe *ap_hash_pipe_new(size_t n_buffers, size_t buf_size, ap_error *err);
/* The next free buffer (buf_size bytes); waits while the hasher still reads it. */
unsigned char *ap_hash_pipe_buffer(ap_hash_pipe *p);
size_t ap_hash_pipe_buffer_size(const ap_hash_pipe *p);
/* Hash the first n bytes of buf (the buffer last returned by ap_hash_pipe_buffer). */
void ap_hash_pipe_submit(ap_hash_pipe *p, unsigned char *buf, size_t n);
/* Waits for the hasher, writes the hex digest of everything submitted since the
 * last final (or since creation), and starts a new digest. */
void ap_hash_pipe_final_hex(ap_hash_pipe *p, char hex_out[AP_HEX_LEN + 1]);
typedef void (*ap_hash_tap_fn)(void *ctx, const unsigned char *buf, size_t n);
/* Every buffer submitted from now on also goes to fn (NULL: none). Waits first until
 * the previous tap has read everything submitted to it. */
void ap_hash_pipe_set_tap(ap_hash_pipe *p, ap_hash_tap_fn fn, void *ctx);
/* Waits until the tap has read every buffer submitted to it (its results are then
 * visible to the caller). */
void ap_hash_pipe_tap_wait(ap_hash_pipe *p);
/* Whether hashing runs in its own thread (for tests). */
int ap_hash_pipe_threaded(const ap_hash_pipe *p);
void ap_hash_pipe_free(ap_hash_pipe *p);

#endif
