/* compiler/fy_fe_rul.c: SE.rul file rules. Runs every tests/data/templates/NAME.case whose
 * source is a .rul (each in every encoding and line end), and checks by hand what case files
 * cannot express: UTF-16LE files built byte by byte, bytes that are not text (with the
 * position of the bad byte), files that cannot be read, mixed line ends, and that every
 * position carries the interned file name. */
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
    int failures = tmpl_run_cases(".rul", &n);
    assert_true(n >= 10);
    assert_int_equal(failures, 0);
}

/* Appends ASCII text as UTF-16LE code units. */
static size_t put16(uint8_t *out, size_t at, const char *ascii)
{
    for (const char *p = ascii; *p; p++) {
        out[at++] = (uint8_t)*p;
        out[at++] = 0;
    }
    return at;
}

/* Parses bytes written to SE.rul in a fresh folder. */
static int parse_bytes(const void *bytes, size_t n, fy_ir *ir, fy_diags *d, char **path_out)
{
    char *dir = tmpl_mkdtemp();
    char *path = tmpl_write(dir, "SE.rul", bytes, n);
    int rc = fy_fe_rul(ir, path, d);
    tmpl_rmtree(dir);
    free(dir);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return rc;
}

static void test_utf16le_bom_crlf_bytewise(void **state)
{
    (void)state;
    uint8_t b[512];
    size_t n = 0;
    b[n++] = 0xFF, b[n++] = 0xFE;
    n = put16(b, n, "include \"<My Pictures>\\");
    /* U+1F4F7 (camera) as a surrogate pair, then U+00E9 */
    b[n++] = 0x3D, b[n++] = 0xD8, b[n++] = 0xF7, b[n++] = 0xDC;
    b[n++] = 0xE9, b[n++] = 0x00;
    n = put16(b, n, "\" *.jpg\r\nexclude * *.tmp size>1Q\r\n");
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    char *path;
    assert_int_equal(parse_bytes(b, n, &ir, &d, &path), 0);
    assert_int_equal(ir.nrules, 1);
    assert_string_equal(ir.rules[0].pat.node, "<My Pictures>\\\xF0\x9F\x93\xB7\xC3\xA9");
    assert_string_equal(ir.rules[0].pat.leaf, "*.jpg");
    assert_int_equal(ir.rules[0].pos.line, 1);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].line, 2);
    assert_int_equal(d.v[0].col, 23); /* the 'Q' of "size>1Q" */
    assert_string_equal(d.v[0].check, "bad-size");
    assert_string_equal(d.v[0].file, path);
    free(path);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static void expect_encoding_error(const void *bytes, size_t n, uint32_t line, uint32_t col)
{
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(parse_bytes(bytes, n, &ir, &d, NULL), -1);
    assert_int_equal(ir.nrules, 0);
    assert_int_equal(ir.nsources, 0); /* a file that was not read is no source */
    assert_int_equal(d.n, 1);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.v[0].check, "encoding");
    assert_int_equal(d.v[0].line, line);
    assert_int_equal(d.v[0].col, col);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static void test_not_text(void **state)
{
    (void)state;
    /* Latin-1 'é' (saved as "ANSI" by old Notepad): line 2, after 22 characters. */
    const char latin1[] = "include <Desktop> *\nexclude \"<Desktop>\\caf\xE9\" *\n";
    expect_encoding_error(latin1, sizeof(latin1) - 1, 2, 23);
    /* The same after a BOM and with CRLF: the BOM is no column, CRLF one line end. */
    const char bom[] = "\xEF\xBB\xBFinclude <Desktop> *\r\n\r\nx\xC3(";
    expect_encoding_error(bom, sizeof(bom) - 1, 3, 2);
    /* A NUL byte (UTF-16 without a BOM looks like this). */
    const char nul[] = "i\0n\0c\0";
    expect_encoding_error(nul, sizeof(nul) - 1, 1, 2);
    /* UTF-16LE with an odd number of bytes. */
    const uint8_t odd[] = {0xFF, 0xFE, 'a', 0, '\n', 0, 'b'};
    expect_encoding_error(odd, sizeof(odd), 2, 1);
    /* UTF-16LE with an unpaired high surrogate on line 2, column 2. */
    const uint8_t unpaired[] = {0xFF, 0xFE, 'a', 0, '\r', 0, '\n', 0, 'b', 0, 0x00, 0xD8, 'c', 0};
    expect_encoding_error(unpaired, sizeof(unpaired), 2, 2);
    /* UTF-16BE with a lone low surrogate first. */
    const uint8_t be[] = {0xFE, 0xFF, 0xDC, 0x00, 0, 'a'};
    expect_encoding_error(be, sizeof(be), 1, 1);
}

