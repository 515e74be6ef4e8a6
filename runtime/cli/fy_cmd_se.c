/* se: the Migrate7 se.exe switches (docs/se.md) turned into fy_agent_opts and run with
 * fy_agent_run, so exit codes and logs are ferry's. What se adds to the plain mapping: the
 * template found beside it (SE.cfg), the data store from that template, UNC paths mapped
 * to local mounts (FERRY_UNC_MAP), and "the logged-on user" read from the offline volume.
 * Nothing is written when the command line is wrong (exit 2). */
#include "cli/fy_cli.h"
#include "cli/fy_se.h"
#include "fy_program.h"
#include "io/fy_log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the switch table ---- */

static const fy_se_switch switches[] = {
    {FY_SE_AUTOEXTRACT, "/AUTOEXTRACT", FY_SE_FLAG, NULL, "ferry extract"},
    {FY_SE_AUTOINJECT, "/AUTOINJECT", FY_SE_FLAG, NULL, "ferry inject"},
    {FY_SE_AUTOBACKUP, "/AUTOBACKUP", FY_SE_FLAG, NULL, "ferry backup"},
    {FY_SE_PASSWORD, "/PASSWORD", FY_SE_VALUE, "pw", "--password"},
    {FY_SE_CONFIG, "/CONFIG", FY_SE_VALUE, "path", "--config"},
    {FY_SE_IMPORT, "/IMPORT", FY_SE_VALUE, "folder", "ferry import"},
    {FY_SE_SOURCE, "/SOURCE", FY_SE_VALUE, "computer", "--source"},
    {FY_SE_INCLUDEUSER, "/INCLUDEUSER", FY_SE_VALUES, "dom\\user...", "--include-user"},
    {FY_SE_ALLUSERS, "/ALLUSERS", FY_SE_FLAG, NULL, "--all-users"},
    {FY_SE_EXCLUDEUSER, "/EXCLUDEUSER", FY_SE_VALUES, "dom\\user...", "--exclude-user"},
    {FY_SE_EXCLUDELOCAL, "/EXCLUDELOCAL", FY_SE_FLAG, NULL, "--exclude-local"},
    {FY_SE_EXCLUDEUNUSED, "/EXCLUDEUNUSED", FY_SE_VALUE, "days", "--exclude-unused"},
    {FY_SE_DOMAIN, "/DOMAIN", FY_SE_VALUE, "old:new", "--domain"},
    {FY_SE_DATASTORE, "/DATASTORE", FY_SE_VALUE, "path", "--store"},
    {FY_SE_EXCLUDEDISKS, "/EXCLUDEDISKS", FY_SE_VALUE, "d;e", "--exclude-disks"},
    {FY_SE_INJECTTOLOGGEDINUSER, "/INJECTTOLOGGEDINUSER", FY_SE_FLAG, NULL, "--to-user"},
    {FY_SE_EXCLUDEDOMAIN, "/EXCLUDEDOMAIN", FY_SE_VALUE, "dom", "--exclude-domain"},
    {FY_SE_NOCANCEL, "/NOCANCEL", FY_SE_FLAG, NULL, "--no-cancel"},
    {FY_SE_HIDESTATUS, "/HIDESTATUS", FY_SE_FLAG, NULL, "--hide-status"},
    {FY_SE_MACHINE, "/MACHINE", FY_SE_VALUE, "dir", "--machine"},
    {FY_SE_HELP, "/HELP", FY_SE_FLAG, NULL, "--help"},
    {FY_SE_VERSION, "/VERSION", FY_SE_FLAG, NULL, "--version"},
};

const fy_se_switch *fy_se_switches(size_t *n)
{
    *n = FY_ARRAY_LEN(switches);
    return switches;
}

const fy_se_switch *fy_se_find_switch(const char *name, size_t len)
{
    if (len == 2 && name[0] == '/' && name[1] == '?') name = "/HELP", len = 5;
    for (size_t i = 0; i < FY_ARRAY_LEN(switches); i++)
        if (strlen(switches[i].name) == len && strncasecmp(switches[i].name, name, len) == 0)
            return &switches[i];
    return NULL;
}

char *fy_se_switch_list(void)
{
    fy_buf b = {0};
    for (size_t i = 0; i < FY_ARRAY_LEN(switches); i++) {
        if (i) fy_buf_putc(&b, ' ');
        fy_buf_puts(&b, switches[i].name);
    }
    char *s = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return s;
}

/* ---- the parser ---- */

