/* Front end for application definitions: one YAML file per application (appdefs/NAME.yaml),
 * lowered into the IR (fy_ir.h). The schema is described field by field in docs/appdefs.md.
 *
 * How it works: libyaml's event parser builds a small tree of our own (so that anchors,
 * aliases, tags and second documents can be refused where they occur, and nesting is
 * bounded); the tree is then checked against the schema and lowered into a staged
 * application, its rules and its conversions; the stage is committed to the IR only when
 * the application's identity (id, name, content-path) is sound, so later checks never see
 * a half-made application. Every IR node carries the position of the scalar it came from;
 * an error inside a scalar (a bad token, a regex fault) is reported at the exact column in
 * the source, through the scalar's quoting and escapes. */
#include "fy_ir.h"
#include "fy_tokens.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

enum {
    MAX_FILE_BYTES = 4 << 20, /* an appdef is a few KB; refuse anything absurd */
    MAX_DEPTH = 64,           /* nesting of mappings and lists */
    MAX_NAMED = 1000,         /* versions, components, map entries: checked pairwise */
};

/* ---- the YAML tree ---- */

typedef enum { YN_SCALAR, YN_MAP, YN_SEQ } yn_kind;

typedef struct yn {
    yn_kind kind;
    char *s; /* scalar text, NUL-terminated */
    size_t n;
    yaml_scalar_style_t style;
    yaml_mark_t start, end;
    struct yn **kids; /* MAP: key, value, key, value ...; SEQ: items */
    size_t nkids, cap;
} yn;

/* ---- what one file lowers into, before it is committed ---- */

typedef struct comp_extra {
    yn *detection_node; /* the explicit `detection:` value, or NULL */
    int detection;      /* -1 unset, 0 false, 1 true */
} comp_extra;

typedef struct ctx {
    fy_ir *ir;
    fy_diags *diags;
    const char *file; /* interned */
    const char *text; /* decoded UTF-8 */
    size_t len;
    size_t *lines; /* byte offset where each line starts, as libyaml counts lines */
    size_t nlines;
    fy_arena tmp; /* tree and scratch; freed after the file */

    fy_ir_app app;
    yn *path_node; /* for duplicate-path at commit */
    bool identity_ok;
    comp_extra *cx; /* parallel to app.components */
    size_t cx_cap;
    fy_ir_rule *rules;
    size_t nrules, rules_cap;
    fy_ir_conversion *convs;
    size_t nconvs, convs_cap;
} ctx;

/* ---- positions ---- */

/* libyaml counts as line breaks \r\n, \r, \n, U+0085, U+2028 and U+2029. Returns the length
 * of the break at s[i], or 0. */
static size_t break_len(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '\r') return (i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
    if (c == '\n') return 1;
    if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85) return 2;
    if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
        return 3;
    return 0;
}

static void build_lines(ctx *c)
{
    size_t cap = 64;
    c->lines = fy_xmalloc(cap * sizeof(*c->lines));
    c->lines[0] = 0;
    c->nlines = 1;
    for (size_t i = 0; i < c->len;) {
        size_t b = break_len(c->text, c->len, i);
        if (!b) {
            i++;
            continue;
        }
        i += b;
        if (c->nlines == cap) {
            cap *= 2;
            c->lines = fy_xrealloc(c->lines, cap * sizeof(*c->lines));
        }
        c->lines[c->nlines++] = i;
    }
}

/* Byte offset of a libyaml mark (0-based line, column in characters). */
static size_t mark_byte(const ctx *c, size_t line, size_t col)
{
    if (line >= c->nlines) return c->len;
    size_t i = c->lines[line];
    while (col > 0 && i < c->len) {
        uint32_t cp;
        size_t l = fy_utf8_next(c->text + i, c->len - i, &cp);
        if (break_len(c->text, c->len, i)) break;
        i += l;
        col--;
    }
    return i;
}

