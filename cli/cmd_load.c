/* cmd_load.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "commands.h"
int cmd_load(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "airpack load: not built yet\n");
    return 2;
}