#define PUSH(arr, n, v)                                                                            \
    do {                                                                                           \
        (arr) = fy_xrealloc((void *)(arr), ((n) + 1) * sizeof(*(arr)));                            \
        (arr)[(n)++] = (v);                                                                        \
    } while (0)

/* The switch an argument names ("/CONFIG:x" names /CONFIG), or NULL. */
static const fy_se_switch *switch_of(const char *arg, const char **inline_value)
{
    if (arg[0] != '/') return NULL;
    size_t n = strcspn(arg, ":=");
    const fy_se_switch *sw = fy_se_find_switch(arg, n);
    if (inline_value) *inline_value = sw && arg[n] ? arg + n + 1 : NULL;
    return sw;
}

/* Index of the value of the VALUE switch at argv[i] (no inline value), or -1 when there is
 * none: the next argument, unless it is itself a switch. A Linux path starts with '/' too,
 * so only a known switch name ends the search. */
static int value_index(int argc, char **argv, int i)
{
    if (i + 1 >= argc || switch_of(argv[i + 1], NULL)) return -1;
    return i + 1;
}

/* Strips one pair of surrounding double quotes a caller left in ("\"x y\"" -> "x y");
 * anything else is returned as it is. New strings are recorded in owned. */
static const char *unquote(const char *v, char ***owned, size_t *nowned)
{
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"') return v;
    char *s = fy_xstrndup(v + 1, n - 2);
    PUSH(*owned, *nowned, s);
    return s;
}

typedef struct parse_state {
    char **owned; /* strings the parser made (unquoted values) */
    size_t nowned;
} parse_state;

static int perr(char *err, size_t es, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(char *err, size_t es, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, es, fmt, ap);
    va_end(ap);
    return FY_EXIT_USAGE;
}

/* Copies every /PASSWORD value and overwrites it in argv, before anything else can fail. */
static void scrub_passwords(int argc, char **argv, fy_se_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *inl;
        const fy_se_switch *sw = switch_of(argv[i], &inl);
        if (!sw || sw->id != FY_SE_PASSWORD) continue;
        char *v;
        if (inl) {
            v = (char *)inl;
        } else {
            int k = value_index(argc, argv, i);
            if (k < 0) continue; /* the parser says the value is missing */
            v = argv[k];
            i = k;
        }
        if (a->password) {
            memset(a->password, 0, a->password_len);
            free(a->password);
        }
        a->password_len = strlen(v);
        a->password = fy_xstrndup(v, a->password_len);
        memset(v, '*', a->password_len);
    }
}

static bool disks_valid(const char *s)
{
    bool letter = false;
    for (const char *p = s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
            letter = true;
        else if (!strchr(":;, ", *p))
            return false;
    }
    return letter;
}

