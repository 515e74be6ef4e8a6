/* IR -> program: string/constant tables, one code block per rule, detection and conversion,
 * the dispatch tree and scan roots, and the debug table. */
#include "fy_codegen.h"
#include "fy_vm.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct fy_codegen {
    fy_arena a;
    fy_program p;
    size_t str_cap, const_cap, regex_cap, code_cap, rule_cap, root_cap, dnode_cap, dref_cap,
        dext_cap, app_cap, comp_cap, ver_cap, conv_cap, map_cap, ment_cap, pol_cap, src_cap,
        dbg_cap;
    /* string dedup: open-addressing table of string indices */
    uint32_t *strhash;
    uint32_t strhash_cap;
    fy_pos cur; /* position attached to emitted instructions */
    fy_diags *diags;
};

/* ---- tables ---- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static void strhash_grow(fy_codegen *cg)
{
    uint32_t cap = cg->strhash_cap ? cg->strhash_cap * 2 : 256;
    uint32_t *t = fy_xmalloc(cap * sizeof(*t));
    memset(t, 0xFF, cap * sizeof(*t));
    for (uint32_t i = 0; i < cg->p.nstr; i++) {
        uint32_t h = hash_bytes(cg->p.str[i], cg->p.str_len[i]) & (cap - 1);
        while (t[h] != FY_NONE) h = (h + 1) & (cap - 1);
        t[h] = i;
    }
    free(cg->strhash);
    cg->strhash = t;
    cg->strhash_cap = cap;
}

static uint32_t str_n(fy_codegen *cg, const char *s, size_t n)
{
    if ((cg->p.nstr + 1) * 2 > cg->strhash_cap) strhash_grow(cg);
    uint32_t h = hash_bytes(s, n) & (cg->strhash_cap - 1);
    while (cg->strhash[h] != FY_NONE) {
        uint32_t i = cg->strhash[h];
        if (cg->p.str_len[i] == n && memcmp(cg->p.str[i], s, n) == 0) return i;
        h = (h + 1) & (cg->strhash_cap - 1);
    }
    uint32_t i = cg->p.nstr;
    size_t cap = cg->str_cap;
    cg->p.str = fy_arena_grow(&cg->a, cg->p.str, sizeof(char *), &cap, i + 1);
    size_t cap2 = cg->str_cap;
    cg->p.str_len = fy_arena_grow(&cg->a, cg->p.str_len, sizeof(uint32_t), &cap2, i + 1);
    cg->str_cap = cap;
    cg->p.str[i] = fy_arena_strndup(&cg->a, s, n);
    cg->p.str_len[i] = (uint32_t)n;
    cg->p.nstr++;
    cg->strhash[h] = i;
    return i;
}

static uint32_t str(fy_codegen *cg, const char *s)
{
    return s ? str_n(cg, s, strlen(s)) : FY_NONE;
}

static uint32_t konst(fy_codegen *cg, int64_t v)
{
    for (uint32_t i = 0; i < cg->p.nconsts; i++)
        if (cg->p.consts[i] == v) return i;
    FY_APUSH(&cg->a, cg->p.consts, cg->p.nconsts, cg->const_cap) = v;
    return cg->p.nconsts - 1;
}

static uint32_t regex(fy_codegen *cg, const char *pattern)
{
    uint32_t s = str(cg, pattern);
    for (uint32_t i = 0; i < cg->p.nregex; i++)
        if (cg->p.regex[i].pattern == s) return i;
    fy_prog_regex *r = &FY_APUSH(&cg->a, cg->p.regex, cg->p.nregex, cg->regex_cap);
    r->pattern = s;
    r->flags = 0;
    return cg->p.nregex - 1;
}

/* ---- code ---- */

static uint32_t pc(const fy_codegen *cg)
{
    return cg->p.ncode * FY_INSN_SIZE;
}

static uint32_t emit(fy_codegen *cg, fy_opcode op, uint8_t a, uint16_t b, uint32_t c)
{
    uint32_t at = pc(cg);
    if (cg->cur.file) {
        const fy_prog_debug *last = cg->p.ndebug ? &cg->p.debug[cg->p.ndebug - 1] : NULL;
        uint32_t f = str(cg, cg->cur.file);
        if (!last || last->file != f || last->line != cg->cur.line || last->col != cg->cur.col) {
            fy_prog_debug *d = &FY_APUSH(&cg->a, cg->p.debug, cg->p.ndebug, cg->dbg_cap);
            d->pc = at;
            d->file = f;
            d->line = cg->cur.line;
            d->col = cg->cur.col;
        }
    }
    fy_insn *in = &FY_APUSH(&cg->a, cg->p.code, cg->p.ncode, cg->code_cap);
    in->op = (uint8_t)op;
    in->a = a;
    in->b = b;
    in->c = c;
    return at;
}

