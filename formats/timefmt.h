/* timefmt.h: the times and durations airpack's signed formats and messages use.
 *
 * Times in the formats are RFC 3339 UTC with whole seconds, exactly
 * "YYYY-MM-DDTHH:MM:SSZ" (what the bundle index's "created" has always been).
 * Parsing is strict: that exact shape, a real calendar date, years 1970-9999.
 * Durations on the command line are a whole number and a unit: s, m, h, d, w
 * ("30d", "2s"). */
#ifndef AIRPACK_TIMEFMT_H
#define AIRPACK_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define AP_TIME_LEN 20   /* "2026-12-02T17:30:59Z" */

/* "YYYY-MM-DDTHH:MM:SSZ" -> seconds since the epoch. AP_ERR_FORMAT naming `what`. */
int ap_time_parse(const char *s, int64_t *out, const char *what, ap_error *err);
/* seconds since the epoch -> "YYYY-MM-DDTHH:MM:SSZ" (out holds AP_TIME_LEN + 1). */
void ap_time_format(int64_t t, char out[AP_TIME_LEN + 1]);

/* "N" + s|m|h|d|w -> seconds (at least 1, at most 100 years). AP_ERR_USAGE otherwise. */
int ap_duration_parse(const char *s, int64_t *out, ap_error *err);

/* The time a reproducible output is made at: SOURCE_DATE_EPOCH when it is set (a whole
 * number of seconds from 0 to 2^33-1; anything else is AP_ERR_USAGE), else now. */
int ap_source_date_epoch(int64_t *out, ap_error *err);
/* An expiry given as a duration from `from` ("30d") or a date ("2027-01-31T00:00:00Z",
 * or "2027-01-31" for its midnight UTC) -> seconds since the epoch. AP_ERR_USAGE. */
int ap_expiry_parse(const char *s, int64_t from, int64_t *out, ap_error *err);

/* A span for messages: "3 s", "5 min 2 s", "2 h 10 min", "3 days 4 h" (two units at most). */
void ap_duration_format(int64_t secs, char *out, size_t n);

#endif