int fy_se_parse(int argc, char **argv, fy_se_args *a, char *err, size_t es)
{
    memset(a, 0, sizeof *a);
    scrub_passwords(argc, argv, a);
    parse_state ps = {0};
    int rc = 0;
    unsigned nops = 0;
    bool inject_only = false, user_switch = false;
    const char *inject_only_name = NULL;
    for (int i = 1; i < argc && !rc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            a->help = true;
            continue;
        }
        if (!strcmp(arg, "--version")) {
            a->version = true;
            continue;
        }
        const char *inl;
        const fy_se_switch *sw = switch_of(arg, &inl);
        if (!sw) {
            char *list = fy_se_switch_list();
            if (arg[0] == '/')
                rc = perr(err, es, "unknown switch '%s'; se knows: %s", arg, list);
            else
                rc = perr(err, es, "unexpected argument '%s' (a value for no switch); se knows: %s",
                          arg, list);
            free(list);
            break;
        }
        /* the value(s) */
        const char **vals = NULL;
        size_t nvals = 0;
        if (sw->arity == FY_SE_FLAG) {
            if (inl) {
                rc = perr(err, es, "%s takes no value (given '%s')", sw->name, arg);
                break;
            }
        } else {
            if (inl) {
                if (!*inl) {
                    rc = perr(err, es, "%s needs a value (%s)", sw->name, sw->value);
                    break;
                }
                PUSH(vals, nvals, unquote(inl, &ps.owned, &ps.nowned));
            } else if (sw->arity == FY_SE_VALUE) {
                int k = value_index(argc, argv, i);
                if (k >= 0) {
                    PUSH(vals, nvals, unquote(argv[k], &ps.owned, &ps.nowned));
                    i = k;
                }
            }
            if (sw->arity == FY_SE_VALUES)
                while (i + 1 < argc && argv[i + 1][0] != '/')
                    PUSH(vals, nvals, unquote(argv[++i], &ps.owned, &ps.nowned));
            if (!nvals) {
                rc = perr(err, es, "%s needs a value (%s %s)", sw->name, sw->name, sw->value);
                break;
            }
        }
        const char *v = nvals ? vals[0] : NULL;
        switch (sw->id) {
        case FY_SE_AUTOEXTRACT:
            a->op = FY_AGENT_EXTRACT, nops++;
            break;
        case FY_SE_AUTOINJECT:
            a->op = FY_AGENT_INJECT, nops++;
            break;
        case FY_SE_AUTOBACKUP:
            a->op = FY_AGENT_BACKUP, nops++;
            break;
        case FY_SE_IMPORT:
            a->op = FY_AGENT_IMPORT, nops++;
            a->import_from = v;
            break;
        case FY_SE_PASSWORD:
            break; /* taken (and scrubbed) by scrub_passwords */
        case FY_SE_CONFIG:
            a->config = v;
            break;
        case FY_SE_DATASTORE:
            a->datastore = v;
            break;
        case FY_SE_MACHINE:
            a->machine = v;
            break;
        case FY_SE_SOURCE:
            a->source = v;
            inject_only = true, inject_only_name = sw->name;
            break;
        case FY_SE_INCLUDEUSER:
        case FY_SE_EXCLUDEUSER:
            for (size_t k = 0; k < nvals && !rc; k++) {
                if (!fy_user_pattern_valid(vals[k]))
                    rc = perr(err, es, "%s: '%s' is not DOMAIN\\user or a SID", sw->name, vals[k]);
                else if (sw->id == FY_SE_INCLUDEUSER)
                    PUSH(a->include, a->ninclude, vals[k]);
                else
                    PUSH(a->exclude, a->nexclude, vals[k]);
            }
            if (sw->id == FY_SE_INCLUDEUSER) user_switch = true;
            break;
        case FY_SE_ALLUSERS:
            a->all_users = true, user_switch = true;
            break;
        case FY_SE_EXCLUDELOCAL:
            a->exclude_local = true;
            break;
        case FY_SE_EXCLUDEDOMAIN:
            if (strchr(v, '\\'))
                rc = perr(err, es, "/EXCLUDEDOMAIN takes a domain name, not '%s'", v);
            else
                PUSH(a->exclude_domains, a->nexclude_domains, v);
            break;
        case FY_SE_EXCLUDEUNUSED: {
            char *end;
            errno = 0;
            long long d = strtoll(v, &end, 10);
            if (*end || end == v || d < 0 || errno || d > 365LL * 1000)
                rc = perr(err, es, "/EXCLUDEUNUSED takes a number of days, not '%s'", v);
            else
                a->exclude_unused_days = d;
            break;
        }
        case FY_SE_DOMAIN: {
            fy_pair_arg pa;
            if (fy_cli_split_pair(v, ':', &pa)) {
                rc = perr(err, es, "/DOMAIN takes OLD:NEW, not '%s'", v);
            } else if (strchr(pa.to, ':') || strchr(pa.from, '\\')) {
                free((char *)pa.from), free((char *)pa.to);
                rc = perr(err, es, "/DOMAIN takes OLD:NEW (two domain names), not '%s'", v);
            } else {
                PUSH(a->domains, a->ndomains, pa);
            }
            inject_only = true, inject_only_name = sw->name;
            break;
        }
        case FY_SE_EXCLUDEDISKS:
            if (!disks_valid(v))
                rc = perr(err, es, "/EXCLUDEDISKS takes drive letters like d;e, not '%s'", v);
            a->exclude_disks = v;
            inject_only = true, inject_only_name = sw->name;
            break;
        case FY_SE_INJECTTOLOGGEDINUSER:
            a->to_logged_in = true;
            inject_only = true, inject_only_name = sw->name;
            break;
        case FY_SE_NOCANCEL:
            a->no_cancel = true;
            break;
        case FY_SE_HIDESTATUS:
            a->hide_status = true;
            break;
        case FY_SE_HELP:
            a->help = true;
            break;
        case FY_SE_VERSION:
            a->version = true;
            break;
        }
        free(vals);
    }
    /* the parser's own strings live as long as the arguments: keep them on a */
    a->owned_ = ps.owned;
    a->nowned_ = ps.nowned;
    if (rc || a->help || a->version) return rc;
    if (nops == 0)
        return perr(err, es,
                    "say what to do: /AUTOEXTRACT, /AUTOINJECT, /AUTOBACKUP or /IMPORT \"folder\"");
    if (nops > 1)
        return perr(err, es,
                    "give one of /AUTOEXTRACT, /AUTOINJECT, /AUTOBACKUP and /IMPORT, not several");
    if (a->all_users && a->ninclude)
        return perr(err, es, "give /ALLUSERS or /INCLUDEUSER, not both");
    if (inject_only && a->op != FY_AGENT_INJECT)
        return perr(err, es, "%s goes with /AUTOINJECT", inject_only_name);
    if (a->op == FY_AGENT_IMPORT && (user_switch || a->nexclude || a->exclude_local ||
                                     a->nexclude_domains || a->exclude_unused_days))
        return perr(err, es,
                    "/IMPORT takes a whole personality folder: user switches do not apply");
    return 0;
}