static void test_unreadable(void **state)
{
    (void)state;
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    char *dir = tmpl_mkdtemp();
    char *missing = fy_xasprintf("%s/SE.rul", dir);
    assert_int_equal(fy_fe_rul(&ir, missing, &d), -1);
    assert_int_equal(fy_fe_rul(&ir, dir, &d), -1); /* a folder */
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[0].check, "unreadable");
    assert_string_equal(d.v[0].file, missing);
    assert_int_equal(d.v[0].line, 0);
    assert_non_null(strstr(d.v[0].message, "No such file"));
    assert_string_equal(d.v[1].check, "unreadable");
    assert_non_null(strstr(d.v[1].message, "folder"));
    assert_int_equal(ir.nsources, 0);
    free(missing);
    tmpl_rmtree(dir);
    free(dir);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static void test_mixed_line_ends(void **state)
{
    (void)state;
    /* LF, CRLF, lone CR, CR CR (an empty line), then no line end. */
    const char src[] = "include <Desktop> *\n"
                       "include <Desktop> *.a\r\n"
                       "include <Desktop> *.b\r"
                       "\r"
                       "bogus line";
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(parse_bytes(src, sizeof(src) - 1, &ir, &d, NULL), 0);
    assert_int_equal(ir.nrules, 3);
    assert_int_equal(ir.rules[1].pos.line, 2);
    assert_int_equal(ir.rules[2].pos.line, 3);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].line, 5);
    assert_int_equal(d.v[0].col, 1);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static void test_positions_interned(void **state)
{
    (void)state;
    const char src[] = "include <Desktop> * size>1KB -> D:\\x\n";
    char *dir = tmpl_mkdtemp();
    char *path = tmpl_write(dir, "SE.rul", src, sizeof(src) - 1);
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_rul(&ir, path, &d), 0);
    assert_int_equal(fy_fe_rul(&ir, path, &d), 0); /* the same file again: one source */
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.nsources, 1);
    assert_int_equal(ir.nrules, 2);
    for (size_t i = 0; i < ir.nrules; i++) {
        assert_ptr_equal(ir.rules[i].pos.file, ir.sources[0]);
        assert_ptr_equal(ir.rules[i].conds[0].pos.file, ir.sources[0]);
        assert_int_equal(ir.rules[i].conds[0].pos.col, 21);
    }
    assert_string_equal(ir.sources[0], path);
    free(path);
    tmpl_rmtree(dir);
    free(dir);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

/* A long line of many fields and a long file: no limits hit, every rule kept. */
static void test_long_input(void **state)
{
    (void)state;
    fy_buf b = {0};
    for (int i = 0; i < 2000; i++)
        fy_buf_printf(&b, "exclude \"<My Documents>\\D%d\" *.x%d\n", i, i);
    fy_buf_puts(&b, "include * *");
    for (int i = 0; i < 300; i++)
        fy_buf_puts(&b, " size>1KB");
    fy_buf_puts(&b, "\n");
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(parse_bytes(b.data, b.len, &ir, &d, NULL), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.nrules, 2001);
    assert_int_equal(ir.rules[2000].nconds, 300);
    assert_string_equal(ir.rules[1999].pat.node, "<My Documents>\\D1999");
    fy_buf_free(&b);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),           cmocka_unit_test(test_utf16le_bom_crlf_bytewise),
        cmocka_unit_test(test_not_text),        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_mixed_line_ends), cmocka_unit_test(test_positions_interned),
        cmocka_unit_test(test_long_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
