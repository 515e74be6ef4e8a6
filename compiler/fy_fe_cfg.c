/* SE.cfg front end: an INI file of settings, policies and registry rules.
 *
 * Every Key=Value outside [Registry Rules] becomes a fy_ir_policy (file order; known
 * sections and keys in their canonical spelling, others as written). [Registry Rules]
 * Include/Exclude Branch|Key|Value lines become fy_ir_rule (stage FY_STAGE_TEMPLATE, kind
 * FY_OBJ_REG) and Move Branch lines a template-level fy_ir_conversion. The language is
 * described for rule authors in docs/templates.md. */
#include "fy_ir.h"
#include "fy_lex.h"

#include <stdlib.h>
#include <string.h>

typedef enum {
    SEC_NONE = -1, /* before the first [Section] */
    SEC_DATA_STORE = 0,
    SEC_LOGGING,
    SEC_POLICIES,
    SEC_REGISTRY,
    SEC_TARGETS,
    SEC_COUNT,
    SEC_UNKNOWN = SEC_COUNT,
} sec_id;

static const char *const sections[SEC_COUNT] = {"Data Store", "Logging", "Policies",
                                                "Registry Rules", "Target Versions"};

typedef enum { V_TEXT, V_CHOICE, V_UINT } value_kind;

static const char *const yes_no[] = {"Yes", "No", NULL};
static const char *const log_levels[] = {"Error",   "Warning", "Informational",
                                         "Verbose", "Trace",   NULL};
static const char *const overwrite_files[] = {"Always", "Never", "If Newer", "Rename", NULL};
static const char *const overwrite_reg[] = {"Always", "Never", NULL};

static const struct known_key {
    sec_id sec;
    const char *key;
    value_kind kind;
    const char *const *choices;
} known_keys[] = {
    {SEC_DATA_STORE, "Data Store Location", V_TEXT, NULL},
    {SEC_LOGGING, "Log Level", V_CHOICE, log_levels},
    {SEC_LOGGING, "Display Log On Completion", V_CHOICE, yes_no},
    {SEC_POLICIES, "Overwrite Existing Files", V_CHOICE, overwrite_files},
    {SEC_POLICIES, "Overwrite Existing Registry", V_CHOICE, overwrite_reg},
    {SEC_POLICIES, "Backup Before Inject", V_CHOICE, yes_no},
    {SEC_POLICIES, "Exclude Unused Days", V_UINT, NULL},
    {SEC_POLICIES, "Translate Paths In Registry", V_CHOICE, yes_no},
    {SEC_POLICIES, "Password Required", V_CHOICE, yes_no},
};

typedef enum { R_BRANCH, R_KEY, R_VALUE } reg_scope;

static const struct reg_key {
    const char *key;
    int action; /* fy_action, or 0 for Move */
    reg_scope scope;
} reg_keys[] = {
    {"Include Branch", FY_ACT_INCLUDE, R_BRANCH},
    {"Include Key", FY_ACT_INCLUDE, R_KEY},
    {"Include Value", FY_ACT_INCLUDE, R_VALUE},
    {"Exclude Branch", FY_ACT_EXCLUDE, R_BRANCH},
    {"Exclude Key", FY_ACT_EXCLUDE, R_KEY},
    {"Exclude Value", FY_ACT_EXCLUDE, R_VALUE},
    {"Move Branch", 0, R_BRANCH},
};

typedef struct cfg_ctx {
    fy_ir *ir;
    fy_diags *diags;
    const char *file;
    const fy_line *line;
    sec_id sec;
    const char *sec_name; /* canonical, or as written for an unknown section */
    size_t first_policy;  /* ir->policies index where this file's start */
} cfg_ctx;

/* One Key=Value line, positions as byte offsets in the line. */
typedef struct kv {
    const char *key;
    size_t key_n, key_off;
    const char *val; /* unquoted */
    size_t val_n;
    size_t val_off;  /* where the value token starts (its quote, if quoted) */
    size_t val_coff; /* where its content starts */
} kv;

