/* cmd_repair.c: `airpack repair NAME`: rebuild the bad parts of a split bundle
 * from its parity parts (packer/part_repair.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../formats/formats.h"
#include "../packer/packer.h"
#include "commands.h"
#include "keys.h"
#include "options.h"
#include "status.h"

static const char usage_text[] =
    "usage: airpack repair [-p PUBKEY] [-q] NAME\n"
    "\n"
    "Rebuilds, in place, the lost or damaged parts of a split bundle packed with\n"
    "'pack --split SIZE --parity N' (NAME, NAME.000 or NAME.parts): any N bad parts, data or\n"
    "parity. Every part is checked against the signed list NAME.parts; each rebuilt part is\n"
    "written under a temporary name and renamed over the bad one only when its sha256 matches\n"
    "that list. With more than N bad parts nothing is written, and it names the parts to\n"
    "bring again.\n"
    "\n"
    "  -p, --pubkey FILE         trusted public key (repeatable)\n"
    "  -P, --pubkey-base64 KEY   trusted public key given inline\n"
    "  -q, --quiet               print nothing when all is well\n"
    "\n"
    "Without -p or -P: the keys in the trusted-keys directory, as for verify.\n"
    "Exit status: 0 repaired (or nothing was bad), 1 not repairable or the list's signature\n"
    "failed, 2 could not run.\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int cmd_repair(int argc, char **argv)
{
    trusted_keys keys = {0};
    bool quiet = false;
    const cli_option options[] = {
        OPT_TRUSTED_KEYS(&keys),
        OPT_QUIET(&quiet),
        OPT_END(),
    };
    ap_error err;
    ap_error_clear(&err);
    if (cli_crypto_init("repair"))
        return 2;
    int first = cli_parse_options("repair", usage_text, options, CLI_PARSE_IN_ORDER, argc, argv);
    if (first < 0) {
        trusted_keys_free(&keys);
        return cli_parse_status(first);
    }
    if (argc - first != 1) {
        trusted_keys_free(&keys);
        return cli_usage_error("repair", usage_text,
                               "give exactly one NAME (the split bundle: NAME, NAME.000 or NAME.parts)");
    }
    if (keys.n == 0 && trusted_keys_add_defaults(&keys, "repair", quiet, &err) < 0) {
        fprintf(stderr, "airpack repair: %s\n", err.msg);
        trusted_keys_free(&keys);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    part_repair_result res;
    int rc = part_repair(argv[first], keys.keys, keys.n, &res, &interrupted, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    trusted_keys_free(&keys);
    if (rc < 0) {
        fprintf(stderr, "airpack repair: %s\n", err.msg);
        int status = exit_status(&err);
        if (status == EXIT_VERIFY_FAILED)
            fprintf(stderr, "airpack repair: %s: NOT repaired; nothing was changed\n", res.base[0] ? res.base : argv[first]);
        return status;
    }
    if (res.n_bad == 0) {
        if (!quiet)
            printf("%s: all %zu data parts and %zu parity parts are good (signed by key ID %s); nothing to repair\n",
                   res.base, res.n_parts, res.n_parity, res.sig.key_id);
        return 0;
    }
    if (!quiet)
        printf("%s: %s\n%s: rebuilt %s: each matches the signed list (key ID %s)\n", res.base, res.damage, res.base,
               res.rebuilt, res.sig.key_id);
    return 0;
}
