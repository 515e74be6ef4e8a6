/* Diagnostic printers: GCC-style text, JSON, SARIF 2.1.0 (see fy_report.h). */
#include "fy_report.h"

#include <stdlib.h>
#include <string.h>

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

int fy_report_parse_format(const char *name, fy_report_format *out)
{
    static const struct {
        const char *name;
        fy_report_format fmt;
    } names[] = {{"text", FY_REPORT_TEXT}, {"json", FY_REPORT_JSON}, {"sarif", FY_REPORT_SARIF}};
    for (size_t i = 0; i < FY_ARRAY_LEN(names); i++) {
        if (fy_streq_ci(name, names[i].name)) {
            *out = names[i].fmt;
            return 0;
        }
    }
    return -1;
}

const char *fy_report_check_description(const char *check)
{
    static const struct {
        const char *check, *text;
    } checks[] = {
        {"syntax", "A line of a rule source does not follow the language's syntax."},
        {"encoding", "A source file is not UTF-8 or UTF-16 text with a byte-order mark."},
        {"unreadable", "A source file cannot be opened or read."},
        {"unknown-token", "A path names a known-folder token that does not exist."},
        {"bad-path", "A path, folder or file-name pattern cannot be used."},
        {"bad-size", "A size condition cannot be read (units are B, KB, MB, GB)."},
        {"bad-date", "A date or age cannot be read, or names a day that does not exist."},
        {"bad-condition", "A rule condition is unknown or malformed."},
        {"remap-on-exclude", "A '-> DESTINATION' remap is written on an exclude rule."},
        {"registry-root", "A registry path does not start with HKCU, HKLM or HKCR."},
        {"unknown-section", "An SE.cfg section is unknown; its keys are ignored."},
        {"unknown-key", "An SE.cfg key is unknown in its section; it is ignored."},
        {"bad-value", "An SE.cfg key has a value it does not accept."},
        {"duplicate-key", "An SE.cfg setting that holds one value is set more than once."},
        {"ambiguous-file", "Two files beside a template differ only in letter case."},
        {"io", "An appdef file or folder cannot be read."},
        {"appdef-schema", "An application definition has an unknown field, a wrong type or a missing field."},
        {"duplicate-id", "Two application definitions have the same id."},
        {"duplicate-path", "Two applications or components claim the same content-tree path."},
        {"unknown-version", "A conversion names a version its application does not declare."},
        {"bad-regex", "A regular expression does not compile (PCRE2's message)."},
        {"hardcoded-profile-path", "An appdef names a profile folder by its path instead of a token."},
        {"hardcoded-path", "An appdef names a system folder by its path instead of a token."},
        {"unknown-ptt-path", "An SE.ptt line names a content path that no appdef defines."},
        {"never-matches", "A rule's conditions exclude each other, so it can never match."},
        {"shadowed-rule", "A later rule matches everything this rule matches, so it never decides."},
        {"remap-conflict", "Two remaps send the same files to different destinations."},
        {"whole-drive", "A rule includes a whole drive with no pattern or condition."},
        {"conversion-cycle", "An application's version conversions form a cycle."},
        {"internal", "ferryc could not build the program (a bug: please report it)."},
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(checks); i++)
        if (strcmp(check, checks[i].check) == 0) return checks[i].text;
    return "A ferryc check (see docs/lint.md).";
}

void fy_report_json_string(fy_buf *out, const char *s)
{
    size_t n = s ? strlen(s) : 0, i = 0;
    fy_buf_putc(out, '"');
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t l = fy_utf8_next(s + i, n - i, &cp);
            if (l == 1) {
                fy_buf_puts(out, "\\ufffd"); /* not UTF-8: keep the JSON valid */
            } else {
                fy_buf_put(out, s + i, l);
            }
            i += l;
            continue;
        }
        switch (c) {
        case '"':
            fy_buf_puts(out, "\\\"");
            break;
        case '\\':
            fy_buf_puts(out, "\\\\");
            break;
        case '\n':
            fy_buf_puts(out, "\\n");
            break;
        case '\r':
            fy_buf_puts(out, "\\r");
            break;
        case '\t':
            fy_buf_puts(out, "\\t");
            break;
        case '\b':
            fy_buf_puts(out, "\\b");
            break;
        case '\f':
            fy_buf_puts(out, "\\f");
            break;
        default:
            if (c < 0x20 || c == 0x7F)
                fy_buf_printf(out, "\\u%04x", c);
            else
                fy_buf_putc(out, c);
        }
        i++;
    }
    fy_buf_putc(out, '"');
}

static void write_text(fy_buf *out, const fy_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const fy_diag *g = &d->v[i];
        fy_buf_puts(out, g->file ? g->file : "ferryc");
        if (g->file && g->line) {
            fy_buf_printf(out, ":%u", g->line);
            if (g->col) fy_buf_printf(out, ":%u", g->col);
        }
        fy_buf_printf(out, ": %s: %s [%s]\n", fy_diag_level_name(g->level), g->message, g->check);
    }
}

