/* cmd_pack.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "commands.h"
int cmd_pack(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "airpack pack: not built yet\n");
    return 2;
}