static void diag_at(cfg_ctx *c, fy_diag_level lvl, size_t off, const char *check, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
static void diag_at(cfg_ctx *c, fy_diag_level lvl, size_t off, const char *check, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(c->diags, lvl, c->file, c->line->no, fy_lex_col(c->line, off), check, fmt, ap);
    va_end(ap);
}

static bool eq_ci(const char *a, size_t an, const char *b)
{
    return fy_strcasecmp_u8(a, an, b, strlen(b)) == 0;
}

static fy_pos pos_at(cfg_ctx *c, size_t off)
{
    return (fy_pos){c->file, c->line->no, fy_lex_col(c->line, off)};
}

/* "Always, Never, If Newer or Rename" */
static void list_choices(fy_buf *b, const char *const *ch)
{
    for (size_t i = 0; ch[i]; i++) {
        if (i) fy_buf_puts(b, ch[i + 1] ? ", " : " or ");
        fy_buf_puts(b, ch[i]);
    }
}

/* ---- sections ---- */

static void section_line(cfg_ctx *c, size_t b, size_t e)
{
    const char *s = c->line->s;
    const char *close = memchr(s + b, ']', e - b);
    if (!close) {
        diag_at(c, FY_DIAG_ERROR, b, "syntax", "missing ']' after the section name");
        c->sec = SEC_UNKNOWN;
        c->sec_name = NULL;
        return;
    }
    size_t ce = (size_t)(close - s);
    if (ce + 1 < e) {
        diag_at(c, FY_DIAG_ERROR, ce + 1, "syntax",
                "unexpected text after the section header (a comment starts with ; or #)");
    }
    size_t nb = b + 1, ne = ce;
    fy_lex_trim(s, &nb, &ne);
    if (nb == ne) {
        diag_at(c, FY_DIAG_ERROR, b, "syntax", "empty section name");
        c->sec = SEC_UNKNOWN;
        c->sec_name = NULL;
        return;
    }
    for (int k = 0; k < SEC_COUNT; k++) {
        if (eq_ci(s + nb, ne - nb, sections[k])) {
            c->sec = (sec_id)k;
            c->sec_name = sections[k];
            return;
        }
    }
    c->sec = SEC_UNKNOWN;
    c->sec_name = fy_arena_strndup(&c->ir->arena, s + nb, ne - nb);
    int near = fy_lex_nearest(s + nb, ne - nb, sections, SEC_COUNT);
    if (near >= 0)
        diag_at(c, FY_DIAG_WARNING, nb, "unknown-section",
                "unknown section [%.*s]; did you mean [%s]? Its keys are ignored", (int)(ne - nb),
                s + nb, sections[near]);
    else
        diag_at(c, FY_DIAG_WARNING, nb, "unknown-section",
                "unknown section [%.*s]; its keys are ignored (known: [Data Store], [Logging], "
                "[Policies], [Registry Rules], [Target Versions])",
                (int)(ne - nb), s + nb);
}

/* ---- policies ---- */

static void add_policy(cfg_ctx *c, const kv *p, const char *key)
{
    fy_ir_policy *pol =
        &FY_APUSH(&c->ir->arena, c->ir->policies, c->ir->npolicies, c->ir->policies_cap);
    pol->section = fy_arena_strdup(&c->ir->arena, c->sec_name);
    pol->key = key ? fy_arena_strdup(&c->ir->arena, key)
                   : fy_arena_strndup(&c->ir->arena, p->key, p->key_n);
    pol->value = fy_arena_strndup(&c->ir->arena, p->val, p->val_n);
    pol->pos = pos_at(c, p->key_off);
    pol->value_pos = pos_at(c, p->val_off);
}

/* Warns when this file already set section/key (a setting that holds one value). */
static void check_duplicate(cfg_ctx *c, const kv *p)
{
    for (size_t i = c->first_policy; i < c->ir->npolicies; i++) {
        const fy_ir_policy *q = &c->ir->policies[i];
        if (q->pos.file == c->file && fy_streq_ci(q->section, c->sec_name) &&
            eq_ci(p->key, p->key_n, q->key)) {
            diag_at(c, FY_DIAG_WARNING, p->key_off, "duplicate-key",
                    "'%.*s' is already set in [%s] on line %u; the last value counts",
                    (int)p->key_n, p->key, c->sec_name, q->pos.line);
            return;
        }
    }
}

static bool valid_version(const char *v, size_t n)
{
    /* Numbers separated by single dots: 16, 16.0, 14.0.7015.1000 */
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] >= '0' && v[i] <= '9') {
            digit = true;
        } else if (v[i] == '.' && digit) {
            digit = false;
        } else {
            return false;
        }
    }
    return digit;
}