void fy_se_args_free(fy_se_args *a)
{
    free(a->include);
    free(a->exclude);
    free(a->exclude_domains);
    for (size_t i = 0; i < a->ndomains; i++)
        free((char *)a->domains[i].from), free((char *)a->domains[i].to);
    free(a->domains);
    for (size_t i = 0; i < a->nowned_; i++)
        free(a->owned_[i]);
    free(a->owned_);
    if (a->password) {
        memset(a->password, 0, a->password_len);
        free(a->password);
    }
    memset(a, 0, sizeof *a);
}

/* ---- UNC paths ---- */

static bool is_sep(char c)
{
    return c == '\\' || c == '/';
}

/* Splits a UNC path's components after the leading two separators; empty components (a
 * doubled separator) are dropped. Returns the count; -1 when path is not UNC. */
static int unc_split(const char *path, char ***parts)
{
    *parts = NULL;
    if (!is_sep(path[0]) || !is_sep(path[1]) || is_sep(path[2]) || !path[2]) return -1;
    int n = 0;
    const char *p = path + 2;
    while (*p) {
        size_t k = 0;
        while (p[k] && !is_sep(p[k]))
            k++;
        if (k) {
            *parts = fy_xrealloc(*parts, (size_t)(n + 1) * sizeof(char *));
            (*parts)[n++] = fy_xstrndup(p, k);
        }
        p += k;
        while (is_sep(*p))
            p++;
    }
    return n;
}

static void free_parts(char **parts, int n)
{
    for (int i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
}

int fy_se_map_unc(const char *path, const char *map, char **out, char *err, size_t es)
{
    *out = NULL;
    char **pp;
    int np = unc_split(path, &pp);
    if (np < 0) return 1;
    int rc = -1;
    char *mapcopy = map ? fy_xstrdup(map) : NULL;
    const char *best_dir = NULL;
    int best_len = 0;
    if (np < 2) {
        snprintf(err, es, "'%s' is not a UNC path \\\\server\\share\\...", path);
        goto out;
    }
    for (int i = 2; i < np; i++) {
        if (strcmp(pp[i], "..") == 0) {
            snprintf(err, es, "'%s': a UNC path with '..' is not mapped", path);
            goto out;
        }
    }
    char *save = NULL;
    for (char *e = mapcopy ? strtok_r(mapcopy, ";", &save) : NULL; e;
         e = strtok_r(NULL, ";", &save)) {
        while (*e == ' ')
            e++;
        if (!*e) continue;
        char *eq = strchr(e, '=');
        char **kp = NULL;
        int nk = -1;
        if (eq) {
            *eq = 0;
            nk = unc_split(e, &kp);
        }
        if (!eq || nk < 2 || !eq[1]) {
            if (eq) *eq = '=';
            snprintf(err, es, "FERRY_UNC_MAP: '%s' is not \\\\server\\share=/local/folder", e);
            free_parts(kp, nk);
            goto out;
        }
        bool match = nk <= np;
        for (int i = 0; i < nk && match; i++)
            match = fy_streq_ci(kp[i], pp[i]);
        free_parts(kp, nk);
        if (match && nk > best_len) {
            best_len = nk;
            best_dir = eq + 1;
        }
    }
    if (!best_dir) {
        snprintf(
            err, es,
            "%s is a UNC path and FERRY_UNC_MAP maps no \\\\%s\\%s to a local mount: mount the "
            "share (mount -t cifs //%s/%s /mnt/...) and set FERRY_UNC_MAP='\\\\%s\\%s=/mnt/...'",
            path, pp[0], pp[1], pp[0], pp[1], pp[0], pp[1]);
        goto out;
    }
    fy_buf b = {0};
    size_t dl = strlen(best_dir);
    while (dl > 1 && best_dir[dl - 1] == '/')
        dl--;
    fy_buf_put(&b, best_dir, dl);
    for (int i = best_len; i < np; i++) {
        if (strcmp(pp[i], ".") == 0) continue;
        if (b.len && b.data[b.len - 1] != '/') fy_buf_putc(&b, '/');
        fy_buf_puts(&b, pp[i]);
    }
    *out = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    rc = 0;
out:
    free(mapcopy);
    free_parts(pp, np);
    return rc;
}

/* ---- the template ---- */

char *fy_se_find_file(const char *dir, const char *name)
{
    struct stat st;
    char *p = fy_xasprintf("%s/%s", dir, name);
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) return p;
    free(p);
    p = NULL;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    struct dirent *e;
    while (!p && (e = readdir(d)) != NULL) {
        if (strcasecmp(e->d_name, name) != 0) continue;
        char *q = fy_xasprintf("%s/%s", dir, e->d_name);
        if (stat(q, &st) == 0 && S_ISREG(st.st_mode))
            p = q;
        else
            free(q);
    }
    closedir(d);
    return p;
}

