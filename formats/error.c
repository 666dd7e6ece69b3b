#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ap_fail(ap_error *err, ap_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return -1;
}

int ap_fail_errno(ap_error *err, ap_code code, const char *fmt, ...)
{
    int saved = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof err->msg - used, ": %s", strerror(saved));
        err->code = code;
    }
    errno = saved;
    return -1;
}

void ap_error_prefix(ap_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    if (plen + 2 >= sizeof err->msg)
        plen = sizeof err->msg - 3;
    size_t olen = strnlen(err->msg, sizeof err->msg - 1);
    if (plen + 2 + olen >= sizeof err->msg)
        olen = sizeof err->msg - plen - 3;
    memmove(err->msg + plen + 2, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + olen] = '\0';
}

void ap_error_clear(ap_error *err)
{
    if (err) {
        err->code = AP_OK;
        err->msg[0] = '\0';
    }
}