static void policy_line(cfg_ctx *c, const kv *p)
{
    if (c->sec == SEC_UNKNOWN) { /* the section was warned about once; keep its keys */
        if (c->sec_name) add_policy(c, p, NULL);
        return;
    }
    if (c->sec == SEC_TARGETS) {
        if (p->val_n == 0) {
            diag_at(c, FY_DIAG_ERROR, p->val_off, "bad-value",
                    "'%.*s' needs a version, as in Microsoft Office=16.0", (int)p->key_n, p->key);
            return;
        }
        if (!valid_version(p->val, p->val_n)) {
            diag_at(c, FY_DIAG_ERROR, p->val_off, "bad-value",
                    "'%.*s' is not a version for '%.*s': write numbers separated by dots, as in "
                    "Microsoft Office=16.0",
                    (int)p->val_n, p->val, (int)p->key_n, p->key);
            return;
        }
        check_duplicate(c, p);
        add_policy(c, p, NULL);
        return;
    }
    const struct known_key *k = NULL;
    for (size_t i = 0; i < FY_ARRAY_LEN(known_keys); i++)
        if (known_keys[i].sec == c->sec && eq_ci(p->key, p->key_n, known_keys[i].key))
            k = &known_keys[i];
    if (!k) {
        /* A known key in the wrong section is the likeliest mistake; say where it goes. */
        for (size_t i = 0; i < FY_ARRAY_LEN(known_keys); i++) {
            if (eq_ci(p->key, p->key_n, known_keys[i].key)) {
                diag_at(c, FY_DIAG_WARNING, p->key_off, "unknown-key",
                        "'%s' belongs in [%s], not [%s]; it is ignored here", known_keys[i].key,
                        sections[known_keys[i].sec], c->sec_name);
                add_policy(c, p, NULL);
                return;
            }
        }
        const char *cands[FY_ARRAY_LEN(known_keys)];
        size_t nc = 0;
        for (size_t i = 0; i < FY_ARRAY_LEN(known_keys); i++)
            if (known_keys[i].sec == c->sec) cands[nc++] = known_keys[i].key;
        int near = fy_lex_nearest(p->key, p->key_n, cands, nc);
        if (near >= 0)
            diag_at(c, FY_DIAG_WARNING, p->key_off, "unknown-key",
                    "unknown key '%.*s' in [%s]; did you mean '%s'? It is ignored", (int)p->key_n,
                    p->key, c->sec_name, cands[near]);
        else
            diag_at(c, FY_DIAG_WARNING, p->key_off, "unknown-key",
                    "unknown key '%.*s' in [%s]; it is ignored", (int)p->key_n, p->key,
                    c->sec_name);
        add_policy(c, p, NULL);
        return;
    }
    bool ok = true;
    switch (k->kind) {
    case V_TEXT:
        if (p->val_n == 0) {
            diag_at(c, FY_DIAG_ERROR, p->val_off, "bad-value",
                    "'%s' needs a value (a folder or \\\\server\\share)", k->key);
            ok = false;
        }
        break;
    case V_CHOICE: {
        bool found = false;
        for (size_t i = 0; k->choices[i]; i++)
            if (eq_ci(p->val, p->val_n, k->choices[i])) found = true;
        if (!found) {
            fy_buf b = {0};
            list_choices(&b, k->choices);
            if (p->val_n == 0)
                diag_at(c, FY_DIAG_ERROR, p->val_off, "bad-value", "'%s' needs a value: %s", k->key,
                        fy_buf_cstr(&b));
            else
                diag_at(c, FY_DIAG_ERROR, p->val_off, "bad-value",
                        "'%.*s' is not a value of '%s': use %s", (int)p->val_n, p->val, k->key,
                        fy_buf_cstr(&b));
            fy_buf_free(&b);
            ok = false;
        }
        break;
    }
    case V_UINT: {
        uint64_t v = 0;
        bool digits = p->val_n > 0;
        for (size_t i = 0; i < p->val_n && digits; i++) {
            if (p->val[i] < '0' || p->val[i] > '9')
                digits = false;
            else if ((v = v * 10 + (uint64_t)(p->val[i] - '0')) > INT32_MAX)
                digits = false;
        }
        if (!digits) {
            diag_at(c, FY_DIAG_ERROR, p->val_off, "bad-value",
                    "'%.*s' is not a value of '%s': use a whole number of days, 0 or more (0 = "
                    "off)",
                    (int)p->val_n, p->val, k->key);
            ok = false;
        }
        break;
    }
    }
    if (!ok) return;
    check_duplicate(c, p);
    add_policy(c, p, k->key);
}

