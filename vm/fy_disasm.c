/* The disassembler (`ferryc disasm`): header, every table, then every instruction with its
 * operands printed by kind and its source position from the debug table:
 *
 *   0x0018  LEAF   c="*.pptx"                         ; SE.rul:4:9
 *
 * It is meant for verified programs but never reads outside the arrays for any input:
 * every index it follows is range-checked (an out-of-range string prints as ""). */
#include "fy_program.h"

#include <stdlib.h>
#include <string.h>

#define OPND_COLUMN 40 /* where the "; file:line:col" comment starts */

static const char *const cmp_names[] = {"?", "<", "<=", "==", "!=", ">=", ">"};
static const char *const kind_names[] = {"?", "file", "regvalue", "regkey"};
static const char *const regtype_names[] = {"REG_NONE",
                                            "REG_SZ",
                                            "REG_EXPAND_SZ",
                                            "REG_BINARY",
                                            "REG_DWORD",
                                            "REG_DWORD_BIG_ENDIAN",
                                            "REG_LINK",
                                            "REG_MULTI_SZ",
                                            "REG_RESOURCE_LIST",
                                            "REG_FULL_RESOURCE_DESCRIPTOR",
                                            "REG_RESOURCE_REQUIREMENTS_LIST",
                                            "REG_QWORD"};

/* A string index as a quoted C-style string, or "-" for FY_NONE. */
static void put_qstr(fy_buf *b, const fy_program *p, uint32_t i)
{
    if (i == FY_NONE) {
        fy_buf_puts(b, "-");
        return;
    }
    const char *s = fy_prog_str(p, i);
    size_t n = i < p->nstr ? p->str_len[i] : 0;
    fy_buf_putc(b, '"');
    for (size_t k = 0; k < n; k++) {
        uint8_t c = (uint8_t)s[k];
        if (c == '"' || c == '\\')
            fy_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            fy_buf_puts(b, "\\n");
        else if (c == '\t')
            fy_buf_puts(b, "\\t");
        else if (c == '\r')
            fy_buf_puts(b, "\\r");
        else if (c < 0x20 || c == 0x7F)
            fy_buf_printf(b, "\\x%02x", c);
        else
            fy_buf_putc(b, c); /* UTF-8 passes through */
    }
    fy_buf_putc(b, '"');
}

static void put_idx(fy_buf *b, uint32_t i)
{
    if (i == FY_NONE)
        fy_buf_puts(b, "-");
    else
        fy_buf_printf(b, "%u", i);
}

static void put_hex_bytes(fy_buf *b, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fy_buf_printf(b, "%02x", d[i]);
}

/* ---- header and tables ---- */
static void put_header(fy_buf *b, const fy_program *p)
{
    fy_buf_printf(b, "ferry program, format %u.%u, compiler %u.%u.%u\n", p->major, p->minor,
                  p->compiler_version >> 16, (p->compiler_version >> 8) & 0xFF,
                  p->compiler_version & 0xFF);
    fy_buf_puts(b, "source hash  ");
    put_hex_bytes(b, p->source_hash, sizeof p->source_hash);
    fy_buf_printf(b, "\nsignature    %s\n",
                  p->signed_ok ? "verified with the trusted key" : "not verified");
    fy_buf_puts(b, "sources     ");
    for (uint32_t i = 0; i < p->nsources; i++) {
        fy_buf_putc(b, ' ');
        put_qstr(b, p, p->sources[i]);
    }
    fy_buf_printf(b,
                  "\ncounts       %u strings, %u consts, %u regex, %u instructions, %u rules, "
                  "%u roots, %u dnodes, %u drefs, %u dexts, %u apps, %u components, "
                  "%u versions, %u conversions, %u maps, %u map entries, %u policies, "
                  "%u debug entries\n",
                  p->nstr, p->nconsts, p->nregex, p->ncode, p->nrules, p->nroots, p->ndnodes,
                  p->ndrefs, p->ndexts, p->napps, p->ncomponents, p->nversions, p->nconvs, p->nmaps,
                  p->nmapents, p->npolicies, p->ndebug);
}

