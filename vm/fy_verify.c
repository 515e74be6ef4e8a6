/* The verifier (ubpf / BPF style): a program that passes it can be run without further
 * checks. Every opcode is known, every operand is in range for its kind, every index in
 * every table points inside its table, every jump goes strictly forward to an instruction
 * boundary (so every block ends), every block entered from a table is walked path by path:
 * each reachable instruction and host call must be allowed in that kind of block, and each
 * path must end in HALT. The dispatch nodes must form a tree rooted at node 0.
 *
 * Messages name the section and record ("section RULES: record 3: ...") or the pc with its
 * source position ("pc 0x0018 (SE.rul:4:9): ..."). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "fy_program.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fy_vctx {
    const fy_program *p;
    char *err;
    size_t err_size;
    bool debug_ok;   /* the debug table was checked: messages may use it */
    uint8_t *state;  /* per instruction: the block kinds (FY_K_*) it was checked for */
    uint32_t *stack; /* instructions still to visit in the current walk */
} fy_vctx;

#define NREGTYPES 12u /* REG_NONE .. REG_QWORD */

static uint64_t code_size(const fy_program *p)
{
    return (uint64_t)p->ncode * FY_INSN_SIZE;
}

static int vfail(fy_vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vfail(fy_vctx *v, const char *fmt, ...)
{
    if (v->err && v->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->err, v->err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "pc 0x0018 (SE.rul:4:9): " + message */
static int pcfail(fy_vctx *v, uint32_t pc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pcfail(fy_vctx *v, uint32_t pc, const char *fmt, ...)
{
    char msg[256], where[160] = "";
    const fy_prog_debug *d = v->debug_ok ? fy_program_debug_at(v->p, pc) : NULL;
    if (d)
        snprintf(where, sizeof where, " (%.100s:%u:%u)", fy_prog_str(v->p, d->file), d->line,
                 d->col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vfail(v, "pc 0x%04x%s: %s", pc, where, msg);
}

/* "section RULES: record 3: " + message */
static int recfail(fy_vctx *v, uint32_t type, uint32_t i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int recfail(fy_vctx *v, uint32_t type, uint32_t i, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vfail(v, "section %s: record %u: %s", fy_prog_section_name(type), i, msg);
}

/* ---- small index checks, each with one message ---- */
static int need_str(fy_vctx *v, uint32_t type, uint32_t i, const char *field, uint32_t s)
{
    if (s < v->p->nstr) return 0;
    return recfail(v, type, i, "%s %u is not a string index (%u strings)", field, s, v->p->nstr);
}

static int opt_str(fy_vctx *v, uint32_t type, uint32_t i, const char *field, uint32_t s)
{
    return s == FY_NONE ? 0 : need_str(v, type, i, field, s);
}

static int need_idx(fy_vctx *v, uint32_t type, uint32_t i, const char *field, uint32_t x,
                    uint32_t n, uint32_t target)
{
    if (x < n) return 0;
    return recfail(v, type, i, "%s %u is out of range (section %s has %u)", field, x,
                   fy_prog_section_name(target), n);
}

static int opt_idx(fy_vctx *v, uint32_t type, uint32_t i, const char *field, uint32_t x, uint32_t n,
                   uint32_t target)
{
    return x == FY_NONE ? 0 : need_idx(v, type, i, field, x, n, target);
}

/* A range [first, first+count) of a table of n; empty ranges are never looked at. */
static int need_range(fy_vctx *v, uint32_t type, uint32_t i, const char *field, uint32_t first,
                      uint32_t count, uint32_t n, uint32_t target)
{
    if (count == 0 || (first <= n && count <= n - first)) return 0;
    return recfail(v, type, i, "%s range %u+%u is out of range (section %s has %u)", field, first,
                   count, fy_prog_section_name(target), n);
}

static int need_max(fy_vctx *v, uint32_t type, uint32_t i, const char *field, uint32_t x,
                    uint32_t lo, uint32_t hi)
{
    if (x >= lo && x <= hi) return 0;
    return recfail(v, type, i, "%s %u is not in %u..%u", field, x, lo, hi);
}

/* A block entry: a code byte offset on an instruction boundary inside the code. */
static int need_entry(fy_vctx *v, uint32_t type, uint32_t i, const char *field, uint32_t pc)
{
    if (pc % FY_INSN_SIZE != 0)
        return recfail(v, type, i, "%s 0x%04x is not a multiple of 8", field, pc);
    if (pc >= code_size(v->p))
        return recfail(v, type, i, "%s 0x%04x is outside the code (0x%04llx bytes)", field, pc,
                       (unsigned long long)code_size(v->p));
    return 0;
}

/* ---- tables the messages depend on: strings (loader-checked), debug, sources ---- */
static int check_debug(fy_vctx *v)
{
    const fy_program *p = v->p;
    for (uint32_t i = 0; i < p->ndebug; i++) {
        const fy_prog_debug *d = &p->debug[i];
        if (need_str(v, FY_SEC_DEBUG, i, "file", d->file)) return -1;
        if (d->pc % FY_INSN_SIZE != 0 || d->pc >= code_size(p))
            return recfail(v, FY_SEC_DEBUG, i, "pc 0x%04x is not an instruction of the code",
                           d->pc);
        if (i > 0 && d->pc < p->debug[i - 1].pc)
            return recfail(v, FY_SEC_DEBUG, i, "pc 0x%04x is before the previous entry's 0x%04x",
                           d->pc, p->debug[i - 1].pc);
    }
    v->debug_ok = true;
    return 0;
}

static int check_sources(fy_vctx *v)
{
    for (uint32_t i = 0; i < v->p->nsources; i++)
        if (need_str(v, FY_SEC_SOURCES, i, "file name", v->p->sources[i])) return -1;
    return 0;
}

static int check_regex(fy_vctx *v)
{
    for (uint32_t i = 0; i < v->p->nregex; i++) {
        const fy_prog_regex *r = &v->p->regex[i];
        if (need_str(v, FY_SEC_REGEX, i, "pattern", r->pattern)) return -1;
        if (r->flags & ~(uint32_t)PCRE2_CASELESS)
            return recfail(v, FY_SEC_REGEX, i, "flags 0x%x: only CASELESS (0x%x) is allowed",
                           r->flags, (unsigned)PCRE2_CASELESS);
    }
    return 0;
}

/* ---- instructions ---- */

/* The allowed values of an operand kind: [lo, hi]; false when none is allowed. */
static bool opnd_range(const fy_program *p, unsigned kind, uint32_t *lo, uint32_t *hi)
{
    uint32_t n;
    *lo = 0;
    switch (kind) {
    case FY_OPND_NONE:
        *hi = 0;
        return true;
    case FY_OPND_BOOL:
        *hi = 1;
        return true;
    case FY_OPND_SREG:
        *hi = 3;
        return true;
    case FY_OPND_CMP:
        *lo = 1, *hi = 6;
        return true;
    case FY_OPND_KIND:
        *lo = 1, *hi = 3;
        return true;
    case FY_OPND_TYPE:
        *hi = NREGTYPES - 1;
        return true;
    case FY_OPND_HOST:
        *hi = FY_HOST_COUNT - 1;
        return true;
    case FY_OPND_MASK:
        *hi = UINT32_MAX;
        return true;
    case FY_OPND_STR:
        n = p->nstr;
        break;
    case FY_OPND_CONST:
        n = p->nconsts;
        break;
    case FY_OPND_REGEX:
        n = p->nregex;
        break;
    case FY_OPND_MAP:
        n = p->nmaps;
        break;
    default:
        return false;
    }
    *hi = n - 1;
    return n > 0;
}

static int check_jump(fy_vctx *v, uint32_t pc, uint32_t target)
{
    if (target % FY_INSN_SIZE != 0)
        return pcfail(v, pc, "jump target 0x%04x is not a multiple of 8", target);
    if (target >= code_size(v->p))
        return pcfail(v, pc, "jump target 0x%04x is outside the code (0x%04llx bytes)", target,
                      (unsigned long long)code_size(v->p));
    if (target <= pc) return pcfail(v, pc, "jump target 0x%04x is not forward", target);
    return 0;
}

static int check_operand(fy_vctx *v, uint32_t pc, const char *op, char which, unsigned kind,
                         uint32_t val)
{
    uint32_t lo, hi;
    if (kind == FY_OPND_JUMP) return check_jump(v, pc, val);
    if (kind == FY_OPND_NONE && val != 0)
        return pcfail(v, pc, "%s operand %c must be 0, is %u", op, which, val);
    if (!opnd_range(v->p, kind, &lo, &hi))
        return pcfail(v, pc, "%s operand %c (%s) is %u, but its table is empty", op, which,
                      fy_opnd_names[kind], val);
    if (val < lo || val > hi)
        return pcfail(v, pc, "%s operand %c (%s) is %u, outside %u..%u", op, which,
                      fy_opnd_names[kind], val, lo, hi);
    return 0;
}

static int check_insn(fy_vctx *v, uint32_t i)
{
    const fy_insn *in = &v->p->code[i];
    uint32_t pc = i * FY_INSN_SIZE;
    if (in->op >= FY_OP_COUNT) return pcfail(v, pc, "unknown opcode 0x%02x", in->op);
    const fy_opinfo *oi = &fy_opinfo_table[in->op];
    if (check_operand(v, pc, oi->name, 'a', oi->a, in->a) ||
        check_operand(v, pc, oi->name, 'b', oi->b, in->b) ||
        check_operand(v, pc, oi->name, 'c', oi->c, in->c))
        return -1;
    return 0;
}

static int check_code(fy_vctx *v)
{
    if (code_size(v->p) > UINT32_MAX) return vfail(v, "section CODE: more than 4 GiB of code");
    for (uint32_t i = 0; i < v->p->ncode; i++)
        if (check_insn(v, i)) return -1;
    return 0;
}

/* ---- tables ---- */
static int check_rules(fy_vctx *v)
{
    const fy_program *p = v->p;
    const uint32_t T = FY_SEC_RULES;
    for (uint32_t i = 0; i < p->nrules; i++) {
        const fy_prog_rule *r = &p->rules[i];
        if (need_max(v, T, i, "stage", r->stage, 1, 3) ||
            need_max(v, T, i, "action", r->action, 1, 2) ||
            need_max(v, T, i, "kind", r->kind, 1, 2) ||
            opt_idx(v, T, i, "app", r->app, p->napps, FY_SEC_APPS) ||
            opt_idx(v, T, i, "component", r->component, p->ncomponents, FY_SEC_COMPONENTS) ||
            need_entry(v, T, i, "entry", r->entry) || need_str(v, T, i, "node", r->node) ||
            opt_str(v, T, i, "dest", r->dest))
            return -1;
        if (r->flags & ~(FY_RULE_DETECTION | FY_RULE_RECURSE | FY_RULE_KEYS | FY_RULE_NODE_EXACT))
            return recfail(v, T, i, "unknown flags 0x%02x", r->flags);
    }
    return 0;
}

static int check_roots(fy_vctx *v)
{
    const uint32_t T = FY_SEC_ROOTS;
    for (uint32_t i = 0; i < v->p->nroots; i++) {
        const fy_prog_root *r = &v->p->roots[i];
        if (need_max(v, T, i, "kind", r->kind, 1, 2) ||
            need_max(v, T, i, "recurse", r->recurse, 0, 1) ||
            need_max(v, T, i, "reserved", r->reserved, 0, 0) || need_str(v, T, i, "path", r->path))
            return -1;
    }
    return 0;
}

static int check_drefs(fy_vctx *v)
{
    for (uint32_t i = 0; i < v->p->ndrefs; i++)
        if (need_idx(v, FY_SEC_DREFS, i, "rule", v->p->drefs[i], v->p->nrules, FY_SEC_RULES))
            return -1;
    return 0;
}

static int check_dexts(fy_vctx *v)
{
    const uint32_t T = FY_SEC_DEXTS;
    for (uint32_t i = 0; i < v->p->ndexts; i++) {
        const fy_prog_dext *e = &v->p->dexts[i];
        if (need_str(v, T, i, "ext", e->ext) ||
            need_range(v, T, i, "refs", e->first_ref, e->nrefs, v->p->ndrefs, FY_SEC_DREFS))
            return -1;
    }
    return 0;
}

static int check_dnodes(fy_vctx *v)
{
    const fy_program *p = v->p;
    const uint32_t T = FY_SEC_DNODES;
    for (uint32_t i = 0; i < p->ndnodes; i++) {
        const fy_prog_dnode *d = &p->dnodes[i];
        if (i == 0 && d->name != FY_NONE)
            return recfail(v, T, i, "the root's name must be none (0x%08x)", FY_NONE);
        if ((i > 0 && need_str(v, T, i, "name", d->name)) ||
            need_range(v, T, i, "children", d->first_child, d->nchildren, p->ndnodes, T) ||
            need_range(v, T, i, "refs", d->first_ref, d->nrefs, p->ndrefs, FY_SEC_DREFS) ||
            need_range(v, T, i, "exts", d->first_ext, d->nexts, p->ndexts, FY_SEC_DEXTS))
            return -1;
        /* children after their parent: no cycles, and one forward pass sees the tree */
        if (d->nchildren > 0 && d->first_child <= i)
            return recfail(v, T, i, "children start at %u, not after the node", d->first_child);
    }
    return 0;
}

static int check_apps(fy_vctx *v)
{
    const fy_program *p = v->p;
    const uint32_t T = FY_SEC_APPS;
    for (uint32_t i = 0; i < p->napps; i++) {
        const fy_prog_app *a = &p->apps[i];
        if (need_str(v, T, i, "id", a->id) || need_str(v, T, i, "name", a->name) ||
            opt_str(v, T, i, "vendor", a->vendor) ||
            opt_str(v, T, i, "content_path", a->content_path) ||
            need_range(v, T, i, "versions", a->first_version, a->nversions, p->nversions,
                       FY_SEC_VERSIONS) ||
            need_range(v, T, i, "components", a->first_component, a->ncomponents, p->ncomponents,
                       FY_SEC_COMPONENTS))
            return -1;
        if (a->flags & ~(FY_APP_SYSTEM | FY_APP_SELECTED))
            return recfail(v, T, i, "unknown flags 0x%x", a->flags);
        for (uint32_t k = 0; k < a->nversions; k++)
            if (p->versions[a->first_version + k].app != i)
                return recfail(v, T, i, "version %u belongs to app %u", a->first_version + k,
                               p->versions[a->first_version + k].app);
        for (uint32_t k = 0; k < a->ncomponents; k++)
            if (p->components[a->first_component + k].app != i)
                return recfail(v, T, i, "component %u belongs to app %u", a->first_component + k,
                               p->components[a->first_component + k].app);
    }
    return 0;
}

static int check_components(fy_vctx *v)
{
    const uint32_t T = FY_SEC_COMPONENTS;
    for (uint32_t i = 0; i < v->p->ncomponents; i++) {
        const fy_prog_component *c = &v->p->components[i];
        if (need_idx(v, T, i, "app", c->app, v->p->napps, FY_SEC_APPS) ||
            need_str(v, T, i, "name", c->name) || opt_str(v, T, i, "content_path", c->content_path))
            return -1;
        if (c->flags & ~(FY_COMP_DETECTION | FY_COMP_SELECTED))
            return recfail(v, T, i, "unknown flags 0x%x", c->flags);
    }
    return 0;
}

static int check_versions(fy_vctx *v)
{
    const uint32_t T = FY_SEC_VERSIONS;
    for (uint32_t i = 0; i < v->p->nversions; i++) {
        const fy_prog_version *ver = &v->p->versions[i];
        if (need_idx(v, T, i, "app", ver->app, v->p->napps, FY_SEC_APPS) ||
            need_str(v, T, i, "version", ver->version) ||
            (ver->detect != FY_NONE && need_entry(v, T, i, "detect", ver->detect)))
            return -1;
    }
    return 0;
}

static int check_convs(fy_vctx *v)
{
    const uint32_t T = FY_SEC_CONVS;
    for (uint32_t i = 0; i < v->p->nconvs; i++) {
        const fy_prog_conv *c = &v->p->convs[i];
        if (opt_idx(v, T, i, "app", c->app, v->p->napps, FY_SEC_APPS) ||
            opt_str(v, T, i, "from_version", c->from_version) ||
            opt_str(v, T, i, "to_version", c->to_version) || need_entry(v, T, i, "entry", c->entry))
            return -1;
    }
    return 0;
}

static int check_maps(fy_vctx *v)
{
    const fy_program *p = v->p;
    for (uint32_t i = 0; i < p->nmaps; i++)
        if (need_range(v, FY_SEC_MAPS, i, "entries", p->maps[i].first, p->maps[i].count,
                       p->nmapents, FY_SEC_MAPENTS))
            return -1;
    for (uint32_t i = 0; i < p->nmapents; i++)
        if (need_str(v, FY_SEC_MAPENTS, i, "from", p->mapents[i].from) ||
            need_str(v, FY_SEC_MAPENTS, i, "to", p->mapents[i].to))
            return -1;
    return 0;
}

static int check_policies(fy_vctx *v)
{
    const uint32_t T = FY_SEC_POLICIES;
    for (uint32_t i = 0; i < v->p->npolicies; i++) {
        const fy_prog_policy *po = &v->p->policies[i];
        if (need_str(v, T, i, "section", po->section) || need_str(v, T, i, "key", po->key) ||
            need_str(v, T, i, "value", po->value))
            return -1;
    }
    return 0;
}

/* ---- blocks: walk every path from an entry ---- */
static const char *kind_name(unsigned kind)
{
    return kind == FY_K_CLS ? "CLS" : kind == FY_K_DET ? "DET" : "CNV";
}

static int allowed_here(fy_vctx *v, uint32_t i, unsigned kind, const char *from, uint32_t idx)
{
    const fy_insn *in = &v->p->code[i];
    const fy_opinfo *oi = &fy_opinfo_table[in->op];
    uint32_t pc = i * FY_INSN_SIZE;
    if (!(oi->kinds & kind))
        return pcfail(v, pc, "%s is not allowed in a %s block (%s %u)", oi->name, kind_name(kind),
                      from, idx);
    if (in->op == FY_OP_HOST && !(fy_hostinfo_table[in->a].kinds & kind))
        return pcfail(v, pc, "host call %s is not allowed in a %s block (%s %u)",
                      fy_hostinfo_table[in->a].name, kind_name(kind), from, idx);
    return 0;
}

/* The instructions control may go to after instruction i: 0, 1 or 2 of them. Returns
 * false when control falls off the end of the code. */
static bool successors(const fy_program *p, uint32_t i, uint32_t next[2], unsigned *n)
{
    const fy_insn *in = &p->code[i];
    bool jumps = in->op == FY_OP_JMP || in->op == FY_OP_JT || in->op == FY_OP_JF;
    bool falls = in->op != FY_OP_HALT && in->op != FY_OP_JMP;
    *n = 0;
    if (jumps) next[(*n)++] = in->c / FY_INSN_SIZE; /* checked: forward, aligned, inside */
    if (falls) {
        if (i + 1 >= p->ncode) return false;
        next[(*n)++] = i + 1;
    }
    return true;
}

/* Follows every path from an entry. The checks are per instruction, so the order does not
 * matter; an instruction already seen in a block of this kind (by this walk or an earlier,
 * successful one) has had everything after it checked too, so each instruction is
 * examined at most once per kind however many blocks share it. Jumps only go forward, so
 * every path ends, in HALT or off the end of the code. */
static int walk_block(fy_vctx *v, uint32_t entry, unsigned kind, const char *from, uint32_t idx)
{
    uint32_t sp = 0;
    v->stack[sp++] = entry / FY_INSN_SIZE;
    while (sp > 0) {
        uint32_t i = v->stack[--sp], next[2];
        unsigned n;
        if (v->state[i] & kind) continue;
        v->state[i] |= (uint8_t)kind;
        if (allowed_here(v, i, kind, from, idx)) return -1;
        if (!successors(v->p, i, next, &n))
            return pcfail(v, i * FY_INSN_SIZE,
                          "falls off the end of the code without HALT (%s block of %s %u)",
                          kind_name(kind), from, idx);
        /* push the fall-through last so straight-line code is followed first */
        for (unsigned k = n; k-- > 0;)
            v->stack[sp++] = next[k];
    }
    return 0;
}

static int check_blocks(fy_vctx *v)
{
    const fy_program *p = v->p;
    /* each instruction is examined once per kind and pushes at most 2 successors */
    v->state = fy_xcalloc(p->ncode ? p->ncode : 1, 1);
    v->stack = fy_xmalloc(((size_t)p->ncode * 2 + 1) * sizeof *v->stack);
    int rc = 0;
    for (uint32_t i = 0; i < p->nrules && rc == 0; i++)
        rc = walk_block(v, p->rules[i].entry, FY_K_CLS, "rule", i);
    for (uint32_t i = 0; i < p->nversions && rc == 0; i++)
        if (p->versions[i].detect != FY_NONE)
            rc = walk_block(v, p->versions[i].detect, FY_K_DET, "version", i);
    for (uint32_t i = 0; i < p->nconvs && rc == 0; i++)
        rc = walk_block(v, p->convs[i].entry, FY_K_CNV, "conversion", i);
    free(v->state);
    free(v->stack);
    v->state = NULL;
    v->stack = NULL;
    return rc;
}

/* ---- the dispatch tree ---- */
static int cmp_str(const fy_program *p, uint32_t a, uint32_t b)
{
    uint32_t la = p->str_len[a], lb = p->str_len[b];
    int c = memcmp(p->str[a], p->str[b], la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int check_sorted(fy_vctx *v, uint32_t i)
{
    const fy_program *p = v->p;
    const fy_prog_dnode *d = &p->dnodes[i];
    for (uint32_t k = 1; k < d->nchildren; k++) {
        uint32_t a = d->first_child + k - 1, b = a + 1;
        if (cmp_str(p, p->dnodes[a].name, p->dnodes[b].name) >= 0)
            return recfail(v, FY_SEC_DNODES, i, "children %u and %u are not sorted by name", a, b);
    }
    for (uint32_t k = 1; k < d->nexts; k++) {
        uint32_t a = d->first_ext + k - 1, b = a + 1;
        if (cmp_str(p, p->dexts[a].ext, p->dexts[b].ext) >= 0)
            return recfail(v, FY_SEC_DNODES, i, "extension buckets %u and %u are not sorted", a, b);
    }
    return 0;
}

/* Children lie after their parent, so visiting nodes in index order sees every parent
 * before its children: each node must be reached exactly once from node 0. */
static int check_tree(fy_vctx *v)
{
    const fy_program *p = v->p;
    uint8_t *seen = fy_xcalloc(p->ndnodes ? p->ndnodes : 1, 1);
    int rc = 0;
    if (p->ndnodes) seen[0] = 1;
    for (uint32_t i = 0; i < p->ndnodes && rc == 0; i++) {
        const fy_prog_dnode *d = &p->dnodes[i];
        if (!seen[i]) {
            rc = recfail(v, FY_SEC_DNODES, i, "node is not reached from the root");
            break;
        }
        for (uint32_t k = 0; k < d->nchildren && rc == 0; k++) {
            uint32_t c = d->first_child + k;
            if (seen[c]) rc = recfail(v, FY_SEC_DNODES, i, "child %u is reached twice", c);
            seen[c] = 1;
        }
        if (rc == 0) rc = check_sorted(v, i);
    }
    free(seen);
    return rc;
}

int fy_program_verify(const fy_program *p, char *err, size_t err_size)
{
    fy_vctx v = {.p = p, .err = err, .err_size = err_size};
    if (check_debug(&v) || check_sources(&v) || check_regex(&v) || check_code(&v) ||
        check_rules(&v) || check_roots(&v) || check_drefs(&v) || check_dexts(&v) ||
        check_dnodes(&v) || check_components(&v) || check_versions(&v) || check_apps(&v) ||
        check_convs(&v) || check_maps(&v) || check_policies(&v) || check_blocks(&v) ||
        check_tree(&v))
        return -1;
    return 0;
}
