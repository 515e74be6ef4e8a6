/* Data-driven tests of the template front ends (tests/data/templates/NAME.case).
 *
 * A case file:
 *
 *     # free text up to the first directive: what the case is about
 *     %%SOURCE SE.rul                  one or more sources; the text follows, to the next %%
 *     include "<My Documents>" *.doc
 *     %%VARIANTS utf8 utf16le-bom lf   optional: only these encodings / line ends
 *     %%IR                             optional: the expected canonical dump (tmpl_dump_ir)
 *     rule @1:1 include file "<My Documents>" [*.doc] recurse
 *     %%FAIL                           the expected diagnostics, exactly; absent = none
 *     1:9: error: ... [check]
 *
 * One source is read with the front end its extension names (.cfg, .rul, .ptt); several
 * sources are a template, read with fy_fe_template on the .cfg, and diagnostics and
 * positions then carry the file's name ("SE.rul:3:1: ..."). Each case runs once per
 * encoding (utf8, utf8-bom, utf16le-bom, utf16be-bom) and line end (lf, crlf, cr, and crlf
 * without a line end after the last line) and must give the same result in every one.
 *
 * Ownership: returned strings are malloc'd; the caller frees them. */
#ifndef TMPL_CASE_H
#define TMPL_CASE_H

#include "fy_ir.h"

/* Runs every case whose first source ends in ext (".rul", ".cfg", ".ptt"). Prints each
 * mismatch (expected and actual) to stderr. Returns the number of failed runs; *ncases
 * gets the number of cases found. */
int tmpl_run_cases(const char *ext, int *ncases);

/* Canonical dump of what the template front ends put in ir: one line per rule, condition,
 * destination, conversion step, selection and policy. Positions print as @line:col, or
 * @name:line:col when with_file. Also checks the invariants every template rule must meet
 * (stage, app, component, interned file); a broken one prints as a line starting "BAD". */
char *tmpl_dump_ir(const fy_ir *ir, bool with_file);
/* Diagnostics as "line:col: level: message [check]" lines (name: prefixed when with_file),
 * sorted by position. */
char *tmpl_dump_diags(fy_diags *d, bool with_file);

/* A fresh folder under $TMPDIR (or /tmp); rm -r with tmpl_rmtree. */
char *tmpl_mkdtemp(void);
void tmpl_rmtree(const char *dir);
/* Writes n bytes to dir/name; returns the malloc'd path. Fails the test on error. */
char *tmpl_write(const char *dir, const char *name, const void *data, size_t n);

#endif
