/* se: the Migrate7 se.exe command line for existing SCCM packages and task sequences,
 * mapped onto the ferry agent (runtime/cli/fy_cmd_se.c; docs/se.md). */
#include "cli/fy_cli.h"

int main(int argc, char **argv)
{
    return fy_cmd_se(argc, argv);
}