static void patch(fy_codegen *cg, uint32_t at, uint32_t target)
{
    cg->p.code[at / FY_INSN_SIZE].c = target;
}

/* A list of jumps to patch to one label. */
typedef struct jumps {
    uint32_t *at;
    size_t n, cap;
} jumps;

static void jump_to_later(fy_codegen *cg, jumps *j, fy_opcode op)
{
    FY_APUSH(&cg->a, j->at, j->n, j->cap) = emit(cg, op, 0, 0, 0);
}

static void land(fy_codegen *cg, jumps *j)
{
    for (size_t i = 0; i < j->n; i++) patch(cg, j->at[i], pc(cg));
    j->n = 0;
}

/* ---- rules ---- */

static bool is_wild_component(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '^') return true;
    return false;
}

uint32_t fy_pattern_specificity(const fy_ir_pattern *p)
{
    uint32_t lit = 0;
    const char *s = p->node;
    if (!(s[0] == '*' && s[1] == 0)) {
        while (*s) {
            const char *e = strchr(s, '\\');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (!is_wild_component(s, n)) lit++;
            s += n + (e ? 1 : 0);
        }
    }
    bool leaf_lit = p->leaf && fy_glob_is_literal(p->leaf, strlen(p->leaf));
    return lit * 2 + (leaf_lit ? 1 : 0);
}

static uint8_t cmp_code(fy_cmp c)
{
    return (uint8_t)c; /* fy_cmp is numbered as the CMP operand: 1..6 */
}

/* A literal node that the dispatch tree holds whole (tadd stops at FY_DISPATCH_MAX_DEPTH). */
static bool node_exact(const char *node)
{
    if (!fy_glob_is_literal(node, strlen(node)) || strchr(node, '^') || !strcmp(node, "*")) return false;
    int comps = 1;
    for (const char *c = node; *c; c++) comps += *c == '\\';
    return comps <= FY_DISPATCH_MAX_DEPTH;
}

/* NODE's a operand: bit 1 recurse, bit 2 literal (no wildcard: a prefix comparison). */
static uint8_t node_flags(const char *node, bool recurse)
{
    bool literal = fy_glob_is_literal(node, strlen(node)) && !strchr(node, '^');
    return (uint8_t)((recurse ? 1 : 0) | (literal ? 2 : 0));
}

/* CLS block: each test jumps to the final HALT (acc false) when it fails. */
static uint32_t gen_rule_block(fy_codegen *cg, const fy_ir_rule *r)
{
    jumps fail = {0};
    cg->cur = r->pos;
    uint32_t entry = pc(cg);
    const fy_ir_pattern *pt = &r->pat;
    emit(cg, FY_OP_NODE, node_flags(pt->node, pt->recurse), 0, str(cg, pt->node));
    bool leaf_any = pt->leaf && strcmp(pt->leaf, "*") == 0;
    if (pt->kind == FY_OBJ_REG) {
        /* Key objects match on the node alone (the rule's keys flag lets them through);
         * value objects also need the leaf. */
        jumps is_key = {0};
        jump_to_later(cg, &fail, FY_OP_JF);
        emit(cg, FY_OP_KIND, FY_OBJ_KIND_REGKEY, 0, 0);
        jump_to_later(cg, &is_key, FY_OP_JT);
        emit(cg, FY_OP_LEAF, 0, 0, str(cg, pt->leaf ? pt->leaf : "*"));
        land(cg, &is_key);
        /* acc is true on both paths here (KIND true, or LEAF result). */
    } else if (!leaf_any) {
        jump_to_later(cg, &fail, FY_OP_JF);
        emit(cg, FY_OP_LEAF, 0, 0, str(cg, pt->leaf));
    }
    for (size_t i = 0; i < r->nconds; i++) {
        const fy_ir_cond *c = &r->conds[i];
        cg->cur = c->pos;
        jump_to_later(cg, &fail, FY_OP_JF);
        switch (c->kind) {
        case FY_COND_SIZE: emit(cg, FY_OP_SIZE, cmp_code(c->cmp), 0, konst(cg, c->value)); break;
        case FY_COND_MODIFIED:
            emit(cg, FY_OP_MTIME, cmp_code(c->cmp), 0, konst(cg, c->value));
            break;
        case FY_COND_NEWER_THAN: emit(cg, FY_OP_AGE, 1 /* < */, 0, konst(cg, c->value)); break;
        case FY_COND_OLDER_THAN: emit(cg, FY_OP_AGE, 6 /* > */, 0, konst(cg, c->value)); break;
        case FY_COND_ATTRIB: emit(cg, FY_OP_ATTR, 0, (uint16_t)c->attr_clear, c->attr_set); break;
        }
    }
    cg->cur = r->pos;
    land(cg, &fail);
    emit(cg, FY_OP_HALT, 0, 0, 0);
    return entry;
}

