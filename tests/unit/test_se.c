/* se's command line (runtime/cli/fy_se.h): one test per Migrate7 switch, quoted values with
 * spaces and the /X:value and /X=value forms, several users after one switch, mixed case,
 * wrong switches and values (exit 2, the known switches listed), what belongs together,
 * /PASSWORD scrubbed from argv, UNC paths mapped through FERRY_UNC_MAP, the SE.cfg search,
 * the logged-on user rules (built-in Administrator and image accounts refused, exit 6), and
 * that docs/se.md's table lists every switch of the code's table with the same ferry option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/fy_cli.h"
#include "cli/fy_se.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A mutable argv from a NULL-terminated list (se scrubs it in place). */
typedef struct args {
    int argc;
    char *argv[32];
} args;

static args *mk(const char *first, ...)
{
    args *a = calloc(1, sizeof *a);
    va_list ap;
    va_start(ap, first);
    a->argv[a->argc++] = strdup("se");
    for (const char *s = first; s; s = va_arg(ap, const char *))
        a->argv[a->argc++] = strdup(s);
    va_end(ap);
    return a;
}

static void rm(args *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a);
}

static char err[2048];

/* Parses; returns the exit code and keeps the result in *out (caller frees). */
static int parse(args *a, fy_se_args *out)
{
    err[0] = 0;
    return fy_se_parse(a->argc, a->argv, out, err, sizeof err);
}

#define PARSE_OK(...)                                                                              \
    args *A = mk(__VA_ARGS__, NULL);                                                               \
    fy_se_args P;                                                                                  \
    assert_int_equal(parse(A, &P), 0)
#define DONE()                                                                                     \
    fy_se_args_free(&P);                                                                           \
    rm(A)

static void expect_usage(const char *first, ...)
{
    args *a = calloc(1, sizeof *a);
    va_list ap;
    va_start(ap, first);
    a->argv[a->argc++] = strdup("se");
    for (const char *s = first; s; s = va_arg(ap, const char *))
        a->argv[a->argc++] = strdup(s);
    va_end(ap);
    fy_se_args p;
    assert_int_equal(parse(a, &p), FY_EXIT_USAGE);
    assert_true(err[0] != 0);
    fy_se_args_free(&p);
    rm(a);
}

/* ---- one test per switch ---- */

static void t_autoextract(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT");
    assert_int_equal(P.op, FY_AGENT_EXTRACT);
    DONE();
}

static void t_autoinject(void **s)
{
    (void)s;
    PARSE_OK("/AUTOINJECT");
    assert_int_equal(P.op, FY_AGENT_INJECT);
    DONE();
}

static void t_autobackup(void **s)
{
    (void)s;
    PARSE_OK("/AUTOBACKUP");
    assert_int_equal(P.op, FY_AGENT_BACKUP);
    DONE();
}

static void t_import(void **s)
{
    (void)s;
    PARSE_OK("/IMPORT", "/mnt/usb/OLDCORP/hdowd/OLDPC01", "/DATASTORE", "/srv/store");
    assert_int_equal(P.op, FY_AGENT_IMPORT);
    assert_string_equal(P.import_from, "/mnt/usb/OLDCORP/hdowd/OLDPC01");
    assert_string_equal(P.datastore, "/srv/store");
    DONE();
    expect_usage("/IMPORT", NULL);                    /* needs the folder */
    expect_usage("/IMPORT", "/x", "/ALLUSERS", NULL); /* no user switches */
    expect_usage("/IMPORT", "/x", "/INCLUDEUSER", "A\\b", NULL);
}

