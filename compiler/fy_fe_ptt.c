/* SE.ptt front end: one content-tree path a line ("Applications|Microsoft Office|Word"),
 * a leading '-' deselects. Lowered into fy_ir_select with the levels trimmed and joined by
 * '|'. Whether a path exists is decided later by the checks, which know the appdefs. */
#include "fy_ir.h"
#include "fy_lex.h"

#include <stdlib.h>
#include <string.h>

/* Where the comment starts: '#' or ';' at the start of the line or after a blank, so a
 * name such as "C# Tools" is not cut. */
static size_t comment_start(const fy_line *l)
{
    for (size_t i = 0; i < l->n; i++)
        if ((l->s[i] == '#' || l->s[i] == ';') && (i == 0 || fy_lex_blank(l->s[i - 1]))) return i;
    return l->n;
}

static void parse_line(fy_ir *ir, fy_diags *diags, const char *file, const fy_line *l)
{
    const char *s = l->s;
    size_t b = 0, e = comment_start(l);
    fy_lex_trim(s, &b, &e);
    if (b == e) return;
    bool deselect = false;
    if (s[b] == '-') {
        deselect = true;
        size_t m = b;
        b++;
        while (b < e && fy_lex_blank(s[b]))
            b++;
        if (b == e) {
            fy_lex_diag(diags, FY_DIAG_ERROR, file, l, m, "syntax",
                        "'-' deselects a content-tree path; the path is missing "
                        "(-Applications|WinSCP|Host Keys)");
            return;
        }
    }
    fy_buf out = {0};
    bool ok = true;
    size_t i = b;
    for (;;) {
        size_t ls = i;
        while (i < e && s[i] != '|')
            i++;
        size_t lb = ls, le = i;
        fy_lex_trim(s, &lb, &le);
        if (lb == le) {
            fy_lex_diag(diags, FY_DIAG_ERROR, file, l, ls, "syntax",
                        "empty level in a content-tree path (levels are separated by one '|')");
            ok = false;
            break;
        }
        if (out.len) fy_buf_putc(&out, '|');
        fy_buf_put(&out, s + lb, le - lb);
        if (i >= e) break;
        i++; /* past '|' */
    }
    if (ok) {
        fy_ir_select *sel = &FY_APUSH(&ir->arena, ir->selects, ir->nselects, ir->selects_cap);
        sel->path = fy_arena_strndup(&ir->arena, (const char *)out.data, out.len);
        sel->deselect = deselect;
        sel->pos = (fy_pos){file, l->no, fy_lex_col(l, b)};
    }
    fy_buf_free(&out);
}

int fy_fe_ptt(fy_ir *ir, const char *path, fy_diags *diags)
{
    char *text;
    size_t len;
    if (fy_lex_load(path, path, diags, &text, &len) != 0) return -1;
    const char *file = fy_ir_intern_file(ir, path);
    fy_lexer lx;
    fy_line line;
    fy_lex_init(&lx, text, len);
    while (fy_lex_next(&lx, &line))
        parse_line(ir, diags, file, &line);
    free(text);
    return 0;
}
