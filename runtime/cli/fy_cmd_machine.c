/* `ferry machine`: what ferry sees on an offline Windows volume (fy_machine.h), as text
 * for administrators or JSON for scripts. */
#include "fy_cli.h"

#include "fy_common.h"
#include "machine/fy_machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char USAGE[] =
    "Usage: ferry machine --machine DIR [--drive D=DIR]... [--json] [--verbose]\n"
    "\n"
    "Shows what ferry reads from an offline Windows volume: the OS, computer name, time\n"
    "zone, whether Windows is hibernated, the fixed drives, the last logged-on user, and\n"
    "each user (DOMAIN\\name, SID, local or domain, profile, last use, NTUSER.DAT) with\n"
    "their known folders (default, redirected, or unreachable offline).\n"
    "\n"
    "  --machine DIR     the mounted system volume (the folder holding Windows\\ and Users\\\n"
    "                    or Documents and Settings\\)\n"
    "  --drive D=DIR     another fixed volume of the machine, as drive D: (repeatable)\n"
    "  --json            print JSON instead of text\n"
    "  -v, --verbose     also list the service accounts' profiles (SYSTEM, LOCAL SERVICE,\n"
    "                    NETWORK SERVICE) and the local accounts in SAM\n"
    "\n"
    "Warnings (a dirty hive read without its logs, a folder out of reach) go to stderr.\n"
    "Exit codes: 0 done; 2 wrong command line; 6 no Windows at DIR, or a hive unreadable.\n"
    "docs/machine.md describes what is read from where.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("ferry machine: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    fputs(USAGE, stderr);
    return FY_EXIT_USAGE;
}

static void print_warnings(const fy_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const fy_diag *g = &d->v[i];
        fprintf(stderr, "%s: %s: %s [%s]\n", g->file ? g->file : "ferry machine",
                fy_diag_level_name(g->level), g->message, g->check);
    }
}

static const char *iso_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm)) return NULL;
    return buf;
}