static void t_password(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/PASSWORD", "s3cret horse");
    assert_non_null(P.password);
    assert_int_equal(P.password_len, 12);
    assert_memory_equal(P.password, "s3cret horse", 12);
    /* scrubbed in place: the argv string no longer holds it */
    assert_string_equal(A->argv[3], "************");
    assert_null(strstr(A->argv[3], "s3cret"));
    DONE();
    /* the inline form, and the last of two wins; both scrubbed */
    args *b = mk("/password:first", "/AUTOEXTRACT", "/Password=second", NULL);
    fy_se_args q;
    assert_int_equal(parse(b, &q), 0);
    assert_string_equal(q.password, "second");
    assert_string_equal(b->argv[1], "/password:*****");
    assert_string_equal(b->argv[3], "/Password=******");
    fy_se_args_free(&q);
    rm(b);
    /* scrubbed even when the command line is wrong afterwards */
    args *c = mk("/PASSWORD", "topsecret", "/BOGUS", NULL);
    assert_int_equal(parse(c, &q), FY_EXIT_USAGE);
    assert_string_equal(c->argv[2], "*********");
    fy_se_args_free(&q);
    rm(c);
    expect_usage("/AUTOEXTRACT", "/PASSWORD", NULL);
    expect_usage("/AUTOEXTRACT", "/PASSWORD", "/HIDESTATUS", NULL);
}

static void t_config(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/CONFIG", "/opt/ferry packages/Accounts.cfg");
    assert_string_equal(P.config, "/opt/ferry packages/Accounts.cfg");
    DONE();
    expect_usage("/AUTOEXTRACT", "/CONFIG", NULL);
}

static void t_source(void **s)
{
    (void)s;
    PARSE_OK("/AUTOINJECT", "/SOURCE", "OLDPC01");
    assert_string_equal(P.source, "OLDPC01");
    DONE();
    expect_usage("/AUTOEXTRACT", "/SOURCE", "OLDPC01", NULL); /* goes with /AUTOINJECT */
}

static void t_includeuser(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/INCLUDEUSER", "OLDCORP\\hdowd");
    assert_int_equal(P.ninclude, 1);
    assert_string_equal(P.include[0], "OLDCORP\\hdowd");
    assert_false(P.all_users);
    DONE();
    expect_usage("/AUTOEXTRACT", "/INCLUDEUSER", NULL);
    expect_usage("/AUTOEXTRACT", "/INCLUDEUSER", "hdowd", NULL); /* not DOMAIN\user */
    expect_usage("/AUTOEXTRACT", "/INCLUDEUSER", "A\\b", "/ALLUSERS", NULL);
}

static void t_allusers(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/ALLUSERS");
    assert_true(P.all_users);
    DONE();
    expect_usage("/AUTOEXTRACT", "/ALLUSERS:yes", NULL); /* a flag takes no value */
}

static void t_excludeuser(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/ALLUSERS", "/EXCLUDEUSER", "OLDPC01\\kiosk");
    assert_int_equal(P.nexclude, 1);
    assert_string_equal(P.exclude[0], "OLDPC01\\kiosk");
    DONE();
    expect_usage("/AUTOEXTRACT", "/EXCLUDEUSER", NULL);
}

static void t_excludelocal(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/ALLUSERS", "/EXCLUDELOCAL");
    assert_true(P.exclude_local);
    DONE();
}

static void t_excludeunused(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/ALLUSERS", "/EXCLUDEUNUSED", "90");
    assert_int_equal(P.exclude_unused_days, 90);
    DONE();
    expect_usage("/AUTOEXTRACT", "/EXCLUDEUNUSED", "ninety", NULL);
    expect_usage("/AUTOEXTRACT", "/EXCLUDEUNUSED", "-3", NULL);
    expect_usage("/AUTOEXTRACT", "/EXCLUDEUNUSED", NULL);
}

static void t_domain(void **s)
{
    (void)s;
    PARSE_OK("/AUTOINJECT", "/DOMAIN", "OLDCORP:NEWCORP", "/DOMAIN:LEGACY:NEWCORP");
    assert_int_equal(P.ndomains, 2);
    assert_string_equal(P.domains[0].from, "OLDCORP");
    assert_string_equal(P.domains[0].to, "NEWCORP");
    assert_string_equal(P.domains[1].from, "LEGACY");
    DONE();
    expect_usage("/AUTOINJECT", "/DOMAIN", "OLDCORP", NULL);
    expect_usage("/AUTOINJECT", "/DOMAIN", "A:B:C", NULL);
    expect_usage("/AUTOINJECT", "/DOMAIN", ":NEW", NULL);
    expect_usage("/AUTOEXTRACT", "/DOMAIN", "A:B", NULL);
}

static void t_datastore(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/DATASTORE", "\\\\fileserver\\Migrate7\\personalities");
    assert_string_equal(P.datastore, "\\\\fileserver\\Migrate7\\personalities");
    DONE();
    expect_usage("/AUTOEXTRACT", "/DATASTORE", NULL);
}