/* ---- detection ---- */

static void gen_detect(fy_codegen *cg, const fy_ir_detect *d)
{
    cg->cur = d->pos;
    switch (d->kind) {
    case FY_DET_ANY:
    case FY_DET_ALL: {
        if (!d->nkids) {
            emit(cg, FY_OP_SET, d->kind == FY_DET_ALL, 0, 0);
            break;
        }
        jumps out = {0};
        for (size_t i = 0; i < d->nkids; i++) {
            gen_detect(cg, &d->kids[i]);
            if (i + 1 < d->nkids) jump_to_later(cg, &out, d->kind == FY_DET_ALL ? FY_OP_JF : FY_OP_JT);
        }
        land(cg, &out);
        break;
    }
    case FY_DET_NOT:
        if (d->nkids)
            gen_detect(cg, &d->kids[0]);
        else
            emit(cg, FY_OP_SET, 0, 0, 0);
        cg->cur = d->pos;
        emit(cg, FY_OP_NOT, 0, 0, 0);
        break;
    case FY_DET_REG_KEY:
        emit(cg, FY_OP_LDS, 0, 0, str(cg, d->path));
        emit(cg, FY_OP_HOST, FY_HOST_REG_KEY_EXISTS, 0, 0);
        break;
    case FY_DET_REG_VALUE:
    case FY_DET_VALUE_EQUALS:
    case FY_DET_VALUE_CONTAINS:
    case FY_DET_VALUE_MATCHES: {
        emit(cg, FY_OP_LDS, 0, 0, str(cg, d->path));
        emit(cg, FY_OP_LDS, 1, 0, str(cg, d->name ? d->name : ""));
        emit(cg, FY_OP_HOST, FY_HOST_REG_VALUE_GET, 0, 0);
        if (d->kind == FY_DET_REG_VALUE) break;
        jumps out = {0};
        jump_to_later(cg, &out, FY_OP_JF);
        if (d->kind == FY_DET_VALUE_EQUALS) emit(cg, FY_OP_VEQ, 0, 0, str(cg, d->arg));
        if (d->kind == FY_DET_VALUE_CONTAINS) emit(cg, FY_OP_VHAS, 0, 0, str(cg, d->arg));
        if (d->kind == FY_DET_VALUE_MATCHES) emit(cg, FY_OP_VMATCH, 0, 0, regex(cg, d->arg));
        land(cg, &out);
        break;
    }
    case FY_DET_FILE:
        emit(cg, FY_OP_LDS, 0, 0, str(cg, d->path));
        emit(cg, FY_OP_HOST, FY_HOST_FILE_EXISTS, 0, 0);
        break;
    case FY_DET_FILE_VERSION: {
        emit(cg, FY_OP_LDS, 0, 0, str(cg, d->path));
        emit(cg, FY_OP_HOST, FY_HOST_FILE_VERSION, 0, 0);
        jumps out = {0};
        if (d->arg) {
            jump_to_later(cg, &out, FY_OP_JF);
            emit(cg, FY_OP_VERGE, 0, 0, str(cg, d->arg));
        }
        if (d->arg2) {
            jump_to_later(cg, &out, FY_OP_JF);
            emit(cg, FY_OP_VERLE, 0, 0, str(cg, d->arg2));
        }
        land(cg, &out);
        break;
    }
    }
}

/* ---- conversions ---- */

/* Guards a step on the object as it came in: kind, key (node), value name (leaf). Failing
 * tests jump to `skip`, the start of the next step. */