static const char *tz_offset(const fy_machine *m, char *buf, size_t n)
{
    int off = -(m->tz.bias + m->tz.standard_bias); /* minutes east of UTC */
    snprintf(buf, n, "UTC%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
    return buf;
}

/* ---- text ---- */

static void text_folder(const fy_machine_folder *f, fy_token_id id, const char *indent)
{
    char tok[48];
    snprintf(tok, sizeof tok, "<%s>", fy_tokens[id].canonical);
    if (f->state == FY_FOLDER_NONE) {
        printf("%s%-26s (none on this OS)\n", indent, tok);
        return;
    }
    printf("%s%-26s %s  (%s", indent, tok, f->path, fy_folder_state_name(f->state));
    if (f->state == FY_FOLDER_UNREACHABLE && f->why) printf(": %s", f->why);
    printf(")\n");
}

static void print_text(const fy_machine *m, bool verbose)
{
    char tb[64], ob[32];
    const fy_machine_os *os = &m->os;
    printf("Machine:        %s\n", m->root);
    printf("OS:             %s", os->name);
    if (*os->product_name) printf(" (%s)", os->product_name);
    printf(", version %s", os->version);
    if (os->build) printf(", build %u", os->build);
    if (*os->display_version) printf(", %s", os->display_version);
    if (*os->service_pack) printf(", %s", os->service_pack);
    printf("\n");
    printf("Computer name:  %s\n", *m->computer_name ? m->computer_name : "(unknown)");
    printf("Domain:         %s\n", m->joined_domain ? m->joined_domain : "(workgroup or unknown)");
    printf("System drive:   %c: (Windows in %s)\n", m->system_drive, m->system_root);
    if (m->tz.known)
        printf("Time zone:      %s (%s; bias %d minutes)\n", *m->tz.name ? m->tz.name : "(unnamed)",
               tz_offset(m, ob, sizeof ob), m->tz.bias);
    else
        printf("Time zone:      (unknown: times are taken as UTC)\n");
    printf("Hibernated:     %s\n", m->hibernated ? "YES (hiberfil.sys holds a hibernation image: "
                                                   "this volume is never written)"
                                                 : "no");
    printf("Machine SID:    %s", m->machine_sid ? m->machine_sid : "(unknown)");
    if (m->machine_sid_source) printf(" (from %s)", m->machine_sid_source);
    printf("\n");
    printf("Profiles:       %s (new profiles from %s)\n", m->profiles_dir, m->default_profile);
    printf("Fixed drives:\n");
    for (size_t i = 0; i < m->ndrives; i++)
        printf("  %c:  %s%s\n", m->drives[i].letter, m->drives[i].root,
               m->drives[i].system ? "  (system)" : "");
    const fy_machine_user *lu = fy_machine_last_user(m);
    printf("Last logged-on user: ");
    if (lu)
        printf("%s (%s)\n", lu->account, lu->sid);
    else if (m->last_user_text)
        printf("%s (no profile on this volume)\n", m->last_user_text);
    else
        printf("(not recorded)\n");

    printf("Users: %zu\n", m->nusers);
    for (size_t i = 0; i < m->nusers; i++) {
        const fy_machine_user *u = &m->users[i];
        printf("  %s\n", u->account);
        printf("    SID:          %s (%s%s%s)\n", u->sid, u->local ? "local" : "domain",
               u->builtin_admin ? ", built-in Administrator" : "",
               u->last_logged_on ? ", last logged on" : "");
        printf("    Name from:    %s\n", u->name_source);
        printf("    Profile:      %s%s\n", u->profile, u->profile_host ? "" : "  (missing)");
        const char *lt = iso_time(u->last_use, tb, sizeof tb);
        printf("    Last use:     %s", lt ? lt : "(unknown)");
        if (lt && u->last_use_source) printf("  (%s)", u->last_use_source);
        printf("\n");
        printf("    NTUSER.DAT:   %s\n", u->ntuser ? u->ntuser : "(missing)");
        if (u->hive_error && u->ntuser) printf("                  unreadable: %s\n", u->hive_error);
        printf("    UsrClass.dat: %s\n", u->usrclass ? u->usrclass : "(none)");
        printf("    Known folders:\n");
        for (int id = 0; id < FY_TOK_COUNT; id++)
            if (fy_tokens[id].per_user && fy_tokens[id].is_folder)
                text_folder(&u->folders[id], (fy_token_id)id, "      ");
    }
    printf("Machine folders:\n");
    for (int id = 0; id < FY_TOK_COUNT; id++)
        if (!fy_tokens[id].per_user && fy_tokens[id].is_folder)
            text_folder(&m->folders[id], (fy_token_id)id, "  ");
    if (verbose) {
        printf("System accounts (not migrated):\n");
        for (size_t i = 0; i < m->nsysaccounts; i++)
            printf("  %-40s %s  %s\n", *m->sysaccounts[i].name ? m->sysaccounts[i].name : "-",
                   m->sysaccounts[i].sid, m->sysaccounts[i].profile);
        printf("Local accounts (SAM):\n");
        for (size_t i = 0; i < m->naccounts; i++)
            printf("  %-24s RID %-6u %s\n", m->accounts[i].name, m->accounts[i].rid,
                   m->accounts[i].sid ? m->accounts[i].sid : "");
    }
}

/* ---- JSON ---- */

static void jstr(fy_buf *b, const char *s)
{
    if (!s) {
        fy_buf_puts(b, "null");
        return;
    }
    fy_buf_putc(b, '"');
    size_t n = strlen(s), i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fy_buf_putc(b, '\\');
            fy_buf_putc(b, c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fy_buf_printf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fy_buf_putc(b, c);
            i++;
        } else {
            uint32_t cp;
            size_t l = fy_utf8_next(s + i, n - i, &cp);
            if (l == 1) /* not UTF-8 (a host file name): keep the JSON valid */
                fy_buf_puts(b, "\\ufffd");
            else
                fy_buf_put(b, s + i, l);
            i += l;
        }
    }
    fy_buf_putc(b, '"');
}

static void jkey(fy_buf *b, const char *k, bool *first)
{
    if (!*first) fy_buf_putc(b, ',');
    *first = false;
    jstr(b, k);
    fy_buf_putc(b, ':');
}

static void jkv(fy_buf *b, const char *k, const char *v, bool *first)
{
    jkey(b, k, first);
    jstr(b, v);
}

static void jfolders(fy_buf *b, const fy_machine_folder *F, bool per_user)
{
    fy_buf_putc(b, '{');
    bool first = true;
    for (int id = 0; id < FY_TOK_COUNT; id++) {
        if (fy_tokens[id].per_user != per_user || !fy_tokens[id].is_folder) continue;
        const fy_machine_folder *f = &F[id];
        jkey(b, fy_tokens[id].canonical, &first);
        bool f1 = true;
        fy_buf_putc(b, '{');
        jkv(b, "path", f->path, &f1);
        jkv(b, "state", fy_folder_state_name(f->state), &f1);
        jkv(b, "default", f->default_path, &f1);
        jkv(b, "registry", f->raw, &f1);
        if (f->why) jkv(b, "why", f->why, &f1);
        fy_buf_putc(b, '}');
    }
    fy_buf_putc(b, '}');
}