/* ---- the logged-on user ---- */

bool fy_se_image_account(const fy_machine_user *u, const char *image_accounts, const char **why)
{
    if (u->sid && strncmp(u->sid, "S-1-5-21-", 9) == 0) {
        switch (u->rid) {
        case 500:
            *why = "the built-in Administrator (RID 500)";
            return true;
        case 501:
            *why = "the built-in Guest (RID 501)";
            return true;
        case 503:
            *why = "the built-in DefaultAccount (RID 503)";
            return true;
        case 504:
            *why = "the built-in WDAGUtilityAccount (RID 504)";
            return true;
        default:
            break;
        }
    }
    /* Windows setup's temporary accounts: defaultuser0, defaultuser100000, ... */
    if (u->name && strncasecmp(u->name, "defaultuser", 11) == 0 && u->name[11] &&
        strspn(u->name + 11, "0123456789") == strlen(u->name + 11)) {
        *why = "an account Windows setup made to build the image";
        return true;
    }
    if (image_accounts && *image_accounts) {
        char *list = fy_xstrdup(image_accounts), *save = NULL;
        bool hit = false;
        fy_user_id id = {u->domain, u->name, u->sid, u->local, u->last_use};
        for (char *p = strtok_r(list, ";", &save); p && !hit; p = strtok_r(NULL, ";", &save))
            hit = *p && fy_user_pattern_match(p, &id);
        free(list);
        if (hit) {
            *why = "an account used to build the image (FERRY_IMAGE_ACCOUNTS)";
            return true;
        }
    }
    return false;
}

int fy_se_logged_on_user(const fy_machine *m, const char *image_accounts,
                         const fy_machine_user **out, char *err, size_t es)
{
    *out = NULL;
    const fy_machine_user *u = fy_machine_last_user(m);
    const char *why;
    if (!u) {
        const char *who = m->last_user_text ? m->last_user_text : m->last_user_sid;
        if (who)
            snprintf(err, es,
                     "the last logged-on user of %s, %s, has no profile on this volume: use "
                     "/ALLUSERS or /INCLUDEUSER DOMAIN\\user",
                     m->computer_name, who);
        else
            snprintf(
                err, es,
                "%s records no last logged-on user: use /ALLUSERS or /INCLUDEUSER DOMAIN\\user",
                m->computer_name);
        return FY_EXIT_MACHINE;
    }
    if (fy_se_image_account(u, image_accounts, &why)) {
        snprintf(err, es,
                 "the last logged-on user of %s is %s, %s, not a user to migrate: use /ALLUSERS "
                 "or /INCLUDEUSER DOMAIN\\user",
                 m->computer_name, u->account, why);
        return FY_EXIT_MACHINE;
    }
    *out = u;
    return 0;
}

/* ---- the program ---- */

static const char usage_head[] =
    "usage: se /AUTOEXTRACT | /AUTOINJECT | /AUTOBACKUP | /IMPORT \"folder\"\n"
    "          [/MACHINE \"dir\"] [/CONFIG \"SE.cfg\"] [/DATASTORE \"path\"] [user switches] "
    "[...]\n"
    "       se /? | --help | --version\n"
    "\n"
    "The Migrate7 se.exe switches, any case, mapped onto ferry (docs/se.md):\n";

