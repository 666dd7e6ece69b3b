/* cmd_keygen.c: placeholder until the subcommand lands. */
#include <stdio.h>
#include "commands.h"
int cmd_keygen(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "airpack keygen: not built yet\n");
    return 2;
}