static void guard(fy_codegen *cg, jumps *skip, uint8_t kind, const char *node, bool recurse,
                  const char *leaf)
{
    emit(cg, FY_OP_KIND, kind, 0, 0);
    if (node) {
        jump_to_later(cg, skip, FY_OP_JF);
        emit(cg, FY_OP_NODE, node_flags(node, recurse), 0, str(cg, node));
    }
    if (leaf) {
        jump_to_later(cg, skip, FY_OP_JF);
        emit(cg, FY_OP_LEAF, 0, 0, str(cg, leaf));
    }
    jump_to_later(cg, skip, FY_OP_JF);
}

static void gen_step(fy_codegen *cg, const fy_ir_conv_step *s)
{
    jumps skip = {0};
    cg->cur = s->pos;
    switch (s->kind) {
    case FY_CONV_MOVE_KEY:
        /* Values and keys below `from` both move. */
        emit(cg, FY_OP_NODE, node_flags(s->from, true), 0, str(cg, s->from));
        jump_to_later(cg, &skip, FY_OP_JF);
        emit(cg, FY_OP_KIND, FY_OBJ_KIND_FILE, 0, 0);
        jump_to_later(cg, &skip, FY_OP_JT);
        emit(cg, FY_OP_LDS, 0, 0, str(cg, s->from));
        emit(cg, FY_OP_LDS, 1, 0, str(cg, s->to));
        emit(cg, FY_OP_XKEY, 0, 0, 0);
        break;
    case FY_CONV_MOVE_FILES:
        guard(cg, &skip, FY_OBJ_KIND_FILE, s->from, true, NULL);
        emit(cg, FY_OP_LDS, 0, 0, str(cg, s->from));
        emit(cg, FY_OP_LDS, 1, 0, str(cg, s->to));
        emit(cg, FY_OP_XFILE, 0, 0, 0);
        break;
    case FY_CONV_RENAME_VALUE:
        guard(cg, &skip, FY_OBJ_KIND_REGVAL, s->key, false, s->name);
        emit(cg, FY_OP_LDS, 0, 0, str(cg, s->to));
        emit(cg, FY_OP_XNAME, 0, 0, 0);
        break;
    case FY_CONV_MAP_VALUE: {
        guard(cg, &skip, FY_OBJ_KIND_REGVAL, s->key, false, s->name);
        fy_prog_map *m = &FY_APUSH(&cg->a, cg->p.maps, cg->p.nmaps, cg->map_cap);
        m->first = cg->p.nmapents;
        m->count = (uint32_t)s->nmap;
        for (size_t i = 0; i < s->nmap; i++) {
            fy_prog_mapent *e = &FY_APUSH(&cg->a, cg->p.mapents, cg->p.nmapents, cg->ment_cap);
            e->from = str(cg, s->map[i].from);
            e->to = str(cg, s->map[i].to);
        }
        emit(cg, FY_OP_XMAP, 0, 0, cg->p.nmaps - 1);
        break;
    }
    case FY_CONV_SUBST:
        guard(cg, &skip, FY_OBJ_KIND_REGVAL, s->key, false, s->name);
        emit(cg, FY_OP_LDS, 0, 0, str(cg, s->replacement ? s->replacement : ""));
        emit(cg, FY_OP_XSUBST, 0, 0, regex(cg, s->regex));
        break;
    case FY_CONV_SET_TYPE:
        guard(cg, &skip, FY_OBJ_KIND_REGVAL, s->key, false, s->name);
        emit(cg, FY_OP_XTYPE, 0, 0, s->type);
        break;
    case FY_CONV_DROP:
        guard(cg, &skip, FY_OBJ_KIND_REGVAL, s->key, false, s->name);
        emit(cg, FY_OP_XDROP, 0, 0, str(cg, s->reason ? s->reason : ""));
        break;
    }
    land(cg, &skip);
}

static uint32_t gen_conv_block(fy_codegen *cg, const fy_ir_conversion *c)
{
    uint32_t entry = pc(cg);
    for (size_t i = 0; i < c->nsteps; i++) gen_step(cg, &c->steps[i]);
    cg->cur = c->pos;
    emit(cg, FY_OP_HALT, 0, 0, 0);
    return entry;
}

/* The run-time conversions every string value goes through when the template asks for it:
 * moved folders inside string data, and OLDDOMAIN\user under a domain move. */
