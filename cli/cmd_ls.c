/* cmd_ls.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "commands.h"
int cmd_ls(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "airpack ls: not built yet\n");
    return 2;
}