static void put_strings(fy_buf *b, const fy_program *p)
{
    fy_buf_puts(b, "\nstrings:\n");
    for (uint32_t i = 0; i < p->nstr; i++) {
        fy_buf_printf(b, "  [%u] ", i);
        put_qstr(b, p, i);
        fy_buf_putc(b, '\n');
    }
    fy_buf_puts(b, "\nconsts:\n");
    for (uint32_t i = 0; i < p->nconsts; i++)
        fy_buf_printf(b, "  #%u = %lld\n", i, (long long)p->consts[i]);
    fy_buf_puts(b, "\nregex:\n");
    for (uint32_t i = 0; i < p->nregex; i++) {
        fy_buf_printf(b, "  r%u ", i);
        put_qstr(b, p, p->regex[i].pattern);
        fy_buf_puts(b, p->regex[i].flags & 0x8u ? " caseless\n" : "\n");
    }
}

static void put_rules(fy_buf *b, const fy_program *p)
{
    static const char *const stages[] = {"?", "content", "template", "unconditional"};
    fy_buf_puts(b, "\nrules:\n");
    for (uint32_t i = 0; i < p->nrules; i++) {
        const fy_prog_rule *r = &p->rules[i];
        fy_buf_printf(b, "  [%u] stage %s, %s, %s, flags%s%s%s%s, app ", i,
                      stages[r->stage <= 3 ? r->stage : 0],
                      r->action == 1   ? "include"
                      : r->action == 2 ? "exclude"
                                       : "?",
                      r->kind == 1   ? "file"
                      : r->kind == 2 ? "registry"
                                     : "?",
                      r->flags ? "" : " none", r->flags & FY_RULE_DETECTION ? " detection" : "",
                      r->flags & FY_RULE_RECURSE ? " recurse" : "",
                      r->flags & FY_RULE_KEYS ? " keys" : "");
        put_idx(b, r->app);
        fy_buf_puts(b, ", component ");
        put_idx(b, r->component);
        fy_buf_printf(b, ", specificity %u, entry 0x%04x, node ", r->specificity, r->entry);
        put_qstr(b, p, r->node);
        fy_buf_puts(b, ", dest ");
        put_qstr(b, p, r->dest);
        fy_buf_putc(b, '\n');
    }
    fy_buf_puts(b, "\nroots:\n");
    for (uint32_t i = 0; i < p->nroots; i++) {
        fy_buf_printf(b, "  [%u] %s%s ", i, p->roots[i].kind == 1 ? "file" : "registry",
                      p->roots[i].recurse ? " recurse" : "");
        put_qstr(b, p, p->roots[i].path);
        fy_buf_putc(b, '\n');
    }
}

/* A list of rule indices from the DREFS table: "{0, 3}". */
static void put_refs(fy_buf *b, const fy_program *p, uint32_t first, uint32_t n)
{
    fy_buf_putc(b, '{');
    for (uint32_t k = 0; k < n && first < p->ndrefs && k < p->ndrefs - first; k++)
        fy_buf_printf(b, "%s%u", k ? ", " : "", p->drefs[first + k]);
    fy_buf_putc(b, '}');
}

/* In index order (children always follow their parent), so no recursion is needed. */
static void put_dispatch(fy_buf *b, const fy_program *p)
{
    fy_buf_puts(b, "\ndispatch:\n");
    for (uint32_t i = 0; i < p->ndnodes; i++) {
        const fy_prog_dnode *d = &p->dnodes[i];
        fy_buf_printf(b, "  node %u ", i);
        if (d->name == FY_NONE)
            fy_buf_puts(b, "(root)");
        else
            put_qstr(b, p, d->name);
        if (d->nchildren)
            fy_buf_printf(b, " children %u..%u", d->first_child, d->first_child + d->nchildren - 1);
        fy_buf_puts(b, " rules ");
        put_refs(b, p, d->first_ref, d->nrefs);
        for (uint32_t k = 0;
             k < d->nexts && d->first_ext < p->ndexts && k < p->ndexts - d->first_ext; k++) {
            const fy_prog_dext *e = &p->dexts[d->first_ext + k];
            fy_buf_puts(b, " .");
            put_qstr(b, p, e->ext);
            fy_buf_puts(b, " ");
            put_refs(b, p, e->first_ref, e->nrefs);
        }
        fy_buf_putc(b, '\n');
    }
}

