/* compiler/fy_report.c: diagnostics as GCC-style text, JSON and SARIF 2.1.0. Text and JSON
 * are compared with golden output; JSON and SARIF are also run through a small strict JSON
 * parser written here, and SARIF's required members are checked by name. Covers missing
 * file/line/column, string escaping (quotes, backslashes, control characters, bytes that are
 * not UTF-8), URIs of names with spaces and non-ASCII letters, and empty reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fy_report.h"

/* ---- a strict JSON syntax checker (RFC 8259), enough to prove the output parses ---- */

typedef struct jp {
    const char *s;
    size_t i, n;
    int depth;
} jp;

static bool j_value(jp *p);

static void j_ws(jp *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]))
        p->i++;
}

static bool j_lit(jp *p, const char *w)
{
    size_t l = strlen(w);
    if (p->n - p->i < l || memcmp(p->s + p->i, w, l) != 0) return false;
    p->i += l;
    return true;
}

static bool j_string(jp *p)
{
    if (p->i >= p->n || p->s[p->i] != '"') return false;
    p->i++;
    while (p->i < p->n) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            return true;
        }
        if (c < 0x20) return false;
        if (c == '\\') {
            p->i++;
            if (p->i >= p->n) return false;
            char e = p->s[p->i];
            if (e == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (p->i + k >= p->n || !strchr("0123456789abcdefABCDEF", p->s[p->i + k]))
                        return false;
                p->i += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e)) return false;
            p->i++;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            size_t l = fy_utf8_next(p->s + p->i, p->n - p->i, &cp);
            if (l == 1) return false; /* JSON text is UTF-8 */
            p->i += l;
            continue;
        }
        p->i++;
    }
    return false;
}

static bool j_number(jp *p)
{
    size_t s = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > s;
}

static bool j_seq(jp *p, char close, bool members)
{
    p->i++;
    if (++p->depth > 64) return false;
    j_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        p->depth--;
        return true;
    }
    for (;;) {
        j_ws(p);
        if (members) {
            if (!j_string(p)) return false;
            j_ws(p);
            if (p->i >= p->n || p->s[p->i++] != ':') return false;
        }
        if (!j_value(p)) return false;
        j_ws(p);
        if (p->i >= p->n) return false;
        char c = p->s[p->i++];
        if (c == close) break;
        if (c != ',') return false;
    }
    p->depth--;
    return true;
}

static bool j_value(jp *p)
{
    j_ws(p);
    if (p->i >= p->n) return false;
    char c = p->s[p->i];
    if (c == '{') return j_seq(p, '}', true);
    if (c == '[') return j_seq(p, ']', false);
    if (c == '"') return j_string(p);
    if (c == 't') return j_lit(p, "true");
    if (c == 'f') return j_lit(p, "false");
    if (c == 'n') return j_lit(p, "null");
    return j_number(p);
}

static bool json_valid(const char *s)
{
    jp p = {s, 0, strlen(s), 0};
    if (!j_value(&p)) return false;
    j_ws(&p);
    return p.i == p.n;
}

/* ---- the diagnostics every test prints ---- */

static void sample(fy_diags *d)
{
    fy_diag_add(d, FY_DIAG_ERROR, "SE.rul", 3, 5, "bad-size",
                "unknown size unit 'Q': use B, KB, MB or GB");
    fy_diag_add(d, FY_DIAG_WARNING, "tmpl dir/SE.cfg", 2, 1, "unknown-key",
                "unknown key \"C:\\x\"\tin [Logging]");
    fy_diag_add(d, FY_DIAG_NOTE, NULL, 0, 0, "syntax", "no file: bell\a, latin-1 caf\xE9");
    fy_diag_add(d, FY_DIAG_ERROR, "/abs/\xC3\x9C.ptt", 0, 0, "unreadable", "cannot open");
    fy_diag_add(d, FY_DIAG_ERROR, "SE.rul", 7, 0, "bad-size", "size too large");
}

static char *render(fy_report_format fmt, const fy_diags *d)
{
    fy_buf b = {0};
    fy_report_write(&b, fmt, d);
    return fy_buf_cstr(&b) ? (char *)b.data : NULL;
}

static void test_text(void **state)
{
    (void)state;
    fy_diags d = {0};
    sample(&d);
    char *out = render(FY_REPORT_TEXT, &d);
    assert_string_equal(out, "SE.rul:3:5: error: unknown size unit 'Q': use B, KB, MB or GB "
                             "[bad-size]\n"
                             "tmpl dir/SE.cfg:2:1: warning: unknown key \"C:\\x\"\tin [Logging] "
                             "[unknown-key]\n"
                             "ferryc: note: no file: bell\a, latin-1 caf\xE9 [syntax]\n"
                             "/abs/\xC3\x9C.ptt: error: cannot open [unreadable]\n"
                             "SE.rul:7: error: size too large [bad-size]\n");
    free(out);
    fy_diags_free(&d);
    fy_diags empty = {0};
    out = render(FY_REPORT_TEXT, &empty);
    assert_string_equal(out, "");
    free(out);
}

