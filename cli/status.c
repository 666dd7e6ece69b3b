/* status.c: see status.h. */
#include "status.h"

int exit_status(const ap_error *err)
{
    if (!err)
        return EXIT_COULD_NOT_RUN;
    switch (err->code) {
    case AP_ERR_VERIFY:
    case AP_ERR_FORMAT:
        return EXIT_VERIFY_FAILED;
    case AP_OK:        /* a failure that set no code: not a verdict */
    case AP_ERR_USAGE:
    case AP_ERR_IO:
    case AP_ERR_TARGET:
    case AP_ERR_NOMEM:
    case AP_ERR_CRYPTO:
    case AP_ERR_INTERRUPTED:
        break;
    }
    return EXIT_COULD_NOT_RUN;
}
