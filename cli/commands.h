/* commands.h: the subcommands `airpack` dispatches to, one file each (cli/cmd_*.c).
 * Each takes argc/argv starting at the subcommand name, prints its own output and
 * errors, and returns the process exit status. */
#ifndef AIRPACK_COMMANDS_H
#define AIRPACK_COMMANDS_H

#define AIRPACK_VERSION "0.1.0"

int cmd_keygen(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_inventory(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_version(int argc, char **argv); /* --version [--json] (cli/version.c) */
int cmd_repair(int argc, char **argv);

#endif