static void test_json(void **state)
{
    (void)state;
    fy_diags d = {0};
    sample(&d);
    char *out = render(FY_REPORT_JSON, &d);
    assert_true(json_valid(out));
    assert_string_equal(
        out,
        "[\n"
        "  {\"file\": \"SE.rul\", \"line\": 3, \"column\": 5, \"level\": \"error\", \"check\": "
        "\"bad-size\", \"message\": \"unknown size unit 'Q': use B, KB, MB or GB\"},\n"
        "  {\"file\": \"tmpl dir/SE.cfg\", \"line\": 2, \"column\": 1, \"level\": \"warning\", "
        "\"check\": \"unknown-key\", \"message\": \"unknown key \\\"C:\\\\x\\\"\\tin "
        "[Logging]\"},\n"
        "  {\"file\": null, \"line\": 0, \"column\": 0, \"level\": \"note\", \"check\": "
        "\"syntax\", \"message\": \"no file: bell\\u0007, latin-1 caf\\ufffd\"},\n"
        "  {\"file\": \"/abs/\xC3\x9C.ptt\", \"line\": 0, \"column\": 0, \"level\": \"error\", "
        "\"check\": \"unreadable\", \"message\": \"cannot open\"},\n"
        "  {\"file\": \"SE.rul\", \"line\": 7, \"column\": 0, \"level\": \"error\", \"check\": "
        "\"bad-size\", \"message\": \"size too large\"}\n"
        "]\n");
    free(out);
    fy_diags_free(&d);
    fy_diags empty = {0};
    out = render(FY_REPORT_JSON, &empty);
    assert_string_equal(out, "[]\n");
    assert_true(json_valid(out));
    free(out);
}

static void test_json_string(void **state)
{
    (void)state;
    fy_buf b = {0};
    fy_report_json_string(&b, "a\"b\\c\n\r\b\f\x1f\x7f/\xE2\x82\xAC\xE2\x82");
    assert_string_equal(fy_buf_cstr(&b),
                        "\"a\\\"b\\\\c\\n\\r\\b\\f\\u001f\\u007f/\xE2\x82\xAC\\ufffd\\ufffd\"");
    assert_true(json_valid((char *)b.data));
    b.len = 0;
    fy_report_json_string(&b, NULL);
    assert_string_equal(fy_buf_cstr(&b), "\"\"");
    fy_buf_free(&b);
    /* the checker itself rejects what it must */
    assert_false(json_valid("{\"a\": }"));
    assert_false(json_valid("[\"\xFF\"]"));
    assert_false(json_valid("[\"a\tb\"]"));
    assert_false(json_valid("[1,]"));
    assert_false(json_valid("[1] x"));
}

