/* ferry extract | backup | inject | restore | list | verify | import: the command lines of
 * docs/agent.md turned into fy_agent_opts. Nothing is written when the command line is
 * wrong (exit 2). */
#include "agent/fy_agent.h"
#include "cli/fy_cli.h"
#include "io/fy_log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_MACHINE = 256, O_DRIVE, O_STORE, O_PROGRAM, O_CONFIG, O_ALL_USERS, O_INCLUDE_USER,
    O_EXCLUDE_USER, O_EXCLUDE_LOCAL, O_EXCLUDE_DOMAIN, O_EXCLUDE_UNUSED, O_SOURCE, O_DOMAIN,
    O_USER_MAP, O_SID_MAP, O_TARGET_VERSION, O_EXCLUDE_DISKS, O_TO_USER, O_PASSWORD_FILE,
    O_PASSWORD, O_OVERWRITE, O_LOG_LEVEL, O_LOG_DIR, O_LOG_FORMAT, O_HIDE_STATUS, O_NO_CANCEL,
    O_DRY_RUN, O_REPORT, O_NOW, O_UNDO, O_USER, O_AT, O_TO, O_JSON, O_HELP, O_APPDEFS,
};

static const struct option longopts[] = {
    {"machine", required_argument, NULL, O_MACHINE},
    {"drive", required_argument, NULL, O_DRIVE},
    {"store", required_argument, NULL, O_STORE},
    {"program", required_argument, NULL, O_PROGRAM},
    {"config", required_argument, NULL, O_CONFIG},
    {"appdefs", required_argument, NULL, O_APPDEFS},
    {"all-users", no_argument, NULL, O_ALL_USERS},
    {"include-user", required_argument, NULL, O_INCLUDE_USER},
    {"exclude-user", required_argument, NULL, O_EXCLUDE_USER},
    {"exclude-local", no_argument, NULL, O_EXCLUDE_LOCAL},
    {"exclude-domain", required_argument, NULL, O_EXCLUDE_DOMAIN},
    {"exclude-unused", required_argument, NULL, O_EXCLUDE_UNUSED},
    {"source", required_argument, NULL, O_SOURCE},
    {"domain", required_argument, NULL, O_DOMAIN},
    {"user-map", required_argument, NULL, O_USER_MAP},
    {"sid-map", required_argument, NULL, O_SID_MAP},
    {"target-version", required_argument, NULL, O_TARGET_VERSION},
    {"exclude-disks", required_argument, NULL, O_EXCLUDE_DISKS},
    {"to-user", required_argument, NULL, O_TO_USER},
    {"password-file", required_argument, NULL, O_PASSWORD_FILE},
    {"password", required_argument, NULL, O_PASSWORD},
    {"overwrite", no_argument, NULL, O_OVERWRITE},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"log-dir", required_argument, NULL, O_LOG_DIR},
    {"log-format", required_argument, NULL, O_LOG_FORMAT},
    {"hide-status", no_argument, NULL, O_HIDE_STATUS},
    {"no-cancel", no_argument, NULL, O_NO_CANCEL},
    {"dry-run", no_argument, NULL, O_DRY_RUN},
    {"report", required_argument, NULL, O_REPORT},
    {"now", required_argument, NULL, O_NOW},
    {"undo", no_argument, NULL, O_UNDO},
    {"user", required_argument, NULL, O_USER},
    {"at", required_argument, NULL, O_AT},
    {"to", required_argument, NULL, O_TO},
    {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static const char *const usage_text[] = {
    [FY_AGENT_EXTRACT] =
        "ferry extract --machine DIR --store DIR (--program P.fyb | --config SE.cfg) [USERS] [OPTIONS]",
    [FY_AGENT_BACKUP] =
        "ferry backup  --machine DIR --store DIR [--program P.fyb | --config SE.cfg] [USERS] [OPTIONS]",
    [FY_AGENT_INJECT] =
        "ferry inject  --machine DIR --store DIR [--program P.fyb | --config SE.cfg] [USERS]\n"
        "              [--source COMPUTER] [--domain OLD:NEW]... [--user-map OLD\\u=NEW\\v[=SID]]...\n"
        "              [--sid-map FILE.csv] [--target-version APP=VER]... [--exclude-disks D;E]\n"
        "              [--to-user DOMAIN\\user] [OPTIONS]\n"
        "ferry inject  --undo --machine DIR --store DIR [USERS]",
    [FY_AGENT_RESTORE] = "ferry restore --store DIR --user DOMAIN\\user [--source COMPUTER] [--at WHEN] "
                         "--to DIR [PATTERN...]",
    [FY_AGENT_LIST] = "ferry list    --store DIR [--json]",
    [FY_AGENT_VERIFY] = "ferry verify  --store DIR [--user DOMAIN\\user] [--source COMPUTER]",
    [FY_AGENT_IMPORT] = "ferry import  --store DIR FOLDER",
};

static const char options_text[] =
    "USERS: --all-users (default) | --include-user DOMAIN\\user... --exclude-user DOMAIN\\user...\n"
    "       --exclude-local --exclude-domain DOMAIN --exclude-unused DAYS\n"
    "OPTIONS: --password-file FILE (or env FERRY_PASSWORD) --overwrite --log-level LEVEL\n"
    "         --log-dir DIR --log-format text|cmtrace --hide-status --no-cancel --dry-run\n"
    "         --report FILE.json --now TIME --drive D=DIR -A/--appdefs DIR\n"
    "Exit codes: 0 ok, 1 some objects or users skipped, 2 command line, 3 program, 4 store,\n"
    "5 password, 6 machine, 7 I/O, 8 cancelled (docs/agent.md).\n";

static int usage(fy_agent_op op, const char *fmt, const char *arg)
{
    if (fmt) {
        fprintf(stderr, "ferry: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\n");
    }
    fprintf(fmt ? stderr : stdout, "usage: %s\n%s", usage_text[op],
            op <= FY_AGENT_UNDO ? options_text : "");
    return fmt ? FY_EXIT_USAGE : FY_EXIT_OK;
}

#define PUSH(arr, n, v)                                                                        \
    do {                                                                                       \
        (arr) = fy_xrealloc((void *)(arr), ((n) + 1) * sizeof(*(arr)));                        \
        (arr)[(n)++] = (v);                                                                    \
    } while (0)

int fy_cli_split_pair(const char *arg, char sep, fy_pair_arg *out)
{
    const char *s = strchr(arg, sep);
    if (!s || s == arg || !s[1]) return -1;
    out->from = fy_xstrndup(arg, (size_t)(s - arg));
    out->to = fy_xstrdup(s + 1);
    out->sid = NULL;
    if (sep == '=') { /* OLD\u=NEW\v=SID */
        char *t = strchr((char *)out->to, '=');
        if (t) {
            *t = 0;
            out->sid = t + 1;
        }
    }
    return 0;
}

/* Reads a password from a file (the first line; no trailing newline). */
static int read_password_file(const char *path, fy_agent_opts *o)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ferry: --password-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    size_t l = strcspn(buf, "\r\n");
    o->password = fy_xstrndup(buf, l);
    o->password_len = l;
    memset(buf, 0, sizeof buf);
    return 0;
}