static uint32_t gen_builtin_conv(fy_codegen *cg, bool translate_paths)
{
    uint32_t entry = pc(cg);
    jumps skip = {0};
    cg->cur = (fy_pos){0};
    emit(cg, FY_OP_KIND, FY_OBJ_KIND_REGVAL, 0, 0);
    jump_to_later(cg, &skip, FY_OP_JF);
    if (translate_paths) emit(cg, FY_OP_HOST, FY_HOST_TRANSLATE_PATHS, 0, 0);
    emit(cg, FY_OP_HOST, FY_HOST_MAP_DOMAIN, 0, 0);
    land(cg, &skip);
    emit(cg, FY_OP_HALT, 0, 0, 0);
    return entry;
}

/* ---- dispatch tree ---- */

typedef struct tnode {
    char *name; /* upper-cased component; NULL at the root */
    struct tnode **kids;
    size_t nkids, kids_cap;
    uint32_t *refs;
    size_t nrefs, refs_cap;
    struct text {
        char *ext;
        uint32_t *refs;
        size_t nrefs, refs_cap;
    } *exts;
    size_t nexts, exts_cap;
    uint32_t index;
} tnode;

static tnode *tchild(fy_codegen *cg, tnode *t, const char *s, size_t n)
{
    char *up = fy_upper_utf8(s, n);
    for (size_t i = 0; i < t->nkids; i++) {
        if (strcmp(t->kids[i]->name, up) == 0) {
            free(up);
            return t->kids[i];
        }
    }
    tnode *k = fy_arena_alloc(&cg->a, sizeof(*k));
    k->name = fy_arena_strdup(&cg->a, up);
    free(up);
    FY_APUSH(&cg->a, t->kids, t->nkids, t->kids_cap) = k;
    return k;
}

static void tadd(fy_codegen *cg, tnode *root, const fy_ir_rule *r, uint32_t ri)
{
    const char *node = r->pat.node;
    tnode *t = root;
    if (!(node[0] == '*' && node[1] == 0)) {
        const char *s = node;
        for (int depth = 0; *s && depth < FY_DISPATCH_MAX_DEPTH; depth++) {
            const char *e = strchr(s, '\\');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (is_wild_component(s, n)) break;
            t = tchild(cg, t, s, n);
            s += n + (e ? 1 : 0);
        }
    }
    /* A file rule whose leaf is "*.ext" (a literal extension) waits in that extension's
     * bucket, so files of other types never meet it. */
    const char *leaf = r->pat.leaf;
    if (r->pat.kind == FY_OBJ_FILE && leaf && leaf[0] == '*' && leaf[1] == '.' && leaf[2] &&
        !strchr(leaf + 2, '.') && !is_wild_component(leaf + 2, strlen(leaf + 2))) {
        char *up = fy_upper_utf8(leaf + 2, strlen(leaf + 2));
        struct text *x = NULL;
        for (size_t i = 0; i < t->nexts; i++)
            if (strcmp(t->exts[i].ext, up) == 0) x = &t->exts[i];
        if (!x) {
            x = &FY_APUSH(&cg->a, t->exts, t->nexts, t->exts_cap);
            x->ext = fy_arena_strdup(&cg->a, up);
        }
        free(up);
        FY_APUSH(&cg->a, x->refs, x->nrefs, x->refs_cap) = ri;
        return;
    }
    FY_APUSH(&cg->a, t->refs, t->nrefs, t->refs_cap) = ri;
}