static void t_excludedisks(void **s)
{
    (void)s;
    PARSE_OK("/AUTOINJECT", "/EXCLUDEDISKS", "d;e");
    assert_string_equal(P.exclude_disks, "d;e");
    DONE();
    expect_usage("/AUTOINJECT", "/EXCLUDEDISKS", "d/e", NULL);
    expect_usage("/AUTOEXTRACT", "/EXCLUDEDISKS", "d", NULL);
}

static void t_injecttologgedinuser(void **s)
{
    (void)s;
    PARSE_OK("/AUTOINJECT", "/INCLUDEUSER", "OLDCORP\\hdowd", "/INJECTTOLOGGEDINUSER");
    assert_true(P.to_logged_in);
    DONE();
    expect_usage("/AUTOEXTRACT", "/INJECTTOLOGGEDINUSER", NULL);
}

static void t_excludedomain(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/ALLUSERS", "/EXCLUDEDOMAIN", "LEGACY", "/EXCLUDEDOMAIN", "OLDPC01");
    assert_int_equal(P.nexclude_domains, 2);
    assert_string_equal(P.exclude_domains[1], "OLDPC01");
    DONE();
    expect_usage("/AUTOEXTRACT", "/EXCLUDEDOMAIN", "A\\b", NULL);
}

static void t_nocancel_hidestatus(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/NOCANCEL", "/HIDESTATUS");
    assert_true(P.no_cancel);
    assert_true(P.hide_status);
    DONE();
}

static void t_machine(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/MACHINE", "/mnt/old disk");
    assert_string_equal(P.machine, "/mnt/old disk");
    DONE();
}

static void t_help_version(void **s)
{
    (void)s;
    const char *helps[] = {"/?", "/help", "--help", "-h"};
    for (size_t i = 0; i < 4; i++) {
        args *a = mk(helps[i], NULL);
        fy_se_args p;
        assert_int_equal(parse(a, &p), 0);
        assert_true(p.help);
        fy_se_args_free(&p);
        rm(a);
    }
    PARSE_OK("--version");
    assert_true(P.version);
    DONE();
    args *b = mk("/Version", NULL);
    assert_int_equal(fy_cmd_se(b->argc, b->argv), 0);
    rm(b);
}

/* ---- forms ---- */

static void t_mixed_case(void **s)
{
    (void)s;
    PARSE_OK("/autoExtract", "/AllUsers", "/hideStatus", "/NoCancel", "/exCLUDEuser",
             "OLDPC01\\kiosk");
    assert_int_equal(P.op, FY_AGENT_EXTRACT);
    assert_true(P.all_users && P.hide_status && P.no_cancel);
    assert_int_equal(P.nexclude, 1);
    DONE();
}

static void t_quoted_values(void **s)
{
    (void)s;
    /* the shell already split: one argument with spaces */
    {
        PARSE_OK("/AUTOEXTRACT", "/DATASTORE", "/srv/my store/personalities");
        assert_string_equal(P.datastore, "/srv/my store/personalities");
        DONE();
    }
    /* /X:"x y" after a shell: the quotes are gone */
    {
        PARSE_OK("/AUTOEXTRACT", "/CONFIG:/opt/ferry rules/SE.cfg", "/DATASTORE=/srv/st");
        assert_string_equal(P.config, "/opt/ferry rules/SE.cfg");
        assert_string_equal(P.datastore, "/srv/st");
        DONE();
    }
    /* quotes a caller left in are taken off */
    {
        PARSE_OK("/AUTOEXTRACT", "/CONFIG:\"/opt/ferry rules/SE.cfg\"", "/DATASTORE",
                 "\"/srv/a b\"");
        assert_string_equal(P.config, "/opt/ferry rules/SE.cfg");
        assert_string_equal(P.datastore, "/srv/a b");
        DONE();
    }
    expect_usage("/AUTOEXTRACT", "/CONFIG:", NULL);
}

