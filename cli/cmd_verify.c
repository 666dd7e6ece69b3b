/* cmd_verify.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "commands.h"
int cmd_verify(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "airpack verify: not built yet\n");
    return 2;
}
