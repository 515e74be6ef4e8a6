/* runtime/io/fy_log: file names (UTC, sanitised computer name), text and CMTrace lines,
 * command-line masking, levels and counters, the log-dir copy (created when missing, a
 * warning and an in-memory log when it cannot be), attaching a second copy later (lines so
 * far copied), name collisions, and that no password ever reaches a log or the terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fy_common.h"
#include "io/fy_log.h"

#define T0 1795594898 /* 2026-11-25 08:21:38 UTC */

static struct timespec fixed_clock(void *ctx)
{
    int *n = ctx;
    return (struct timespec){T0 + (*n)++, 250000000};
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    fy_buf b = {0};
    char tmp[4096];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        fy_buf_put(&b, tmp, k);
    fclose(f);
    char *s = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return s;
}

static char *mktemp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *d = fy_xasprintf("%s/fy_log_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *path)
{
    char *cmd = fy_xasprintf("rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void test_mask_argv(void **state)
{
    (void)state;
    struct {
        int argc;
        const char *argv[8];
        const char *want;
    } cases[] = {
        {6,
         {"ferry", "extract", "--password", "s3cret", "--machine", "/mnt/x"},
         "ferry extract --password ******** --machine /mnt/x"},
        {3, {"ferry", "inject", "--password=s3cret"}, "ferry inject --password=********"},
        {3, {"ferry", "inject", "--PassWord=s3cret"}, "ferry inject --PassWord=********"},
        {4, {"se", "/AUTOEXTRACT", "/PASSWORD", "s3cret"}, "se /AUTOEXTRACT /PASSWORD ********"},
        {3, {"se", "/password:s3cret", "/HIDESTATUS"}, "se /password:******** /HIDESTATUS"},
        {3, {"se", "-Password", "s3cret"}, "se -Password ********"},
        {4, {"ferry", "x", "--password-file", "/etc/pw"}, "ferry x --password-file /etc/pw"},
        {3, {"ferry", "x", "--password"}, "ferry x --password"},
        {4, {"ferry", "--password", "--password", "s3cret"}, "ferry --password ******** s3cret"},
        {3,
         {"ferry", "--config", "C:\\My Files\\SE.cfg"},
         "ferry --config \"C:\\My Files\\SE.cfg\""},
        {2, {"ferry", "C:\\Users\\x"}, "ferry C:\\Users\\x"},
        {3, {"ferry", "", "a\"b"}, "ferry \"\" \"a\\\"b\""},
        {2, {"--password", "s3cret"}, "--password s3cret"}, /* argv[0] is the program */
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        char *s = fy_log_mask_argv(cases[i].argc, (char *const *)cases[i].argv);
        assert_string_equal(s, cases[i].want);
        free(s);
    }
    char *s = fy_log_mask_argv(0, NULL);
    assert_string_equal(s, "");
    free(s);
}

static void test_file_name(void **state)
{
    (void)state;
    char *n = fy_log_file_name("pc-042", FY_OP_EXTRACT, T0);
    assert_string_equal(n, "PC-042_2026-11-25_08-21-38_Ext.log");
    free(n);
    n = fy_log_file_name("ws7", FY_OP_INJECT, T0);
    assert_string_equal(n, "WS7_2026-11-25_08-21-38_Inj.log");
    free(n);
    n = fy_log_file_name("WS7", FY_OP_BACKUP, 0);
    assert_string_equal(n, "WS7_1970-01-01_00-00-00_Bak.log");
    free(n);
    n = fy_log_file_name(NULL, FY_OP_RESTORE, T0);
    assert_string_equal(n, "UNKNOWN_2026-11-25_08-21-38_Res.log");
    free(n);
    /* a computer name from a crafted hive never makes a path */
    n = fy_log_file_name("../../etc/x", FY_OP_EXTRACT, T0);
    assert_null(strchr(n, '/'));
    assert_null(strstr(n, ".."));
    assert_string_equal(n, "______ETC_X_2026-11-25_08-21-38_Ext.log");
    free(n);
    n = fy_log_file_name("", FY_OP_EXTRACT, T0);
    assert_string_equal(n, "UNKNOWN_2026-11-25_08-21-38_Ext.log");
    free(n);
}

static void test_format_line(void **state)
{
    (void)state;
    char buf[512];
    struct timespec t = {T0, 123999999};
    fy_log_format_line(buf, sizeof buf, FY_LOG_TEXT, FY_LOG_WARNING, t, 42, "message");
    assert_string_equal(buf, "2026-11-25 08:21:38 [Warning] message\n");
    fy_log_format_line(buf, sizeof buf, FY_LOG_TEXT, FY_LOG_INFO, t, 42, "tab\there\x1b[31m");
    assert_string_equal(buf, "2026-11-25 08:21:38 [Informational] tab\there?[31m\n");
    fy_log_format_line(buf, sizeof buf, FY_LOG_CMTRACE, FY_LOG_WARNING, t, 42, "message");
    assert_string_equal(buf, "<![LOG[message]LOG]!><time=\"08:21:38.123+000\" date=\"11-25-2026\" "
                             "component=\"ferry\" context=\"\" type=\"2\" thread=\"42\" "
                             "file=\"\">\n");
    fy_log_format_line(buf, sizeof buf, FY_LOG_CMTRACE, FY_LOG_ERROR, t, 7, "x");
    assert_non_null(strstr(buf, "type=\"3\" thread=\"7\""));
    fy_log_format_line(buf, sizeof buf, FY_LOG_CMTRACE, FY_LOG_VERBOSE, t, 7, "x");
    assert_non_null(strstr(buf, "type=\"1\""));
    fy_log_format_line(buf, sizeof buf, FY_LOG_CMTRACE, FY_LOG_TRACE, t, 7, "a]LOG]!>b");
    assert_true(strncmp(buf, "<![LOG[a]LOG] !>b]LOG]!>", 24) == 0);
    size_t n = fy_log_format_line(buf, 10, FY_LOG_TEXT, FY_LOG_ERROR, t, 1, "long");
    assert_int_equal(n, strlen("2026-11-25 08:21:38 [Error] long\n"));
    assert_string_equal(buf, "2026-11-2");
}

static void test_levels(void **state)
{
    (void)state;
    fy_log_level lv;
    assert_int_equal(fy_log_level_parse("Informational", &lv), 0);
    assert_int_equal(lv, FY_LOG_INFO);
    assert_int_equal(fy_log_level_parse("info", &lv), 0);
    assert_int_equal(lv, FY_LOG_INFO);
    assert_int_equal(fy_log_level_parse("TRACE", &lv), 0);
    assert_int_equal(lv, FY_LOG_TRACE);
    assert_int_equal(fy_log_level_parse("verbose", &lv), 0);
    assert_int_equal(lv, FY_LOG_VERBOSE);
    assert_int_equal(fy_log_level_parse("loud", &lv), -1);
    assert_string_equal(fy_log_level_name(FY_LOG_ERROR), "Error");
    assert_string_equal(fy_log_level_name(FY_LOG_INFO), "Informational");
}

static void test_log_files(void **state)
{
    (void)state;
    char *dir = mktemp_dir();
    char *logdir = fy_xasprintf("%s/var/log/ferry", dir); /* missing: created */
    char *pers = fy_xasprintf("%s/store", dir);
    assert_int_equal(mkdir(pers, 0777), 0);
    int tick = 0;
    char *argv[] = {"ferry", "extract", "--machine", "/mnt/win", NULL};
    fy_log_opts o = {.computer = "ws-07",
                     .op = FY_OP_EXTRACT,
                     .level = FY_LOG_WARNING,
                     .log_dir = logdir,
                     .program = "ferry",
                     .version = "0.1.0",
                     .argc = 4,
                     .argv = argv,
                     .clock = fixed_clock,
                     .clock_ctx = &tick};
    fy_log *l = NULL;
    char err[256];
    assert_int_equal(fy_log_open(&o, &l, err, sizeof err), 0);
    char *want = fy_xasprintf("%s/WS-07_2026-11-25_08-21-38_Ext.log", logdir);
    assert_string_equal(fy_log_path(l), want);
    fy_log_time_section(l);
    fy_log_section(l, "User Information");
    fy_log_item(l, "User", "%s", "CONTOSO\\howard");
    fy_log_msg(l, FY_LOG_INFO, "info dropped");
    fy_log_msg(l, FY_LOG_VERBOSE, "verbose dropped");
    fy_log_msg(l, FY_LOG_WARNING, "skipped %s: %s", "a.pst", "locked");
    assert_true(fy_log_enabled(l, FY_LOG_ERROR));
    assert_false(fy_log_enabled(l, FY_LOG_INFO));
    assert_int_equal(fy_log_attach(l, pers, err, sizeof err), 0);
    assert_int_equal(fy_log_attach(l, logdir, err, sizeof err), 0); /* already there: no-op */
    fy_log_msg(l, FY_LOG_ERROR, "failed b.doc\nsecond line");
    assert_int_equal(fy_log_errors(l), 1);
    assert_int_equal(fy_log_warnings(l), 1);
    assert_int_equal(fy_log_close(l, 1, err, sizeof err), 0);

    char *a = slurp(want);
    char *p2 = fy_xasprintf("%s/WS-07_2026-11-25_08-21-38_Ext.log", pers);
    char *b = slurp(p2);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b); /* the attached copy has every line, from the start */
    static const char first[] = "2026-11-25 08:21:39 [Informational] ==== Header ====\n";
    assert_true(strncmp(a, first, strlen(first)) == 0);
    assert_non_null(
        strstr(a, "[Informational]   Command line: ferry extract --machine /mnt/win\n"));
    assert_non_null(strstr(a, "[Informational]   Version: 0.1.0\n"));
    assert_non_null(strstr(a, "==== Time ====\n"));
    assert_non_null(strstr(a, "  Start: 2026-11-25 08:21:38 UTC\n"));
    assert_non_null(strstr(a, "  User: CONTOSO\\howard\n"));
    assert_null(strstr(a, "dropped"));
    assert_non_null(strstr(a, "[Warning] skipped a.pst: locked\n"));
    assert_non_null(strstr(a, "[Error] failed b.doc\n"));
    assert_non_null(strstr(a, "[Error] second line\n"));
    assert_non_null(strstr(a, "==== Summary ====\n"));
    assert_non_null(strstr(a, "  Errors: 1\n"));
    assert_non_null(strstr(a, "  Warnings: 1\n"));
    assert_non_null(strstr(a, "  Exit code: 1\n"));
    assert_non_null(strstr(a, "  Duration: 00:00:"));
    free(a);
    free(b);
    free(p2);

    char *dup = fy_xasprintf("%s/WS-07_2026-11-25_08-21-38_Ext-2.log", logdir);
    struct stat st;
    assert_int_equal(stat(dup, &st), -1); /* the no-op attach made no second file */
    free(dup);

    /* the same name again (same second): a "-2" copy, never an overwrite */
    tick = 0;
    o.format = FY_LOG_CMTRACE;
    assert_int_equal(fy_log_open(&o, &l, err, sizeof err), 0);
    char *want2 = fy_xasprintf("%s/WS-07_2026-11-25_08-21-38_Ext-2.log", logdir);
    assert_string_equal(fy_log_path(l), want2);
    fy_log_msg(l, FY_LOG_WARNING, "cm");
    assert_int_equal(fy_log_close(l, 0, err, sizeof err), 0);
    a = slurp(want2);
    for (char *line = a; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(strncmp(line, "<![LOG[", 7) == 0);
        assert_true(strncmp(nl - 8, "file=\"\">", 8) == 0);
        line = nl + 1;
    }
    assert_non_null(strstr(a, "<![LOG[cm]LOG]!><time=\""));
    assert_non_null(strstr(a, "type=\"2\""));
    free(a);
    free(want2);

    /* bad options */
    fy_log_opts bad = o;
    bad.level = 9;
    assert_int_equal(fy_log_open(&bad, &l, err, sizeof err), -1);
    assert_null(l);
    bad = o;
    bad.format = 5;
    assert_int_equal(fy_log_open(&bad, &l, err, sizeof err), -1);
    assert_int_equal(fy_log_close(NULL, 0, err, sizeof err), 0);
    rm_rf(dir);
    free(want);
    free(dir);
    free(logdir);
    free(pers);
}

/* A log folder that cannot be made: a warning, the log goes on in memory, and a later
 * attach gets every line. */
static void test_log_dir_unusable(void **state)
{
    (void)state;
    char *dir = mktemp_dir();
    char *blocker = fy_xasprintf("%s/file", dir);
    FILE *f = fopen(blocker, "w");
    fclose(f);
    char *logdir = fy_xasprintf("%s/file/logs", dir);
    char *echo_text = NULL;
    size_t echo_len = 0;
    FILE *echo = open_memstream(&echo_text, &echo_len);
    int tick = 0;
    fy_log_opts o = {.computer = "pc",
                     .op = FY_OP_INJECT,
                     .log_dir = logdir,
                     .echo = echo,
                     .echo_level = FY_LOG_WARNING,
                     .clock = fixed_clock,
                     .clock_ctx = &tick};
    fy_log *l = NULL;
    char err[256];
    assert_int_equal(fy_log_open(&o, &l, err, sizeof err), 0);
    assert_null(fy_log_path(l));
    fy_log_msg(l, FY_LOG_INFO, "before attach");
    fy_log_msg(l, FY_LOG_WARNING, "a warning");
    fflush(echo);
    assert_non_null(strstr(echo_text, "ferry: warning: cannot write the log in"));
    assert_non_null(strstr(echo_text, "ferry: warning: a warning\n"));
    assert_null(strstr(echo_text, "before attach"));
    /* attaching to a missing folder fails, the log goes on */
    char *missing = fy_xasprintf("%s/missing", dir);
    assert_int_equal(fy_log_attach(l, missing, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(fy_log_attach(l, dir, err, sizeof err), 0);
    fy_log_msg(l, FY_LOG_INFO, "after attach");
    assert_int_equal(fy_log_close(l, 7, err, sizeof err), 0);
    char *p = fy_xasprintf("%s/PC_2026-11-25_08-21-38_Inj.log", dir);
    char *a = slurp(p);
    assert_non_null(a);
    assert_non_null(strstr(a, "==== Header ===="));
    assert_non_null(strstr(a, "[Informational] before attach\n"));
    assert_non_null(strstr(a, "[Informational] after attach\n"));
    assert_non_null(strstr(a, "  Exit code: 7\n"));
    free(a);
    free(p);
    fclose(echo);
    free(echo_text);
    rm_rf(dir);
    free(missing);
    free(dir);
    free(blocker);
    free(logdir);
}

static void test_no_password(void **state)
{
    (void)state;
    char *dir = mktemp_dir();
    char *pers = fy_xasprintf("%s/pers", dir);
    assert_int_equal(mkdir(pers, 0777), 0);
    char *echo_text = NULL;
    size_t echo_len = 0;
    FILE *echo = open_memstream(&echo_text, &echo_len);
    char *argv[] = {"se",          "/AUTOEXTRACT",           "/PASSWORD",
                    "Tr0ub4dor&3", "--password=Tr0ub4dor&3", "/Password:Tr0ub4dor&3",
                    NULL};
    for (int format = 0; format < 2; format++) {
        fy_log_opts o = {.computer = "pc",
                         .op = FY_OP_EXTRACT,
                         .level = FY_LOG_TRACE,
                         .format = (fy_log_format)format,
                         .log_dir = dir,
                         .argc = 6,
                         .argv = argv,
                         .echo = echo,
                         .echo_level = FY_LOG_TRACE};
        fy_log *l = NULL;
        char err[256];
        assert_int_equal(fy_log_open(&o, &l, err, sizeof err), 0);
        fy_log_add_secret(l, "Tr0ub4dor&3");
        fy_log_add_secret(l, "");
        fy_log_add_secret(l, NULL);
        fy_log_msg(l, FY_LOG_ERROR, "wrong password Tr0ub4dor&3 for store");
        fy_log_msg(l, FY_LOG_TRACE, "key=Tr0ub4dor&3Tr0ub4dor&3;");
        fy_log_item(l, "Password", "%s", "Tr0ub4dor&3");
        assert_int_equal(fy_log_attach(l, pers, err, sizeof err), 0);
        fy_log_msg(l, FY_LOG_WARNING, "again Tr0ub4dor&3");
        char *path = fy_xstrdup(fy_log_path(l));
        assert_int_equal(fy_log_close(l, 5, err, sizeof err), 0);
        char *a = slurp(path);
        assert_null(strstr(a, "Tr0ub4dor"));
        assert_non_null(strstr(a, "wrong password ******** for store"));
        assert_non_null(strstr(a, "key=****************;"));
        assert_non_null(strstr(a, "/PASSWORD ******** --password=******** /Password:********"));
        free(a);
        free(path);
    }
    fflush(echo);
    assert_non_null(strstr(echo_text, "wrong password ********"));
    assert_null(strstr(echo_text, "Tr0ub4dor"));
    fclose(echo);
    free(echo_text);
    /* and the personality copies */
    char *cmd = fy_xasprintf("grep -r -l Tr0ub4dor '%s'", dir);
    assert_int_not_equal(system(cmd), 0);
    free(cmd);
    rm_rf(dir);
    free(pers);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_argv),   cmocka_unit_test(test_file_name),
        cmocka_unit_test(test_format_line), cmocka_unit_test(test_levels),
        cmocka_unit_test(test_log_files),   cmocka_unit_test(test_log_dir_unusable),
        cmocka_unit_test(test_no_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