static void t_several_users(void **s)
{
    (void)s;
    PARSE_OK("/AUTOEXTRACT", "/INCLUDEUSER", "OLDCORP\\hdowd", "OLDCORP\\jsmith", "OLDPC01\\kiosk",
             "/HIDESTATUS", "/EXCLUDEUSER", "OLDCORP\\a", "OLDCORP\\b", "/INCLUDEUSER:OLDCORP\\c",
             "OLDCORP\\d");
    assert_int_equal(P.ninclude, 5);
    assert_string_equal(P.include[0], "OLDCORP\\hdowd");
    assert_string_equal(P.include[2], "OLDPC01\\kiosk");
    assert_string_equal(P.include[3], "OLDCORP\\c");
    assert_string_equal(P.include[4], "OLDCORP\\d");
    assert_int_equal(P.nexclude, 2);
    assert_true(P.hide_status);
    DONE();
}

static void t_wrong_switch(void **s)
{
    (void)s;
    args *a = mk("/AUTOEXTRACT", "/ALLUSER", NULL);
    fy_se_args p;
    assert_int_equal(parse(a, &p), FY_EXIT_USAGE);
    assert_non_null(strstr(err, "/ALLUSER'"));
    size_t n;
    const fy_se_switch *t = fy_se_switches(&n);
    for (size_t i = 0; i < n; i++)
        assert_non_null(strstr(err, t[i].name));
    fy_se_args_free(&p);
    /* the whole program: exit 2 */
    assert_int_equal(fy_cmd_se(a->argc, a->argv), FY_EXIT_USAGE);
    rm(a);
    expect_usage("AUTOEXTRACT", NULL);           /* not a switch */
    expect_usage("/AUTOEXTRACT", "stray", NULL); /* a value for nothing */
    expect_usage("-AUTOEXTRACT", NULL);
    expect_usage(NULL);                /* nothing to do */
    expect_usage("/HIDESTATUS", NULL); /* nothing to do */
    expect_usage("/AUTOEXTRACT", "/AUTOINJECT", NULL);
}

static void t_find_switch(void **s)
{
    (void)s;
    assert_non_null(fy_se_find_switch("/injecttologgedinuser", 21));
    assert_null(fy_se_find_switch("/INJECT", 7));
    assert_int_equal(fy_se_find_switch("/?", 2)->id, FY_SE_HELP);
    char *list = fy_se_switch_list();
    assert_non_null(strstr(list, "/AUTOEXTRACT /AUTOINJECT"));
    free(list);
}

/* ---- UNC paths ---- */

static void t_unc(void **s)
{
    (void)s;
    const char *map = "\\\\fileserver\\Migrate7=/mnt/m7;\\\\FS2\\share\\deep=/mnt/deep/; "
                      "\\\\fs2\\share=/mnt/fs2";
    char *out;
    assert_int_equal(
        fy_se_map_unc("\\\\FileServer\\migrate7\\personalities\\x y", map, &out, err, sizeof err),
        0);
    assert_string_equal(out, "/mnt/m7/personalities/x y");
    free(out);
    assert_int_equal(fy_se_map_unc("\\\\fileserver\\Migrate7", map, &out, err, sizeof err), 0);
    assert_string_equal(out, "/mnt/m7");
    free(out);
    /* the longest key wins, whichever order */
    assert_int_equal(fy_se_map_unc("\\\\fs2\\SHARE\\Deep\\a", map, &out, err, sizeof err), 0);
    assert_string_equal(out, "/mnt/deep/a");
    free(out);
    assert_int_equal(fy_se_map_unc("\\\\fs2\\share\\other", map, &out, err, sizeof err), 0);
    assert_string_equal(out, "/mnt/fs2/other");
    free(out);
    /* forward slashes and doubled separators */
    assert_int_equal(fy_se_map_unc("//fileserver/migrate7//a/./b", map, &out, err, sizeof err), 0);
    assert_string_equal(out, "/mnt/m7/a/b");
    free(out);
    /* not UNC */
    assert_int_equal(fy_se_map_unc("/srv/store", map, &out, err, sizeof err), 1);
    assert_null(out);
    assert_int_equal(fy_se_map_unc("D:\\Store", map, &out, err, sizeof err), 1);
    /* unmapped, no map, bad map, '..', no share */
    assert_int_equal(fy_se_map_unc("\\\\other\\share\\x", map, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "FERRY_UNC_MAP"));
    assert_non_null(strstr(err, "\\\\other\\share"));
    assert_int_equal(fy_se_map_unc("\\\\fileserver\\Migrate7\\x", NULL, &out, err, sizeof err), -1);
    assert_int_equal(fy_se_map_unc("\\\\a\\b\\x", "\\\\a\\b", &out, err, sizeof err), -1);
    assert_int_equal(fy_se_map_unc("\\\\a\\b\\x", "\\\\a=/mnt/a", &out, err, sizeof err), -1);
    assert_int_equal(fy_se_map_unc("\\\\a\\b\\x", "/x=/mnt/a", &out, err, sizeof err), -1);
    assert_int_equal(fy_se_map_unc("\\\\a\\b\\x", "\\\\a\\b=", &out, err, sizeof err), -1);
    assert_int_equal(fy_se_map_unc("\\\\a\\b\\..\\c", "\\\\a\\b=/mnt/b", &out, err, sizeof err),
                     -1);
    assert_int_equal(fy_se_map_unc("\\\\a", "\\\\a\\b=/mnt/b", &out, err, sizeof err), -1);
    assert_null(out);
}

