/* ferry: the agent. Dispatches its subcommands through one table; adding a subcommand is
 * one line here plus its fy_cmd_* function (runtime/cli/fy_cli.h). */
#include "cli/fy_cli.h"
#include "fy_common.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] = the subcommand's name */
    const char *help;                  /* one line for `ferry --help` */
} command;

static const command commands[] = {
    {"extract", fy_cmd_extract, "take users' personalities from an offline Windows volume into a store"},
    {"backup", fy_cmd_backup, "an incremental extraction: store only what changed since the last one"},
    {"inject", fy_cmd_inject, "place personalities from a store into users of an offline Windows volume"},
    {"restore", fy_cmd_restore, "write the files of one generation of a personality into a folder"},
    {"list", fy_cmd_list, "list the personalities in a store"},
    {"verify", fy_cmd_verify, "re-read every object of a store and check its hash"},
    {"import", fy_cmd_import, "take in a personality folder copied from elsewhere"},
    {"machine", fy_cmd_machine, "show what ferry sees on an offline Windows volume: OS, users, folders"},
    {"reg", fy_cmd_reg, "export a hive's keys to a .reg file, or import a .reg file into a hive"},
};

static void usage(FILE *out)
{
    fputs("Usage: ferry COMMAND [ARGS...]\n"
          "       ferry --help | --version\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < FY_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fputs("\n`ferry COMMAND --help` describes a command.\n", out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FY_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return FY_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("ferry %s\n", FERRY_VERSION);
        return FY_EXIT_OK;
    }
    for (size_t i = 0; i < FY_ARRAY_LEN(commands); i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ferry: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return FY_EXIT_USAGE;
}
