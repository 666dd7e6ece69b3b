/* cmd_inventory.c: `airpack inventory`: list what a store holds, for `pack --have`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../formats/formats.h"
#include "../load/load.h"
#include "commands.h"
#include "keys.h"
#include "options.h"
#include "status.h"

static const char usage_text[] =
    "usage: airpack inventory --from TARGET -o have.json [options]\n"
    "\n"
    "Lists the layers a store holds (blob digest, size, media type, diff_id; for a Docker engine\n"
    "each image's diff_id chain), so that 'airpack pack --have have.json' leaves them out of the\n"
    "next bundle. TARGET is oci:DIR, docker-daemon:[SOCKET] or docker://HOST[:PORT][/PREFIX].\n"
    "\n"
    "  -o, --output FILE        where to write (written under a temporary name, then renamed)\n"
    "  -s, --secret-key FILE    sign it: FILE.minisig is written next to it (minisign format)\n"
    "      --password-file FILE read the key's password from FILE (or set AIRPACK_PASSWORD)\n"
    "      --tls-verify=false   do not verify registry certificates (and allow plain http)\n"
    "      --authfile FILE      registry credentials (Docker config format)\n"
    "      --creds USER:PASS    registry credentials\n"
    "  -q, --quiet              no summary\n";

int cmd_inventory(int argc, char **argv)
{
    const char *from = NULL, *output = NULL;
    bool quiet = false;
    cli_secret_key_opts sk = {0};
    cli_registry_opts reg = {.tls_verify = true};
    const cli_option options[] = {
        OPT_STRING('f', "from", &from),
        OPT_STRING('o', "output", &output),
        OPT_SECRET_KEY(&sk),
        OPT_REGISTRY(&reg),
        OPT_QUIET(&quiet),
        OPT_END(),
    };
    int first = cli_parse_options("inventory", usage_text, options, 0, argc, argv);
    if (first < 0)
        return cli_parse_status(first);
    if (!from || !output || first < argc)
        return cli_usage_error("inventory", usage_text,
                               !from ? "--from TARGET is required" : !output ? "-o FILE is required"
                                                                              : "unexpected argument");
    const char *key_path = sk.path, *password_file = sk.password_file;
    load_options lo = {.tls_verify = reg.tls_verify, .authfile = reg.authfile, .creds = reg.creds};
    ap_error err;
    ap_error_clear(&err);
    ap_seckey key;
    memset(&key, 0, sizeof key);
    if (ap_minisign_init(&err) < 0) {
        fprintf(stderr, "airpack inventory: %s\n", err.msg);
        return 2;
    }
    if (key_path && secret_key_load(key_path, password_file, &key, &err) < 0) {
        fprintf(stderr, "airpack inventory: %s\n", err.msg);
        return 2;
    }
    int64_t epoch;
    ap_have_list have;
    int status = 0;
    if (ap_source_date_epoch(&epoch, &err) < 0 || inventory_target(from, &lo, epoch, &have, &err) < 0) {
        fprintf(stderr, "airpack inventory: %s\nairpack inventory: nothing was written\n", err.msg);
        ap_seckey_wipe(&key);
        return exit_status(&err);
    }
    if (ap_have_save(&have, output, key_path ? &key : NULL, epoch, &err) < 0) {
        fprintf(stderr, "airpack inventory: %s\n", err.msg);
        status = exit_status(&err);
    } else if (!quiet) {
        if (!strcmp(have.kind, "docker"))
            printf("%s: %s holds %zu image layer chains\n", output, from, have.n_chains);
        else
            printf("%s: %s holds %zu layer blobs\n", output, from, have.n_layers);
        if (key_path)
            printf("  signed: %s.minisig\n", output);
    }
    ap_have_free(&have);
    ap_seckey_wipe(&key);
    return status;
}
