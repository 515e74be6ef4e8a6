/* runtime/io/fy_progress: the pure formatting of the bar (known and unknown totals, rate,
 * ETA, width limits, buffer limits, human sizes), and that nothing is drawn when the output
 * is not a terminal. The terminal drawing itself is not tested. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fy_progress.h"

static void test_bytes(void **state)
{
    (void)state;
    char b[32];
    fy_progress_bytes(b, sizeof b, 0);
    assert_string_equal(b, "0 B");
    fy_progress_bytes(b, sizeof b, 1023);
    assert_string_equal(b, "1023 B");
    fy_progress_bytes(b, sizeof b, 1536);
    assert_string_equal(b, "1.5 KiB");
    fy_progress_bytes(b, sizeof b, 3.4 * 1024 * 1024 * 1024);
    assert_string_equal(b, "3.4 GiB");
    fy_progress_bytes(b, sizeof b, 1e30);
    assert_non_null(strstr(b, "PiB"));
}

static void test_format_known(void **state)
{
    (void)state;
    char buf[256];
    fy_progress_state s = {.files_done = 120,
                           .files_total = 342,
                           .bytes_done = 1288490189,  /* 1.2 GiB */
                           .bytes_total = 3650722202, /* 3.4 GiB */
                           .elapsed = 20.0};
    size_t n = fy_progress_format(buf, sizeof buf, &s, 100);
    assert_int_equal(n, strlen(buf));
    assert_true(n <= 100);
    /* 1.2 GiB in 20 s = 61.4 MiB/s; 2.2 GiB left = 36.7 s */
    assert_non_null(strstr(buf, "]  35%  120/342 files  1.2 GiB/3.4 GiB  61.4 MiB/s  ETA 0:00:37"));
    assert_true(buf[0] == '[');
    /* narrow: the bar goes first, then the text is cut */
    n = fy_progress_format(buf, sizeof buf, &s, 60);
    assert_true(n <= 60);
    assert_true(buf[0] != '[');
    assert_true(strncmp(buf, " 35%  120/342 files", 19) == 0);
    n = fy_progress_format(buf, sizeof buf, &s, 10);
    assert_int_equal(n, 10);
    n = fy_progress_format(buf, sizeof buf, &s, 0);
    assert_int_equal(n, 0);
    assert_string_equal(buf, "");
    /* a small buffer is never overrun */
    char small[16];
    memset(small, 'Z', sizeof small);
    n = fy_progress_format(small, 12, &s, 200);
    assert_int_equal(n, 11);
    assert_int_equal(small[11], '\0');
    assert_int_equal(small[12], 'Z');
    /* finished */
    s.files_done = 342;
    s.bytes_done = s.bytes_total;
    fy_progress_format(buf, sizeof buf, &s, 120);
    assert_non_null(strstr(buf, "100%"));
    assert_non_null(strstr(buf, "ETA 0:00:00"));
    assert_non_null(strstr(buf, "[########################################]"));
}

static void test_format_unknown(void **state)
{
    (void)state;
    char buf[256];
    /* totals not known yet: no percentage, no bar, no ETA */
    fy_progress_state s = {.files_done = 5, .bytes_done = 2048, .elapsed = 2.0};
    fy_progress_format(buf, sizeof buf, &s, 120);
    assert_string_equal(buf, "5 files  2.0 KiB  1.0 KiB/s");
    /* no time yet: no rate */
    s.elapsed = 0;
    fy_progress_format(buf, sizeof buf, &s, 120);
    assert_string_equal(buf, "5 files  2.0 KiB");
    /* files known, bytes not: the percentage follows the files */
    s.files_total = 20;
    fy_progress_format(buf, sizeof buf, &s, 120);
    assert_non_null(strstr(buf, " 25%  5/20 files  2.0 KiB"));
    assert_null(strstr(buf, "ETA"));
    /* more done than announced: capped */
    s.files_done = 40;
    fy_progress_format(buf, sizeof buf, &s, 120);
    assert_non_null(strstr(buf, "100%"));
    /* very long ETA is capped */
    fy_progress_state slow = {.bytes_done = 1, .bytes_total = UINT64_MAX / 2, .elapsed = 1000};
    fy_progress_format(buf, sizeof buf, &slow, 200);
    assert_non_null(strstr(buf, "ETA 99:59:59"));
}

static void test_not_a_tty(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fy_progress *p = fy_progress_new(fds[1], false, "Extracting");
    assert_false(fy_progress_enabled(p));
    fy_progress_set_total(p, 10, 100);
    fy_progress_update(p, 5, 50);
    fy_progress_clear(p);
    fy_progress_free(p);
    fy_progress_free(NULL);
    close(fds[1]);
    char buf[8];
    assert_int_equal(read(fds[0], buf, sizeof buf), 0); /* nothing was written */
    close(fds[0]);
    /* --hide-status wins even on a terminal-looking fd: disabled whatever fd is */
    p = fy_progress_new(2, true, NULL);
    assert_false(fy_progress_enabled(p));
    fy_progress_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_format_unknown),
        cmocka_unit_test(test_not_a_tty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