static void write_json(fy_buf *out, const fy_diags *d)
{
    if (d->n == 0) {
        fy_buf_puts(out, "[]\n");
        return;
    }
    fy_buf_puts(out, "[\n");
    for (size_t i = 0; i < d->n; i++) {
        const fy_diag *g = &d->v[i];
        fy_buf_puts(out, "  {\"file\": ");
        if (g->file)
            fy_report_json_string(out, g->file);
        else
            fy_buf_puts(out, "null");
        fy_buf_printf(out,
                      ", \"line\": %u, \"column\": %u, \"level\": \"%s\", \"check\": ", g->line,
                      g->col, fy_diag_level_name(g->level));
        fy_report_json_string(out, g->check);
        fy_buf_puts(out, ", \"message\": ");
        fy_report_json_string(out, g->message);
        fy_buf_puts(out, i + 1 < d->n ? "},\n" : "}\n");
    }
    fy_buf_puts(out, "]\n");
}

/* A file name as a URI reference: unreserved characters and '/' as they are, every other
 * byte percent-encoded; an absolute path becomes a file:// URI. */
static void put_uri(fy_buf *out, const char *path)
{
    fy_buf u = {0};
    if (path[0] == '/') fy_buf_puts(&u, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
            fy_buf_putc(&u, c);
        else
            fy_buf_printf(&u, "%%%02X", c);
    }
    fy_report_json_string(out, fy_buf_cstr(&u));
    fy_buf_free(&u);
}

static void write_sarif(fy_buf *out, const fy_diags *d)
{
    /* The rules array lists each check used, in order of first use; results refer to it by
     * index as well as by id. */
    const char **rules = fy_xcalloc(d->n ? d->n : 1, sizeof(*rules));
    size_t *rule_of = fy_xcalloc(d->n ? d->n : 1, sizeof(*rule_of));
    size_t nrules = 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t k;
        for (k = 0; k < nrules; k++)
            if (strcmp(rules[k], d->v[i].check) == 0) break;
        if (k == nrules) rules[nrules++] = d->v[i].check;
        rule_of[i] = k;
    }
    fy_buf_puts(out, "{\n"
                     "  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
                     "  \"version\": \"2.1.0\",\n"
                     "  \"runs\": [\n"
                     "    {\n"
                     "      \"tool\": {\n"
                     "        \"driver\": {\n"
                     "          \"name\": \"ferryc\",\n"
                     "          \"version\": ");
    fy_report_json_string(out, FERRY_VERSION);
    fy_buf_puts(out, ",\n          \"informationUri\": ");
    fy_report_json_string(out, FY_REPORT_INFORMATION_URI);
    fy_buf_puts(out, ",\n          \"rules\": [");
    for (size_t k = 0; k < nrules; k++) {
        fy_buf_puts(out, k ? ",\n            {\"id\": " : "\n            {\"id\": ");
        fy_report_json_string(out, rules[k]);
        fy_buf_puts(out, ", \"shortDescription\": {\"text\": ");
        fy_report_json_string(out, fy_report_check_description(rules[k]));
        fy_buf_puts(out, "}}");
    }
    fy_buf_puts(out, nrules ? "\n          ]\n" : "]\n");
    fy_buf_puts(out, "        }\n"
                     "      },\n"
                     "      \"results\": [");
    for (size_t i = 0; i < d->n; i++) {
        const fy_diag *g = &d->v[i];
        fy_buf_puts(out, i ? ",\n        {\n" : "\n        {\n");
        fy_buf_puts(out, "          \"ruleId\": ");
        fy_report_json_string(out, g->check);
        fy_buf_printf(out, ",\n          \"ruleIndex\": %zu,\n", rule_of[i]);
        fy_buf_printf(out, "          \"level\": \"%s\",\n", fy_diag_level_name(g->level));
        fy_buf_puts(out, "          \"message\": {\"text\": ");
        fy_report_json_string(out, g->message);
        fy_buf_puts(out, "}");
        if (g->file) {
            fy_buf_puts(out, ",\n          \"locations\": [\n"
                             "            {\n"
                             "              \"physicalLocation\": {\n"
                             "                \"artifactLocation\": {\"uri\": ");
            put_uri(out, g->file);
            fy_buf_puts(out, "}");
            if (g->line) {
                fy_buf_printf(out, ",\n                \"region\": {\"startLine\": %u", g->line);
                if (g->col) fy_buf_printf(out, ", \"startColumn\": %u", g->col);
                fy_buf_puts(out, "}");
            }
            fy_buf_puts(out, "\n              }\n"
                             "            }\n"
                             "          ]");
        }
        fy_buf_puts(out, "\n        }");
    }
    fy_buf_puts(out, d->n ? "\n      ]\n" : "]\n");
    fy_buf_puts(out, "    }\n"
                     "  ]\n"
                     "}\n");
    free(rules);
    free(rule_of);
}

void fy_report_write(fy_buf *out, fy_report_format fmt, const fy_diags *d)
{
    switch (fmt) {
    case FY_REPORT_TEXT:
        write_text(out, d);
        break;
    case FY_REPORT_JSON:
        write_json(out, d);
        break;
    case FY_REPORT_SARIF:
        write_sarif(out, d);
        break;
    }
}

int fy_report_print(FILE *f, fy_report_format fmt, const fy_diags *d)
{
    fy_buf b = {0};
    fy_report_write(&b, fmt, d);
    int rc = 0;
    if (b.len && fwrite(b.data, 1, b.len, f) != b.len) rc = -1;
    if (fflush(f) != 0) rc = -1;
    fy_buf_free(&b);
    return rc;
}
