/* cmd_repair.c: `airpack repair NAME`: rebuild the bad parts of a split bundle
 * from its parity parts (packer/part_repair.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../formats/minisign.h"
#include "../packer/part_repair.h"
#include "commands.h"
#include "keys.h"

static void usage(FILE *out)
{
    fprintf(out,
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
            "failed, 2 could not run.\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int cmd_repair(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pubkey", required_argument, NULL, 'p'},
        {"pubkey-base64", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    trusted_keys keys = {0};
    ap_error err;
    ap_error_clear(&err);
    bool quiet = false, explicit_keys = false;
    if (ap_minisign_init(&err) < 0) {
        fprintf(stderr, "airpack repair: %s\n", err.msg);
        return 2;
    }
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+p:P:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
        case 'P':
            explicit_keys = true;
            if ((c == 'p' ? trusted_keys_add_file(&keys, optarg, &err) : trusted_keys_add_base64(&keys, optarg, &err)) <
                0) {
                fprintf(stderr, "airpack repair: %s\n", err.msg);
                trusted_keys_free(&keys);
                return 2;
            }
            break;
        case 'q': quiet = true; break;
        case 'h':
            usage(stdout);
            trusted_keys_free(&keys);
            return 0;
        default:
            fprintf(stderr, "airpack repair: option %s is not known\n", argv[optind - 1]);
            usage(stderr);
            trusted_keys_free(&keys);
            return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "airpack repair: give exactly one NAME (the split bundle: NAME, NAME.000 or NAME.parts)\n");
        usage(stderr);
        trusted_keys_free(&keys);
        return 2;
    }
    if (!explicit_keys && trusted_keys_add_defaults(&keys, "repair", quiet, &err) < 0) {
        fprintf(stderr, "airpack repair: %s\n", err.msg);
        trusted_keys_free(&keys);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    part_repair_result res;
    int rc = part_repair(argv[optind], keys.keys, keys.n, &res, &interrupted, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    trusted_keys_free(&keys);
    if (rc < 0) {
        fprintf(stderr, "airpack repair: %s\n", err.msg);
        if (err.code == AP_ERR_VERIFY) {
            fprintf(stderr, "airpack repair: %s: NOT repaired; nothing was changed\n", res.base[0] ? res.base : argv[optind]);
            return 1;
        }
        return 2;
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