static void put_apps(fy_buf *b, const fy_program *p)
{
    fy_buf_puts(b, "\napps:\n");
    for (uint32_t i = 0; i < p->napps; i++) {
        const fy_prog_app *a = &p->apps[i];
        fy_buf_printf(b, "  [%u] id ", i);
        put_qstr(b, p, a->id);
        fy_buf_puts(b, ", name ");
        put_qstr(b, p, a->name);
        fy_buf_puts(b, ", vendor ");
        put_qstr(b, p, a->vendor);
        fy_buf_puts(b, ", content ");
        put_qstr(b, p, a->content_path);
        fy_buf_printf(b, ", flags%s%s%s, versions %u+%u, components %u+%u\n",
                      a->flags ? "" : " none", a->flags & FY_APP_SYSTEM ? " system" : "",
                      a->flags & FY_APP_SELECTED ? " selected" : "", a->first_version, a->nversions,
                      a->first_component, a->ncomponents);
    }
    fy_buf_puts(b, "\nversions:\n");
    for (uint32_t i = 0; i < p->nversions; i++) {
        const fy_prog_version *v = &p->versions[i];
        fy_buf_printf(b, "  [%u] app %u, version ", i, v->app);
        put_qstr(b, p, v->version);
        if (v->detect == FY_NONE)
            fy_buf_puts(b, ", detect -\n");
        else
            fy_buf_printf(b, ", detect 0x%04x\n", v->detect);
    }
    fy_buf_puts(b, "\ncomponents:\n");
    for (uint32_t i = 0; i < p->ncomponents; i++) {
        const fy_prog_component *c = &p->components[i];
        fy_buf_printf(b, "  [%u] app %u, name ", i, c->app);
        put_qstr(b, p, c->name);
        fy_buf_puts(b, ", content ");
        put_qstr(b, p, c->content_path);
        fy_buf_printf(b, ", flags%s%s%s\n", c->flags ? "" : " none",
                      c->flags & FY_COMP_DETECTION ? " detection" : "",
                      c->flags & FY_COMP_SELECTED ? " selected" : "");
    }
}

static void put_convs_maps(fy_buf *b, const fy_program *p)
{
    fy_buf_puts(b, "\nconversions:\n");
    for (uint32_t i = 0; i < p->nconvs; i++) {
        const fy_prog_conv *c = &p->convs[i];
        fy_buf_printf(b, "  [%u] app ", i);
        put_idx(b, c->app);
        fy_buf_puts(b, ", from ");
        put_qstr(b, p, c->from_version);
        fy_buf_puts(b, ", to ");
        put_qstr(b, p, c->to_version);
        fy_buf_printf(b, ", entry 0x%04x\n", c->entry);
    }
    fy_buf_puts(b, "\nmaps:\n");
    for (uint32_t i = 0; i < p->nmaps; i++) {
        fy_buf_printf(b, "  map%u:\n", i);
        for (uint32_t k = 0; k < p->maps[i].count && p->maps[i].first < p->nmapents &&
                             k < p->nmapents - p->maps[i].first;
             k++) {
            const fy_prog_mapent *e = &p->mapents[p->maps[i].first + k];
            fy_buf_puts(b, "    ");
            put_qstr(b, p, e->from);
            fy_buf_puts(b, " -> ");
            put_qstr(b, p, e->to);
            fy_buf_putc(b, '\n');
        }
    }
    fy_buf_puts(b, "\npolicies:\n");
    for (uint32_t i = 0; i < p->npolicies; i++) {
        fy_buf_puts(b, "  [");
        put_qstr(b, p, p->policies[i].section);
        fy_buf_puts(b, "] ");
        put_qstr(b, p, p->policies[i].key);
        fy_buf_puts(b, " = ");
        put_qstr(b, p, p->policies[i].value);
        fy_buf_putc(b, '\n');
    }
}

