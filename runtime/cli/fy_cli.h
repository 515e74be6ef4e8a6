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

/* se: the Migrate7 se.exe command line (runtime/cli/fy_cmd_se.c, fy_se.h; docs/se.md). */
int fy_cmd_se(int argc, char **argv);

/* ---- shared by the command lines (runtime/cli/fy_cmd_agent.c) ---- */
struct fy_agent_opts;
struct fy_pair_arg;
/* Splits "FROM<sep>TO" (sep '=' also splits off a third "=SID" part) into malloc'd from/to
 * (sid points into to). 0, or -1 when a part is empty or sep is missing. */
int fy_cli_split_pair(const char *arg, char sep, struct fy_pair_arg *out);
/* Frees what a command line parser allocated in o: the arrays, the pairs' strings (as
 * fy_cli_split_pair made them) and the password (wiped). Borrowed strings are left. */
void fy_cli_free_opts(struct fy_agent_opts *o);

#endif