static const char usage_tail[] =
    "\n"
    "/MACHINE (or env FERRY_MACHINE) is the mounted offline Windows volume. Without /CONFIG,\n"
    "SE.cfg is read from the current folder, then from beside se. The data store is /DATASTORE,\n"
    "else the template's [Data Store] Data Store Location; \\\\server\\share paths are mapped by\n"
    "FERRY_UNC_MAP='\\\\server\\share=/mnt/share;...'. With no /ALLUSERS or /INCLUDEUSER, the\n"
    "volume's last logged-on user is migrated. Environment: FERRY_PASSWORD (rather than\n"
    "/PASSWORD), FERRY_LOG_DIR, FERRY_LOG_LEVEL, FERRY_LOG_FORMAT=cmtrace, FERRY_IMAGE_ACCOUNTS,\n"
    "FERRY_SID_MAP (ferry's --sid-map), FERRY_REPORT (--report FILE.json).\n"
    "Exit codes: 0 ok, 1 some objects or users skipped, 2 command line, 3 template, 4 store,\n"
    "5 password, 6 machine (or no user to migrate), 7 I/O, 8 cancelled (docs/agent.md).\n";

static void print_usage(FILE *f)
{
    fputs(usage_head, f);
    for (size_t i = 0; i < FY_ARRAY_LEN(switches); i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", switches[i].name, switches[i].value ? " " : "",
                 switches[i].value ? switches[i].value : "");
        fprintf(f, "  %-26s %s\n", left, switches[i].ferry);
    }
    fputs(usage_tail, f);
}

typedef struct se_run {
    fy_agent_opts o;
    char **owned; /* strings se made for o */
    size_t nowned;
} se_run;

static const char *own(se_run *r, char *s)
{
    PUSH(r->owned, r->nowned, s);
    return s;
}

static fy_log_op log_op(fy_agent_op op)
{
    return op == FY_AGENT_INJECT   ? FY_OP_INJECT
           : op == FY_AGENT_BACKUP ? FY_OP_BACKUP
                                   : FY_OP_EXTRACT;
}

/* se stopped before the agent ran (exit 2 to 7): the message on stderr and, for machine
 * operations past the command line, in a log in the log folder, as the agent leaves one. */
