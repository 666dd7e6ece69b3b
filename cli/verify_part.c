/* verify_part.c: see verify_part.h. */
#include "verify_part.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "../verify/verify.h"
#include "report.h"
#include "status.h"

/* verify --part NAME.NNN: 0 good, 1 bad (or the sidecar's signature fails), 2 could not check. */
int verify_one_part(const char *path, const trusted_keys *keys, bool as_json)
{
    part_check_result res;
    ap_error err;
    ap_error_clear(&err);
    int rc = part_check(path, keys->keys, keys->n, &res, &err);
    int status = rc < 0 ? exit_status(&err) : res.good ? EXIT_GOOD : EXIT_VERIFY_FAILED;
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "verdict", json_string(status == 0 ? "good" : status == 1 ? "bad" : "failed"));
        json_object_set_new(o, "part", json_string(path));
        if (rc == 0) {
            json_object_set_new(o, "index", json_integer((json_int_t)res.index));
            json_object_set_new(o, "parts", json_integer((json_int_t)res.n_parts));
            json_object_set_new(o, "key_id", json_string(res.sig.key_id));
        }
        if (status != 0)
            json_object_set_new(o, "error", json_string(rc < 0 ? err.msg : res.why));
        json_print_line(o);
    }
    if (rc < 0) {
        fprintf(stderr, "airpack verify: %s\n", err.msg);
        if (status == EXIT_VERIFY_FAILED)
            fprintf(stderr, "airpack verify: %s: part verification FAILED\n", path);
        else if (res.read_failed)
            fprintf(stderr, "airpack verify: %s: the part could not be read (a read error, not a verification "
                            "failure)\n", path);
    } else if (res.good) {
        if (!as_json)
            printf("%s: good: %spart %zu of %zu, %llu bytes, matches the sidecar signed by key ID %s\n", path,
                   res.parity ? "parity " : "", res.index + 1, res.parity ? res.n_parity : res.n_parts,
                   (unsigned long long)res.size, res.sig.key_id);
    } else {
        fprintf(stderr, "airpack verify: %s: BAD: %s (copy it again%s)\n", path, res.why,
                res.n_parity ? ", or rebuild it with 'airpack repair'" : "");
    }
    return status;
}