int fy_agent_parse_time(const char *s, int64_t *t)
{
    if (s[0] == '@') {
        char *end;
        long long v = strtoll(s + 1, &end, 10);
        if (*end || end == s + 1) return -1;
        *t = v;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest) return -1;
    if (*rest == 'T' || *rest == ' ') {
        rest = strptime(rest + 1, "%H:%M:%S", &tm);
        if (!rest) return -1;
    }
    if (*rest == 'Z') rest++;
    if (*rest) return -1;
    *t = (int64_t)timegm(&tm);
    return 0;
}

static int parse(fy_agent_op op, int argc, char **argv, fy_agent_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->op = op;
    o->argc = argc;
    o->argv = argv;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":A:", longopts, NULL)) != -1) {
        fy_pair_arg pa;
        switch (c) {
        case O_MACHINE: o->machine = optarg; break;
        case O_DRIVE:
            if (fy_cli_split_pair(optarg, '=', &pa)) return usage(op, "--drive takes D=DIR, not '%s'", optarg);
            PUSH(o->drives, o->ndrives, pa);
            break;
        case O_STORE: o->store = optarg; break;
        case O_PROGRAM: o->program = optarg; break;
        case O_CONFIG: o->config = optarg; break;
        case 'A':
        case O_APPDEFS: PUSH(o->appdef_dirs, o->nappdef_dirs, optarg); break;
        case O_ALL_USERS: break; /* the default */
        case O_INCLUDE_USER:
        case O_EXCLUDE_USER:
            if (!fy_user_pattern_valid(optarg))
                return usage(op, "'%s' is not DOMAIN\\user or a SID", optarg);
            if (c == O_INCLUDE_USER)
                PUSH(o->users.include, o->users.ninclude, optarg);
            else
                PUSH(o->users.exclude, o->users.nexclude, optarg);
            break;
        case O_EXCLUDE_LOCAL: o->users.exclude_local = true; break;
        case O_EXCLUDE_DOMAIN: PUSH(o->users.exclude_domains, o->users.nexclude_domains, optarg); break;
        case O_EXCLUDE_UNUSED: {
            char *end;
            long d = strtol(optarg, &end, 10);
            if (*end || d < 0) return usage(op, "--exclude-unused takes a number of days, not '%s'", optarg);
            o->users.exclude_unused_days = d;
            break;
        }
        case O_SOURCE: o->source = optarg; break;
        case O_DOMAIN:
            if (fy_cli_split_pair(optarg, ':', &pa)) return usage(op, "--domain takes OLD:NEW, not '%s'", optarg);
            PUSH(o->domains, o->ndomains, pa);
            break;
        case O_USER_MAP:
            if (fy_cli_split_pair(optarg, '=', &pa) || !strchr(pa.from, '\\') || !strchr(pa.to, '\\'))
                return usage(op, "--user-map takes OLD\\user=NEW\\user[=SID], not '%s'", optarg);
            PUSH(o->user_maps, o->nuser_maps, pa);
            break;
        case O_SID_MAP: o->sid_map = optarg; break;
        case O_TARGET_VERSION:
            if (fy_cli_split_pair(optarg, '=', &pa))
                return usage(op, "--target-version takes APP=VERSION, not '%s'", optarg);
            PUSH(o->target_versions, o->ntarget_versions, pa);
            break;
        case O_EXCLUDE_DISKS: o->exclude_disks = optarg; break;
        case O_TO_USER:
            if (!fy_user_pattern_valid(optarg) || strpbrk(optarg, "*?"))
                return usage(op, "--to-user takes DOMAIN\\user, not '%s'", optarg);
            o->to_user = optarg;
            break;
        case O_PASSWORD_FILE:
            if (read_password_file(optarg, o)) return FY_EXIT_USAGE;
            break;
        case O_PASSWORD:
            fprintf(stderr, "ferry: warning: --password is visible to other processes; use "
                            "--password-file or FERRY_PASSWORD\n");
            free(o->password);
            o->password = fy_xstrdup(optarg);
            o->password_len = strlen(optarg);
            memset(optarg, '*', strlen(optarg)); /* scrub it from /proc/PID/cmdline */
            break;
        case O_OVERWRITE: o->overwrite = true; break;
        case O_LOG_LEVEL: {
            fy_log_level lv;
            if (fy_log_level_parse(optarg, &lv))
                return usage(op, "--log-level takes error, warning, info, verbose or trace, not '%s'", optarg);
            o->log_level = (int)lv;
            break;
        }
        case O_LOG_DIR: o->log_dir = optarg; break;
        case O_LOG_FORMAT:
            if (strcmp(optarg, "text") == 0)
                o->log_format = FY_LOG_TEXT;
            else if (strcmp(optarg, "cmtrace") == 0)
                o->log_format = FY_LOG_CMTRACE;
            else
                return usage(op, "--log-format takes text or cmtrace, not '%s'", optarg);
            break;
        case O_HIDE_STATUS: o->hide_status = true; break;
        case O_NO_CANCEL: o->no_cancel = true; break;
        case O_DRY_RUN: o->dry_run = true; break;
        case O_REPORT: o->report = optarg; break;
        case O_NOW:
            if (fy_agent_parse_time(optarg, &o->now))
                return usage(op, "--now takes a time like 2026-11-25T08:00:00Z, not '%s'", optarg);
            break;
        case O_UNDO:
            if (op != FY_AGENT_INJECT) return usage(op, "%s", "--undo goes with inject");
            o->op = FY_AGENT_UNDO;
            break;
        case O_USER:
            if (!fy_user_pattern_valid(optarg)) return usage(op, "'%s' is not DOMAIN\\user", optarg);
            o->user = optarg;
            break;
        case O_AT: o->at = optarg; break;
        case O_TO: o->to = optarg; break;
        case O_JSON: o->json = true; break;
        case O_HELP: return usage(op, NULL, NULL) + 100; /* 100: printed help, exit 0 */
        case ':': return usage(op, "%s needs a value", argv[optind - 1]);
        default: return usage(op, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o->password) {
        const char *env = getenv("FERRY_PASSWORD");
        if (env && *env) {
            o->password = fy_xstrdup(env);
            o->password_len = strlen(env);
        }
    }
    /* positional arguments */
    for (int i = optind; i < argc; i++) {
        if (op == FY_AGENT_RESTORE)
            PUSH(o->patterns, o->npatterns, argv[i]);
        else if (op == FY_AGENT_IMPORT && !o->import_from)
            o->import_from = argv[i];
        else
            return usage(op, "unexpected argument '%s'", argv[i]);
    }
    /* what each operation needs */
    if (!o->store) return usage(op, "%s", "--store DIR is required");
    bool machine_op = o->op == FY_AGENT_EXTRACT || o->op == FY_AGENT_BACKUP ||
                      o->op == FY_AGENT_INJECT || o->op == FY_AGENT_UNDO;
    if (machine_op && !o->machine) return usage(op, "%s", "--machine DIR is required");
    if (o->op == FY_AGENT_EXTRACT && !o->program && !o->config)
        return usage(op, "%s", "extract needs --program P.fyb or --config SE.cfg");
    if (o->program && o->config) return usage(op, "%s", "give --program or --config, not both");
    if (o->op == FY_AGENT_RESTORE && (!o->user || !o->to))
        return usage(op, "%s", "restore needs --user DOMAIN\\user and --to DIR");
    if (o->op == FY_AGENT_IMPORT && !o->import_from)
        return usage(op, "%s", "import needs the FOLDER to take in");
    return 0;
}

void fy_cli_free_opts(fy_agent_opts *o)
{
    for (size_t i = 0; i < o->ndrives; i++) free((char *)o->drives[i].from), free((char *)o->drives[i].to);
    for (size_t i = 0; i < o->ndomains; i++) free((char *)o->domains[i].from), free((char *)o->domains[i].to);
    for (size_t i = 0; i < o->nuser_maps; i++) free((char *)o->user_maps[i].from), free((char *)o->user_maps[i].to);
    for (size_t i = 0; i < o->ntarget_versions; i++)
        free((char *)o->target_versions[i].from), free((char *)o->target_versions[i].to);
    free(o->drives);
    free(o->domains);
    free(o->user_maps);
    free(o->target_versions);
    free(o->appdef_dirs);
    free(o->users.include);
    free(o->users.exclude);
    free(o->users.exclude_domains);
    free(o->patterns);
    if (o->password) {
        memset(o->password, 0, o->password_len);
        free(o->password);
    }
}

static int run_op(fy_agent_op op, int argc, char **argv)
{
    fy_agent_opts o;
    int rc = parse(op, argc, argv, &o);
    if (rc == 100) rc = 0;
    else if (rc == 0) rc = fy_agent_run(&o);
    fy_cli_free_opts(&o);
    return rc;
}

int fy_cmd_extract(int argc, char **argv) { return run_op(FY_AGENT_EXTRACT, argc, argv); }
int fy_cmd_backup(int argc, char **argv) { return run_op(FY_AGENT_BACKUP, argc, argv); }
int fy_cmd_inject(int argc, char **argv) { return run_op(FY_AGENT_INJECT, argc, argv); }
int fy_cmd_restore(int argc, char **argv) { return run_op(FY_AGENT_RESTORE, argc, argv); }
int fy_cmd_list(int argc, char **argv) { return run_op(FY_AGENT_LIST, argc, argv); }
int fy_cmd_verify(int argc, char **argv) { return run_op(FY_AGENT_VERIFY, argc, argv); }
int fy_cmd_import(int argc, char **argv) { return run_op(FY_AGENT_IMPORT, argc, argv); }
