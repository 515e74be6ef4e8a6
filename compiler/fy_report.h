/* Printing diagnostics for people, scripts and code-scanning dashboards (ferryc lint and
 * compile): GCC-style text, a JSON array, or SARIF 2.1.0.
 *
 * The printers write the diagnostics in the order they are in; call fy_diags_sort first
 * for file/line/column order. They do not change the diagnostics.
 *
 * Ownership: output is appended to the caller's fy_buf (or written to the caller's FILE);
 * nothing returned needs freeing. */
#ifndef FY_REPORT_H
#define FY_REPORT_H

#include <stdio.h>

#include "fy_common.h"

/* Where SARIF readers send people for documentation on ferryc's checks. */
#define FY_REPORT_INFORMATION_URI "https://github.com/ferry-migrate/ferry/blob/main/docs/lint.md"

typedef enum {
    FY_REPORT_TEXT = 0, /* file:line:col: error|warning|note: message [check] */
    FY_REPORT_JSON,     /* [{"file":..,"line":..,"column":..,"level":..,"check":..,"message":..}] */
    FY_REPORT_SARIF,    /* SARIF 2.1.0, one run, tool.driver.name "ferryc" */
} fy_report_format;

/* "text", "json" or "sarif" (case-insensitive) -> *out; -1 for anything else. */
int fy_report_parse_format(const char *name, fy_report_format *out);

/* Appends the whole report to out. Text: one line per diagnostic; a missing file prints as
 * "ferryc", a missing line or column is left out ("file: error: ...", "file:3: error: ..."),
 * as GCC does. JSON: a missing file is null, a missing line or column is 0. SARIF: a result
 * without a file has no locations; without a line, no region. */
void fy_report_write(fy_buf *out, fy_report_format fmt, const fy_diags *d);
/* fy_report_write to a stream; returns 0, or -1 when writing failed. */
int fy_report_print(FILE *f, fy_report_format fmt, const fy_diags *d);

/* One-line description of a check name, for SARIF rules and `ferryc lint --help`; a
 * generic text for names it does not know. Static string. */
const char *fy_report_check_description(const char *check);

/* Appends s as a JSON string literal (quotes included): '"', '\\' and control characters
 * escaped, invalid UTF-8 replaced by U+FFFD so the output is always valid JSON. */
void fy_report_json_string(fy_buf *out, const char *s);

#endif
