/* The `ferry` program's subcommands. Each takes the arguments after "ferry" (argv[0] is the
 * subcommand's name), prints its own errors to stderr, and returns an exit code
 * (FY_EXIT_*, docs/agent.md). tools/ferry.c dispatches to them through a table. */
#ifndef FY_CLI_H
#define FY_CLI_H

/* ferry reg export HIVEFILE [KEY] [-o FILE.reg] [--prefix PREFIX]
 * ferry reg import HIVEFILE FILE.reg [--create] [--prefix PREFIX] */
int fy_cmd_reg(int argc, char **argv);

/* ferry machine --machine DIR [--drive D=DIR]... [--json] [--verbose] */
int fy_cmd_machine(int argc, char **argv);

/* The agent's operations (runtime/cli/fy_cmd_agent.c; docs/agent.md). */
int fy_cmd_extract(int argc, char **argv);
int fy_cmd_backup(int argc, char **argv);
int fy_cmd_inject(int argc, char **argv);
int fy_cmd_restore(int argc, char **argv);
int fy_cmd_list(int argc, char **argv);
int fy_cmd_verify(int argc, char **argv);
int fy_cmd_import(int argc, char **argv);

#endif
