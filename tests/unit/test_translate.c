/* Path and account translation inside registry strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fy_translate.h"

static fy_translate t;

static int setup(void **s)
{
    (void)s;
    memset(&t, 0, sizeof t);
    fy_translate_add_path(&t, "C:\\Documents and Settings\\hdowd\\My Documents", "C:\\Users\\howard.dowd\\Documents");
    fy_translate_add_path(&t, "C:\\Documents and Settings\\hdowd", "C:\\Users\\howard.dowd");
    fy_translate_add_path(&t, "C:\\Project Files", "C:\\Users\\howard.dowd\\Documents\\Project Files");
    fy_translate_add_domain(&t, "OLDCORP", "NEWCORP");
    fy_translate_add_user(&t, "OLDCORP\\hdowd", "NEWCORP\\howard.dowd");
    fy_translate_seal(&t);
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    fy_translate_free(&t);
    return 0;
}

static const char *tp(const char *in)
{
    static fy_buf b;
    fy_translate_paths_text(&t, in, strlen(in), &b);
    return (const char *)b.data;
}

static const char *ta(const char *in)
{
    static fy_buf b;
    fy_translate_accounts_text(&t, in, strlen(in), &b);
    return (const char *)b.data;
}

static void test_paths(void **s)
{
    (void)s;
    assert_string_equal(tp("c:\\documents and settings\\HDOWD\\My Documents\\Templates"),
                        "C:\\Users\\howard.dowd\\Documents\\Templates");
    assert_string_equal(tp("C:\\Documents and Settings\\hdowd\\Local Settings\\x.bmp"),
                        "C:\\Users\\howard.dowd\\Local Settings\\x.bmp");
    assert_string_equal(tp("\"C:\\Documents and Settings\\hdowd\";C:\\Project Files"),
                        "\"C:\\Users\\howard.dowd\";C:\\Users\\howard.dowd\\Documents\\Project Files");
    /* a longer folder name is not a match */
    assert_string_equal(tp("C:\\Documents and Settings\\hdowdy\\x"), "C:\\Documents and Settings\\hdowdy\\x");
    assert_string_equal(tp("%USERPROFILE%\\x"), "%USERPROFILE%\\x");
}

static void test_accounts(void **s)
{
    (void)s;
    assert_string_equal(ta("OLDCORP\\hdowd"), "NEWCORP\\howard.dowd");
    assert_string_equal(ta("oldcorp\\jsmith"), "NEWCORP\\jsmith");
    assert_string_equal(ta("XOLDCORP\\jsmith"), "XOLDCORP\\jsmith");
    assert_string_equal(ta("OLDCORPS\\x"), "OLDCORPS\\x");
    assert_string_equal(ta("OLDCORP\\hdowd2"), "NEWCORP\\hdowd2");
    assert_string_equal(ta("user=OLDCORP\\hdowd;"), "user=NEWCORP\\howard.dowd;");
}

static void test_regdata(void **s)
{
    (void)s;
    const char *a = "C:\\Documents and Settings\\hdowd\\My Documents", *b = "OLDCORP\\jsmith";
    fy_buf d = {0};
    size_t n;
    uint8_t *w = fy_utf8_to_utf16le(a, strlen(a), &n);
    fy_buf_put(&d, w, n);
    fy_buf_u16(&d, 0);
    free(w);
    w = fy_utf8_to_utf16le(b, strlen(b), &n);
    fy_buf_put(&d, w, n);
    fy_buf_u16(&d, 0);
    fy_buf_u16(&d, 0);
    free(w);
    assert_true(fy_translate_regdata(&t, 7, &d, true, true));
    size_t ul;
    char *first = fy_utf16le_to_utf8(d.data, d.len, true, &ul);
    assert_string_equal(first, "C:\\Users\\howard.dowd\\Documents");
    size_t off = (strlen(first) + 1) * 2;
    char *second = fy_utf16le_to_utf8(d.data + off, d.len - off, true, &ul);
    assert_string_equal(second, "NEWCORP\\jsmith");
    assert_int_equal(d.len, off + (strlen(second) + 2) * 2);
    free(first);
    free(second);
    /* DWORDs are left alone */
    assert_false(fy_translate_regdata(&t, 4, &d, true, true));
    fy_buf_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_accounts),
        cmocka_unit_test(test_regdata),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