/* ---- the template search ---- */

static void t_find_file(void **s)
{
    (void)s;
    char tmpl[] = "/tmp/test_se_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    assert_null(fy_se_find_file(dir, "SE.cfg"));
    char *p = NULL;
    assert_true(asprintf(&p, "%s/se.CFG", dir) > 0);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    char *found = fy_se_find_file(dir, "SE.cfg");
    assert_non_null(found);
    assert_string_equal(found, p);
    free(found);
    unlink(p);
    free(p);
    /* a folder of that name is not a template */
    assert_true(asprintf(&p, "%s/SE.cfg", dir) > 0);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_null(fy_se_find_file(dir, "SE.cfg"));
    rmdir(p);
    free(p);
    rmdir(dir);
}

/* ---- the logged-on user ---- */

static fy_machine_user user(const char *dom, const char *name, const char *sid, uint32_t rid,
                            bool local)
{
    fy_machine_user u = {0};
    u.domain = dom;
    u.name = name;
    u.sid = sid;
    u.rid = rid;
    u.local = local;
    u.account = NULL;
    return u;
}

static void t_image_accounts(void **s)
{
    (void)s;
    const char *why;
    fy_machine_user admin = user("OLDPC01", "Administrator", "S-1-5-21-1-2-3-500", 500, true);
    assert_true(fy_se_image_account(&admin, NULL, &why));
    assert_non_null(strstr(why, "RID 500"));
    /* renamed, it is still RID 500 */
    fy_machine_user renamed = user("OLDPC01", "itadmin", "S-1-5-21-1-2-3-500", 500, true);
    assert_true(fy_se_image_account(&renamed, NULL, &why));
    fy_machine_user guest = user("OLDPC01", "Guest", "S-1-5-21-1-2-3-501", 501, true);
    assert_true(fy_se_image_account(&guest, NULL, &why));
    fy_machine_user oobe = user("NEWPC01", "defaultuser0", "S-1-5-21-1-2-3-1000", 1000, true);
    assert_true(fy_se_image_account(&oobe, NULL, &why));
    fy_machine_user build = user("OLDCORP", "sccm_build", "S-1-5-21-7-8-9-3100", 3100, false);
    assert_false(fy_se_image_account(&build, NULL, &why));
    assert_true(fy_se_image_account(&build, "x\\y;*\\SCCM_*", &why));
    assert_non_null(strstr(why, "FERRY_IMAGE_ACCOUNTS"));
    fy_machine_user hdowd = user("OLDCORP", "hdowd", "S-1-5-21-7-8-9-1105", 1105, false);
    assert_false(fy_se_image_account(&hdowd, "*\\sccm_*;;", &why));
    fy_machine_user defaultuserx =
        user("NEWPC01", "defaultuserx", "S-1-5-21-1-2-3-1001", 1001, true);
    assert_false(fy_se_image_account(&defaultuserx, NULL, &why));
}