static int cmp_tnode(const void *a, const void *b)
{
    const tnode *x = *(const tnode *const *)a, *y = *(const tnode *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(((const struct text *)a)->ext, ((const struct text *)b)->ext);
}

/* Rule references are stored in the order the VM tries them (fy_vm.c order_key):
 * unconditional excludes by index, template rules from the last, then content rules. */
static uint64_t ref_key(const fy_program *p, uint32_t ri)
{
    uint8_t st = p->rules[ri].stage;
    if (st == FY_STAGE_UNCONDITIONAL) return ri;
    if (st == FY_STAGE_TEMPLATE) return (1ull << 32) | (UINT32_MAX - ri);
    return (2ull << 32) | ri;
}

static int cmp_ref(const void *a, const void *b, void *ctx)
{
    uint64_t x = ref_key(ctx, *(const uint32_t *)a), y = ref_key(ctx, *(const uint32_t *)b);
    return x < y ? -1 : x > y;
}

/* Breadth first, so a node's children are contiguous and come after it. */
static void flatten(fy_codegen *cg, tnode *root)
{
    tnode **queue = NULL;
    size_t qn = 0, qcap = 0;
    FY_APUSH(&cg->a, queue, qn, qcap) = root;
    for (size_t qi = 0; qi < qn; qi++) {
        tnode *t = queue[qi];
        /* (qsort's array may not be NULL, even when empty) */
        if (t->nkids) qsort(t->kids, t->nkids, sizeof(*t->kids), cmp_tnode);
        if (t->nexts) qsort(t->exts, t->nexts, sizeof(*t->exts), cmp_text);
        if (t->nrefs) qsort_r(t->refs, t->nrefs, sizeof(*t->refs), cmp_ref, &cg->p);
        for (size_t i = 0; i < t->nexts; i++)
            qsort_r(t->exts[i].refs, t->exts[i].nrefs, sizeof(uint32_t), cmp_ref, &cg->p);
        for (size_t i = 0; i < t->nkids; i++) FY_APUSH(&cg->a, queue, qn, qcap) = t->kids[i];
    }
    size_t cap = 0;
    cg->p.dnodes = fy_arena_grow(&cg->a, NULL, sizeof(fy_prog_dnode), &cap, qn);
    cg->p.ndnodes = (uint32_t)qn;
    uint32_t next_child = 1;
    for (size_t qi = 0; qi < qn; qi++) {
        tnode *t = queue[qi];
        fy_prog_dnode *d = &cg->p.dnodes[qi];
        d->name = t->name ? str(cg, t->name) : FY_NONE;
        d->first_child = next_child;
        d->nchildren = (uint32_t)t->nkids;
        next_child += (uint32_t)t->nkids;
        d->first_ref = cg->p.ndrefs;
        d->nrefs = (uint32_t)t->nrefs;
        for (size_t i = 0; i < t->nrefs; i++)
            FY_APUSH(&cg->a, cg->p.drefs, cg->p.ndrefs, cg->dref_cap) = t->refs[i];
        d->first_ext = cg->p.ndexts;
        d->nexts = (uint32_t)t->nexts;
        for (size_t i = 0; i < t->nexts; i++) {
            fy_prog_dext *x = &FY_APUSH(&cg->a, cg->p.dexts, cg->p.ndexts, cg->dext_cap);
            x->ext = str(cg, t->exts[i].ext);
            x->first_ref = cg->p.ndrefs;
            x->nrefs = (uint32_t)t->exts[i].nrefs;
            for (size_t k = 0; k < t->exts[i].nrefs; k++)
                FY_APUSH(&cg->a, cg->p.drefs, cg->p.ndrefs, cg->dref_cap) = t->exts[i].refs[k];
        }
    }
}

/* ---- scan roots: the literal prefixes of every include rule ---- */

static void add_root(fy_codegen *cg, const fy_ir_rule *r)
{
    const char *node = r->pat.node;
    if (node[0] == '*' && node[1] == 0) return; /* "anywhere the selection reaches" */
    fy_buf lit = {0};
    bool wild = false;
    const char *s = node;
    while (*s) {
        const char *e = strchr(s, '\\');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (is_wild_component(s, n)) {
            wild = true;
            break;
        }
        if (lit.len) fy_buf_putc(&lit, '\\');
        fy_buf_put(&lit, s, n);
        s += n + (e ? 1 : 0);
    }
    uint8_t kind = r->pat.kind == FY_OBJ_FILE ? 1 : 2;
    bool recurse = r->pat.recurse || wild;
    /* "*:" (every fixed disk) is a wildcard component: its root is the empty path, which
     * the walker reads as "every drive". */
    uint32_t path = str_n(cg, (const char *)lit.data ? (const char *)lit.data : "", lit.len);
    fy_buf_free(&lit);
    for (uint32_t i = 0; i < cg->p.nroots; i++) {
        if (cg->p.roots[i].kind == kind && cg->p.roots[i].path == path) {
            cg->p.roots[i].recurse |= recurse;
            return;
        }
    }
    fy_prog_root *rt = &FY_APUSH(&cg->a, cg->p.roots, cg->p.nroots, cg->root_cap);
    rt->kind = kind;
    rt->recurse = recurse;
    rt->path = path;
}

/* Drops roots that lie below a recursive root of the same kind. */
static void prune_roots(fy_codegen *cg)
{
    uint32_t out = 0;
    for (uint32_t i = 0; i < cg->p.nroots; i++) {
        const fy_prog_root *r = &cg->p.roots[i];
        const char *rp = cg->p.str[r->path];
        size_t rl = cg->p.str_len[r->path];
        bool covered = false;
        for (uint32_t j = 0; j < cg->p.nroots && !covered; j++) {
            const fy_prog_root *o = &cg->p.roots[j];
            if (j == i || o->kind != r->kind || !o->recurse) continue;
            const char *op = cg->p.str[o->path];
            size_t ol = cg->p.str_len[o->path];
            if (ol == 0 && rl > 0) covered = true;
            else if (ol < rl && rp[ol] == '\\' && fy_strcasecmp_u8(op, ol, rp, ol) == 0)
                covered = true;
        }
        if (!covered) cg->p.roots[out++] = *r;
    }
    cg->p.nroots = out;
}

/* ---- the whole program ---- */

static bool policy_is(const fy_ir *ir, const char *section, const char *key, const char *value)
{
    bool res = false;
    for (size_t i = 0; i < ir->npolicies; i++) {
        const fy_ir_policy *p = &ir->policies[i];
        if (fy_streq_ci(p->section, section) && fy_streq_ci(p->key, key))
            res = fy_streq_ci(p->value, value);
    }
    return res;
}

static bool rule_selected(const fy_ir *ir, const fy_ir_rule *r)
{
    if (r->app < 0 || !ir->have_template) return true;
    const fy_ir_app *app = &ir->apps[r->app];
    if (r->component < 0) return app->selected;
    return app->components[r->component].selected;
}

static void hash_sources(fy_codegen *cg, const fy_ir *ir)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof cg->p.source_hash);
    for (size_t i = 0; i < ir->nsources; i++) {
        const char *name = ir->sources[i];
        crypto_generichash_update(&st, (const unsigned char *)name, strlen(name) + 1);
        FILE *f = fopen(name, "rb");
        if (f) {
            unsigned char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_generichash_update(&st, buf, n);
            fclose(f);
        }
    }
    crypto_generichash_final(&st, cg->p.source_hash, sizeof cg->p.source_hash);
}

