/* compiler/fy_lex.c: the line and field tokenizer of the template front ends: line ends
 * (LF, CRLF, lone CR), character columns, quoted fields and their errors, comments in both
 * styles, the "did you mean" matcher and the location of undecodable bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fy_lex.h"

static fy_line line_of(const char *s)
{
    return (fy_line){s, strlen(s), 1};
}

static void test_lines(void **state)
{
    (void)state;
    const char t[] = "a\nbb\r\nc\rd\r\r\ne";
    fy_lexer lx;
    fy_line l;
    const char *want[] = {"a", "bb", "c", "d", "", "e"};
    fy_lex_init(&lx, t, sizeof(t) - 1);
    for (size_t i = 0; i < FY_ARRAY_LEN(want); i++) {
        assert_true(fy_lex_next(&lx, &l));
        assert_int_equal(l.no, i + 1);
        assert_int_equal(l.n, strlen(want[i]));
        assert_memory_equal(l.s, want[i], l.n);
    }
    assert_false(fy_lex_next(&lx, &l));
    /* Empty text: no line; a lone line end: one empty line; no line end after the last. */
    fy_lex_init(&lx, "", 0);
    assert_false(fy_lex_next(&lx, &l));
    fy_lex_init(&lx, "\r\n", 2);
    assert_true(fy_lex_next(&lx, &l));
    assert_int_equal(l.n, 0);
    assert_false(fy_lex_next(&lx, &l));
}

static void test_columns(void **state)
{
    (void)state;
    fy_line l = line_of("\xC3\xA9 \xE6\x97\xA5\xF0\x9F\x93\xB7x"); /* é, blank, 日, camera, x */
    assert_int_equal(fy_lex_col(&l, 0), 1);
    assert_int_equal(fy_lex_col(&l, 2), 2);
    assert_int_equal(fy_lex_col(&l, 3), 3);
    assert_int_equal(fy_lex_col(&l, 6), 4);
    assert_int_equal(fy_lex_col(&l, 10), 5);
    assert_int_equal(fy_lex_col(&l, 11), 6);  /* just past the end */
    assert_int_equal(fy_lex_col(&l, 999), 6); /* clamped */
}

static void test_fields(void **state)
{
    (void)state;
    fy_fields f = {0};
    const char *err = NULL;
    size_t off = 0;
    fy_line l = line_of("  a \"b c\"\td#e  #f g");
    assert_int_equal(fy_lex_fields(&l, &f, &err, &off), 0);
    assert_int_equal(f.n, 3);
    assert_memory_equal(f.v[0].s, "a", 1);
    assert_int_equal(f.v[0].off, 2);
    assert_true(f.v[1].quoted);
    assert_int_equal(f.v[1].n, 3);
    assert_memory_equal(f.v[1].s, "b c", 3);
    assert_int_equal(f.v[1].off, 4);
    assert_int_equal(f.v[1].coff, 5);
    assert_int_equal(f.v[1].end, 9);
    assert_int_equal(f.v[2].n, 3); /* "d#e": '#' inside a field is a character */
    l = line_of("\"\" \"x\";comment");
    assert_int_equal(fy_lex_fields(&l, &f, &err, &off), 0);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.v[0].n, 0);
    assert_true(f.v[0].quoted);
    l = line_of("; all comment");
    assert_int_equal(fy_lex_fields(&l, &f, &err, &off), 0);
    assert_int_equal(f.n, 0);
    /* errors: unclosed quote, text glued to a closing quote, a quote inside a field */
    l = line_of("a \"open");
    assert_int_equal(fy_lex_fields(&l, &f, &err, &off), -1);
    assert_int_equal(off, 2);
    assert_non_null(strstr(err, "not closed"));
    assert_int_equal(f.n, 1); /* what came before the fault */
    l = line_of("\"x\"y");
    assert_int_equal(fy_lex_fields(&l, &f, &err, &off), -1);
    assert_int_equal(off, 3);
    l = line_of("ab\"c\"");
    assert_int_equal(fy_lex_fields(&l, &f, &err, &off), -1);
    assert_int_equal(off, 2);
    fy_fields_free(&f);
    assert_null(f.v);
}

static void test_comments(void **state)
{
    (void)state;
    size_t start = 0, off = 0;
    fy_line l = line_of("Key=a;b");
    assert_int_equal(fy_lex_comment(&l, FY_LEX_COMMENT_ANYWHERE, &start, &off), 0);
    assert_int_equal(start, 5);
    l = line_of("Key=\"a;#b\"#c");
    assert_int_equal(fy_lex_comment(&l, FY_LEX_COMMENT_ANYWHERE, &start, &off), 0);
    assert_int_equal(start, 10);
    l = line_of("Key=x \"a");
    assert_int_equal(fy_lex_comment(&l, FY_LEX_COMMENT_ANYWHERE, &start, &off), -1);
    assert_int_equal(off, 6);
    l = line_of("C#x ;y");
    assert_int_equal(fy_lex_comment(&l, FY_LEX_COMMENT_FIELD, &start, &off), 0);
    assert_int_equal(start, 4);
    l = line_of("no comment");
    assert_int_equal(fy_lex_comment(&l, FY_LEX_COMMENT_FIELD, &start, &off), 0);
    assert_int_equal(start, l.n);
}

static void test_nearest(void **state)
{
    (void)state;
    const char *const keys[] = {"Log Level", "Display Log On Completion"};
    assert_int_equal(fy_lex_nearest("log levle", 9, keys, 2), 0);
    assert_int_equal(fy_lex_nearest("LOG LEVEL", 9, keys, 2), 0);
    assert_int_equal(fy_lex_nearest("Display Log At End", 18, keys, 2), -1);
    assert_int_equal(fy_lex_nearest("xyz", 3, keys, 2), -1);
    assert_int_equal(fy_lex_nearest("", 0, keys, 2), -1);
    assert_int_equal(fy_lex_nearest("Log Level", 9, keys, 0), -1);
    char longname[200];
    memset(longname, 'a', sizeof(longname));
    assert_int_equal(fy_lex_nearest(longname, sizeof(longname), keys, 2), -1);
}

static void test_locate_bad(void **state)
{
    (void)state;
    uint32_t line, col;
    fy_lex_locate_bad((const uint8_t *)"ab\r\ncd\xFF", 7, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 3);
    fy_lex_locate_bad((const uint8_t *)"\xEF\xBB\xBF\xC3\xA9\xC3", 6, &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 2);
    const uint8_t u16[] = {0xFF, 0xFE, 'a', 0, '\r', 0, 'b', 0, 0x3D, 0xD8, 0xF7, 0xDC, 0, 0};
    fy_lex_locate_bad(u16, sizeof(u16), &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 3); /* after 'b' and the camera (one character) */
}

static void test_trim_and_path_check(void **state)
{
    (void)state;
    size_t b = 0, e = 6;
    fy_lex_trim(" \tab\t ", &b, &e);
    assert_int_equal(b, 2);
    assert_int_equal(e, 4);
    b = 0, e = 3;
    fy_lex_trim("   ", &b, &e);
    assert_int_equal(b, e);
    assert_string_equal(fy_lex_path_check("unknown token (see docs)"), "unknown-token");
    assert_string_equal(fy_lex_path_check("unterminated %TOKEN%"), "unknown-token");
    assert_string_equal(fy_lex_path_check("'..' is not allowed in a path"), "bad-path");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_locate_bad),
        cmocka_unit_test(test_trim_and_path_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