/* 1-based line and column of a byte offset. */
static void byte_pos(const ctx *c, size_t off, uint32_t *line, uint32_t *col)
{
    size_t lo = 0, hi = c->nlines;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (c->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    *line = (uint32_t)lo + 1;
    size_t s = c->lines[lo];
    *col = (uint32_t)fy_utf8_count(c->text + s, off > s ? off - s : 0) + 1;
}

static fy_pos node_pos(const ctx *c, const yn *v)
{
    fy_pos p = {c->file, (uint32_t)v->start.line + 1, (uint32_t)v->start.column + 1};
    return p;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The source byte at which byte `off` of a scalar's value was written: walks the raw text
 * through the scalar's quoting, escapes and line folding. Never leaves the scalar. */
static size_t scalar_src(const ctx *c, const yn *v, size_t off)
{
    size_t r = mark_byte(c, v->start.line, v->start.column);
    size_t end = mark_byte(c, v->end.line, v->end.column);
    const char *t = c->text;
    if (end > c->len) end = c->len;
    if (v->style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
        v->style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
        r++;
    } else if (v->style == YAML_LITERAL_SCALAR_STYLE || v->style == YAML_FOLDED_SCALAR_STYLE) {
        while (r < end && !break_len(t, end, r))
            r++; /* the header line: | or > */
        if (r < end) r += break_len(t, end, r);
        while (r < end && is_space(t[r]))
            r++;
    }
    size_t done = 0;
    while (done < off && r < end) {
        char ch = t[r];
        if (v->style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && ch == '\\' && r + 1 < end) {
            char e = t[r + 1];
            size_t hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
            if (break_len(t, end, r + 1)) { /* escaped line break: nothing produced */
                r += 1 + break_len(t, end, r + 1);
                while (r < end && is_space(t[r]))
                    r++;
                continue;
            }
            size_t produced = 1;
            if (hex) {
                uint32_t cp = 0;
                for (size_t k = 0; k < hex && r + 2 + k < end; k++) {
                    char h = t[r + 2 + k];
                    cp = cp * 16 + (uint32_t)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                produced = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            } else if (e == 'N' || e == '_') {
                produced = 2;
            } else if (e == 'L' || e == 'P') {
                produced = 3;
            }
            r += 2 + hex;
            done += produced;
            continue;
        }
        if (v->style == YAML_SINGLE_QUOTED_SCALAR_STYLE && ch == '\'' && r + 1 < end &&
            t[r + 1] == '\'') {
            r += 2;
            done++;
            continue;
        }
        if (is_space(ch) || break_len(t, end, r)) {
            /* A run of blanks: kept as is on one line; folded when it holds line breaks. */
            size_t q = r, breaks = 0;
            while (q < end && (is_space(t[q]) || break_len(t, end, q))) {
                size_t b = break_len(t, end, q);
                if (b) breaks++;
                q += b ? b : 1;
            }
            if (!breaks) {
                r++;
                done++;
                continue;
            }
            bool block =
                v->style == YAML_LITERAL_SCALAR_STYLE || v->style == YAML_FOLDED_SCALAR_STYLE;
            done += block ? breaks : (breaks == 1 ? 1 : breaks - 1);
            r = q;
            continue;
        }
        uint32_t cp;
        size_t l = fy_utf8_next(t + r, end - r, &cp);
        r += l;
        done += l;
    }
    return r;
}

static fy_pos scalar_pos(const ctx *c, const yn *v, size_t off)
{
    fy_pos p = {c->file, 0, 0};
    byte_pos(c, scalar_src(c, v, off), &p.line, &p.col);
    return p;
}

/* ---- diagnostics ---- */

/* Messages quote the author's text; a control character in it (a quoted "\n") must not
 * break the one-line "file:line:col: level: message" format. */
static void diag_v(ctx *c, fy_diag_level lvl, fy_pos p, const char *check, const char *fmt,
                   va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    for (char *q = msg; q && *q; q++)
        if ((unsigned char)*q < 0x20) *q = ' ';
    fy_diag_add(c->diags, lvl, p.file ? p.file : c->file, p.line, p.col, check, "%s",
                msg ? msg : "(message lost)");
    free(msg);
}

__attribute__((format(printf, 4, 5))) static void err_at(ctx *c, fy_pos p, const char *check,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_v(c, FY_DIAG_ERROR, p, check, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 4, 5))) static void warn_at(ctx *c, fy_pos p, const char *check,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_v(c, FY_DIAG_WARNING, p, check, fmt, ap);
    va_end(ap);
}

/* ---- "did you mean" ---- */

static int lower_ascii(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* Edit distance with transpositions (optimal string alignment), case-insensitive; names
 * longer than 63 bytes are never close. */
static size_t edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    if (an > 63 || bn > 63) return SIZE_MAX;
    size_t r0[64], r1[64], r2[64];
    size_t *pp = r0, *prev = r1, *cur = r2;
    for (size_t j = 0; j <= bn; j++)
        prev[j] = j;
    for (size_t i = 1; i <= an; i++) {
        cur[0] = i;
        int ca = lower_ascii((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= bn; j++) {
            int cb = lower_ascii((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca == cb ? 0 : 1);
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == lower_ascii((unsigned char)b[j - 2]) &&
                lower_ascii((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[bn];
}

/* The closest of names[] to s, or NULL when none is close enough to be a typo. */
static const char *closest(const char *s, size_t n, const char *const *names, size_t count)
{
    const char *best = NULL;
    size_t bd = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        size_t d = edit_distance(s, n, names[i], strlen(names[i]));
        if (d < bd) bd = d, best = names[i];
    }
    size_t limit = n / 3 > 1 ? n / 3 : 1;
    return bd <= limit ? best : NULL;
}

static char *join_names(ctx *c, const char *const *names, size_t count)
{
    fy_buf b = {0};
    for (size_t i = 0; i < count; i++) {
        if (i) fy_buf_puts(&b, ", ");
        fy_buf_puts(&b, names[i]);
    }
    char *r = fy_arena_strndup(&c->tmp, b.data ? (const char *)b.data : "", b.len);
    fy_buf_free(&b);
    return r;
}

/* ---- tree building from libyaml events ---- */

static bool is_null(const yn *v);

static const char *kind_name(const yn *v)
{
    if (!v || is_null(v)) return "nothing";
    return v->kind == YN_MAP ? "a mapping" : v->kind == YN_SEQ ? "a list" : "a string";
}

static void push_kid(ctx *c, yn *parent, yn *kid)
{
    FY_APUSH(&c->tmp, parent->kids, parent->nkids, parent->cap) = kid;
}

static void syntax_error(ctx *c, yaml_parser_t *p)
{
    fy_pos pos = {c->file, 1, 1};
    if (p->error == YAML_READER_ERROR) {
        byte_pos(c, p->problem_offset < c->len ? p->problem_offset : c->len, &pos.line, &pos.col);
    } else {
        pos.line = (uint32_t)p->problem_mark.line + 1;
        pos.col = (uint32_t)p->problem_mark.column + 1;
    }
    const char *problem = p->problem ? p->problem : "YAML syntax error";
    /* The usual cause: a value that begins with a YAML indicator, such as %APPDATA%. */
    const char *hint = "";
    size_t at = mark_byte(c, p->problem_mark.line, p->problem_mark.column);
    if (p->context && strstr(p->context, "alias"))
        hint = "; a pattern holding * inside a flow list [a, b] must be quoted";
    else if (p->error == YAML_SCANNER_ERROR && at < c->len && c->text[at] == '\t')
        hint = "; indent with spaces, not tabs";
    else if (p->error == YAML_SCANNER_ERROR && at < c->len && c->text[at] &&
             strchr("%@`*&!", c->text[at]))
        hint = "; a value that begins with %, @, `, *, & or ! must be quoted: "
               "'%APPDATA%\\Vendor'";
    if (p->context)
        err_at(c, pos, "syntax", "%s (%s, line %zu)%s", problem, p->context,
               p->context_mark.line + 1, hint);
    else
        err_at(c, pos, "syntax", "%s%s", problem, hint);
}

static yn *new_node(ctx *c, yn_kind kind, const yaml_event_t *e)
{
    yn *v = fy_arena_alloc(&c->tmp, sizeof(*v));
    v->kind = kind;
    v->start = e->start_mark;
    v->end = e->end_mark;
    return v;
}

/* Parses the whole stream into one tree. Returns the root, or NULL after reporting why
 * (syntax error, empty file, unsupported YAML feature, several documents). */
static yn *parse_tree(ctx *c)
{
    yaml_parser_t p;
    yaml_event_t e;
    yn *root = NULL, *stack[MAX_DEPTH + 1];
    size_t depth = 0;
    int docs = 0;
    bool failed = false, done = false;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)c->text, c->len);
    while (!done && !failed) {
        if (!yaml_parser_parse(&p, &e)) {
            syntax_error(c, &p);
            failed = true;
            break;
        }
        fy_pos here = {c->file, (uint32_t)e.start_mark.line + 1, (uint32_t)e.start_mark.column + 1};
        yn *v = NULL;
        const unsigned char *anchor = NULL, *tag = NULL;
        switch (e.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                err_at(c, here, "appdef-schema",
                       "a second YAML document ('---'): an appdef file holds exactly one "
                       "application; put the other one in its own file");
                failed = true;
            }
            break;
        case YAML_ALIAS_EVENT:
            err_at(c, here, "appdef-schema",
                   "YAML aliases (*name) are not supported in appdefs; write the value out");
            failed = true;
            break;
        case YAML_SCALAR_EVENT:
            anchor = e.data.scalar.anchor;
            tag = e.data.scalar.tag;
            v = new_node(c, YN_SCALAR, &e);
            v->n = e.data.scalar.length;
            v->s = fy_arena_strndup(&c->tmp, (const char *)e.data.scalar.value, v->n);
            v->style = e.data.scalar.style;
            if (strlen(v->s) != v->n) {
                err_at(c, here, "appdef-schema", "a value may not hold a NUL character");
                v->n = strlen(v->s);
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
            anchor = e.data.sequence_start.anchor;
            tag = e.data.sequence_start.tag;
            v = new_node(c, YN_SEQ, &e);
            break;
        case YAML_MAPPING_START_EVENT:
            anchor = e.data.mapping_start.anchor;
            tag = e.data.mapping_start.tag;
            v = new_node(c, YN_MAP, &e);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth) stack[--depth]->end = e.end_mark;
            break;
        default:
            break;
        }
        if (!failed && anchor) {
            err_at(c, here, "appdef-schema",
                   "YAML anchors (&%s) are not supported in appdefs; write the value out",
                   (const char *)anchor);
            failed = true;
        } else if (!failed && tag) {
            err_at(c, here, "appdef-schema",
                   "YAML tags (%s) are not supported in appdefs; every value is text",
                   (const char *)tag);
            failed = true;
        }
        if (!failed && v) {
            if (depth)
                push_kid(c, stack[depth - 1], v);
            else
                root = v;
            if (v->kind != YN_SCALAR) {
                if (depth == MAX_DEPTH) {
                    err_at(c, here, "appdef-schema", "nesting deeper than %d levels", MAX_DEPTH);
                    failed = true;
                } else {
                    stack[depth++] = v;
                }
            }
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    if (failed) return NULL;
    if (!root) {
        fy_pos p0 = {c->file, 1, 1};
        err_at(c, p0, "appdef-schema",
               "empty file: an appdef holds one application (id:, name:, content-path: ...)");
    }
    return root;
}

/* ---- schema helpers ---- */

typedef struct field {
    const char *name;
    yn *key, *val;
} field;
#define F(n)                                                                                       \
    {                                                                                              \
        n, NULL, NULL                                                                              \
    }

static bool is_null(const yn *v)
{
    if (!v || v->kind != YN_SCALAR || v->style != YAML_PLAIN_SCALAR_STYLE) return false;
    return v->n == 0 || strcmp(v->s, "~") == 0 || strcmp(v->s, "null") == 0 ||
           strcmp(v->s, "Null") == 0 || strcmp(v->s, "NULL") == 0;
}

/* Sorts a mapping's pairs into fields[] by name. Reports unknown and repeated fields, and
 * keys that are not plain words. `what` names the mapping for messages ("a component"). */
static void take_fields(ctx *c, yn *map, const char *what, field *f, size_t nf)
{
    const char *names[24];
    for (size_t i = 0; i < nf && i < FY_ARRAY_LEN(names); i++)
        names[i] = f[i].name;
    for (size_t k = 0; k + 1 < map->nkids; k += 2) {
        yn *key = map->kids[k], *val = map->kids[k + 1];
        if (key->kind != YN_SCALAR) {
            err_at(c, node_pos(c, key), "appdef-schema",
                   "a field name must be a plain word, not %s", kind_name(key));
            continue;
        }
        size_t i = 0;
        while (i < nf && strcmp(f[i].name, key->s) != 0)
            i++;
        if (i == nf) {
            const char *near = closest(key->s, key->n, names, nf);
            if (near)
                err_at(c, node_pos(c, key), "appdef-schema",
                       "unknown field '%s' in %s; did you mean '%s'? (allowed: %s)", key->s, what,
                       near, join_names(c, names, nf));
            else
                err_at(c, node_pos(c, key), "appdef-schema",
                       "unknown field '%s' in %s (allowed: %s)", key->s, what,
                       join_names(c, names, nf));
            continue;
        }
        if (f[i].key) {
            err_at(c, node_pos(c, key), "appdef-schema",
                   "field '%s' given twice in %s (first at line %zu)", key->s, what,
                   f[i].key->start.line + 1);
            continue;
        }
        f[i].key = key;
        f[i].val = val;
    }
}

static field *fld(field *f, size_t nf, const char *name)
{
    for (size_t i = 0; i < nf; i++)
        if (strcmp(f[i].name, name) == 0) return &f[i];
    return NULL;
}

static void missing(ctx *c, yn *map, const char *name, const char *what)
{
    err_at(c, node_pos(c, map), "appdef-schema", "missing required field '%s' in %s", name, what);
}

static bool want_kind(ctx *c, field *f, yn_kind kind)
{
    if (f->val->kind == kind) return true;
    const char *want = kind == YN_MAP ? "a mapping" : kind == YN_SEQ ? "a list" : "a string";
    const char *got = is_null(f->val) ? "nothing" : kind_name(f->val);
    err_at(c, node_pos(c, f->val->kind == YN_SCALAR && is_null(f->val) ? f->key : f->val),
           "appdef-schema", "'%s' must be %s, not %s", f->name, want, got);
    return false;
}

/* A text field: present, a scalar, not empty. Returns the value node or NULL. */
static yn *want_text(ctx *c, yn *map, field *f, const char *what, bool required)
{
    if (!f->val) {
        if (required) missing(c, map, f->name, what);
        return NULL;
    }
    if (!want_kind(c, f, YN_SCALAR)) return NULL;
    if (is_null(f->val)) {
        err_at(c, node_pos(c, f->key), "appdef-schema", "'%s' must be a string, not nothing",
               f->name);
        return NULL;
    }
    return f->val;
}

/* Lists whose entries are compared with each other are bounded, so that a hostile file
 * cannot make the compiler quadratic. */
static bool too_many(ctx *c, yn *list, size_t n, const char *what)
{
    if (n <= MAX_NAMED) return false;
    err_at(c, node_pos(c, list), "appdef-schema", "more than %d %s", MAX_NAMED, what);
    return true;
}

static char *ir_str(ctx *c, const yn *v)
{
    return fy_arena_strndup(&c->ir->arena, v->s, v->n);
}

static bool bad_enum(ctx *c, yn *v, const char *fieldname, const char *const *names, size_t n)
{
    const char *near = closest(v->s, v->n, names, n);
    if (near)
        err_at(c, node_pos(c, v), "appdef-schema",
               "bad value '%s' for '%s': expected one of %s; did you mean '%s'?", v->s, fieldname,
               join_names(c, names, n), near);
    else
        err_at(c, node_pos(c, v), "appdef-schema", "bad value '%s' for '%s': expected one of %s",
               v->s, fieldname, join_names(c, names, n));
    return false;
}

static bool want_bool(ctx *c, field *f, bool *out)
{
    if (!want_kind(c, f, YN_SCALAR)) return false;
    static const char *const names[] = {"true", "false"};
    const char *s = f->val->s;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes"))
        *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no"))
        *out = false;
    else
        return bad_enum(c, f->val, f->name, names, 2);
    return true;
}

/* ---- paths ---- */

/* Splits "Node [Leaf]" at a trailing unescaped bracket pair, as fy_parse_pattern does.
 * Returns false when there is no leaf; else the node ends at *node_end (trimmed) and the
 * leaf is s[*leaf_start .. *leaf_end). */
static bool split_leaf(const char *s, size_t n, size_t *node_end, size_t *leaf_start,
                       size_t *leaf_end)
{
    while (n && is_space(s[n - 1]))
        n--;
    if (!n || s[n - 1] != ']' || (n >= 2 && s[n - 2] == '^')) return false;
    for (size_t i = n - 1; i-- > 0;) {
        if (s[i] == '[' && !(i > 0 && s[i - 1] == '^')) {
            size_t e = i;
            while (e && is_space(s[e - 1]))
                e--;
            *node_end = e;
            *leaf_start = i + 1;
            *leaf_end = n - 1;
            return true;
        }
    }
    return false;
}

/* "^[" -> "[" and so on: a literal name written with the pattern escapes. */
static char *unescape(ctx *c, const char *s, size_t n)
{
    char *r = fy_arena_alloc(&c->ir->arena, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '^' && i + 1 < n) i++;
        r[o++] = s[i];
    }
    r[o] = 0;
    return r;
}

static const char *const token_spellings[] = {
    "Profile",
    "UserProfile",
    "My Documents",
    "MyDocuments",
    "Personal",
    "Desktop",
    "Favorites",
    "Application Data",
    "AppData",
    "Local Application Data",
    "LocalAppData",
    "My Pictures",
    "My Music",
    "My Videos",
    "Downloads",
    "Start Menu",
    "Programs",
    "Startup",
    "Templates",
    "Recent",
    "SendTo",
    "Cookies",
    "NetHood",
    "PrintHood",
    "ProgramFiles",
    "ProgramFiles(x86)",
    "ProgramData",
    "AllUsersProfile",
    "SystemRoot",
    "WinDir",
    "SystemDrive",
    "UserName",
    "UserDomain",
    "CSIDL_PERSONAL",
    "CSIDL_APPDATA",
    "CSIDL_LOCAL_APPDATA",
    "CSIDL_DESKTOPDIRECTORY",
    "CSIDL_FAVORITES",
    "CSIDL_MYPICTURES",
    "CSIDL_MYMUSIC",
    "CSIDL_MYVIDEO",
    "CSIDL_PROGRAM_FILES",
    "CSIDL_COMMON_APPDATA",
};

/* Reports a path error from fy_path.c under the right check name, at the exact column. */
static void path_error(ctx *c, yn *v, size_t base, const char *err, size_t off)
{
    fy_pos p = scalar_pos(c, v, base + off);
    if (strncmp(err, "unknown token", 13) == 0) {
        /* Suggest a spelling that exists, written with the same brackets. */
        const char *s = v->s + base + off;
        size_t rest = v->n - base - off;
        char close = s[0] == '<' ? '>' : '%';
        const char *e = rest > 1 ? memchr(s + 1, close, rest - 1) : NULL;
        const char *near = NULL;
        if (e) {
            const char *cands[FY_ARRAY_LEN(token_spellings)];
            size_t nc = 0;
            for (size_t i = 0; i < FY_ARRAY_LEN(token_spellings); i++)
                if (fy_token_lookup(token_spellings[i], strlen(token_spellings[i])) >= 0)
                    cands[nc++] = token_spellings[i];
            near = closest(s + 1, (size_t)(e - s - 1), cands, nc);
        }
        if (near)
            err_at(c, p, "unknown-token", "unknown token '%.*s'; did you mean '%c%s%c'?",
                   (int)(e - s + 1), s, s[0], near, close);
        else if (e)
            err_at(c, p, "unknown-token", "unknown token '%.*s' (docs/appdefs.md lists them)",
                   (int)(e - s + 1), s);
        else
            err_at(c, p, "unknown-token", "%s", err);
    } else if (strstr(err, "registry path must start")) {
        err_at(c, p, "registry-root", "%s", err);
    } else {
        err_at(c, p, "bad-path", "%s", err);
    }
}

static bool comp_eq(const char *s, size_t n, const char *lit)
{
    return fy_strcasecmp_u8(s, n, lit, strlen(lit)) == 0;
}

/* Appdefs describe applications on every machine, so folders are written with tokens. A
 * profile folder written literally (C:\Users, C:\Documents and Settings) is an error; a
 * machine folder that has a token (C:\Program Files, C:\Windows) is a warning. */
static bool check_literal_folders(ctx *c, yn *v, size_t base, size_t n)
{
    const char *s = v->s + base;
    size_t i = 0;
    while (i < n && is_space(s[i]))
        i++;
    size_t at = i, p;
    if (n - i >= 2 && s[i + 1] == ':' &&
        (s[i] == '*' || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))) {
        p = i + 2;
    } else if (i < n && (s[i] == '%' || s[i] == '<')) {
        const char *e = n - i > 1 ? memchr(s + i + 1, s[i] == '%' ? '%' : '>', n - i - 1) : NULL;
        if (!e || fy_token_lookup(s + i + 1, (size_t)(e - s - i - 1)) != FY_TOK_SYSTEM_DRIVE)
            return true;
        p = (size_t)(e - s) + 1;
    } else {
        return true;
    }
    while (p < n && (s[p] == '\\' || s[p] == '/'))
        p++;
    size_t q = p;
    while (q < n && s[q] != '\\' && s[q] != '/' && s[q] != '[')
        q++;
    size_t qe = q;
    while (qe > p && is_space(s[qe - 1]))
        qe--;
    fy_pos pos = scalar_pos(c, v, base + at);
    if (comp_eq(s + p, qe - p, "Users") || comp_eq(s + p, qe - p, "Documents and Settings")) {
        err_at(c, pos, "hardcoded-profile-path",
               "a profile folder written literally ('%.*s'); use a known-folder token "
               "(<Profile>, %%APPDATA%%, <My Documents> ...) so the rule follows the user on "
               "every Windows version",
               (int)(qe - at), s + at);
        return false;
    }
    static const struct {
        const char *folder, *token;
    } machine[] = {
        {"Program Files", "%PROGRAMFILES%"},
        {"Program Files (x86)", "%PROGRAMFILES(X86)%"},
        {"ProgramData", "%PROGRAMDATA%"},
        {"Windows", "%WINDIR%"},
        {"WINNT", "%WINDIR%"},
    };
    for (size_t k = 0; k < FY_ARRAY_LEN(machine); k++)
        if (comp_eq(s + p, qe - p, machine[k].folder))
            warn_at(c, pos, "hardcoded-path",
                    "'%.*s' written literally; write %s so it resolves on every machine",
                    (int)(qe - at), s + at, machine[k].token);
    return true;
}

/* A file or registry pattern in USMT's encoded-location form. */
static bool lower_pattern(ctx *c, yn *v, fy_objkind kind, fy_ir_pattern *out)
{
    const char *err = NULL;
    size_t off = 0;
    if (fy_parse_pattern(&c->ir->arena, kind, v->s, v->n, out, &err, &off)) {
        path_error(c, v, 0, err, off);
        return false;
    }
    if (kind == FY_OBJ_FILE && !check_literal_folders(c, v, 0, v->n)) return false;
    return true;
}

/* A registry key written alone (no [value]); wildcards allowed unless literal is set. */
static char *lower_key(ctx *c, yn *v, size_t base, size_t n, bool literal, const char *what)
{
    const char *err = NULL;
    size_t off = 0;
    char *k = fy_norm_reg_key(&c->ir->arena, v->s + base, n, &err, &off);
    if (!k) {
        path_error(c, v, base, err, off);
        return NULL;
    }
    if (literal && !fy_glob_is_literal(k, strlen(k))) {
        err_at(c, node_pos(c, v), "appdef-schema",
               "%s names one key; wildcards (* ?) are not allowed here", what);
        return NULL;
    }
    return k;
}

static char *lower_file_path(ctx *c, yn *v, bool literal, const char *what)
{
    const char *err = NULL;
    size_t off = 0;
    char *p = fy_norm_file_path(&c->ir->arena, v->s, v->n, &err, &off);
    if (!p) {
        path_error(c, v, 0, err, off);
        return NULL;
    }
    if (!check_literal_folders(c, v, 0, v->n)) return NULL;
    if (literal && (!fy_glob_is_literal(p, strlen(p)) || strcmp(p, "*:") == 0)) {
        err_at(c, node_pos(c, v), "appdef-schema",
               "%s names one folder; wildcards (* ?) are not allowed here", what);
        return NULL;
    }
    return p;
}

/* "KEY [Name]" as a conversion step or a detection test writes it: key (wildcards allowed)
 * and value name. need_name: the [Name] part is required. *name is NULL when absent. */
static bool lower_key_value(ctx *c, yn *v, bool need_name, bool literal_name, char **key,
                            char **name, const char *what)
{
    size_t ne, ls, le;
    bool has = split_leaf(v->s, v->n, &ne, &ls, &le);
    *name = NULL;
    if (!has && need_name) {
        err_at(c, node_pos(c, v), "appdef-schema",
               "%s needs a value name in brackets: 'HKCU\\Software\\Vendor [Name]' ([] is the "
               "default value)",
               what);
        return false;
    }
    *key = lower_key(c, v, 0, has ? ne : v->n, false, what);
    if (!*key) return false;
    if (has)
        *name = literal_name ? unescape(c, v->s + ls, le - ls)
                             : fy_arena_strndup(&c->ir->arena, v->s + ls, le - ls);
    return true;
}

/* ---- regular expressions ---- */

/* Compiles a PCRE2 pattern to check it; a fault is reported at its exact column. Returns the
 * compiled code (the caller frees it) or NULL. */
static pcre2_code *compile_regex(ctx *c, yn *v)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->s, v->n, PCRE2_UTF, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            strcpy((char *)msg, "unknown error");
        err_at(c, scalar_pos(c, v, off <= v->n ? off : v->n), "bad-regex",
               "bad regular expression: %s (at offset %zu)", (const char *)msg, (size_t)off);
    }
    return re;
}

/* The replacement of a substitute step, in pcre2_substitute's plain syntax: $$, $n, ${n},
 * ${name}; every group it names must exist in the regex. */
static bool check_replacement(ctx *c, yn *v, pcre2_code *re)
{
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    const char *s = v->s;
    size_t n = v->n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '$') continue;
        size_t at = i;
        if (i + 1 < n && s[i + 1] == '$') {
            i++;
            continue;
        }
        bool braced = i + 1 < n && s[i + 1] == '{';
        size_t b = i + 1 + braced, e = b;
        if (braced) {
            while (e < n && s[e] != '}')
                e++;
            if (e >= n) {
                err_at(c, scalar_pos(c, v, at), "bad-regex",
                       "bad replacement: '${' without '}' (write $$ for a literal $)");
                return false;
            }
        } else {
            while (e < n && s[e] >= '0' && s[e] <= '9')
                e++;
        }
        if (e == b) {
            err_at(c, scalar_pos(c, v, at), "bad-regex",
                   "bad replacement: '$' must be followed by a group number, {name} or $ "
                   "(write $$ for a literal $)");
            return false;
        }
        bool digits = true;
        uint64_t num = 0;
        for (size_t k = b; k < e; k++) {
            if (s[k] < '0' || s[k] > '9')
                digits = false;
            else if (num < 100000)
                num = num * 10 + (uint64_t)(s[k] - '0');
        }
        if (digits && num > groups) {
            err_at(c, scalar_pos(c, v, at), "bad-regex",
                   "bad replacement: group %llu does not exist (the regex has %u)",
                   (unsigned long long)num, groups);
            return false;
        }
        if (!digits) {
            char *name = fy_arena_strndup(&c->tmp, s + b, e - b);
            if (pcre2_substring_number_from_name(re, (PCRE2_SPTR)name) < 0) {
                err_at(c, scalar_pos(c, v, at), "bad-regex",
                       "bad replacement: no group named '%s' in the regex", name);
                return false;
            }
        }
        i = braced ? e : e - 1;
    }
    return true;
}

