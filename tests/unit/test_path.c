/* compiler/fy_path.c: normalisation of file and registry paths, USMT encoded locations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fy_ir.h"

static fy_arena A;

static const char *nf(const char *in)
{
    const char *err;
    size_t off;
    char *r = fy_norm_file_path(&A, in, strlen(in), &err, &off);
    return r ? r : err;
}

static void test_file_paths(void **state)
{
    (void)state;
    assert_string_equal(nf("<My Documents>\\Project Data"), "<My Documents>\\Project Data");
    assert_string_equal(nf("%MyDocuments%/Project Data/"), "<My Documents>\\Project Data");
    assert_string_equal(nf("%CSIDL_PERSONAL%"), "<My Documents>");
    assert_string_equal(nf("%appdata%\\.\\WinSCP"), "<Application Data>\\WinSCP");
    assert_string_equal(nf("c:\\Project Files"), "C:\\Project Files");
    assert_string_equal(nf("*:\\"), "*:");
    assert_string_equal(nf("*"), "*");
    assert_string_equal(nf("C:\\Data\\%USERNAME%"), "C:\\Data\\<User Name>");
    assert_non_null(strstr(nf("<Nope>\\x"), "unknown token"));
    assert_non_null(strstr(nf("C:\\a\\..\\b"), "'..'"));
    assert_non_null(strstr(nf("Project"), "must begin"));
    assert_non_null(strstr(nf("\\\\server\\share"), "UNC"));
    assert_non_null(strstr(nf("C:\\x\\<Desktop>"), "may only begin"));
}

static void test_reg_paths(void **state)
{
    (void)state;
    const char *err;
    size_t off;
    const char *in = "HKEY_CLASSES_ROOT\\.txt";
    assert_string_equal(fy_norm_reg_key(&A, in, strlen(in), &err, &off),
                        "HKCU\\Software\\Classes\\.txt");
    in = "HKU\\S-1-5-18";
    assert_null(fy_norm_reg_key(&A, in, strlen(in), &err, &off));
    assert_int_equal(off, 0);
}

static void test_patterns(void **state)
{
    (void)state;
    fy_ir_pattern p;
    const char *err;
    size_t off;
    const char *in = "%APPDATA%\\WinSCP\\* [*]";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_FILE, in, strlen(in), &p, &err, &off), 0);
    assert_string_equal(p.node, "<Application Data>\\WinSCP");
    assert_true(p.recurse);
    assert_string_equal(p.leaf, "*");
    in = "%APPDATA%\\WinSCP\\ [*.ini]";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_FILE, in, strlen(in), &p, &err, &off), 0);
    assert_false(p.recurse);
    assert_string_equal(p.leaf, "*.ini");
    in = "HKCU\\Control Panel\\Desktop [Wallpaper]";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_REG, in, strlen(in), &p, &err, &off), 0);
    assert_string_equal(p.node, "HKCU\\Control Panel\\Desktop");
    assert_string_equal(p.leaf, "Wallpaper");
    assert_false(p.keys);
    in = "HKLM\\Software\\X\\Key []";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_REG, in, strlen(in), &p, &err, &off), 0);
    assert_string_equal(p.leaf, "");
    in = "HKCU\\Software\\Vendor\\App\\* [*]";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_REG, in, strlen(in), &p, &err, &off), 0);
    assert_true(p.recurse);
    assert_true(p.keys);
    in = "HKCU\\Software\\A^[1^] [v^]]";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_REG, in, strlen(in), &p, &err, &off), 0);
    assert_string_equal(p.node, "HKCU\\Software\\A^[1^]");
    assert_string_equal(p.leaf, "v^]");
    in = "<My Documents>\\*.doc";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_FILE, in, strlen(in), &p, &err, &off), 0);
    assert_string_equal(p.node, "<My Documents>");
    assert_string_equal(p.leaf, "*.doc");
    in = "%APPDATA%\\x []";
    assert_int_equal(fy_parse_pattern(&A, FY_OBJ_FILE, in, strlen(in), &p, &err, &off), -1);
}

static int teardown(void **state)
{
    (void)state;
    fy_arena_free(&A);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_paths),
        cmocka_unit_test(test_reg_paths),
        cmocka_unit_test(test_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
