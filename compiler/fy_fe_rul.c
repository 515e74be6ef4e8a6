/* SE.rul front end: one file rule a line,
 *     ACTION LOCATION PATTERN [CONDITION ...] [-> DESTINATION]
 * lowered into fy_ir_rule (stage FY_STAGE_TEMPLATE, kind FY_OBJ_FILE). The language is
 * described for rule authors in docs/templates.md. A line with an error yields no rule, but
 * every error in it is reported and parsing goes on at the next line. */
#include "fy_ir.h"
#include "fy_lex.h"

#include <stdlib.h>
#include <string.h>

typedef struct rul_ctx {
    fy_ir *ir;
    fy_diags *diags;
    const char *file;
    const fy_line *line;
    int errors; /* errors on the current line */
} rul_ctx;

static void err_at(rul_ctx *c, size_t off, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(rul_ctx *c, size_t off, const char *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(c->diags, FY_DIAG_ERROR, c->file, c->line->no, fy_lex_col(c->line, off), check,
                 fmt, ap);
    va_end(ap);
    c->errors++;
}

static bool field_is(const fy_field *f, const char *word)
{
    return fy_strcasecmp_u8(f->s, f->n, word, strlen(word)) == 0;
}

static bool is_arrow(const fy_field *f)
{
    return !f->quoted && f->n >= 2 && f->s[0] == '-' && f->s[1] == '>';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- conditions ---- */

/* The conditions, in the order of cond_names. */
enum { C_RECURSE, C_NORECURSE, C_SIZE, C_MODIFIED, C_NEWER, C_OLDER, C_ATTRIB };
static const char *const cond_names[] = {"recurse",    "norecurse",  "size",  "modified",
                                         "newer-than", "older-than", "attrib"};

static bool is_op_char(char ch)
{
    return ch == '<' || ch == '>' || ch == '=' || ch == '!';
}

/* Parses the comparison operator at t[*i..n). */
static bool parse_cmp(const char *t, size_t n, size_t *i, fy_cmp *cmp)
{
    static const struct {
        const char *s;
        fy_cmp cmp;
    } ops[] = {{">=", FY_CMP_GE}, {"<=", FY_CMP_LE}, {"!=", FY_CMP_NE}, {"<>", FY_CMP_NE},
               {"==", FY_CMP_EQ}, {">", FY_CMP_GT},  {"<", FY_CMP_LT},  {"=", FY_CMP_EQ}};
    size_t e = *i;
    while (e < n && is_op_char(t[e]))
        e++;
    for (size_t k = 0; k < FY_ARRAY_LEN(ops); k++) {
        if (strlen(ops[k].s) == e - *i && memcmp(ops[k].s, t + *i, e - *i) == 0) {
            *cmp = ops[k].cmp;
            *i = e;
            return true;
        }
    }
    return false;
}

/* Reads a whole number at t[*i..n) into *v; false on no digits or overflow. */
static bool parse_uint(const char *t, size_t n, size_t *i, uint64_t *v, bool *overflow)
{
    size_t s = *i;
    uint64_t x = 0;
    *overflow = false;
    while (*i < n && is_digit(t[*i])) {
        if (__builtin_mul_overflow(x, 10, &x) ||
            __builtin_add_overflow(x, (uint64_t)(t[*i] - '0'), &x))
            *overflow = true;
        (*i)++;
    }
    *v = x;
    return *i > s;
}

/* size<op>NUMBER[.FRACTION][UNIT] -> bytes. */
static bool parse_size(rul_ctx *c, const fy_field *f, size_t vs, int64_t *out)
{
    const char *t = f->s;
    size_t n = f->n, i = vs;
    uint64_t whole = 0, frac = 0, scale = 1;
    bool ovf = false;
    if (!parse_uint(t, n, &i, &whole, &ovf)) {
        err_at(c, f->coff + vs, "bad-size",
               "a size is a number with an optional unit B, KB, MB or GB (size>10MB)");
        return false;
    }
    if (i < n && t[i] == '.') {
        i++;
        size_t fs = i;
        while (i < n && is_digit(t[i])) {
            if (i - fs < 6) {
                frac = frac * 10 + (uint64_t)(t[i] - '0');
                scale *= 10;
            }
            i++;
        }
        if (i == fs) {
            err_at(c, f->coff + i, "bad-size", "digits expected after the decimal point");
            return false;
        }
    }
    static const struct {
        const char *u;
        uint64_t mult;
    } units[] = {{"B", 1}, {"KB", 1024}, {"MB", 1024 * 1024}, {"GB", 1024 * 1024 * 1024}};
    uint64_t mult = 1;
    if (i < n) {
        size_t k;
        for (k = 0; k < FY_ARRAY_LEN(units); k++)
            if (fy_strcasecmp_u8(units[k].u, strlen(units[k].u), t + i, n - i) == 0) break;
        if (k == FY_ARRAY_LEN(units)) {
            err_at(c, f->coff + i, "bad-size",
                   "unknown size unit '%.*s': use B, KB, MB or GB (1 KB = 1024 B)", (int)(n - i),
                   t + i);
            return false;
        }
        mult = units[k].mult;
    }
    uint64_t bytes;
    if (ovf || __builtin_mul_overflow(whole, mult, &bytes) ||
        __builtin_add_overflow(bytes, frac * mult / scale, &bytes) || bytes > INT64_MAX) {
        err_at(c, f->coff + vs, "bad-size", "size too large");
        return false;
    }
    *out = (int64_t)bytes;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* modified<op>YYYY-MM-DD -> seconds since 1970-01-01 00:00 of that date. */
static bool parse_date(rul_ctx *c, const fy_field *f, size_t vs, int64_t *out)
{
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    const char *t = f->s;
    size_t n = f->n, i = vs;
    unsigned part[3] = {0, 0, 0};
    size_t len[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        size_t s = i;
        while (i < n && is_digit(t[i]) && i - s < 5)
            part[k] = part[k] * 10 + (unsigned)(t[i++] - '0');
        len[k] = i - s;
        if (k < 2) {
            if (i >= n || t[i] != '-') break;
            i++;
        }
    }
    if (i != n || len[0] != 4 || len[1] < 1 || len[1] > 2 || len[2] < 1 || len[2] > 2) {
        err_at(c, f->coff + vs, "bad-date", "bad date '%.*s': write YYYY-MM-DD (2009-01-31)",
               (int)(n - vs), t + vs);
        return false;
    }
    unsigned y = part[0], m = part[1], d = part[2];
    if (y < 1601) {
        err_at(c, f->coff + vs, "bad-date",
               "year %u is before 1601, the start of Windows file times", y);
        return false;
    }
    if (m < 1 || m > 12) {
        err_at(c, f->coff + vs, "bad-date", "'%.*s' is not a date: month %u does not exist",
               (int)(n - vs), t + vs, m);
        return false;
    }
    if (d < 1 || d > days_in_month(y, m)) {
        err_at(c, f->coff + vs, "bad-date", "'%.*s' is not a date: %s %u has %u days",
               (int)(n - vs), t + vs, months[m - 1], y, days_in_month(y, m));
        return false;
    }
    *out = days_from_civil(y, m, d) * 86400;
    return true;
}

/* newer-than=30d / older-than=365d -> seconds. */
static bool parse_age(rul_ctx *c, const fy_field *f, size_t vs, int64_t *out)
{
    const char *t = f->s;
    size_t n = f->n, i = vs;
    uint64_t v;
    bool ovf;
    if (!parse_uint(t, n, &i, &v, &ovf)) {
        err_at(c, f->coff + vs, "bad-date",
               "an age is a whole number with a unit: d (days), h (hours) or w (weeks), "
               "as in newer-than=30d");
        return false;
    }
    uint64_t mult = 0;
    if (i + 1 == n) {
        char u = (char)(t[i] | 0x20);
        mult = u == 'h' ? 3600 : u == 'd' ? 86400 : u == 'w' ? 7 * 86400 : 0;
    }
    if (!mult && i == n) {
        err_at(c, f->coff + i, "bad-date",
               "an age needs a unit: d (days), h (hours) or w (weeks), as in 30d");
        return false;
    }
    if (!mult) {
        err_at(c, f->coff + i, "bad-date",
               "unknown unit '%.*s': use d (days), h (hours) or w (weeks)", (int)(n - i), t + i);
        return false;
    }
    uint64_t secs;
    if (ovf || __builtin_mul_overflow(v, mult, &secs) || secs > INT64_MAX) {
        err_at(c, f->coff + vs, "bad-date", "age too large");
        return false;
    }
    *out = (int64_t)secs;
    return true;
}

/* attrib=+H-S: letters after '+' must be set, after '-' clear. */
static bool parse_attrib(rul_ctx *c, const fy_field *f, size_t vs, uint32_t *set, uint32_t *clear)
{
    const char *t = f->s;
    size_t n = f->n;
    int sign = 0;
    bool ok = true;
    *set = *clear = 0;
    if (vs == n) {
        err_at(c, f->coff + vs, "bad-condition",
               "attrib needs attribute letters, as in attrib=+H-S (R, H, S, A)");
        return false;
    }
    for (size_t i = vs; i < n; i++) {
        char ch = t[i];
        if (ch == '+' || ch == '-') {
            sign = ch == '+' ? 1 : -1;
            continue;
        }
        uint32_t bit = 0;
        switch (ch | 0x20) {
        case 'r':
            bit = FY_ATTR_READONLY;
            break;
        case 'h':
            bit = FY_ATTR_HIDDEN;
            break;
        case 's':
            bit = FY_ATTR_SYSTEM;
            break;
        case 'a':
            bit = FY_ATTR_ARCHIVE;
            break;
        }
        if (!bit) {
            size_t cl;
            uint32_t cp;
            cl = fy_utf8_next(t + i, n - i, &cp);
            err_at(c, f->coff + i, "bad-condition",
                   "unknown attribute '%.*s': use R (read-only), H (hidden), S (system) or A "
                   "(archive)",
                   (int)cl, t + i);
            ok = false;
            i += cl - 1;
            continue;
        }
        if (!sign) {
            err_at(c, f->coff + i, "bad-condition",
                   "write + (must be set) or - (must be clear) before the attribute letter, as "
                   "in attrib=+H-S");
            ok = false;
            sign = 1; /* report this once, then read on */
            continue;
        }
        if ((sign > 0 ? *clear : *set) & bit) {
            err_at(c, f->coff + i, "bad-condition",
                   "attribute '%c' is asked to be both set and clear", ch);
            ok = false;
            continue;
        }
        *(sign > 0 ? set : clear) |= bit;
    }
    if (ok && !*set && !*clear) {
        err_at(c, f->coff + vs, "bad-condition",
               "attrib needs attribute letters, as in attrib=+H-S (R, H, S, A)");
        ok = false;
    }
    return ok;
}

typedef struct cond_vec {
    fy_ir_cond *v;
    size_t n, cap;
} cond_vec;

/* One CONDITION field. Appends to conds, or sets *recurse (-1 unset, 0, 1). */
static void parse_cond(rul_ctx *c, const fy_field *f, cond_vec *conds, int *recurse)
{
    const char *t = f->s;
    size_t n = f->n, i = 0;
    while (i < n && (((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z') || t[i] == '-'))
        i++;
    size_t name_len = i;
    int which = -1;
    for (size_t k = 0; k < FY_ARRAY_LEN(cond_names); k++)
        if (fy_strcasecmp_u8(t, name_len, cond_names[k], strlen(cond_names[k])) == 0)
            which = (int)k;
    if (which < 0) {
        int near = fy_lex_nearest(t, name_len ? name_len : n, cond_names, FY_ARRAY_LEN(cond_names));
        if (near >= 0)
            err_at(c, f->coff, "bad-condition", "unknown condition '%.*s'; did you mean '%s'?",
                   (int)n, t, cond_names[near]);
        else
            err_at(c, f->coff, "bad-condition",
                   "unknown condition '%.*s'; conditions are recurse, norecurse, size, modified, "
                   "newer-than, older-than and attrib (a field with spaces must be quoted)",
                   (int)n, t);
        return;
    }
    if (which == C_RECURSE || which == C_NORECURSE) {
        if (i < n) {
            err_at(c, f->coff + i, "bad-condition", "'%s' takes no value", cond_names[which]);
            return;
        }
        int want = which == C_RECURSE;
        if (*recurse >= 0 && *recurse != want) {
            err_at(c, f->coff, "bad-condition", "'%s' contradicts the '%s' before it on this line",
                   cond_names[which], cond_names[*recurse ? C_RECURSE : C_NORECURSE]);
            return;
        }
        *recurse = want;
        return;
    }
    fy_ir_cond cd = {0};
    cd.pos = (fy_pos){c->file, c->line->no, fy_lex_col(c->line, f->off)};
    size_t op = i;
    if (i == n || fy_lex_blank(t[i])) {
        err_at(c, f->off, "bad-condition",
               "'%s' needs an operator and a value, written without spaces (%s)", cond_names[which],
               which == C_SIZE       ? "size>10MB"
               : which == C_MODIFIED ? "modified>=2009-01-01"
               : which == C_ATTRIB   ? "attrib=+H-S"
               : which == C_NEWER    ? "newer-than=30d"
                                     : "older-than=365d");
        return;
    }
    if (!parse_cmp(t, n, &i, &cd.cmp)) {
        size_t e = i;
        while (e < n && is_op_char(t[e]))
            e++;
        if (e == i)
            err_at(c, f->coff + i, "bad-condition",
                   "an operator (>, >=, <, <=, = or !=) must follow '%s'", cond_names[which]);
        else
            err_at(c, f->coff + i, "bad-condition",
                   "unknown operator '%.*s': use >, >=, <, <=, = or !=", (int)(e - i), t + i);
        return;
    }
    size_t vs = i;
    bool ok = false;
    switch (which) {
    case C_SIZE:
        cd.kind = FY_COND_SIZE;
        ok = parse_size(c, f, vs, &cd.value);
        break;
    case C_MODIFIED:
        cd.kind = FY_COND_MODIFIED;
        ok = parse_date(c, f, vs, &cd.value);
        break;
    case C_NEWER:
    case C_OLDER:
        cd.kind = which == C_NEWER ? FY_COND_NEWER_THAN : FY_COND_OLDER_THAN;
        if (cd.cmp != FY_CMP_EQ) {
            err_at(c, f->coff + op, "bad-condition", "'%s' is written with '=': %s",
                   cond_names[which], which == C_NEWER ? "newer-than=30d" : "older-than=365d");
            return;
        }
        /* The comparison is in the kind: age < value (newer) or age > value (older). */
        cd.cmp = which == C_NEWER ? FY_CMP_LT : FY_CMP_GT;
        ok = parse_age(c, f, vs, &cd.value);
        break;
    case C_ATTRIB:
        cd.kind = FY_COND_ATTRIB;
        if (cd.cmp != FY_CMP_EQ) {
            err_at(c, f->coff + op, "bad-condition", "'attrib' is written with '=': attrib=+H-S");
            return;
        }
        ok = parse_attrib(c, f, vs, &cd.attr_set, &cd.attr_clear);
        break;
    }
    if (!ok) return;
    if (conds->n == conds->cap) {
        conds->cap = conds->cap ? 2 * conds->cap : 4;
        conds->v = fy_xrealloc(conds->v, conds->cap * sizeof(*conds->v));
    }
    conds->v[conds->n++] = cd;
}

/* ---- paths ---- */

static char *norm_location(rul_ctx *c, const fy_field *f, const char *what)
{
    const char *err = NULL;
    size_t off = 0;
    char *p = fy_norm_file_path(&c->ir->arena, f->s, f->n, &err, &off);
    if (p) return p;
    bool reg = f->n >= 2 && (f->s[0] | 0x20) == 'h' && (f->s[1] | 0x20) == 'k';
    err_at(c, f->coff + off, fy_lex_path_check(err), "%s: %s%s", what, err,
           reg ? " (SE.rul holds file rules; registry rules go in SE.cfg [Registry Rules])" : "");
    return NULL;
}

static bool check_pattern(rul_ctx *c, const fy_field *f)
{
    if (f->n == 0) {
        err_at(c, f->off, "bad-path", "empty file-name pattern; write * for every file");
        return false;
    }
    for (size_t i = 0; i < f->n; i++) {
        char ch = f->s[i];
        if (ch == '\\' || ch == '/') {
            err_at(c, f->coff + i, "bad-path",
                   "PATTERN is a file name, not a path; put the folder in LOCATION "
                   "(include \"<My Documents>\\Reports\" *.xls)");
            return false;
        }
        if (ch == '<' || ch == '>' || ch == ':' || ch == '|' || ch == '"') {
            err_at(c, f->coff + i, "bad-path", "'%c' cannot appear in a file name", ch);
            return false;
        }
    }
    return true;
}

/* ---- one line ---- */

static void parse_line(rul_ctx *c, const fy_fields *fs)
{
    const fy_field *v = fs->v;
    size_t n = fs->n;
    if (n == 0) return;
    fy_action action;
    if (field_is(&v[0], "include")) {
        action = FY_ACT_INCLUDE;
    } else if (field_is(&v[0], "exclude")) {
        action = FY_ACT_EXCLUDE;
    } else {
        static const char *const acts[] = {"include", "exclude"};
        int near = fy_lex_nearest(v[0].s, v[0].n, acts, 2);
        if (near >= 0)
            err_at(c, v[0].off, "syntax", "unknown action '%.*s'; did you mean '%s'?", (int)v[0].n,
                   v[0].s, acts[near]);
        else
            err_at(c, v[0].off, "syntax",
                   "unknown action '%.*s': a rule is 'include|exclude LOCATION PATTERN "
                   "[CONDITION ...] [-> DESTINATION]'",
                   (int)v[0].n, v[0].s);
        return;
    }
    /* Where the rule's own fields end: at "->" or the end of the line. */
    size_t arrow = n;
    for (size_t k = 1; k < n; k++)
        if (is_arrow(&v[k])) {
            arrow = k;
            break;
        }
    if (arrow < 3) {
        size_t at = arrow < n ? v[arrow].off : v[n - 1].end;
        if (arrow <= 1)
            err_at(c, at, "syntax",
                   "missing LOCATION and PATTERN after '%.*s' (%.*s LOCATION PATTERN)", (int)v[0].n,
                   v[0].s, (int)v[0].n, v[0].s);
        else
            err_at(c, at, "syntax", "missing PATTERN after the location (write * for every file)");
        return;
    }
    char *loc = norm_location(c, &v[1], "LOCATION");
    char *leaf = NULL;
    if (check_pattern(c, &v[2])) {
        /* "*.*" is how Windows users write "every file", also those without an extension. */
        if (v[2].n == 3 && memcmp(v[2].s, "*.*", 3) == 0)
            leaf = fy_arena_strdup(&c->ir->arena, "*");
        else
            leaf = fy_arena_strndup(&c->ir->arena, v[2].s, v[2].n);
    }
    cond_vec conds = {0};
    int recurse = -1;
    for (size_t k = 3; k < arrow; k++)
        parse_cond(c, &v[k], &conds, &recurse);

    char *dest = NULL;
    if (arrow < n) {
        const fy_field *a = &v[arrow];
        if (action == FY_ACT_EXCLUDE)
            err_at(c, a->off, "remap-on-exclude",
                   "'->' remaps where an included file is placed; an exclude has nothing to "
                   "place");
        fy_field d;
        bool have_dest = true;
        size_t next = arrow + 1;
        if (a->n > 2) { /* "->D:\Archive" glued */
            d = *a;
            d.s += 2;
            d.n -= 2;
            d.coff += 2;
        } else if (next < n) {
            d = v[next++];
        } else {
            err_at(c, a->end, "syntax", "missing DESTINATION after '->'");
            have_dest = false;
        }
        if (have_dest) {
            if (next < n)
                err_at(c, v[next].off, "syntax",
                       "unexpected '%.*s' after the destination (conditions go before '->')",
                       (int)v[next].n, v[next].s);
            dest = norm_location(c, &d, "DESTINATION");
            if (dest && (strcmp(dest, "*") == 0 || strncmp(dest, "*:", 2) == 0)) {
                err_at(c, d.off, "bad-path",
                       "DESTINATION must be one folder (a known-folder token or a drive), not "
                       "'*' or '*:'");
                dest = NULL;
            }
        }
        if (loc && strcmp(loc, "*") == 0)
            err_at(c, v[1].off, "bad-path",
                   "a remap keeps paths relative to LOCATION, so LOCATION must be a folder, not "
                   "'*'");
    }
    if (c->errors == 0) {
        fy_ir_rule *r = &FY_APUSH(&c->ir->arena, c->ir->rules, c->ir->nrules, c->ir->rules_cap);
        memset(r, 0, sizeof(*r));
        r->stage = FY_STAGE_TEMPLATE;
        r->action = action;
        r->pat.kind = FY_OBJ_FILE;
        r->pat.node = loc;
        r->pat.leaf = leaf;
        r->pat.recurse = recurse != 0;
        r->pat.keys = false;
        for (size_t k = 0; k < conds.n; k++)
            FY_APUSH(&c->ir->arena, r->conds, r->nconds, r->conds_cap) = conds.v[k];
        r->dest = dest;
        r->app = -1;
        r->component = -1;
        r->detection = false;
        r->pos = (fy_pos){c->file, c->line->no, fy_lex_col(c->line, v[0].off)};
    }
    free(conds.v);
}

int fy_fe_rul(fy_ir *ir, const char *path, fy_diags *diags)
{
    char *text;
    size_t len;
    if (fy_lex_load(path, path, diags, &text, &len) != 0) return -1;
    rul_ctx c = {.ir = ir, .diags = diags, .file = fy_ir_intern_file(ir, path)};
    fy_lexer lx;
    fy_line line;
    fy_fields fs = {0};
    fy_lex_init(&lx, text, len);
    while (fy_lex_next(&lx, &line)) {
        const char *err;
        size_t off;
        c.line = &line;
        c.errors = 0;
        if (fy_lex_fields(&line, &fs, &err, &off) != 0) {
            if (off >= 2 && line.s[off] == '"' && line.s[off - 2] == '-' && line.s[off - 1] == '>')
                err_at(&c, off, "syntax", "put a space between '->' and the quoted destination");
            else
                err_at(&c, off, "syntax", "%s", err);
            continue;
        }
        parse_line(&c, &fs);
    }
    fy_fields_free(&fs);
    free(text);
    return 0;
}