static bool check_regex(ctx *c, yn *v)
{
    pcre2_code *re = compile_regex(c, v);
    if (!re) return false;
    pcre2_code_free(re);
    return true;
}

/* ---- versions ---- */

/* "14", "14.0", "14.0.7015.1000": up to four numbers of at most 65535. */
static bool version_text_ok(const char *s, size_t n)
{
    size_t parts = 0, i = 0;
    while (i < n) {
        size_t b = i;
        uint32_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (uint32_t)(s[i] - '0');
            if (v > 65535) return false;
            i++;
        }
        if (i == b || ++parts > 4) return false;
        if (i < n) {
            if (s[i] != '.' || i + 1 == n) return false;
            i++;
        }
    }
    return parts > 0;
}

/* ---- detection ---- */

static const char *const det_tests[] = {"registry-key", "registry-value", "file", "any", "all",
                                        "not"};

static bool lower_detect(ctx *c, yn *map, fy_ir_detect *out);

static bool lower_detect_list(ctx *c, field *f, fy_ir_detect *out)
{
    if (!want_kind(c, f, YN_SEQ)) return false;
    if (f->val->nkids == 0) {
        err_at(c, node_pos(c, f->key), "appdef-schema", "'%s' needs at least one test", f->name);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < f->val->nkids; i++) {
        fy_ir_detect kid = {0};
        if (lower_detect(c, f->val->kids[i], &kid))
            FY_APUSH(&c->ir->arena, out->kids, out->nkids, out->kids_cap) = kid;
        else
            ok = false;
    }
    return ok;
}

