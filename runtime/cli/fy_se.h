/* se: the Migrate7 `se.exe` command line (docs/se.md), mapped onto the agent
 * (fy_agent_run), so that existing SCCM packages and task sequences keep their command
 * lines. The pieces are exposed for tests: the switch table (the one docs/se.md repeats),
 * the parser, the UNC mapping, the template search and the logged-on user rules.
 * fy_cmd_se (fy_cli.h) puts them together.
 *
 * Ownership: fy_se_parse fills a fy_se_args whose strings are borrowed from argv (or point
 * into it), except the password, which is a malloc'd copy; fy_se_args_free frees what the
 * parser allocated and wipes the password. Functions that return char * in an out-parameter
 * return malloc'd strings the caller frees. */
#ifndef FY_SE_H
#define FY_SE_H

#include "agent/fy_agent.h"
#include "fy_common.h"
#include "machine/fy_machine.h"

typedef enum {
    FY_SE_FLAG,  /* no value: /ALLUSERS */
    FY_SE_VALUE, /* one value: the next argument (even one starting with '/', a Linux path),
                  * or after ':' or '=' in the same argument: /CONFIG:"x y", /CONFIG=x */
    FY_SE_VALUES /* one or more: every following argument that does not start with '/' */
} fy_se_arity;

typedef enum {
    FY_SE_AUTOEXTRACT = 1,
    FY_SE_AUTOINJECT,
    FY_SE_AUTOBACKUP,
    FY_SE_IMPORT,
    FY_SE_PASSWORD,
    FY_SE_CONFIG,
    FY_SE_SOURCE,
    FY_SE_INCLUDEUSER,
    FY_SE_ALLUSERS,
    FY_SE_EXCLUDEUSER,
    FY_SE_EXCLUDELOCAL,
    FY_SE_EXCLUDEUNUSED,
    FY_SE_DOMAIN,
    FY_SE_DATASTORE,
    FY_SE_EXCLUDEDISKS,
    FY_SE_INJECTTOLOGGEDINUSER,
    FY_SE_EXCLUDEDOMAIN,
    FY_SE_NOCANCEL,
    FY_SE_HIDESTATUS,
    FY_SE_MACHINE,
    FY_SE_HELP,
    FY_SE_VERSION,
} fy_se_id;

/* One row of the switch table: docs/se.md lists the same rows (a test checks it). */
typedef struct fy_se_switch {
    fy_se_id id;
    const char *name; /* "/AUTOEXTRACT": upper case, as the Migrate7 quick reference */
    fy_se_arity arity;
    const char *value; /* what the value is, for messages ("days"); NULL for flags */
    const char *ferry; /* what it becomes in ferry: "ferry extract", "--include-user" */
} fy_se_switch;

/* The table (static), in the quick reference's order, then se's own switches. */
const fy_se_switch *fy_se_switches(size_t *n);
/* The row of a switch name ("/autoextract", any case; without the ':'/'=' value), or NULL. */
const fy_se_switch *fy_se_find_switch(const char *name, size_t len);

typedef struct fy_se_args {
    fy_agent_op op;          /* FY_AGENT_EXTRACT / INJECT / BACKUP / IMPORT; 0 = none given */
    const char *config;      /* /CONFIG */
    const char *datastore;   /* /DATASTORE */
    const char *machine;     /* /MACHINE */
    const char *source;      /* /SOURCE */
    const char *import_from; /* /IMPORT "folder" */
    const char *exclude_disks;
    const char **include; /* /INCLUDEUSER, every user of every occurrence */
    size_t ninclude;
    const char **exclude; /* /EXCLUDEUSER */
    size_t nexclude;
    const char **exclude_domains; /* /EXCLUDEDOMAIN */
    size_t nexclude_domains;
    fy_pair_arg *domains; /* /DOMAIN old:new (from/to malloc'd) */
    size_t ndomains;
    int64_t exclude_unused_days; /* /EXCLUDEUNUSED; 0 = not given */
    bool all_users, exclude_local, to_logged_in, no_cancel, hide_status, help, version;
    char *password; /* /PASSWORD: a malloc'd copy (the argv string is overwritten) */
    size_t password_len;
    char **owned_; /* private: values the parser copied (unquoted) */
    size_t nowned_;
} fy_se_args;

/* Parses se's command line (argv[0] is the program). First, before anything can fail, every
 * /PASSWORD value is copied and overwritten in argv with '*' (so /proc/PID/cmdline no longer
 * shows it). Returns 0, or FY_EXIT_USAGE with err saying what is wrong (an unknown switch:
 * also the list of known ones). Checks what belongs together (one operation; /MACHINE is not
 * checked here: the environment may give it). Call fy_se_args_free afterwards, whatever it
 * returns. */
int fy_se_parse(int argc, char **argv, fy_se_args *out, char *err, size_t err_size);
void fy_se_args_free(fy_se_args *a);

/* "/AUTOEXTRACT /AUTOINJECT ..." (malloc'd): the known switches, for messages. */
char *fy_se_switch_list(void);

/* Maps a UNC path (\\server\share\dir, or //server/share/dir) to a local folder through
 * `map` (FERRY_UNC_MAP: "\\server\share=/mnt/share;..."; a key may name a deeper folder,
 * \\server\share\dir=/mnt/x; server, share and folders compare case-insensitively; the
 * longest key wins; the rest of the path is appended with '/'). Returns 0 and *out (malloc'd);
 * 1 when path is not a UNC path (*out NULL); -1 with err when the path is UNC but no entry
 * maps it (or map is NULL), the map is malformed, or the rest has a ".." component. */
int fy_se_map_unc(const char *path, const char *map, char **out, char *err, size_t err_size);

/* Looks for the template `name` ("SE.cfg"; exact name first, then any case) in dir.
 * Returns the malloc'd path, or NULL. */
char *fy_se_find_file(const char *dir, const char *name);

/* Is u an account Migrate7 would not take as "the logged-on user": RID 500 (the built-in
 * Administrator), 501 (Guest), 503 (DefaultAccount), 504 (WDAGUtilityAccount), Windows
 * setup's defaultuser0-style accounts, or one matching a pattern of `image_accounts`
 * ("DOMAIN\user;*\build"; env FERRY_IMAGE_ACCOUNTS). *why (static) says which. */
bool fy_se_image_account(const fy_machine_user *u, const char *image_accounts, const char **why);

/* The volume's last logged-on user, for /AUTOEXTRACT, /AUTOINJECT or /AUTOBACKUP with no
 * user switch and for /INJECTTOLOGGEDINUSER. 0 and *u; or FY_EXIT_MACHINE with err (none
 * recorded, one without a profile here, or an image account: use /ALLUSERS or
 * /INCLUDEUSER). */
int fy_se_logged_on_user(const fy_machine *m, const char *image_accounts, const fy_machine_user **u,
                         char *err, size_t err_size);

#endif
