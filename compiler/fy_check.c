/* Semantic checks: what `ferryc lint` reports beyond syntax, and what `compile` refuses.
 * Every check has a name (in brackets in the output), documented in docs/lint.md. */
#include "fy_codegen.h"
#include "fy_ir.h"

#include <stdlib.h>
#include <string.h>

static void diag_at(fy_diags *d, fy_diag_level l, fy_pos pos, const char *check, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

static void diag_at(fy_diags *d, fy_diag_level l, fy_pos pos, const char *check, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(d, l, pos.file, pos.line, pos.col, check, fmt, ap);
    va_end(ap);
}

/* ---- .ptt resolution ---- */

/* path equals p, or lies below it ("p|..."), case-insensitively. */
static bool under(const char *path, const char *p)
{
    if (!path) return false;
    size_t pl = strlen(p), l = strlen(path);
    if (l < pl || fy_strcasecmp_u8(path, pl, p, pl) != 0) return false;
    return l == pl || path[pl] == '|';
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t *row = fy_xcalloc(m + 1, sizeof(*row));
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cur = row[j];
            uint32_t x = fy_fold_cp((uint8_t)a[i - 1]), y = fy_fold_cp((uint8_t)b[j - 1]);
            size_t best = prev + (x != y);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    size_t r = row[m];
    free(row);
    return r;
}

/* The content path (or a prefix of one, like "Applications|Microsoft Office") nearest to p. */
static const char *nearest_path(const fy_ir *ir, const char *p, fy_buf *tmp)
{
    size_t best = SIZE_MAX;
    tmp->len = 0;
    for (size_t a = 0; a < ir->napps; a++) {
        const fy_ir_app *app = &ir->apps[a];
        for (size_t c = 0; c <= app->ncomponents; c++) {
            const char *full = c < app->ncomponents ? app->components[c].content_path : app->content_path;
            if (!full) continue;
            /* every prefix at a '|' boundary, and the whole path */
            for (size_t i = 0;; i++) {
                if (full[i] == '|' || full[i] == 0) {
                    char *pre = fy_xstrndup(full, i);
                    size_t d = edit_distance(pre, p);
                    if (d < best) {
                        best = d;
                        tmp->len = 0;
                        fy_buf_puts(tmp, pre);
                    }
                    free(pre);
                }
                if (!full[i]) break;
            }
        }
    }
    return tmp->len ? fy_buf_cstr(tmp) : NULL;
}

static void resolve_selection(fy_ir *ir, fy_diags *d)
{
    fy_buf tmp = {0};
    for (size_t s = 0; s < ir->nselects; s++) {
        const fy_ir_select *sel = &ir->selects[s];
        bool hit = false;
        for (size_t a = 0; a < ir->napps; a++) {
            fy_ir_app *app = &ir->apps[a];
            bool whole = under(app->content_path, sel->path);
            if (whole) {
                hit = true;
                app->selected = !sel->deselect;
            }
            for (size_t c = 0; c < app->ncomponents; c++) {
                fy_ir_component *comp = &app->components[c];
                if (whole || under(comp->content_path, sel->path)) {
                    hit = true;
                    comp->selected = !sel->deselect;
                }
            }
        }
        if (!hit) {
            const char *near = nearest_path(ir, sel->path, &tmp);
            if (near)
                diag_at(d, FY_DIAG_ERROR, sel->pos, "unknown-ptt-path",
                        "no application definition has the content path '%s' (did you mean "
                        "'%s'?)",
                        sel->path, near);
            else
                diag_at(d, FY_DIAG_ERROR, sel->pos, "unknown-ptt-path",
                        "no application definition has the content path '%s' (no appdefs were "
                        "loaded: add -A APPDEF_DIR)",
                        sel->path);
        }
    }
    /* An app counts as selected when any of its components is. */
    for (size_t a = 0; a < ir->napps; a++) {
        fy_ir_app *app = &ir->apps[a];
        bool any = false;
        for (size_t c = 0; c < app->ncomponents; c++) any |= app->components[c].selected;
        if (app->ncomponents) app->selected = any;
    }
    fy_buf_free(&tmp);
}

/* ---- rules ---- */

static void check_never(const fy_ir_rule *r, fy_diags *d)
{
    int64_t slo = 0, shi = INT64_MAX, mlo = INT64_MIN, mhi = INT64_MAX;
    int64_t newer = INT64_MAX, older = -1;
    uint32_t set = 0, clear = 0;
    for (size_t i = 0; i < r->nconds; i++) {
        const fy_ir_cond *c = &r->conds[i];
        int64_t *lo = c->kind == FY_COND_SIZE ? &slo : &mlo;
        int64_t *hi = c->kind == FY_COND_SIZE ? &shi : &mhi;
        switch (c->kind) {
        case FY_COND_SIZE:
        case FY_COND_MODIFIED:
            switch (c->cmp) {
            case FY_CMP_LT: if (c->value - 1 < *hi) *hi = c->value - 1; break;
            case FY_CMP_LE: if (c->value < *hi) *hi = c->value; break;
            case FY_CMP_EQ:
                if (c->value > *lo) *lo = c->value;
                if (c->value < *hi) *hi = c->value;
                break;
            case FY_CMP_GE: if (c->value > *lo) *lo = c->value; break;
            case FY_CMP_GT: if (c->value + 1 > *lo) *lo = c->value + 1; break;
            case FY_CMP_NE: break;
            }
            break;
        case FY_COND_NEWER_THAN: if (c->value < newer) newer = c->value; break;
        case FY_COND_OLDER_THAN: if (c->value > older) older = c->value; break;
        case FY_COND_ATTRIB:
            set |= c->attr_set;
            clear |= c->attr_clear;
            break;
        }
    }
    const char *why = NULL;
    if (slo > shi) why = "its size conditions exclude each other";
    else if (mlo > mhi) why = "its date conditions exclude each other";
    else if (older >= 0 && newer != INT64_MAX && older >= newer)
        why = "a file cannot be both newer-than and older-than these ages";
    else if (set & clear) why = "it asks for an attribute both set and clear";
    if (why) diag_at(d, FY_DIAG_WARNING, r->pos, "never-matches", "this rule can never match: %s", why);
}

static bool has_wild(const char *s)
{
    return !fy_glob_is_literal(s, strlen(s));
}

/* Does every object that pattern `i` selects also meet pattern `j`? Conservative: false
 * when unsure. */
static bool pattern_covers(const fy_ir_pattern *j, const fy_ir_pattern *i)
{
    if (j->kind != i->kind) return false;
    /* node */
    bool jany = strcmp(j->node, "*") == 0;
    if (!jany) {
        if (strcmp(i->node, "*") == 0) return false;
        if (i->recurse && !j->recurse) return false;
        if (has_wild(i->node)) {
            if (!fy_streq_ci(i->node, j->node)) {
                size_t jl = strlen(j->node);
                if (has_wild(j->node) || !j->recurse || strlen(i->node) <= jl ||
                    fy_strcasecmp_u8(i->node, jl, j->node, jl) != 0 || i->node[jl] != '\\')
                    return false;
            }
        } else {
            size_t in = strlen(i->node), jn = strlen(j->node);
            bool ok = fy_glob_match(j->node, jn, i->node, in, false);
            if (!ok && j->recurse) {
                for (size_t k = 0; k < in && !ok; k++)
                    if (i->node[k] == '\\') ok = fy_glob_match(j->node, jn, i->node, k, false);
            }
            if (!ok) return false;
        }
    }
    /* keys: a key-selecting rule is covered only by one that selects keys too */
    if (i->keys && !j->keys) return false;
    /* leaf */
    const char *jl = j->leaf ? j->leaf : "*", *il = i->leaf ? i->leaf : "*";
    if (strcmp(jl, "*") == 0) return true;
    if (fy_streq_ci(jl, il)) return true;
    if (!has_wild(il)) return fy_glob_match(jl, strlen(jl), il, strlen(il), false);
    /* "*.ext" covers "anything*.ext" */
    if (jl[0] == '*' && !has_wild(jl + 1)) {
        size_t sl = strlen(jl + 1), ill = strlen(il);
        return ill >= sl && fy_strcasecmp_u8(il + ill - sl, sl, jl + 1, sl) == 0;
    }
    return false;
}

static void check_template_rules(const fy_ir *ir, fy_diags *d)
{
    for (size_t i = 0; i < ir->nrules; i++) {
        const fy_ir_rule *r = &ir->rules[i];
        check_never(r, d);
        if (r->stage != FY_STAGE_TEMPLATE) continue;
        const char *n = r->pat.node;
        bool drive_root = strcmp(n, "*:") == 0 || (strlen(n) == 2 && n[1] == ':');
        if (r->action == FY_ACT_INCLUDE && drive_root && r->pat.recurse && r->nconds == 0 &&
            strcmp(r->pat.leaf, "*") == 0)
            diag_at(d, FY_DIAG_WARNING, r->pos, "whole-drive",
                    "this includes every file of %s with no filter: name a pattern or add a "
                    "condition",
                    strcmp(n, "*:") == 0 ? "every fixed disk" : n);
        /* Shadowed: a later template rule with no conditions covers this one. */
        for (size_t j = i + 1; j < ir->nrules; j++) {
            const fy_ir_rule *l = &ir->rules[j];
            if (l->stage != FY_STAGE_TEMPLATE || l->nconds) continue;
            if (!pattern_covers(&l->pat, &r->pat)) continue;
            diag_at(d, FY_DIAG_WARNING, r->pos, "shadowed-rule",
                    "this rule never decides: the later rule at line %u (%s) matches everything "
                    "it matches",
                    l->pos.line, l->action == FY_ACT_INCLUDE ? "include" : "exclude");
            break;
        }
        /* Remaps that send the same files to two places. */
        if (r->dest) {
            for (size_t j = 0; j < i; j++) {
                const fy_ir_rule *o = &ir->rules[j];
                if (o->stage != FY_STAGE_TEMPLATE || !o->dest || fy_streq_ci(o->dest, r->dest))
                    continue;
                if (pattern_covers(&o->pat, &r->pat) || pattern_covers(&r->pat, &o->pat))
                    diag_at(d, FY_DIAG_ERROR, r->pos, "remap-conflict",
                            "this remap sends files that the remap at line %u sends to '%s' to "
                            "'%s' instead; keep one destination",
                            o->pos.line, o->dest, r->dest);
            }
        }
    }
}

/* ---- conversions ---- */

static void check_cycles(const fy_ir *ir, fy_diags *d)
{
    for (size_t a = 0; a < ir->napps; a++) {
        /* Follow from -> to edges from every conversion; a walk longer than the number of
         * conversions has met a cycle. */
        for (size_t c = 0; c < ir->nconvs; c++) {
            const fy_ir_conversion *start = &ir->convs[c];
            if (start->app != (int)a || !start->from_version || !start->to_version) continue;
            const char *at = start->to_version;
            for (size_t steps = 0; steps <= ir->nconvs; steps++) {
                if (fy_streq_ci(at, start->from_version)) {
                    diag_at(d, FY_DIAG_ERROR, start->pos, "conversion-cycle",
                            "conversions of '%s' form a cycle through version %s",
                            ir->apps[a].id, start->from_version);
                    return;
                }
                const char *next = NULL;
                for (size_t k = 0; k < ir->nconvs && !next; k++) {
                    const fy_ir_conversion *e = &ir->convs[k];
                    if (e->app == (int)a && e->from_version && e->to_version &&
                        fy_streq_ci(e->from_version, at))
                        next = e->to_version;
                }
                if (!next) break;
                at = next;
            }
        }
    }
}

void fy_check(fy_ir *ir, fy_diags *diags)
{
    if (ir->have_template) resolve_selection(ir, diags);
    check_template_rules(ir, diags);
    check_cycles(ir, diags);
}