static int stop(se_run *r, const char *computer, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int stop(se_run *r, const char *computer, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    fprintf(stderr, "se: %s%s\n", code == FY_EXIT_USAGE ? "" : "error: ", msg ? msg : fmt);
    const fy_agent_opts *o = &r->o;
    if (code != FY_EXIT_USAGE && o->op != FY_AGENT_IMPORT) {
        fy_log_opts lo = {.computer = computer,
                          .op = log_op(o->op),
                          .level = o->log_level ? (fy_log_level)o->log_level : FY_LOG_INFO,
                          .format = (fy_log_format)o->log_format,
                          .log_dir = o->log_dir,
                          .program = "ferry",
                          .version = FERRY_VERSION,
                          .argc = o->argc,
                          .argv = o->argv};
        fy_log *l = NULL;
        char err[256];
        if (fy_log_open(&lo, &l, err, sizeof err) == 0) {
            fy_log_time_section(l);
            fy_log_section(l, "Configuration");
            fy_log_item(l, "Program", "%s", o->config ? o->config : "(none)");
            fy_log_section(l, "Data Store");
            fy_log_item(l, "Location", "%s", o->store ? o->store : "(none)");
            fy_log_msg(l, FY_LOG_ERROR, "%s", msg ? msg : fmt);
            fy_log_close(l, code, NULL, 0);
        }
    }
    free(msg);
    return code;
}

/* A path from the command line or the template, UNC-mapped; NULL (and an exit code in *rc)
 * when it cannot be used offline. */
static const char *local_path(se_run *r, const char *what, const char *path, int *rc)
{
    char err[768];
    char *mapped;
    int m = fy_se_map_unc(path, getenv("FERRY_UNC_MAP"), &mapped, err, sizeof err);
    if (m == 0) return own(r, mapped);
    if (m < 0) {
        *rc = stop(r, NULL, FY_EXIT_USAGE, "%s: %s", what, err);
        return NULL;
    }
    if (((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
        path[1] == ':') {
        *rc = stop(r, NULL, FY_EXIT_USAGE,
                   "%s: %s is a Windows drive path, which means nothing offline: give a Linux "
                   "folder, or a \\\\server\\share path mapped by FERRY_UNC_MAP",
                   what, path);
        return NULL;
    }
    return path;
}

/* The template: /CONFIG, else SE.cfg in the current folder, else beside se. */
static int find_template(se_run *r, const fy_se_args *a, const char **cfg)
{
    int rc = 0;
    *cfg = NULL;
    if (a->config) {
        *cfg = local_path(r, "/CONFIG", a->config, &rc);
        return rc;
    }
    char cwd[PATH_MAX];
    char *dir = getcwd(cwd, sizeof cwd) ? fy_xstrdup(cwd) : fy_xstrdup(".");
    char *found = fy_se_find_file(dir, "SE.cfg");
    char *xdir = found ? NULL : fy_exe_dir();
    if (!found && xdir) found = fy_se_find_file(xdir, "SE.cfg");
    if (found) {
        *cfg = own(r, found);
    } else if (!(a->op == FY_AGENT_IMPORT && a->datastore)) {
        rc = stop(r, NULL, FY_EXIT_USAGE,
                  "no SE.cfg in the current folder (%s) or beside se (%s): give /CONFIG \"path\"",
                  dir, xdir ? xdir : "?");
    }
    free(dir);
    free(xdir);
    return rc;
}

/* Compiles the template (quietly: the agent prints its warnings when it compiles it again)
 * and reads its Data Store Location. */
static int template_store(se_run *r, const char *cfg, char **location)
{
    *location = NULL;
    fy_diags d = {0};
    uint8_t *img = NULL;
    size_t n = 0;
    fy_program *p = NULL;
    char err[512];
    int rc = 0;
    if (fy_agent_compile_config(cfg, r->o.appdef_dirs, r->o.nappdef_dirs, &d, &img, &n)) {
        fy_agent_print_diags(&d, cfg);
        rc = stop(r, NULL, FY_EXIT_PROGRAM, "%s: the template does not compile (see above)", cfg);
    } else if (fy_program_load(img, n, NULL, &p, err, sizeof err)) {
        rc = stop(r, NULL, FY_EXIT_PROGRAM, "%s: %s", cfg, err);
    } else {
        const char *v = fy_agent_policy(p, "Data Store", "Data Store Location");
        if (v && *v) *location = fy_xstrdup(v);
    }
    fy_program_free(p);
    free(img);
    fy_diags_free(&d);
    return rc;
}

static int env_opts(se_run *r)
{
    fy_agent_opts *o = &r->o;
    const char *v = getenv("FERRY_LOG_DIR");
    if (v && *v) o->log_dir = v;
    v = getenv("FERRY_LOG_LEVEL");
    if (v && *v) {
        fy_log_level lv;
        if (fy_log_level_parse(v, &lv))
            return stop(r, NULL, FY_EXIT_USAGE,
                        "FERRY_LOG_LEVEL takes error, warning, info, verbose or trace, not '%s'",
                        v);
        o->log_level = (int)lv;
    }
    /* what se has no switch for, and SCCM wrappers need: SIDs for users the target has no
     * profile for (an image before its first logon), and a machine-readable summary */
    v = getenv("FERRY_SID_MAP");
    if (v && *v) o->sid_map = v;
    v = getenv("FERRY_REPORT");
    if (v && *v) o->report = v;
    v = getenv("FERRY_LOG_FORMAT");
    if (v && *v) {
        if (strcasecmp(v, "text") == 0)
            o->log_format = FY_LOG_TEXT;
        else if (strcasecmp(v, "cmtrace") == 0)
            o->log_format = FY_LOG_CMTRACE;
        else
            return stop(r, NULL, FY_EXIT_USAGE, "FERRY_LOG_FORMAT takes text or cmtrace, not '%s'",
                        v);
    }
    return 0;
}

/* The users se picks from the volume: the last logged-on user when no user switch is given
 * (extract, backup: that user; inject: the personalities of that user, by name, by SID, and
 * by the old name of each /DOMAIN that maps to the user's domain), and the target user of
 * /INJECTTOLOGGEDINUSER. */
static int logged_on_users(se_run *r, const fy_se_args *a)
{
    fy_agent_opts *o = &r->o;
    bool want_selection = !a->all_users && !a->ninclude;
    if (!want_selection && !a->to_logged_in) return 0;
    fy_machine *m = NULL;
    char err[768];
    if (fy_machine_open(o->machine, NULL, 0, NULL, &m, err, sizeof err))
        return stop(r, NULL, FY_EXIT_MACHINE, "%s", err);
    const fy_machine_user *u;
    int rc = fy_se_logged_on_user(m, getenv("FERRY_IMAGE_ACCOUNTS"), &u, err, sizeof err);
    if (rc) {
        rc = stop(r, m->computer_name, rc, "%s", err);
        goto out;
    }
    if (want_selection) {
        PUSH(o->users.include, o->users.ninclude, own(r, fy_xstrdup(u->sid)));
        if (o->op == FY_AGENT_INJECT) {
            /* On injection the filters match the personalities' (source) names. */
            PUSH(o->users.include, o->users.ninclude, own(r, fy_xstrdup(u->account)));
            for (size_t i = 0; i < a->ndomains; i++)
                if (fy_streq_ci(a->domains[i].to, u->domain))
                    PUSH(o->users.include, o->users.ninclude,
                         own(r, fy_xasprintf("%s\\%s", a->domains[i].from, u->name)));
        }
        fprintf(stderr,
                "se: the logged-on user of %s (the last logged-on user the volume records): %s\n",
                m->computer_name, u->account);
    }
    if (a->to_logged_in) {
        o->to_user = own(r, fy_xstrdup(u->account));
        fprintf(stderr, "se: injecting into the logged-on user of %s: %s\n", m->computer_name,
                u->account);
    }
out:
    fy_machine_free(m);
    return rc;
}

int fy_cmd_se(int argc, char **argv)
{
    fy_se_args a;
    char err[2048];
    se_run r = {0};
    fy_agent_opts *o = &r.o;
    o->argc = argc;
    o->argv = argv;
    int rc = fy_se_parse(argc, argv, &a, err, sizeof err);
    if (rc) {
        fprintf(stderr, "se: %s\n(se /? lists the switches)\n", err);
        goto out;
    }
    if (a.help) {
        print_usage(stdout);
        goto out;
    }
    if (a.version) {
        printf("se %s\n", FERRY_VERSION);
        goto out;
    }
    o->op = a.op;
    if (a.password) {
        fprintf(stderr,
                "se: warning: /PASSWORD is visible to other processes (it was blanked when se "
                "started); set FERRY_PASSWORD instead\n");
        o->password = a.password;
        o->password_len = a.password_len;
        a.password = NULL;
    } else {
        const char *env = getenv("FERRY_PASSWORD");
        if (env && *env) {
            o->password_len = strlen(env);
            o->password = fy_xstrndup(env, o->password_len);
        }
    }
    if ((rc = env_opts(&r))) goto out;
    o->hide_status = a.hide_status;
    o->no_cancel = a.no_cancel;
    if (a.op != FY_AGENT_IMPORT) {
        o->machine = a.machine;
        if (!o->machine) {
            const char *env = getenv("FERRY_MACHINE");
            if (env && *env) o->machine = env;
        }
        if (!o->machine) {
            rc = stop(&r, NULL, FY_EXIT_USAGE,
                      "which offline Windows volume? give /MACHINE \"dir\" (the mounted system "
                      "volume) or set FERRY_MACHINE");
            goto out;
        }
    } else if (!(o->import_from = local_path(&r, "/IMPORT", a.import_from, &rc))) {
        goto out;
    }
    const char *cfg;
    if ((rc = find_template(&r, &a, &cfg))) goto out;
    char *location = NULL;
    if (cfg && (rc = template_store(&r, cfg, &location))) goto out;
    if (location) own(&r, location);
    /* import runs no program; the others run the template se found */
    if (a.op != FY_AGENT_IMPORT) o->config = cfg;
    const char *store = a.datastore ? a.datastore : location;
    if (!store) {
        rc = stop(
            &r, NULL, FY_EXIT_USAGE,
            "no data store: give /DATASTORE \"path\" or set [Data Store] Data Store Location in %s",
            cfg ? cfg : "SE.cfg");
        goto out;
    }
    if (!(o->store =
              local_path(&r, a.datastore ? "/DATASTORE" : "Data Store Location", store, &rc)))
        goto out;

    /* users */
    for (size_t i = 0; i < a.ninclude; i++)
        PUSH(o->users.include, o->users.ninclude, a.include[i]);
    for (size_t i = 0; i < a.nexclude; i++)
        PUSH(o->users.exclude, o->users.nexclude, a.exclude[i]);
    for (size_t i = 0; i < a.nexclude_domains; i++)
        PUSH(o->users.exclude_domains, o->users.nexclude_domains, a.exclude_domains[i]);
    o->users.exclude_local = a.exclude_local;
    o->users.exclude_unused_days = a.exclude_unused_days;
    o->source = a.source;
    o->exclude_disks = a.exclude_disks;
    for (size_t i = 0; i < a.ndomains; i++) {
        fy_pair_arg pa = {fy_xstrdup(a.domains[i].from), fy_xstrdup(a.domains[i].to), NULL};
        PUSH(o->domains, o->ndomains, pa);
    }
    if (a.op != FY_AGENT_IMPORT && (rc = logged_on_users(&r, &a))) goto out;

    rc = fy_agent_run(o);
out:
    fy_cli_free_opts(o);
    for (size_t i = 0; i < r.nowned; i++)
        free(r.owned[i]);
    free(r.owned);
    fy_se_args_free(&a);
    return rc;
}