fy_codegen *fy_codegen_run(const fy_ir *ir, fy_diags *diags)
{
    if (sodium_init() < 0) return NULL;
    fy_codegen *cg = fy_xcalloc(1, sizeof(*cg));
    cg->diags = diags;
    fy_program *p = &cg->p;
    p->major = FY_FORMAT_MAJOR;
    p->minor = FY_FORMAT_MINOR;
    unsigned ma = 0, mi = 0, pa = 0;
    sscanf(FERRY_VERSION, "%u.%u.%u", &ma, &mi, &pa);
    p->compiler_version = ma << 16 | mi << 8 | pa;
    hash_sources(cg, ir);
    for (size_t i = 0; i < ir->nsources; i++)
        FY_APUSH(&cg->a, p->sources, p->nsources, cg->src_cap) = str(cg, ir->sources[i]);

    /* Applications, components and versions (detection blocks come later in CODE). */
    for (size_t ai = 0; ai < ir->napps; ai++) {
        const fy_ir_app *app = &ir->apps[ai];
        fy_prog_app *pa_ = &FY_APUSH(&cg->a, p->apps, p->napps, cg->app_cap);
        pa_->id = str(cg, app->id);
        pa_->name = str(cg, app->name);
        pa_->vendor = str(cg, app->vendor);
        pa_->content_path = str(cg, app->content_path);
        pa_->flags = (app->system ? FY_APP_SYSTEM : 0) |
                     (app->selected || !ir->have_template ? FY_APP_SELECTED : 0);
        pa_->first_component = p->ncomponents;
        pa_->ncomponents = (uint32_t)app->ncomponents;
        for (size_t ci = 0; ci < app->ncomponents; ci++) {
            const fy_ir_component *c = &app->components[ci];
            fy_prog_component *pc_ = &FY_APUSH(&cg->a, p->components, p->ncomponents, cg->comp_cap);
            pc_->app = (uint32_t)ai;
            pc_->name = str(cg, c->name);
            pc_->content_path = str(cg, c->content_path);
            pc_->flags = (c->detection ? FY_COMP_DETECTION : 0) |
                         (c->selected || !ir->have_template ? FY_COMP_SELECTED : 0);
        }
        pa_->first_version = p->nversions;
        pa_->nversions = (uint32_t)app->nversions;
        for (size_t vi = 0; vi < app->nversions; vi++) {
            const fy_ir_version *v = &app->versions[vi];
            fy_prog_version *pv = &FY_APUSH(&cg->a, p->versions, p->nversions, cg->ver_cap);
            pv->app = (uint32_t)ai;
            pv->version = str(cg, v->version ? v->version : ""); /* "" = any version */
            pv->detect = FY_NONE;
            if (v->detect) {
                pv->detect = pc(cg);
                gen_detect(cg, v->detect);
                cg->cur = v->pos;
                emit(cg, FY_OP_HALT, 0, 0, 0);
            }
        }
    }

    /* Rules, in IR order (stage 2's "last match wins" compares rule indices). */
    tnode *root = fy_arena_alloc(&cg->a, sizeof(*root));
    for (size_t ri = 0; ri < ir->nrules; ri++) {
        const fy_ir_rule *r = &ir->rules[ri];
        if (!rule_selected(ir, r)) continue;
        uint32_t index = p->nrules;
        uint32_t entry = gen_rule_block(cg, r);
        fy_prog_rule *pr = &FY_APUSH(&cg->a, p->rules, p->nrules, cg->rule_cap);
        pr->stage = (uint8_t)r->stage;
        pr->action = (uint8_t)r->action;
        pr->kind = r->pat.kind == FY_OBJ_FILE ? 1 : 2;
        pr->flags = (r->detection ? FY_RULE_DETECTION : 0) | (r->pat.recurse ? FY_RULE_RECURSE : 0) |
                    (r->pat.keys ? FY_RULE_KEYS : 0) | (node_exact(r->pat.node) ? FY_RULE_NODE_EXACT : 0);
        pr->app = r->app < 0 ? FY_NONE : (uint32_t)r->app;
        pr->component = FY_NONE;
        if (r->app >= 0 && r->component >= 0) {
            uint32_t first = p->apps[r->app].first_component;
            pr->component = first + (uint32_t)r->component;
        }
        pr->specificity = fy_pattern_specificity(&r->pat);
        pr->entry = entry;
        pr->node = str(cg, r->pat.node);
        pr->dest = str(cg, r->dest);
        tadd(cg, root, r, index);
        if (r->action == FY_ACT_INCLUDE && r->stage != FY_STAGE_UNCONDITIONAL) add_root(cg, r);
    }
    prune_roots(cg);
    flatten(cg, root);

    /* Conversions: the appdefs' (selected apps only), the template's, then the built-in. */
    for (size_t ci = 0; ci < ir->nconvs; ci++) {
        const fy_ir_conversion *c = &ir->convs[ci];
        if (c->app >= 0 && ir->have_template && !ir->apps[c->app].selected) continue;
        uint32_t entry = gen_conv_block(cg, c);
        fy_prog_conv *pc_ = &FY_APUSH(&cg->a, p->convs, p->nconvs, cg->conv_cap);
        pc_->app = c->app < 0 ? FY_NONE : (uint32_t)c->app;
        pc_->from_version = str(cg, c->from_version);
        pc_->to_version = str(cg, c->to_version);
        pc_->entry = entry;
    }
    bool translate = !ir->have_template ||
                     !policy_is(ir, "Policies", "Translate Paths In Registry", "No");
    uint32_t entry = gen_builtin_conv(cg, translate);
    fy_prog_conv *bc = &FY_APUSH(&cg->a, p->convs, p->nconvs, cg->conv_cap);
    bc->app = FY_NONE;
    bc->from_version = bc->to_version = FY_NONE;
    bc->entry = entry;

    for (size_t i = 0; i < ir->npolicies; i++) {
        const fy_ir_policy *po = &ir->policies[i];
        fy_prog_policy *pp = &FY_APUSH(&cg->a, p->policies, p->npolicies, cg->pol_cap);
        pp->section = str(cg, po->section);
        pp->key = str(cg, po->key);
        pp->value = str(cg, po->value);
    }
    return cg;
}

const fy_program *fy_codegen_program(const fy_codegen *cg)
{
    return &cg->p;
}

void fy_codegen_free(fy_codegen *cg)
{
    if (!cg) return;
    fy_arena_free(&cg->a);
    free(cg->strhash);
    free(cg);
}

int fy_compile_image(fy_ir *ir, fy_diags *diags, uint8_t **image, size_t *image_size)
{
    fy_check(ir, diags);
    if (diags->errors) return -1;
    fy_codegen *cg = fy_codegen_run(ir, diags);
    if (!cg) return -1;
    int rc = fy_program_serialize(fy_codegen_program(cg), NULL, image, image_size);
    if (rc) fy_diag_add(diags, FY_DIAG_ERROR, NULL, 0, 0, "internal", "could not serialise the program");
    fy_codegen_free(cg);
    return rc;
}