static void t_logged_on_user(void **s)
{
    (void)s;
    fy_machine_user users[2] = {user("OLDCORP", "hdowd", "S-1-5-21-7-8-9-1105", 1105, false),
                                user("OLDPC01", "Administrator", "S-1-5-21-1-2-3-500", 500, true)};
    users[0].account = "OLDCORP\\hdowd";
    users[1].account = "OLDPC01\\Administrator";
    fy_machine m = {0};
    m.computer_name = "OLDPC01";
    m.users = users;
    m.nusers = 2;
    m.last_user = 0;
    const fy_machine_user *u;
    assert_int_equal(fy_se_logged_on_user(&m, NULL, &u, err, sizeof err), 0);
    assert_ptr_equal(u, &users[0]);
    m.last_user = 1;
    assert_int_equal(fy_se_logged_on_user(&m, NULL, &u, err, sizeof err), FY_EXIT_MACHINE);
    assert_null(u);
    assert_non_null(strstr(err, "/ALLUSERS"));
    assert_non_null(strstr(err, "/INCLUDEUSER"));
    assert_non_null(strstr(err, "Administrator"));
    m.last_user = -1;
    assert_int_equal(fy_se_logged_on_user(&m, NULL, &u, err, sizeof err), FY_EXIT_MACHINE);
    assert_non_null(strstr(err, "no last logged-on user"));
    m.last_user_text = "OLDCORP\\gone";
    assert_int_equal(fy_se_logged_on_user(&m, NULL, &u, err, sizeof err), FY_EXIT_MACHINE);
    assert_non_null(strstr(err, "OLDCORP\\gone"));
    assert_non_null(strstr(err, "no profile"));
}

/* ---- docs/se.md's table ---- */

static void t_doc_table(void **s)
{
    (void)s;
    const char *src = getenv("FERRY_SOURCE_DIR");
    assert_non_null(src);
    char *path = NULL;
    assert_true(asprintf(&path, "%s/docs/se.md", src) > 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n;
    const fy_se_switch *t = fy_se_switches(&n);
    bool *seen = calloc(n, sizeof *seen);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        /* a row: | `/NAME value` | `ferry option` | ... */
        if (strncmp(line, "| `/", 4) != 0) continue;
        for (size_t i = 0; i < n; i++) {
            size_t k = strlen(t[i].name);
            if (strncmp(line + 3, t[i].name, k) != 0 || (line[3 + k] != '`' && line[3 + k] != ' '))
                continue;
            const char *cell = strstr(line + 3, "| ");
            assert_non_null(cell);
            char *want = NULL;
            assert_true(asprintf(&want, "| `%s`", t[i].ferry) > 0);
            if (strncmp(cell, want, strlen(want)) != 0)
                fail_msg("docs/se.md: %s maps to '%s' in the code; the doc says: %s", t[i].name,
                         t[i].ferry, line);
            free(want);
            seen[i] = true;
        }
    }
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (!seen[i]) fail_msg("docs/se.md's switch table lacks %s", t[i].name);
    free(seen);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_autoextract),    cmocka_unit_test(t_autoinject),
        cmocka_unit_test(t_autobackup),     cmocka_unit_test(t_import),
        cmocka_unit_test(t_password),       cmocka_unit_test(t_config),
        cmocka_unit_test(t_source),         cmocka_unit_test(t_includeuser),
        cmocka_unit_test(t_allusers),       cmocka_unit_test(t_excludeuser),
        cmocka_unit_test(t_excludelocal),   cmocka_unit_test(t_excludeunused),
        cmocka_unit_test(t_domain),         cmocka_unit_test(t_datastore),
        cmocka_unit_test(t_excludedisks),   cmocka_unit_test(t_injecttologgedinuser),
        cmocka_unit_test(t_excludedomain),  cmocka_unit_test(t_nocancel_hidestatus),
        cmocka_unit_test(t_machine),        cmocka_unit_test(t_help_version),
        cmocka_unit_test(t_mixed_case),     cmocka_unit_test(t_quoted_values),
        cmocka_unit_test(t_several_users),  cmocka_unit_test(t_wrong_switch),
        cmocka_unit_test(t_find_switch),    cmocka_unit_test(t_unc),
        cmocka_unit_test(t_find_file),      cmocka_unit_test(t_image_accounts),
        cmocka_unit_test(t_logged_on_user), cmocka_unit_test(t_doc_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