/* ---- registry rules ---- */

/* Offset of an unescaped '[' in v[0..n), or SIZE_MAX. */
static size_t find_bracket(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == '[' && !(i > 0 && v[i - 1] == '^')) return i;
    return SIZE_MAX;
}

static const char *reg_check(const char *err)
{
    return strstr(err, "must start with HK") ? "registry-root" : "bad-value";
}

/* Normalises a registry key at p->val[s..e); reports at its column on failure. */
static char *norm_key(cfg_ctx *c, const kv *p, size_t s, size_t e)
{
    const char *err = NULL;
    size_t off = 0;
    char *k = fy_norm_reg_key(&c->ir->arena, p->val + s, e - s, &err, &off);
    if (!k) diag_at(c, FY_DIAG_ERROR, p->val_coff + s + off, reg_check(err), "%s", err);
    return k;
}

static void registry_line(cfg_ctx *c, const kv *p)
{
    const struct reg_key *rk = NULL;
    for (size_t i = 0; i < FY_ARRAY_LEN(reg_keys); i++)
        if (eq_ci(p->key, p->key_n, reg_keys[i].key)) rk = &reg_keys[i];
    if (!rk) {
        for (size_t i = 0; i < FY_ARRAY_LEN(known_keys); i++) {
            if (eq_ci(p->key, p->key_n, known_keys[i].key)) {
                diag_at(c, FY_DIAG_WARNING, p->key_off, "unknown-key",
                        "'%s' belongs in [%s], not [Registry Rules]; it is ignored here",
                        known_keys[i].key, sections[known_keys[i].sec]);
                return;
            }
        }
        const char *cands[FY_ARRAY_LEN(reg_keys)];
        for (size_t i = 0; i < FY_ARRAY_LEN(reg_keys); i++)
            cands[i] = reg_keys[i].key;
        int near = fy_lex_nearest(p->key, p->key_n, cands, FY_ARRAY_LEN(reg_keys));
        if (near >= 0)
            diag_at(c, FY_DIAG_WARNING, p->key_off, "unknown-key",
                    "unknown key '%.*s' in [Registry Rules]; did you mean '%s'? It is ignored",
                    (int)p->key_n, p->key, cands[near]);
        else
            diag_at(c, FY_DIAG_WARNING, p->key_off, "unknown-key",
                    "unknown key '%.*s' in [Registry Rules]; it is ignored (known: Include or "
                    "Exclude Branch, Key or Value, and Move Branch)",
                    (int)p->key_n, p->key);
        return;
    }
    if (p->val_n == 0) {
        diag_at(c, FY_DIAG_ERROR, p->val_off, "bad-value", "'%s' needs a registry key (%s=%s)",
                rk->key, rk->key,
                rk->scope == R_VALUE ? "HKCU\\Control Panel\\Desktop [Wallpaper]"
                : rk->action         ? "HKCU\\Software\\Vendor\\App"
                                     : "HKCU\\Software\\Old -> HKCU\\Software\\New");
        return;
    }
    size_t br = find_bracket(p->val, p->val_n);
    if (rk->scope != R_VALUE && br != SIZE_MAX) {
        diag_at(c, FY_DIAG_ERROR, p->val_coff + br, "bad-value",
                "'%s' names a whole key; to pick one value write Include Value=KEY [NAME] (a "
                "literal [ in a key name is written ^[)",
                rk->key);
        return;
    }
    if (!rk->action) { /* Move Branch=FROM -> TO */
        const char *a = NULL;
        for (size_t i = 0; i + 1 < p->val_n; i++)
            if (p->val[i] == '-' && p->val[i + 1] == '>') {
                a = p->val + i;
                break;
            }
        if (!a) {
            diag_at(c, FY_DIAG_ERROR, p->val_off, "syntax",
                    "'Move Branch' is written FROM -> TO (Move Branch=HKCU\\Software\\Old -> "
                    "HKCU\\Software\\New)");
            return;
        }
        size_t ao = (size_t)(a - p->val);
        size_t fb = 0, fe = ao, tb = ao + 2, te = p->val_n;
        fy_lex_trim(p->val, &fb, &fe);
        fy_lex_trim(p->val, &tb, &te);
        if (fb == fe || tb == te) {
            diag_at(c, FY_DIAG_ERROR, p->val_coff + (fb == fe ? ao : ao + 2), "syntax",
                    "'Move Branch' needs a key on each side of '->'");
            return;
        }
        char *from = norm_key(c, p, fb, fe);
        char *to = norm_key(c, p, tb, te);
        if (!from || !to) return;
        if (fy_streq_ci(from, to)) {
            diag_at(c, FY_DIAG_ERROR, p->val_coff + tb, "bad-value",
                    "'Move Branch' moves %s onto itself", from);
            return;
        }
        fy_ir_conversion *cv =
            &FY_APUSH(&c->ir->arena, c->ir->convs, c->ir->nconvs, c->ir->convs_cap);
        memset(cv, 0, sizeof(*cv));
        cv->app = -1;
        cv->pos = pos_at(c, p->key_off);
        fy_ir_conv_step *st = &FY_APUSH(&c->ir->arena, cv->steps, cv->nsteps, cv->steps_cap);
        memset(st, 0, sizeof(*st));
        st->kind = FY_CONV_MOVE_KEY;
        st->from = from;
        st->to = to;
        st->pos = pos_at(c, p->val_off);
        return;
    }
    fy_ir_pattern pat = {0};
    if (rk->scope == R_VALUE) {
        size_t e = p->val_n;
        if (br != SIZE_MAX) {
            if (p->val[e - 1] != ']' || (e >= 2 && p->val[e - 2] == '^')) {
                diag_at(c, FY_DIAG_ERROR, p->val_coff + br, "bad-value",
                        "the value name in [ ] must end the line (KEY [NAME]); a literal [ or ] "
                        "in a name is written ^[ ^]");
                return;
            }
            const char *err = NULL;
            size_t off = 0;
            if (fy_parse_pattern(&c->ir->arena, FY_OBJ_REG, p->val, p->val_n, &pat, &err, &off)) {
                diag_at(c, FY_DIAG_ERROR, p->val_coff + off, reg_check(err), "%s", err);
                return;
            }
        } else {
            /* No [NAME]: the last component is the value name (KEY\NAME). */
            size_t s = e;
            while (s > 0 && p->val[s - 1] != '\\')
                s--;
            if (s == 0 || s == e) {
                diag_at(c, FY_DIAG_ERROR, p->val_coff + (s == 0 ? 0 : e), "bad-value",
                        "'%s' names one value: write KEY [NAME] (%s=HKCU\\Control "
                        "Panel\\Desktop [Wallpaper]); [] is the default value",
                        rk->key, rk->key);
                return;
            }
            pat.kind = FY_OBJ_REG;
            pat.node = norm_key(c, p, 0, s - 1);
            if (!pat.node) return;
            pat.leaf = fy_arena_strndup(&c->ir->arena, p->val + s, e - s);
        }
        pat.keys = false;
    } else {
        pat.kind = FY_OBJ_REG;
        pat.node = norm_key(c, p, 0, p->val_n);
        if (!pat.node) return;
        pat.recurse = rk->scope == R_BRANCH;
        pat.leaf = fy_arena_strdup(&c->ir->arena, "*");
        pat.keys = true;
    }
    fy_ir_rule *r = &FY_APUSH(&c->ir->arena, c->ir->rules, c->ir->nrules, c->ir->rules_cap);
    memset(r, 0, sizeof(*r));
    r->stage = FY_STAGE_TEMPLATE;
    r->action = (fy_action)rk->action;
    r->pat = pat;
    r->app = -1;
    r->component = -1;
    r->pos = pos_at(c, p->key_off);
}

