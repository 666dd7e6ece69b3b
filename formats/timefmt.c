/* timefmt.c: strict RFC 3339 UTC times and simple durations (see timefmt.h). */
#include "timefmt.h"

#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), without the C library's time zone. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_fields(const char *s, size_t len, bool date_only, int64_t *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h = 0, mi = 0, sec = 0;
    if (len != (date_only ? 10u : (size_t)AP_TIME_LEN) || s[4] != '-' || s[7] != '-' || !digits(s, 4, &Y) ||
        !digits(s + 5, 2, &M) || !digits(s + 8, 2, &D))
        return -1;
    if (!date_only && (s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' || !digits(s + 11, 2, &h) ||
                       !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec)))
        return -1;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap(Y)) || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    *out = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

int ap_time_parse(const char *s, int64_t *out, const char *what, ap_error *err)
{
    if (!s || parse_fields(s, strlen(s), false, out) < 0)
        return ap_fail(err, AP_ERR_FORMAT, "%s: \"%.40s\" is not a time of the form YYYY-MM-DDTHH:MM:SSZ",
                       what, s ? s : "");
    return 0;
}

void ap_time_format(int64_t t, char out[AP_TIME_LEN + 1])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, AP_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, AP_TIME_LEN + 1, "(time %lld)", (long long)t);
}

int ap_duration_parse(const char *s, int64_t *out, ap_error *err)
{
    static const char units[] = "smhdw";
    static const int64_t mult[] = {1, 60, 3600, 86400, 7 * 86400};
    size_t n = s ? strlen(s) : 0;
    int64_t v = 0;
    size_t i = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (s[i] - '0');
        if (v > 100LL * 366 * 86400)
            break;
    }
    const char *u = (i > 0 && i + 1 == n) ? strchr(units, s[i]) : NULL;
    if (!u || !*u || v == 0 || v * mult[u - units] > 100LL * 366 * 86400)
        return ap_fail(err, AP_ERR_USAGE, "'%.40s' is not a duration: a whole number and s, m, h, d or w "
                       "(e.g. 30d), at least 1 s and at most 100 years", s ? s : "");
    *out = v * mult[u - units];
    return 0;
}

int ap_expiry_parse(const char *s, int64_t from, int64_t *out, ap_error *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 10 || n == AP_TIME_LEN) {
        if (parse_fields(s, n, n == 10, out) < 0)
            return ap_fail(err, AP_ERR_USAGE, "--expires '%.40s': not a date (YYYY-MM-DD or "
                           "YYYY-MM-DDTHH:MM:SSZ, UTC)", s);
        return 0;
    }
    int64_t d;
    if (ap_duration_parse(s, &d, err) < 0) {
        ap_error_prefix(err, "--expires");
        return -1;
    }
    *out = from + d;
    return 0;
}

void ap_duration_format(int64_t secs, char *out, size_t n)
{
    if (secs < 0)
        secs = -secs;
    int64_t d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60, s = secs % 60;
    if (d > 0 && h > 0)
        snprintf(out, n, "%lld day%s %lld h", (long long)d, d == 1 ? "" : "s", (long long)h);
    else if (d > 0)
        snprintf(out, n, "%lld day%s", (long long)d, d == 1 ? "" : "s");
    else if (h > 0 && m > 0)
        snprintf(out, n, "%lld h %lld min", (long long)h, (long long)m);
    else if (h > 0)
        snprintf(out, n, "%lld h", (long long)h);
    else if (m > 0 && s > 0)
        snprintf(out, n, "%lld min %lld s", (long long)m, (long long)s);
    else if (m > 0)
        snprintf(out, n, "%lld min", (long long)m);
    else
        snprintf(out, n, "%lld s", (long long)s);
}

int ap_source_date_epoch(int64_t *out, ap_error *err)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (!sde || !*sde) {
        *out = (int64_t)time(NULL);
        return 0;
    }
    char *end;
    errno = 0;
    long long e = strtoll(sde, &end, 10);
    if (errno || *end || e < 0 || e > 077777777777LL)
        return ap_fail(err, AP_ERR_USAGE, "SOURCE_DATE_EPOCH must be a number of seconds, not '%s'", sde);
    *out = e;
    return 0;
}