static void test_sarif(void **state)
{
    (void)state;
    fy_diags d = {0};
    sample(&d);
    char *out = render(FY_REPORT_SARIF, &d);
    assert_true(json_valid(out));
    const char *want =
        "{\n"
        "  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
        "  \"version\": \"2.1.0\",\n"
        "  \"runs\": [\n"
        "    {\n"
        "      \"tool\": {\n"
        "        \"driver\": {\n"
        "          \"name\": \"ferryc\",\n"
        "          \"version\": \"" FERRY_VERSION "\",\n"
        "          \"informationUri\": \"" FY_REPORT_INFORMATION_URI "\",\n"
        "          \"rules\": [\n"
        "            {\"id\": \"bad-size\", \"shortDescription\": {\"text\": \"A size condition "
        "cannot be read (units are B, KB, MB, GB).\"}},\n"
        "            {\"id\": \"unknown-key\", \"shortDescription\": {\"text\": \"An SE.cfg key is "
        "unknown in its section; it is ignored.\"}},\n"
        "            {\"id\": \"syntax\", \"shortDescription\": {\"text\": \"A line of a rule "
        "source "
        "does not follow the language's syntax.\"}},\n"
        "            {\"id\": \"unreadable\", \"shortDescription\": {\"text\": \"A source file "
        "cannot "
        "be opened or read.\"}}\n"
        "          ]\n"
        "        }\n"
        "      },\n"
        "      \"results\": [\n"
        "        {\n"
        "          \"ruleId\": \"bad-size\",\n"
        "          \"ruleIndex\": 0,\n"
        "          \"level\": \"error\",\n"
        "          \"message\": {\"text\": \"unknown size unit 'Q': use B, KB, MB or GB\"},\n"
        "          \"locations\": [\n"
        "            {\n"
        "              \"physicalLocation\": {\n"
        "                \"artifactLocation\": {\"uri\": \"SE.rul\"},\n"
        "                \"region\": {\"startLine\": 3, \"startColumn\": 5}\n"
        "              }\n"
        "            }\n"
        "          ]\n"
        "        },\n"
        "        {\n"
        "          \"ruleId\": \"unknown-key\",\n"
        "          \"ruleIndex\": 1,\n"
        "          \"level\": \"warning\",\n"
        "          \"message\": {\"text\": \"unknown key \\\"C:\\\\x\\\"\\tin [Logging]\"},\n"
        "          \"locations\": [\n"
        "            {\n"
        "              \"physicalLocation\": {\n"
        "                \"artifactLocation\": {\"uri\": \"tmpl%20dir/SE.cfg\"},\n"
        "                \"region\": {\"startLine\": 2, \"startColumn\": 1}\n"
        "              }\n"
        "            }\n"
        "          ]\n"
        "        },\n"
        "        {\n"
        "          \"ruleId\": \"syntax\",\n"
        "          \"ruleIndex\": 2,\n"
        "          \"level\": \"note\",\n"
        "          \"message\": {\"text\": \"no file: bell\\u0007, latin-1 caf\\ufffd\"}\n"
        "        },\n"
        "        {\n"
        "          \"ruleId\": \"unreadable\",\n"
        "          \"ruleIndex\": 3,\n"
        "          \"level\": \"error\",\n"
        "          \"message\": {\"text\": \"cannot open\"},\n"
        "          \"locations\": [\n"
        "            {\n"
        "              \"physicalLocation\": {\n"
        "                \"artifactLocation\": {\"uri\": \"file:///abs/%C3%9C.ptt\"}\n"
        "              }\n"
        "            }\n"
        "          ]\n"
        "        },\n"
        "        {\n"
        "          \"ruleId\": \"bad-size\",\n"
        "          \"ruleIndex\": 0,\n"
        "          \"level\": \"error\",\n"
        "          \"message\": {\"text\": \"size too large\"},\n"
        "          \"locations\": [\n"
        "            {\n"
        "              \"physicalLocation\": {\n"
        "                \"artifactLocation\": {\"uri\": \"SE.rul\"},\n"
        "                \"region\": {\"startLine\": 7}\n"
        "              }\n"
        "            }\n"
        "          ]\n"
        "        }\n"
        "      ]\n"
        "    }\n"
        "  ]\n"
        "}\n";
    assert_string_equal(out, want);
    /* What code-scanning dashboards look for, by name. */
    const char *names[] = {"\"version\": \"2.1.0\"",
                           "\"$schema\"",
                           "\"runs\"",
                           "\"tool\"",
                           "\"driver\"",
                           "\"name\": \"ferryc\"",
                           "\"informationUri\"",
                           "\"rules\"",
                           "\"shortDescription\"",
                           "\"results\"",
                           "\"ruleId\"",
                           "\"level\"",
                           "\"message\"",
                           "\"locations\"",
                           "\"physicalLocation\"",
                           "\"artifactLocation\"",
                           "\"uri\"",
                           "\"region\"",
                           "\"startLine\"",
                           "\"startColumn\""};
    for (size_t i = 0; i < FY_ARRAY_LEN(names); i++)
        assert_non_null(strstr(out, names[i]));
    free(out);
    fy_diags_free(&d);
}

static void test_sarif_empty(void **state)
{
    (void)state;
    fy_diags d = {0};
    char *out = render(FY_REPORT_SARIF, &d);
    assert_true(json_valid(out));
    assert_non_null(strstr(out, "\"rules\": []"));
    assert_non_null(strstr(out, "\"results\": []"));
    free(out);
}

static void test_formats_and_print(void **state)
{
    (void)state;
    fy_report_format f;
    assert_int_equal(fy_report_parse_format("text", &f), 0);
    assert_int_equal(f, FY_REPORT_TEXT);
    assert_int_equal(fy_report_parse_format("JSON", &f), 0);
    assert_int_equal(f, FY_REPORT_JSON);
    assert_int_equal(fy_report_parse_format("Sarif", &f), 0);
    assert_int_equal(f, FY_REPORT_SARIF);
    assert_int_equal(fy_report_parse_format("xml", &f), -1);
    assert_int_equal(fy_report_parse_format("", &f), -1);
    assert_string_equal(fy_report_check_description("no-such-check"),
                        "A ferryc check (see docs/lint.md).");

    fy_diags d = {0};
    fy_diag_add(&d, FY_DIAG_ERROR, "a.rul", 1, 2, "syntax", "m");
    FILE *tf = tmpfile();
    assert_non_null(tf);
    assert_int_equal(fy_report_print(tf, FY_REPORT_TEXT, &d), 0);
    rewind(tf);
    char line[64] = {0};
    assert_non_null(fgets(line, sizeof(line), tf));
    assert_string_equal(line, "a.rul:1:2: error: m [syntax]\n");
    fclose(tf);
    FILE *full = fopen("/dev/full", "w");
    if (full) { /* a write that fails is reported */
        assert_int_equal(fy_report_print(full, FY_REPORT_JSON, &d), -1);
        fclose(full);
    }
    fy_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_string), cmocka_unit_test(test_sarif),
        cmocka_unit_test(test_sarif_empty), cmocka_unit_test(test_formats_and_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