static bool lower_detect(ctx *c, yn *map, fy_ir_detect *out)
{
    memset(out, 0, sizeof(*out));
    if (map->kind != YN_MAP) {
        err_at(c, node_pos(c, map), "appdef-schema",
               "a detection test must be a mapping (registry-key: ..., file: ..., any: [...]), "
               "not %s",
               kind_name(map));
        return false;
    }
    field f[] = {
        F("registry-key"), F("registry-value"), F("file"),     F("any"),     F("all"),
        F("not"),          F("equals"),         F("contains"), F("matches"), F("min-version"),
        F("max-version")};
    size_t nf = FY_ARRAY_LEN(f);
    take_fields(c, map, "a detection test", f, nf);
    field *test = NULL;
    for (size_t i = 0; i < FY_ARRAY_LEN(det_tests); i++) {
        field *t = fld(f, nf, det_tests[i]);
        if (!t->val) continue;
        if (test) {
            err_at(c, node_pos(c, t->key), "appdef-schema",
                   "one detection test per mapping: found both '%s' and '%s'; combine tests "
                   "with any: or all:",
                   test->name, t->name);
            return false;
        }
        test = t;
    }
    if (!test) {
        err_at(c, node_pos(c, map), "appdef-schema", "a detection test needs one of: %s",
               join_names(c, det_tests, FY_ARRAY_LEN(det_tests)));
        return false;
    }
    /* Modifiers belong to one kind of test each. */
    bool is_value = strcmp(test->name, "registry-value") == 0;
    bool is_file = strcmp(test->name, "file") == 0;
    field *cmp = NULL;
    for (size_t i = 6; i < nf; i++) {
        if (!f[i].val) continue;
        bool fits = i <= 8 ? is_value : is_file;
        if (!fits) {
            err_at(c, node_pos(c, f[i].key), "appdef-schema",
                   "'%s' does not apply to a '%s' test%s", f[i].name, test->name,
                   i <= 8 ? " (equals, contains and matches go with registry-value)"
                          : " (min-version and max-version go with file)");
            return false;
        }
        if (i <= 8) {
            if (cmp) {
                err_at(c, node_pos(c, f[i].key), "appdef-schema",
                       "'%s' and '%s' in one test; use all: to require both", cmp->name, f[i].name);
                return false;
            }
            cmp = &f[i];
        }
    }
    if (!strcmp(test->name, "any") || !strcmp(test->name, "all")) {
        out->kind = test->name[1] == 'n' ? FY_DET_ANY : FY_DET_ALL;
        out->pos = node_pos(c, test->key);
        return lower_detect_list(c, test, out);
    }
    if (!strcmp(test->name, "not")) {
        out->kind = FY_DET_NOT;
        out->pos = node_pos(c, test->key);
        fy_ir_detect kid = {0};
        if (!lower_detect(c, test->val, &kid)) return false;
        FY_APUSH(&c->ir->arena, out->kids, out->nkids, out->kids_cap) = kid;
        return true;
    }
    yn *v = want_text(c, map, test, "a detection test", true);
    if (!v) return false;
    out->pos = node_pos(c, v);
    if (!strcmp(test->name, "registry-key")) {
        size_t ne, ls, le;
        if (split_leaf(v->s, v->n, &ne, &ls, &le)) {
            err_at(c, scalar_pos(c, v, ls - 1), "appdef-schema",
                   "registry-key names a key; to test a value write registry-value: KEY [Name]");
            return false;
        }
        out->kind = FY_DET_REG_KEY;
        out->path = lower_key(c, v, 0, v->n, false, "registry-key");
        return out->path != NULL;
    }
    if (is_value) {
        out->kind = FY_DET_REG_VALUE;
        if (!lower_key_value(c, v, true, true, &out->path, &out->name, "registry-value"))
            return false;
        if (cmp) {
            yn *a = want_text(c, map, cmp, "a detection test", true);
            if (!a) return false;
            out->kind = cmp->name[0] == 'e'   ? FY_DET_VALUE_EQUALS
                        : cmp->name[0] == 'c' ? FY_DET_VALUE_CONTAINS
                                              : FY_DET_VALUE_MATCHES;
            if (out->kind == FY_DET_VALUE_MATCHES && !check_regex(c, a)) return false;
            out->arg = ir_str(c, a);
        }
        return true;
    }
    /* file */
    out->kind = FY_DET_FILE;
    out->path = lower_file_path(c, v, false, "file");
    if (!out->path) return false;
    for (size_t i = 9; i < nf; i++) {
        if (!f[i].val) continue;
        yn *a = want_text(c, map, &f[i], "a detection test", true);
        if (!a) return false;
        if (!version_text_ok(a->s, a->n)) {
            err_at(c, node_pos(c, a), "appdef-schema",
                   "bad version '%s' for '%s': expected up to four numbers (0-65535) joined by "
                   "dots, as in 14.0.7015.1000",
                   a->s, f[i].name);
            return false;
        }
        out->kind = FY_DET_FILE_VERSION;
        if (i == 9)
            out->arg = ir_str(c, a);
        else
            out->arg2 = ir_str(c, a);
    }
    return true;
}

