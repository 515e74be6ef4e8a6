/* common/: text decoding, case folding, wildcard matching, tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fy_common.h"
#include "fy_tokens.h"

static bool g(const char *p, const char *s, bool cross)
{
    return fy_glob_match(p, strlen(p), s, strlen(s), cross);
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(g("*.pptx", "Deck.PPTX", false));
    assert_true(g("report-??.xls", "report-07.xls", false));
    assert_false(g("report-??.xls", "report-7.xls", false));
    assert_true(g("*", "", false));
    assert_false(g("a*", "a\\b", false));
    assert_true(g("a*", "a\\b", true));
    assert_true(g("<MY DOCUMENTS>\\*\\x", "<My Documents>\\proj\\x", false));
    assert_false(g("<MY DOCUMENTS>\\*\\x", "<My Documents>\\a\\b\\x", false));
    assert_true(g("^*lit", "*lit", false));
    assert_false(g("^*lit", "xlit", false));
    assert_true(g("résumé*", "RÉSUMÉ.doc", false));
    assert_true(g("*a*b*c", "xxaxxbxxc", false));
    assert_false(g("*a*b*c", "xxaxxbxx", false));
}

static void test_decode(void **state)
{
    (void)state;
    const uint8_t utf16[] = {0xFF, 0xFE, 'a', 0, '\r', 0, '\n', 0, 0xE9, 0};
    char *out;
    size_t n;
    const char *err;
    assert_int_equal(fy_text_decode(utf16, sizeof utf16, &out, &n, &err), 0);
    assert_string_equal(out, "a\r\n\xC3\xA9");
    free(out);
    const uint8_t bom8[] = {0xEF, 0xBB, 0xBF, 'x'};
    assert_int_equal(fy_text_decode(bom8, sizeof bom8, &out, &n, &err), 0);
    assert_string_equal(out, "x");
    free(out);
    const uint8_t bad[] = {'a', 0xC3};
    assert_int_equal(fy_text_decode(bad, sizeof bad, &out, &n, &err), -1);
    const uint8_t odd[] = {0xFF, 0xFE, 'a'};
    assert_int_equal(fy_text_decode(odd, sizeof odd, &out, &n, &err), -1);
}

static void test_utf16_roundtrip(void **state)
{
    (void)state;
    const char *s = "Zoë \xF0\x9F\x98\x80 Ω";
    size_t n, m;
    uint8_t *w = fy_utf8_to_utf16le(s, strlen(s), &n);
    char *back = fy_utf16le_to_utf8(w, n, false, &m);
    assert_string_equal(back, s);
    free(w);
    free(back);
}

static void test_tokens(void **state)
{
    (void)state;
    assert_int_equal(fy_token_lookup("my documents", 12), FY_TOK_DOCUMENTS);
    assert_int_equal(fy_token_lookup("CSIDL_PERSONAL", 14), FY_TOK_DOCUMENTS);
    assert_int_equal(fy_token_lookup("APPDATA", 7), FY_TOK_APPDATA);
    assert_int_equal(fy_token_lookup("Nope", 4), -1);
    for (int i = 0; i < FY_TOK_COUNT; i++) assert_int_equal(fy_tokens[i].id, i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_utf16_roundtrip),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