/* ---- instructions ---- */
static void put_operand(fy_buf *b, const fy_program *p, char which, unsigned kind, uint32_t v)
{
    if (kind == FY_OPND_NONE) return;
    fy_buf_printf(b, " %c=", which);
    switch (kind) {
    case FY_OPND_SREG:
        fy_buf_printf(b, "s%u", v);
        break;
    case FY_OPND_STR:
        put_qstr(b, p, v);
        break;
    case FY_OPND_CONST:
        if (v < p->nconsts)
            fy_buf_printf(b, "%lld", (long long)p->consts[v]);
        else
            fy_buf_printf(b, "#%u?", v);
        break;
    case FY_OPND_REGEX:
        fy_buf_printf(b, "r%u:", v);
        if (v < p->nregex) put_qstr(b, p, p->regex[v].pattern);
        break;
    case FY_OPND_MAP:
        fy_buf_printf(b, "map%u", v);
        break;
    case FY_OPND_JUMP:
        fy_buf_printf(b, "0x%04x", v);
        break;
    case FY_OPND_CMP:
        fy_buf_puts(b, v <= 6 ? cmp_names[v] : "?");
        break;
    case FY_OPND_KIND:
        fy_buf_puts(b, v <= 3 ? kind_names[v] : "?");
        break;
    case FY_OPND_TYPE:
        fy_buf_puts(b, v < FY_ARRAY_LEN(regtype_names) ? regtype_names[v] : "?");
        break;
    case FY_OPND_HOST:
        fy_buf_puts(b, v < FY_HOST_COUNT ? fy_hostinfo_table[v].name : "?");
        break;
    case FY_OPND_MASK:
        fy_buf_printf(b, "0x%x", v);
        break;
    default:
        fy_buf_printf(b, "%u", v);
        break; /* BOOL */
    }
}

/* Block labels ("; rule 3 (CLS)") printed before the instruction a table enters at. */
typedef struct fy_label {
    uint32_t pc, seq; /* seq keeps rules, then versions, then conversions, in order */
    const char *what, *kind;
    uint32_t idx;
} fy_label;

static int cmp_label(const void *a, const void *b)
{
    const fy_label *x = a, *y = b;
    if (x->pc != y->pc) return x->pc < y->pc ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static fy_label *collect_labels(const fy_program *p, size_t *n)
{
    size_t cap = (size_t)p->nrules + p->nversions + p->nconvs, k = 0;
    fy_label *l = fy_xmalloc((cap ? cap : 1) * sizeof *l);
    for (uint32_t i = 0; i < p->nrules; i++)
        l[k] = (fy_label){p->rules[i].entry, (uint32_t)k, "rule", "CLS", i}, k++;
    for (uint32_t i = 0; i < p->nversions; i++)
        if (p->versions[i].detect != FY_NONE)
            l[k] = (fy_label){p->versions[i].detect, (uint32_t)k, "version", "DET", i}, k++;
    for (uint32_t i = 0; i < p->nconvs; i++)
        l[k] = (fy_label){p->convs[i].entry, (uint32_t)k, "conversion", "CNV", i}, k++;
    qsort(l, k, sizeof *l, cmp_label);
    *n = k;
    return l;
}

static void put_insn(fy_buf *b, const fy_program *p, uint32_t i)
{
    const fy_insn *in = &p->code[i];
    uint32_t pc = i * FY_INSN_SIZE;
    size_t start = b->len;
    if (in->op >= FY_OP_COUNT) {
        fy_buf_printf(b, "  0x%04x  ?%-5u a=%u b=%u c=%u", pc, in->op, in->a, in->b, in->c);
    } else {
        const fy_opinfo *oi = &fy_opinfo_table[in->op];
        fy_buf_printf(b, "  0x%04x  %-6s", pc, oi->name);
        put_operand(b, p, 'a', oi->a, in->a);
        put_operand(b, p, 'b', oi->b, in->b);
        put_operand(b, p, 'c', oi->c, in->c);
    }
    const fy_prog_debug *d = fy_program_debug_at(p, pc);
    if (d) {
        size_t w = b->len - start;
        for (; w < OPND_COLUMN; w++)
            fy_buf_putc(b, ' ');
        fy_buf_printf(b, " ; %s:%u:%u", fy_prog_str(p, d->file), d->line, d->col);
    }
    fy_buf_putc(b, '\n');
}

static void put_code(fy_buf *b, const fy_program *p)
{
    size_t nl, k = 0;
    fy_label *l = collect_labels(p, &nl);
    fy_buf_puts(b, "\ncode:\n");
    for (uint32_t i = 0; i < p->ncode; i++) {
        uint32_t pc = i * FY_INSN_SIZE;
        for (; k < nl && l[k].pc <= pc; k++) {
            if (l[k].pc != pc) continue; /* not on an instruction (unverified program) */
            fy_buf_printf(b, "        ; %s %u (%s)\n", l[k].what, l[k].idx, l[k].kind);
        }
        put_insn(b, p, i);
    }
    free(l);
}

void fy_program_disasm(const fy_program *p, fy_buf *out)
{
    put_header(out, p);
    put_strings(out, p);
    put_rules(out, p);
    put_dispatch(out, p);
    put_apps(out, p);
    put_convs_maps(out, p);
    put_code(out, p);
}