/* ---- rules ---- */

static void stage_rule(ctx *c, fy_stage stage, fy_action action, const fy_ir_pattern *pat,
                       int component, fy_pos pos)
{
    fy_ir_rule *r = &FY_APUSH(&c->tmp, c->rules, c->nrules, c->rules_cap);
    memset(r, 0, sizeof(*r));
    r->stage = stage;
    r->action = action;
    r->pat = *pat;
    r->component = component;
    r->pos = pos;
}

/* include:, exclude: or unconditional-exclude:, a mapping of files: and registry: lists. */
static void lower_rule_block(ctx *c, field *blk, int component)
{
    if (!blk->val || !want_kind(c, blk, YN_MAP)) return;
    field f[] = {F("files"), F("registry")};
    char what[64];
    snprintf(what, sizeof(what), "an '%s' block", blk->name);
    take_fields(c, blk->val, what, f, 2);
    bool uncond = strcmp(blk->name, "unconditional-exclude") == 0;
    fy_stage stage = uncond ? FY_STAGE_UNCONDITIONAL : FY_STAGE_CONTENT;
    fy_action action = strcmp(blk->name, "include") == 0 ? FY_ACT_INCLUDE : FY_ACT_EXCLUDE;
    for (size_t k = 0; k < 2; k++) {
        if (!f[k].val || !want_kind(c, &f[k], YN_SEQ)) continue;
        for (size_t i = 0; i < f[k].val->nkids; i++) {
            yn *v = f[k].val->kids[i];
            if (v->kind != YN_SCALAR || is_null(v)) {
                err_at(c, node_pos(c, v), "appdef-schema",
                       "each entry of '%s' must be a pattern string, not %s", f[k].name,
                       is_null(v) ? "nothing" : kind_name(v));
                continue;
            }
            fy_ir_pattern pat;
            if (lower_pattern(c, v, k == 0 ? FY_OBJ_FILE : FY_OBJ_REG, &pat))
                stage_rule(c, stage, action, &pat, component, node_pos(c, v));
        }
    }
}

/* ---- identity ---- */

static bool id_ok(const char *s, size_t n)
{
    if (!n || s[0] == '-' || s[n - 1] == '-') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '-' && s[i + 1] == '-') return false;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
    }
    return true;
}

/* Content-tree path: levels joined by '|', none empty or padded with blanks. */
static bool content_path_ok(ctx *c, yn *v)
{
    const char *s = v->s;
    size_t n = v->n, b = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '|') {
            if ((unsigned char)s[i] < 0x20) {
                err_at(c, scalar_pos(c, v, i), "appdef-schema",
                       "a control character in a content path");
                return false;
            }
            continue;
        }
        if (i == b || is_space(s[b]) || is_space(s[i - 1])) {
            err_at(c, scalar_pos(c, v, b), "appdef-schema",
                   "bad content path: %s; write levels joined by '|' "
                   "(Applications|Microsoft Office|Word)",
                   i == b ? "an empty level" : "a level begins or ends with a blank");
            return false;
        }
        b = i + 1;
    }
    return true;
}

static bool component_name_ok(ctx *c, yn *v)
{
    if (!v->n || is_space(v->s[0]) || is_space(v->s[v->n - 1])) {
        err_at(c, node_pos(c, v), "appdef-schema",
               "a component name may not be empty or begin or end with a blank");
        return false;
    }
    const char *bar = memchr(v->s, '|', v->n);
    if (bar) {
        err_at(c, scalar_pos(c, v, (size_t)(bar - v->s)), "appdef-schema",
               "a component name is one level of the content tree: no '|' in it");
        return false;
    }
    for (size_t i = 0; i < v->n; i++)
        if ((unsigned char)v->s[i] < 0x20) {
            err_at(c, scalar_pos(c, v, i), "appdef-schema", "a control character in a name");
            return false;
        }
    return true;
}

/* ---- versions, components, conversions ---- */

