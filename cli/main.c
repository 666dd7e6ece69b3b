/* main.c: the `airpack` program: a thin dispatcher to cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"keygen", cmd_keygen, "create a minisign-compatible signing key pair"},
    {"pack", cmd_pack, "pack images into one deduplicated, signed bundle"},
    {"ls", cmd_ls, "list the images and layers in a bundle"},
    {"verify", cmd_verify, "check a bundle's signature and every digest"},
    {"load", cmd_load, "verify a bundle and load its images into a target store"},
    {"repair", cmd_repair, "rebuild lost or damaged parts of a split bundle from its parity parts"},
    {"inventory", cmd_inventory, "list what a store holds, for a delta bundle (pack --have)"},
    {"trust", cmd_trust, "list, add, rotate and revoke the keys bundles are checked with"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: airpack <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'airpack <command> --help' tells more. airpack %s\n", AIRPACK_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version"))
        return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "airpack: '%s' is not a command; see 'airpack --help'\n", name);
    return 2;
}