/* ---- one line ---- */

static void parse_line(cfg_ctx *c)
{
    const fy_line *l = c->line;
    const char *s = l->s;
    size_t cstart, qoff;
    if (fy_lex_comment(l, FY_LEX_COMMENT_ANYWHERE, &cstart, &qoff) != 0) {
        diag_at(c, FY_DIAG_ERROR, qoff, "syntax", "double quote not closed");
        return;
    }
    size_t b = 0, e = cstart;
    fy_lex_trim(s, &b, &e);
    if (b == e) return;
    if (s[b] == '[') {
        section_line(c, b, e);
        return;
    }
    const char *eq = memchr(s + b, '=', e - b);
    if (!eq) {
        diag_at(c, FY_DIAG_ERROR, b, "syntax",
                "expected Key=Value or [Section] (a comment starts with ; or #)");
        return;
    }
    kv p = {0};
    size_t eo = (size_t)(eq - s);
    size_t kb = b, ke = eo;
    fy_lex_trim(s, &kb, &ke);
    if (kb == ke) {
        diag_at(c, FY_DIAG_ERROR, eo, "syntax", "missing key before '='");
        return;
    }
    p.key = s + kb;
    p.key_n = ke - kb;
    p.key_off = kb;
    size_t vb = eo + 1, ve = e;
    fy_lex_trim(s, &vb, &ve);
    p.val_off = vb;
    if (vb < ve && s[vb] == '"') {
        /* A quoted value: its content is taken as written; only a comment may follow. */
        const char *q = memchr(s + vb + 1, '"', ve - vb - 1);
        size_t qo = q ? (size_t)(q - s) : ve; /* fy_lex_comment saw the quote closed */
        if (qo + 1 < ve) {
            size_t x = qo + 1;
            while (x < ve && fy_lex_blank(s[x]))
                x++;
            diag_at(c, FY_DIAG_ERROR, x, "syntax",
                    "unexpected text after the closing double quote");
            return;
        }
        p.val = s + vb + 1;
        p.val_n = qo > vb ? qo - vb - 1 : 0;
        p.val_coff = vb + 1;
    } else {
        p.val = s + vb;
        p.val_n = ve - vb;
        p.val_coff = vb;
    }
    if (c->sec == SEC_NONE) {
        diag_at(c, FY_DIAG_WARNING, kb, "unknown-key",
                "'%.*s' is outside any [Section] and is ignored", (int)p.key_n, p.key);
        return;
    }
    if (c->sec == SEC_REGISTRY)
        registry_line(c, &p);
    else
        policy_line(c, &p);
}

int fy_fe_cfg(fy_ir *ir, const char *path, fy_diags *diags)
{
    char *text;
    size_t len;
    if (fy_lex_load(path, path, diags, &text, &len) != 0) return -1;
    cfg_ctx c = {.ir = ir,
                 .diags = diags,
                 .file = fy_ir_intern_file(ir, path),
                 .sec = SEC_NONE,
                 .first_policy = ir->npolicies};
    ir->have_template = true;
    fy_lexer lx;
    fy_line line;
    fy_lex_init(&lx, text, len);
    while (fy_lex_next(&lx, &line)) {
        c.line = &line;
        parse_line(&c);
    }
    free(text);
    return 0;
}
