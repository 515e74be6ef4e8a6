/* User selection filters: names, SIDs, wildcards within one part, local, domains, unused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/fy_users.h"

static const fy_user_id hdowd = {"OLDCORP", "hdowd", "S-1-5-21-1-2-3-1105", false, 1000000};
static const fy_user_id kiosk = {"OLDPC01", "kiosk", "S-1-5-21-9-9-9-1003", true, 1000000};

static void test_patterns(void **s)
{
    (void)s;
    assert_true(fy_user_pattern_match("oldcorp\\HDOWD", &hdowd));
    assert_true(fy_user_pattern_match("*\\hdowd", &hdowd));
    assert_true(fy_user_pattern_match("OLDCORP\\h*", &hdowd));
    assert_false(fy_user_pattern_match("OLD*\\x*", &hdowd));
    assert_false(fy_user_pattern_match("*", &hdowd)); /* * never crosses '\' */
    assert_true(fy_user_pattern_match("S-1-5-21-1-2-3-1105", &hdowd));
    assert_true(fy_user_pattern_match("s-1-5-21-*-1105", &hdowd));
    assert_true(fy_user_pattern_valid("A\\b"));
    assert_false(fy_user_pattern_valid("hdowd"));
    assert_false(fy_user_pattern_valid("A\\b\\c"));
}

static void test_filters(void **s)
{
    (void)s;
    const char *why;
    fy_user_filter f = {0};
    assert_true(fy_user_selected(&f, &hdowd, &why));
    const char *inc[] = {"OLDCORP\\*"};
    f.include = inc;
    f.ninclude = 1;
    assert_true(fy_user_selected(&f, &hdowd, &why));
    assert_false(fy_user_selected(&f, &kiosk, &why));
    f.ninclude = 0;
    f.exclude_local = true;
    assert_false(fy_user_selected(&f, &kiosk, &why));
    assert_non_null(why);
    f.exclude_local = false;
    const char *dom[] = {"oldcorp"};
    f.exclude_domains = dom;
    f.nexclude_domains = 1;
    assert_false(fy_user_selected(&f, &hdowd, &why));
    f.nexclude_domains = 0;
    f.exclude_unused_days = 30;
    f.now = 1000000 + 31 * 86400;
    assert_false(fy_user_selected(&f, &hdowd, &why));
    f.now = 1000000 + 29 * 86400;
    assert_true(fy_user_selected(&f, &hdowd, &why));
    const char *exc[] = {"*\\kiosk"};
    f.exclude = exc;
    f.nexclude = 1;
    assert_false(fy_user_selected(&f, &kiosk, &why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_patterns), cmocka_unit_test(test_filters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