static void print_json(const fy_machine *m, bool verbose, const fy_diags *w)
{
    fy_buf b = {0};
    char tb[64], ob[32];
    bool first = true;
    fy_buf_putc(&b, '{');
    jkv(&b, "machine", m->root, &first);
    jkey(&b, "os", &first);
    {
        bool f = true;
        fy_buf_putc(&b, '{');
        jkv(&b, "name", m->os.name, &f);
        jkv(&b, "product_name", m->os.product_name, &f);
        jkv(&b, "version", m->os.version, &f);
        jkey(&b, "build", &f);
        fy_buf_printf(&b, "%u", m->os.build);
        jkv(&b, "display_version", m->os.display_version, &f);
        jkv(&b, "service_pack", m->os.service_pack, &f);
        jkey(&b, "xp_layout", &f);
        fy_buf_puts(&b, m->os.xp_layout ? "true" : "false");
        fy_buf_putc(&b, '}');
    }
    jkv(&b, "computer_name", m->computer_name, &first);
    jkv(&b, "domain", m->joined_domain, &first);
    char sd[3] = {m->system_drive, ':', 0};
    jkv(&b, "system_drive", sd, &first);
    jkv(&b, "system_root", m->system_root, &first);
    jkey(&b, "time_zone", &first);
    if (m->tz.known) {
        bool f = true;
        fy_buf_putc(&b, '{');
        jkv(&b, "name", m->tz.name, &f);
        jkv(&b, "offset", tz_offset(m, ob, sizeof ob), &f);
        jkey(&b, "bias_minutes", &f);
        fy_buf_printf(&b, "%d", m->tz.bias);
        jkey(&b, "standard_bias", &f);
        fy_buf_printf(&b, "%d", m->tz.standard_bias);
        jkey(&b, "daylight_bias", &f);
        fy_buf_printf(&b, "%d", m->tz.daylight_bias);
        fy_buf_putc(&b, '}');
    } else {
        fy_buf_puts(&b, "null");
    }
    jkey(&b, "hibernated", &first);
    fy_buf_puts(&b, m->hibernated ? "true" : "false");
    jkv(&b, "machine_sid", m->machine_sid, &first);
    jkv(&b, "machine_sid_source", m->machine_sid_source, &first);
    jkv(&b, "profiles_directory", m->profiles_dir, &first);
    jkv(&b, "default_profile", m->default_profile, &first);
    jkey(&b, "drives", &first);
    fy_buf_putc(&b, '[');
    for (size_t i = 0; i < m->ndrives; i++) {
        bool f = true;
        char l[3] = {m->drives[i].letter, ':', 0};
        fy_buf_puts(&b, i ? ",{" : "{");
        jkv(&b, "letter", l, &f);
        jkv(&b, "path", m->drives[i].root, &f);
        jkey(&b, "system", &f);
        fy_buf_puts(&b, m->drives[i].system ? "true" : "false");
        fy_buf_putc(&b, '}');
    }
    fy_buf_putc(&b, ']');
    jkey(&b, "last_logged_on_user", &first);
    const fy_machine_user *lu = fy_machine_last_user(m);
    if (lu || m->last_user_text) {
        bool f = true;
        fy_buf_putc(&b, '{');
        jkv(&b, "account", lu ? lu->account : m->last_user_text, &f);
        jkv(&b, "sid", lu ? lu->sid : m->last_user_sid, &f);
        jkv(&b, "recorded_as", m->last_user_text, &f);
        fy_buf_putc(&b, '}');
    } else {
        fy_buf_puts(&b, "null");
    }
    jkey(&b, "users", &first);
    fy_buf_putc(&b, '[');
    for (size_t i = 0; i < m->nusers; i++) {
        const fy_machine_user *u = &m->users[i];
        bool f = true;
        fy_buf_puts(&b, i ? ",{" : "{");
        jkv(&b, "account", u->account, &f);
        jkv(&b, "domain", u->domain, &f);
        jkv(&b, "name", u->name, &f);
        jkv(&b, "name_source", u->name_source, &f);
        jkv(&b, "sid", u->sid, &f);
        jkey(&b, "rid", &f);
        fy_buf_printf(&b, "%u", u->rid);
        jkv(&b, "type", u->local ? "local" : "domain", &f);
        jkey(&b, "builtin_administrator", &f);
        fy_buf_puts(&b, u->builtin_admin ? "true" : "false");
        jkey(&b, "last_logged_on", &f);
        fy_buf_puts(&b, u->last_logged_on ? "true" : "false");
        jkv(&b, "profile", u->profile, &f);
        jkv(&b, "profile_host", u->profile_host, &f);
        jkv(&b, "last_use", iso_time(u->last_use, tb, sizeof tb), &f);
        jkv(&b, "last_use_source", u->last_use ? u->last_use_source : NULL, &f);
        jkv(&b, "ntuser_dat", u->ntuser, &f);
        jkv(&b, "usrclass_dat", u->usrclass, &f);
        jkv(&b, "hive_error", u->hive_error, &f);
        jkey(&b, "known_folders", &f);
        jfolders(&b, u->folders, true);
        fy_buf_putc(&b, '}');
    }
    fy_buf_putc(&b, ']');
    jkey(&b, "machine_folders", &first);
    jfolders(&b, m->folders, false);
    if (verbose) {
        jkey(&b, "system_accounts", &first);
        fy_buf_putc(&b, '[');
        for (size_t i = 0; i < m->nsysaccounts; i++) {
            bool f = true;
            fy_buf_puts(&b, i ? ",{" : "{");
            jkv(&b, "sid", m->sysaccounts[i].sid, &f);
            jkv(&b, "name", m->sysaccounts[i].name, &f);
            jkv(&b, "profile", m->sysaccounts[i].profile, &f);
            fy_buf_putc(&b, '}');
        }
        fy_buf_putc(&b, ']');
        jkey(&b, "local_accounts", &first);
        fy_buf_putc(&b, '[');
        for (size_t i = 0; i < m->naccounts; i++) {
            bool f = true;
            fy_buf_puts(&b, i ? ",{" : "{");
            jkv(&b, "name", m->accounts[i].name, &f);
            jkey(&b, "rid", &f);
            fy_buf_printf(&b, "%u", m->accounts[i].rid);
            jkv(&b, "sid", m->accounts[i].sid, &f);
            fy_buf_putc(&b, '}');
        }
        fy_buf_putc(&b, ']');
    }
    jkey(&b, "warnings", &first);
    fy_buf_putc(&b, '[');
    for (size_t i = 0; i < w->n; i++) {
        if (i) fy_buf_putc(&b, ',');
        char *msg = fy_xasprintf("%s%s%s [%s]", w->v[i].file ? w->v[i].file : "",
                                 w->v[i].file ? ": " : "", w->v[i].message, w->v[i].check);
        jstr(&b, msg);
        free(msg);
    }
    fy_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    fy_buf_free(&b);
}