static void lower_versions(ctx *c, field *fv)
{
    if (!want_kind(c, fv, YN_SEQ) || too_many(c, fv->val, fv->val->nkids, "versions")) return;
    for (size_t i = 0; i < fv->val->nkids; i++) {
        yn *m = fv->val->kids[i];
        if (m->kind != YN_MAP) {
            err_at(c, node_pos(c, m), "appdef-schema",
                   "each entry of 'versions' must be a mapping (version: \"14.0\", detect: ...), "
                   "not %s",
                   kind_name(m));
            continue;
        }
        field f[] = {F("version"), F("detect")};
        take_fields(c, m, "a version", f, 2);
        yn *v = want_text(c, m, &f[0], "a version", true);
        if (!v) continue;
        bool dup = false;
        for (size_t k = 0; k < c->app.nversions; k++)
            if (strcmp(c->app.versions[k].version, v->s) == 0) {
                err_at(c, node_pos(c, v), "appdef-schema",
                       "version '%s' listed twice (first at line %u)", v->s,
                       c->app.versions[k].pos.line);
                dup = true;
            }
        if (dup) continue;
        fy_ir_version ver = {.version = ir_str(c, v), .pos = node_pos(c, v)};
        if (f[1].val) {
            fy_ir_detect *d = fy_arena_alloc(&c->ir->arena, sizeof(*d));
            if (lower_detect(c, f[1].val, d)) ver.detect = d;
        }
        FY_APUSH(&c->ir->arena, c->app.versions, c->app.nversions, c->app.versions_cap) = ver;
    }
}

static void lower_components(ctx *c, field *fc)
{
    if (!want_kind(c, fc, YN_SEQ) || too_many(c, fc->val, fc->val->nkids, "components")) return;
    for (size_t i = 0; i < fc->val->nkids; i++) {
        yn *m = fc->val->kids[i];
        if (m->kind != YN_MAP) {
            err_at(c, node_pos(c, m), "appdef-schema",
                   "each entry of 'components' must be a mapping (name: Settings, include: ...), "
                   "not %s",
                   kind_name(m));
            continue;
        }
        field f[] = {F("name"), F("detection"), F("include"), F("exclude"),
                     F("unconditional-exclude")};
        take_fields(c, m, "a component", f, FY_ARRAY_LEN(f));
        yn *v = want_text(c, m, &f[0], "a component", true);
        if (!v || !component_name_ok(c, v)) continue;
        bool dup = false;
        for (size_t k = 0; k < c->app.ncomponents; k++)
            if (fy_strcasecmp_u8(c->app.components[k].name, strlen(c->app.components[k].name), v->s,
                                 v->n) == 0) {
                err_at(c, node_pos(c, v), "duplicate-path",
                       "component '%s' defined twice in this application (first at line %u)", v->s,
                       c->app.components[k].pos.line);
                dup = true;
            }
        if (dup) continue;
        comp_extra x = {NULL, -1};
        bool b = false;
        if (f[1].val && want_bool(c, &f[1], &b)) {
            x.detection = b;
            x.detection_node = f[1].val;
        }
        int idx = (int)c->app.ncomponents;
        fy_ir_component comp = {.name = ir_str(c, v), .pos = node_pos(c, v)};
        FY_APUSH(&c->ir->arena, c->app.components, c->app.ncomponents, c->app.components_cap) =
            comp;
        c->cx = fy_arena_grow(&c->tmp, c->cx, sizeof(*c->cx), &c->cx_cap, (size_t)idx + 1);
        c->cx[idx] = x;
        for (size_t k = 2; k < 5; k++)
            lower_rule_block(c, &f[k], idx);
    }
}

static bool version_ref(ctx *c, yn *v)
{
    const char **names = fy_arena_alloc(&c->tmp, (c->app.nversions + 1) * sizeof(*names));
    size_t nn = 0;
    for (size_t i = 0; i < c->app.nversions; i++) {
        const char *ver = c->app.versions[i].version;
        if (!ver) continue; /* an application without versions (detect: at the top) */
        if (strcmp(ver, v->s) == 0) return true;
        names[nn++] = ver;
    }
    /* Versions differ by one character by nature ("14.0", "15.0"), so an edit distance
     * proves nothing; only a shortened spelling is suggested ("14" for "14.0"). */
    const char *near = NULL;
    for (size_t i = 0; i < nn && !near; i++) {
        size_t l = strlen(names[i]);
        if ((l > v->n && !strncmp(names[i], v->s, v->n) && names[i][v->n] == '.') ||
            (v->n > l && !strncmp(names[i], v->s, l) && v->s[l] == '.'))
            near = names[i];
    }
    if (!nn)
        err_at(c, node_pos(c, v), "unknown-version",
               "version '%s' is not declared: this application has no 'versions:' list", v->s);
    else if (near)
        err_at(c, node_pos(c, v), "unknown-version",
               "version '%s' is not one of this application's versions (%s); did you mean "
               "'%s'?",
               v->s, join_names(c, names, nn), near);
    else
        err_at(c, node_pos(c, v), "unknown-version",
               "version '%s' is not one of this application's versions (%s)", v->s,
               join_names(c, names, nn));
    return false;
}

static const struct {
    const char *name;
    uint32_t type;
} reg_types[] = {
    {"REG_NONE", 0},   {"REG_SZ", 1},       {"REG_EXPAND_SZ", 2},
    {"REG_BINARY", 3}, {"REG_DWORD", 4},    {"REG_DWORD_BIG_ENDIAN", 5},
    {"REG_LINK", 6},   {"REG_MULTI_SZ", 7}, {"REG_QWORD", 11},
};

static const char *const step_kinds[] = {"move-key", "rename-value", "map-value", "substitute",
                                         "set-type", "move-files",   "drop-value"};

