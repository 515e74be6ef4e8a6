/* The agent's operations: extract, backup, inject (and undo), restore, list, verify, import.
 * runtime/cli/fy_cmd_agent.c turns a command line into a fy_agent_opts; the functions
 * here do the work and return an exit code (FY_EXIT_*, docs/agent.md).
 *
 * Ownership: the options borrow every string (argv, or the caller's storage). */
#ifndef FY_AGENT_H
#define FY_AGENT_H

#include "agent/fy_users.h"
#include "fy_common.h"

typedef enum {
    FY_AGENT_EXTRACT = 1,
    FY_AGENT_BACKUP,
    FY_AGENT_INJECT,
    FY_AGENT_UNDO,
    FY_AGENT_RESTORE,
    FY_AGENT_LIST,
    FY_AGENT_VERIFY,
    FY_AGENT_IMPORT,
} fy_agent_op;

typedef struct fy_pair_arg {
    const char *from, *to, *sid; /* --domain OLD:NEW, --user-map OLD\u=NEW\v[=SID],
                                    --target-version APP=VER, --drive D=DIR */
} fy_pair_arg;

typedef struct fy_agent_opts {
    fy_agent_op op;
    const char *program; /* --program P.fyb */
    const char *config;  /* --config SE.cfg (compiled in-process) */
    const char **appdef_dirs; /* -A for --config (default: the project's appdefs) */
    size_t nappdef_dirs;
    const char *machine; /* --machine DIR */
    fy_pair_arg *drives; /* --drive D=DIR */
    size_t ndrives;
    const char *store;   /* --store DIR */

    fy_user_filter users; /* --include-user ... (--all-users is the default) */
    const char *source;   /* --source COMPUTER */
    fy_pair_arg *domains; /* --domain OLD:NEW */
    size_t ndomains;
    fy_pair_arg *user_maps; /* --user-map OLD\u=NEW\v[=SID] */
    size_t nuser_maps;
    const char *sid_map;    /* --sid-map FILE.csv */
    fy_pair_arg *target_versions;
    size_t ntarget_versions;
    const char *exclude_disks; /* "D;E" */
    const char *to_user;       /* --to-user DOMAIN\user */

    /* password: from --password-file, FERRY_PASSWORD, or --password (warned) */
    char *password; /* owned by the caller of fy_cmd_*; wiped after use */
    size_t password_len;

    bool overwrite;
    int log_level;          /* fy_log_level; 0 = the program's Log Level or Informational */
    const char *log_dir;    /* NULL: /var/log/ferry */
    int log_format;         /* fy_log_format */
    bool hide_status, no_cancel, dry_run;
    const char *report;     /* --report FILE.json */
    int64_t now;            /* --now, unix seconds; 0 = the real time */
    bool json;              /* list --json */

    /* restore */
    const char *user; /* --user DOMAIN\user */
    const char *at;   /* --at GENERATION|TIME */
    const char *to;   /* --to DIR */
    const char **patterns;
    size_t npatterns;
    const char *import_from; /* import FOLDER */

    int argc; /* the whole command line, for the log header (password masked there) */
    char **argv;
} fy_agent_opts;

int fy_agent_run(const fy_agent_opts *o);

/* Compiles a template (SE.cfg with its .rul and .ptt) in-process, as --config does, with the
 * appdefs of `appdef_dirs` (the default folder, fy_default_appdefs_dir, when there are
 * none). Diagnostics go to d, sorted. 0 and a malloc'd program image (the caller frees it),
 * or -1 when there are errors. Used by the agent and by se (which reads the template's
 * Data Store Location before running). */
int fy_agent_compile_config(const char *cfg, const char *const *appdef_dirs, size_t nappdef_dirs,
                            fy_diags *d, uint8_t **image, size_t *image_size);
/* Prints diagnostics to stderr as "file:line:col: level: message [check]" (`cfg` names
 * those without a file). */
void fy_agent_print_diags(const fy_diags *d, const char *cfg);

/* A policy of a loaded program: the value of `key` in .cfg section `section` (both
 * case-insensitive; the last one wins), or NULL. Borrowed from the program. */
struct fy_program;
const char *fy_agent_policy(const struct fy_program *p, const char *section, const char *key);

/* Parses a time: "2026-11-25", "2026-11-25T08:00:00Z", "2026-11-25 08:00:00" (UTC), or
 * "@UNIXSECONDS". Returns 0 and *t, or -1. */
int fy_agent_parse_time(const char *s, int64_t *t);

#endif
