/* compiler/fy_fe_ptt.c: SE.ptt content selections. Runs every tests/data/templates/NAME.case
 * whose source is a .ptt (each in every encoding and line end), and checks by hand a UTF-16LE
 * file built byte by byte, a file that is not text, and a file that cannot be read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fy_ir.h"
#include "tmpl_case.h"

static void test_cases(void **state)
{
    (void)state;
    int n = 0;
    int failures = tmpl_run_cases(".ptt", &n);
    assert_true(n >= 3);
    assert_int_equal(failures, 0);
}

static size_t put16(uint8_t *out, size_t at, const char *ascii)
{
    for (const char *p = ascii; *p; p++) {
        out[at++] = (uint8_t)*p;
        out[at++] = 0;
    }
    return at;
}

static int parse_bytes(const void *bytes, size_t n, fy_ir *ir, fy_diags *d)
{
    char *dir = tmpl_mkdtemp();
    char *path = tmpl_write(dir, "SE.ptt", bytes, n);
    int rc = fy_fe_ptt(ir, path, d);
    tmpl_rmtree(dir);
    free(dir);
    free(path);
    return rc;
}

static void test_utf16le_bom_crlf_bytewise(void **state)
{
    (void)state;
    uint8_t b[256];
    size_t n = 0;
    b[n++] = 0xFF, b[n++] = 0xFE;
    n = put16(b, n, "Files|My Documents\r\n\r\n - Applications|");
    b[n++] = 0xC5, b[n++] = 0x00; /* U+00C5 */
    n = put16(b, n, "|Settings\r\nWindows||x\r\n");
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(parse_bytes(b, n, &ir, &d), 0);
    assert_int_equal(ir.nselects, 2);
    assert_string_equal(ir.selects[0].path, "Files|My Documents");
    assert_false(ir.selects[0].deselect);
    assert_string_equal(ir.selects[1].path, "Applications|\xC3\x85|Settings");
    assert_true(ir.selects[1].deselect);
    assert_int_equal(ir.selects[1].pos.line, 3);
    assert_int_equal(ir.selects[1].pos.col, 4);
    assert_ptr_equal(ir.selects[1].pos.file, ir.sources[0]);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].line, 4);
    assert_int_equal(d.v[0].col, 9);
    assert_string_equal(d.v[0].check, "syntax");
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static void test_unreadable_and_not_text(void **state)
{
    (void)state;
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    const char bad[] = "Files|Desktop\nFiles|\x80\n";
    assert_int_equal(parse_bytes(bad, sizeof(bad) - 1, &ir, &d), -1);
    assert_int_equal(fy_fe_ptt(&ir, "/nonexistent/ferry/SE.ptt", &d), -1);
    assert_int_equal(ir.nselects, 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[0].check, "encoding");
    assert_int_equal(d.v[0].line, 2);
    assert_int_equal(d.v[0].col, 7);
    assert_string_equal(d.v[1].check, "unreadable");
    assert_string_equal(d.v[1].file, "/nonexistent/ferry/SE.ptt");
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_utf16le_bom_crlf_bytewise),
        cmocka_unit_test(test_unreadable_and_not_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