static bool lower_step(ctx *c, yn *m, fy_ir_conv_step *st)
{
    memset(st, 0, sizeof(*st));
    if (m->kind != YN_MAP) {
        err_at(c, node_pos(c, m), "appdef-schema",
               "each step must be a mapping (move-key: ..., to: ...), not %s", kind_name(m));
        return false;
    }
    field f[] = {F("move-key"), F("rename-value"), F("map-value"),   F("substitute"),
                 F("set-type"), F("move-files"),   F("drop-value"),  F("to"),
                 F("map"),      F("regex"),        F("replacement"), F("type"),
                 F("reason")};
    size_t nf = FY_ARRAY_LEN(f);
    take_fields(c, m, "a conversion step", f, nf);
    field *kind = NULL;
    for (size_t i = 0; i < FY_ARRAY_LEN(step_kinds); i++) {
        if (!f[i].val) continue;
        if (kind) {
            err_at(c, node_pos(c, f[i].key), "appdef-schema",
                   "one action per step: found both '%s' and '%s'; write two steps", kind->name,
                   f[i].name);
            return false;
        }
        kind = &f[i];
    }
    if (!kind) {
        err_at(c, node_pos(c, m), "appdef-schema", "a conversion step needs one of: %s",
               join_names(c, step_kinds, FY_ARRAY_LEN(step_kinds)));
        return false;
    }
    /* The fields each action takes besides its own. */
    static const struct {
        const char *kind;
        const char *extra[2];
    } takes[] = {
        {"move-key", {"to"}},       {"rename-value", {"to"}},
        {"map-value", {"map"}},     {"substitute", {"regex", "replacement"}},
        {"set-type", {"type"}},     {"move-files", {"to"}},
        {"drop-value", {"reason"}},
    };
    size_t ti = (size_t)(kind - f);
    for (size_t i = FY_ARRAY_LEN(step_kinds); i < nf; i++) {
        bool wanted = (takes[ti].extra[0] && !strcmp(takes[ti].extra[0], f[i].name)) ||
                      (takes[ti].extra[1] && !strcmp(takes[ti].extra[1], f[i].name));
        if (f[i].val && !wanted) {
            err_at(c, node_pos(c, f[i].key), "appdef-schema",
                   "'%s' does not go with %s (it takes: %s)", f[i].name, kind->name,
                   takes[ti].extra[1] ? "regex, replacement" : takes[ti].extra[0]);
            return false;
        }
        if (!f[i].val && wanted) {
            missing(c, m, f[i].name, "this step");
            return false;
        }
    }
    yn *v = want_text(c, m, kind, "a conversion step", true);
    if (!v) return false;
    st->pos = node_pos(c, v);
    switch (ti) {
    case 0: { /* move-key */
        yn *to = want_text(c, m, fld(f, nf, "to"), "a conversion step", true);
        if (!to) return false;
        st->kind = FY_CONV_MOVE_KEY;
        size_t ne, ls, le;
        if (split_leaf(v->s, v->n, &ne, &ls, &le) || split_leaf(to->s, to->n, &ne, &ls, &le)) {
            err_at(c, node_pos(c, split_leaf(v->s, v->n, &ne, &ls, &le) ? v : to), "appdef-schema",
                   "move-key moves a key and everything below it: write the key alone, "
                   "without [value]");
            return false;
        }
        st->from = lower_key(c, v, 0, v->n, true, "move-key");
        st->to = lower_key(c, to, 0, to->n, true, "to");
        return st->from && st->to;
    }
    case 1: { /* rename-value */
        yn *to = want_text(c, m, fld(f, nf, "to"), "a conversion step", true);
        if (!to) return false;
        st->kind = FY_CONV_RENAME_VALUE;
        if (!lower_key_value(c, v, true, false, &st->key, &st->name, "rename-value")) return false;
        if (memchr(to->s, '[', to->n) || memchr(to->s, '\\', to->n)) {
            err_at(c, node_pos(c, to), "appdef-schema",
                   "'to' is the new value name alone (no key, no brackets)");
            return false;
        }
        st->to = ir_str(c, to);
        return true;
    }
    case 2: { /* map-value */
        field *fm = fld(f, nf, "map");
        if (!want_kind(c, fm, YN_MAP)) return false;
        st->kind = FY_CONV_MAP_VALUE;
        if (!lower_key_value(c, v, true, false, &st->key, &st->name, "map-value")) return false;
        if (!fm->val->nkids) {
            err_at(c, node_pos(c, fm->key), "appdef-schema", "'map' needs at least one entry");
            return false;
        }
        if (too_many(c, fm->val, fm->val->nkids / 2, "entries in one map")) return false;
        bool ok = true;
        for (size_t k = 0; k + 1 < fm->val->nkids; k += 2) {
            yn *from = fm->val->kids[k], *to = fm->val->kids[k + 1];
            if (from->kind != YN_SCALAR || to->kind != YN_SCALAR || is_null(from) || is_null(to)) {
                yn *bad = from->kind != YN_SCALAR || is_null(from) ? from : to;
                /* An empty value has no column of its own: point at its key. */
                err_at(c, node_pos(c, is_null(bad) ? from : bad), "appdef-schema",
                       "each 'map' entry maps text to text (\"old\": \"new\"; write an empty "
                       "value as \"\"), not %s",
                       is_null(bad) ? "nothing" : kind_name(bad));
                ok = false;
                continue;
            }
            for (size_t j = 0; j < st->nmap; j++)
                if (strcmp(st->map[j].from, from->s) == 0) {
                    err_at(c, node_pos(c, from), "appdef-schema", "'%s' mapped twice", from->s);
                    ok = false;
                }
            fy_ir_map_entry e = {ir_str(c, from), ir_str(c, to)};
            FY_APUSH(&c->ir->arena, st->map, st->nmap, st->map_cap) = e;
        }
        return ok;
    }
    case 3: { /* substitute */
        yn *rx = want_text(c, m, fld(f, nf, "regex"), "a conversion step", true);
        field *frep = fld(f, nf, "replacement");
        if (!rx || !want_kind(c, frep, YN_SCALAR)) return false;
        yn *rep = frep->val;
        st->kind = FY_CONV_SUBST;
        if (!lower_key_value(c, v, false, false, &st->key, &st->name, "substitute")) return false;
        pcre2_code *re = compile_regex(c, rx);
        if (!re) return false;
        bool ok = check_replacement(c, rep, re);
        pcre2_code_free(re);
        st->regex = ir_str(c, rx);
        st->replacement = is_null(rep) ? fy_arena_strdup(&c->ir->arena, "") : ir_str(c, rep);
        return ok;
    }
    case 4: { /* set-type */
        yn *t = want_text(c, m, fld(f, nf, "type"), "a conversion step", true);
        if (!t) return false;
        st->kind = FY_CONV_SET_TYPE;
        if (!lower_key_value(c, v, true, false, &st->key, &st->name, "set-type")) return false;
        for (size_t k = 0; k < FY_ARRAY_LEN(reg_types); k++)
            if (!strcasecmp(reg_types[k].name, t->s)) {
                st->type = reg_types[k].type;
                return true;
            }
        const char *names[FY_ARRAY_LEN(reg_types)];
        for (size_t k = 0; k < FY_ARRAY_LEN(reg_types); k++)
            names[k] = reg_types[k].name;
        return bad_enum(c, t, "type", names, FY_ARRAY_LEN(reg_types));
    }
    case 5: { /* move-files */
        yn *to = want_text(c, m, fld(f, nf, "to"), "a conversion step", true);
        if (!to) return false;
        st->kind = FY_CONV_MOVE_FILES;
        st->from = lower_file_path(c, v, true, "move-files");
        st->to = lower_file_path(c, to, true, "to");
        return st->from && st->to;
    }
    default: { /* drop-value */
        yn *why = want_text(c, m, fld(f, nf, "reason"), "a conversion step", true);
        if (!why) return false;
        st->kind = FY_CONV_DROP;
        if (!lower_key_value(c, v, true, false, &st->key, &st->name, "drop-value")) return false;
        st->reason = ir_str(c, why);
        return true;
    }
    }
}

static void lower_conversions(ctx *c, field *fc)
{
    if (!want_kind(c, fc, YN_SEQ)) return;
    for (size_t i = 0; i < fc->val->nkids; i++) {
        yn *m = fc->val->kids[i];
        if (m->kind != YN_MAP) {
            err_at(c, node_pos(c, m), "appdef-schema",
                   "each conversion must be a mapping (from:, to:, steps:), not %s", kind_name(m));
            continue;
        }
        field f[] = {F("from"), F("to"), F("steps")};
        take_fields(c, m, "a conversion", f, 3);
        yn *from = want_text(c, m, &f[0], "a conversion", true);
        yn *to = want_text(c, m, &f[1], "a conversion", true);
        bool ok = from && to;
        if (from && !version_ref(c, from)) ok = false;
        if (to && !version_ref(c, to)) ok = false;
        if (!f[2].val) {
            missing(c, m, "steps", "a conversion");
            continue;
        }
        if (!want_kind(c, &f[2], YN_SEQ)) continue;
        if (!f[2].val->nkids) {
            err_at(c, node_pos(c, f[2].key), "appdef-schema", "'steps' needs at least one step");
            continue;
        }
        fy_ir_conversion conv = {.app = -1};
        for (size_t k = 0; k < f[2].val->nkids; k++) {
            fy_ir_conv_step st;
            if (lower_step(c, f[2].val->kids[k], &st))
                FY_APUSH(&c->ir->arena, conv.steps, conv.nsteps, conv.steps_cap) = st;
            else
                ok = false;
        }
        if (!ok) continue;
        conv.from_version = ir_str(c, from);
        conv.to_version = ir_str(c, to);
        conv.pos = node_pos(c, from);
        FY_APUSH(&c->tmp, c->convs, c->nconvs, c->convs_cap) = conv;
    }
}

/* ---- the application ---- */