int fy_cmd_machine(int argc, char **argv)
{
    const char *machine = NULL;
    bool json = false, verbose = false;
    fy_machine_drive_spec drives[26];
    size_t ndrives = 0;
    char err[2048];
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *val = NULL;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            fputs(USAGE, stdout);
            return FY_EXIT_OK;
        } else if (strcmp(s, "--json") == 0) {
            json = true;
        } else if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(s, "--machine") == 0 || strncmp(s, "--machine=", 10) == 0) {
            if (s[9] == '=') {
                val = s + 10;
            } else if (++i < argc) {
                val = argv[i];
            } else {
                return usage_error("%s needs a folder", s);
            }
            if (!*val) return usage_error("%s needs a folder", "--machine");
            if (machine) return usage_error("%s given twice", "--machine");
            machine = val;
        } else if (strcmp(s, "--drive") == 0 || strncmp(s, "--drive=", 8) == 0) {
            if (s[7] == '=') {
                val = s + 8;
            } else if (++i < argc) {
                val = argv[i];
            } else {
                return usage_error("%s needs LETTER=FOLDER", s);
            }
            if (ndrives == FY_ARRAY_LEN(drives)) return usage_error("%s", "too many --drive");
            if (fy_machine_parse_drive(val, &drives[ndrives], err, sizeof err))
                return usage_error("%s", err);
            for (size_t k = 0; k < ndrives; k++)
                if (drives[k].letter == drives[ndrives].letter)
                    return usage_error("--drive %s: that letter is given twice", val);
            ndrives++;
        } else if (s[0] == '-' && s[1]) {
            return usage_error("unknown option %s", s);
        } else {
            return usage_error("unexpected argument %s (the volume is given with --machine)", s);
        }
    }
    if (!machine) return usage_error("%s", "which volume? give --machine DIR");

    fy_diags warnings = {0};
    fy_machine *m = NULL;
    int rc = FY_EXIT_OK;
    if (fy_machine_open(machine, drives, ndrives, &warnings, &m, err, sizeof err) != 0) {
        print_warnings(&warnings);
        fprintf(stderr, "ferry machine: error: %s\n", err);
        rc = FY_EXIT_MACHINE;
        goto done;
    }
    print_warnings(&warnings);
    if (json)
        print_json(m, verbose, &warnings);
    else
        print_text(m, verbose);
    if (fflush(stdout) != 0) rc = FY_EXIT_IO;
done:
    fy_machine_free(m);
    fy_diags_free(&warnings);
    return rc;
}