static void lower_app(ctx *c, yn *root)
{
    if (root->kind != YN_MAP) {
        err_at(c, node_pos(c, root), "appdef-schema",
               "an appdef is a mapping (id:, name:, content-path: ...), not %s", kind_name(root));
        return;
    }
    field f[] = {F("id"),
                 F("name"),
                 F("vendor"),
                 F("content-path"),
                 F("context"),
                 F("detect"),
                 F("versions"),
                 F("components"),
                 F("include"),
                 F("exclude"),
                 F("unconditional-exclude"),
                 F("conversions")};
    size_t nf = FY_ARRAY_LEN(f);
    take_fields(c, root, "an application", f, nf);
    const char *what = "an application";

    yn *id = want_text(c, root, fld(f, nf, "id"), what, true);
    yn *name = want_text(c, root, fld(f, nf, "name"), what, true);
    yn *path = want_text(c, root, fld(f, nf, "content-path"), what, true);
    bool ok = id && name && path;
    if (id && !id_ok(id->s, id->n)) {
        err_at(c, node_pos(c, id), "appdef-schema",
               "bad id '%s': lowercase letters and digits in words joined by single '-' "
               "(microsoft-word)",
               id->s);
        ok = false;
    }
    if (path && !content_path_ok(c, path)) ok = false;
    c->path_node = path;
    if (id) {
        c->app.id = ir_str(c, id);
        c->app.pos = node_pos(c, id);
    }
    if (name) c->app.name = ir_str(c, name);
    if (path) c->app.content_path = ir_str(c, path);
    field *fvend = fld(f, nf, "vendor");
    if (fvend->val) {
        yn *v = want_text(c, root, fvend, what, false);
        if (v) c->app.vendor = ir_str(c, v);
    }
    field *fctx = fld(f, nf, "context");
    if (fctx->val) {
        yn *v = want_text(c, root, fctx, what, false);
        static const char *const ctxs[] = {"user", "system"};
        if (v && !strcmp(v->s, "system"))
            c->app.system = true;
        else if (v && strcmp(v->s, "user") != 0)
            bad_enum(c, v, "context", ctxs, 2);
    }

    field *fdet = fld(f, nf, "detect"), *fver = fld(f, nf, "versions");
    if (fdet->val && fver->val) {
        err_at(c, node_pos(c, fdet->key), "appdef-schema",
               "'detect' and 'versions' together: with versions, each version has its own "
               "detect:");
        lower_versions(c, fver); /* so that conversions still find them */
    } else if (fdet->val) {
        /* An application without versions: one version with no name. */
        fy_ir_detect *d = fy_arena_alloc(&c->ir->arena, sizeof(*d));
        if (lower_detect(c, fdet->val, d)) {
            fy_ir_version ver = {.version = NULL, .detect = d, .pos = node_pos(c, fdet->key)};
            FY_APUSH(&c->ir->arena, c->app.versions, c->app.nversions, c->app.versions_cap) = ver;
        }
    } else if (fver->val) {
        lower_versions(c, fver);
    }
    lower_rule_block(c, fld(f, nf, "include"), -1);
    lower_rule_block(c, fld(f, nf, "exclude"), -1);
    lower_rule_block(c, fld(f, nf, "unconditional-exclude"), -1);
    field *fcomp = fld(f, nf, "components");
    if (fcomp->val) lower_components(c, fcomp);
    field *fconv = fld(f, nf, "conversions");
    if (fconv->val) lower_conversions(c, fconv);
    c->identity_ok = ok;
}

static int rule_cmp(const void *pa, const void *pb)
{
    const fy_pos *a = &((const fy_ir_rule *)pa)->pos, *b = &((const fy_ir_rule *)pb)->pos;
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    if (a->col != b->col) return a->col < b->col ? -1 : 1;
    return 0;
}

/* Another application or component already claims this content path? */
static bool path_taken(ctx *c, const char *path, fy_pos at, const char *what)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < c->ir->napps; i++) {
        const fy_ir_app *a = &c->ir->apps[i];
        if (a->content_path &&
            !fy_strcasecmp_u8(a->content_path, strlen(a->content_path), path, n)) {
            err_at(c, at, "duplicate-path",
                   "%s '%s' has the content path of application '%s' (%s:%u)", what, path, a->id,
                   a->pos.file ? a->pos.file : "?", a->pos.line);
            return true;
        }
        for (size_t k = 0; k < a->ncomponents; k++) {
            const fy_ir_component *cp = &a->components[k];
            if (cp->content_path &&
                !fy_strcasecmp_u8(cp->content_path, strlen(cp->content_path), path, n)) {
                err_at(c, at, "duplicate-path",
                       "%s '%s' has the content path of component '%s' of '%s' (%s:%u)", what, path,
                       cp->name, a->id, cp->pos.file ? cp->pos.file : "?", cp->pos.line);
                return true;
            }
        }
    }
    return false;
}

static void commit(ctx *c)
{
    if (!c->identity_ok) return;
    for (size_t i = 0; i < c->ir->napps; i++) {
        const fy_ir_app *a = &c->ir->apps[i];
        if (a->id && !strcmp(a->id, c->app.id)) {
            err_at(c, c->app.pos, "duplicate-id", "application id '%s' is already defined at %s:%u",
                   c->app.id, a->pos.file ? a->pos.file : "?", a->pos.line);
            return;
        }
    }
    bool taken = path_taken(c, c->app.content_path, node_pos(c, c->path_node), "application");
    bool has_detection = false;
    for (size_t i = 0; i < c->app.nversions; i++)
        if (c->app.versions[i].detect) has_detection = true;
    for (size_t k = 0; k < c->app.ncomponents; k++) {
        fy_ir_component *cp = &c->app.components[k];
        cp->content_path = fy_arena_printf(&c->ir->arena, "%s|%s", c->app.content_path, cp->name);
        if (path_taken(c, cp->content_path, cp->pos, "component")) taken = true;
        comp_extra *x = &c->cx[k];
        if (x->detection == 1 && !has_detection) {
            err_at(c, node_pos(c, x->detection_node), "appdef-schema",
                   "'detection: true' but this application has no detection (no detect: and "
                   "no version with detect:)");
            taken = true;
        }
        cp->detection = x->detection < 0 ? has_detection : x->detection == 1;
    }
    if (taken) return;
    int app = (int)c->ir->napps;
    FY_APUSH(&c->ir->arena, c->ir->apps, c->ir->napps, c->ir->apps_cap) = c->app;
    /* Rules in source order (they were lowered field by field); each comes from its own
     * scalar, so positions are unique and the order is total. */
    if (c->nrules > 1) qsort(c->rules, c->nrules, sizeof(*c->rules), rule_cmp);
    for (size_t i = 0; i < c->nrules; i++) {
        fy_ir_rule r = c->rules[i];
        r.app = app;
        r.detection = r.component < 0 ? has_detection : c->app.components[r.component].detection;
        FY_APUSH(&c->ir->arena, c->ir->rules, c->ir->nrules, c->ir->rules_cap) = r;
    }
    for (size_t i = 0; i < c->nconvs; i++) {
        fy_ir_conversion cv = c->convs[i];
        cv.app = app;
        FY_APUSH(&c->ir->arena, c->ir->convs, c->ir->nconvs, c->ir->convs_cap) = cv;
    }
}

/* ---- entry points ---- */

int fy_fe_appdef_mem(fy_ir *ir, const char *name, const void *data, size_t len, fy_diags *diags)
{
    ctx c = {.ir = ir, .diags = diags};
    c.file = fy_ir_intern_file(ir, name);
    const char *err = NULL;
    char *text = NULL;
    size_t tlen = 0;
    if (len > MAX_FILE_BYTES) {
        fy_diag_add(diags, FY_DIAG_ERROR, c.file, 0, 0, "io",
                    "file too large for an appdef (%zu bytes; the limit is %d)", len,
                    MAX_FILE_BYTES);
        return 0;
    }
    if (fy_text_decode(data, len, &text, &tlen, &err)) {
        fy_diag_add(diags, FY_DIAG_ERROR, c.file, 1, 1, "encoding", "%s", err);
        return 0;
    }
    c.text = text;
    c.len = tlen;
    build_lines(&c);
    yn *root = parse_tree(&c);
    if (root) {
        lower_app(&c, root);
        commit(&c);
    }
    free(c.lines);
    free(text);
    fy_arena_free(&c.tmp);
    return 0;
}

int fy_fe_appdef(fy_ir *ir, const char *path, fy_diags *diags)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fy_diag_add(diags, FY_DIAG_ERROR, path, 0, 0, "io", "cannot open: %s", strerror(errno));
        return -1;
    }
    fy_buf b = {0};
    int rc = 0;
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + got > MAX_FILE_BYTES) {
            fy_diag_add(diags, FY_DIAG_ERROR, path, 0, 0, "io",
                        "file too large for an appdef (the limit is %d bytes)", MAX_FILE_BYTES);
            rc = -1;
            goto out;
        }
        fy_buf_put(&b, chunk, got);
    }
    if (ferror(f)) {
        fy_diag_add(diags, FY_DIAG_ERROR, path, 0, 0, "io", "cannot read: %s", strerror(errno));
        rc = -1;
        goto out;
    }
    rc = fy_fe_appdef_mem(ir, path, b.data ? b.data : (const uint8_t *)"", b.len, diags);
out:
    fclose(f);
    fy_buf_free(&b);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *n)
{
    size_t l = strlen(n);
    if (n[0] == '.') return false; /* hidden and editor back-up files */
    return (l > 5 && !strcasecmp(n + l - 5, ".yaml")) || (l > 4 && !strcasecmp(n + l - 4, ".yml"));
}

int fy_fe_appdef_dir(fy_ir *ir, const char *dir, fy_diags *diags)
{
    DIR *d = opendir(dir);
    if (!d) {
        fy_diag_add(diags, FY_DIAG_ERROR, dir, 0, 0, "io", "cannot open folder: %s",
                    strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!yaml_name(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = fy_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = fy_xstrdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof(*names), name_cmp);
    int rc = 0;
    size_t dl = strlen(dir);
    for (size_t i = 0; i < n; i++) {
        char *p = fy_xasprintf("%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names[i]);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if (fy_fe_appdef(ir, p, diags)) rc = -1;
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}
