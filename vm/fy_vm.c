/* The interpreter. Programs reach it only through fy_program_load, which verified every
 * operand, jump and block, so the loop below trusts indices and needs no bounds checks
 * beyond what the verifier proved. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "fy_vm.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Per-app stage-1 state, reset lazily through the `touched` list. */
typedef struct app_best {
    uint32_t spec;
    uint32_t rule;
    uint8_t action;
    uint8_t seen;
} app_best;

struct fy_vm {
    const fy_program *p;
    fy_vm_host host;
    int64_t now;
    const uint8_t *detected;
    /* registers */
    const char *s[4];
    uint32_t vtype;
    fy_buf v, vtext, version, scratch;
    /* the object under classification or conversion */
    const fy_object *obj;
    fy_mobject *mobj;
    const char *orig_folder, *orig_name; /* CNV tests see the object as it came in */
    size_t orig_folder_len, orig_name_len;
    fy_buf orig;
    /* classification scratch */
    app_best *best;      /* napps + 1 (the last slot: rules without an app) */
    uint32_t *touched;   /* apps touched by the current object */
    uint32_t ntouched;
    uint64_t *order;     /* per rule: its place in the trial order (order_key) */
    uint32_t *all;       /* every rule in trial order, for fy_vm_classify_all */
    uint32_t *dhash;     /* per dispatch node: FNV-1a of its (upper-case ASCII) name */
    uint32_t *xhash;     /* per extension bucket: the same of its extension */
    uint32_t *after_node; /* per rule with FY_RULE_NODE_EXACT: where its block goes on once
                             its NODE test holds; FY_NONE when the flag cannot be trusted */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    char err[256];
    const char *drop_reason; /* the last XDROP's reason (program string) */
};

/* The order in which candidates are tried, so that the first decisive match ends the run:
 * unconditional excludes first (lowest index speaks), then template rules from the last
 * (last match wins), then the content selection (all of it: per-app precedence). */
static uint64_t order_key(const fy_program *p, uint32_t ri)
{
    uint8_t st = p->rules[ri].stage;
    if (st == 3) return ri;
    if (st == 2) return (1ull << 32) | (UINT32_MAX - ri);
    return (2ull << 32) | ri;
}

static int cmp_order(const void *a, const void *b, void *ctx)
{
    uint64_t x = order_key(ctx, *(const uint32_t *)a), y = order_key(ctx, *(const uint32_t *)b);
    return x < y ? -1 : x > y;
}

/* FNV-1a over ASCII-upper-cased bytes: the key of the hash-first look-ups in the dispatch
 * tree. *ascii (may be NULL) says whether every byte was ASCII; only then does the hash of
 * an object's name stand for its case-insensitive form. */
static uint32_t fold_hash(const char *s, size_t n, bool *ascii)
{
    uint32_t h = 2166136261u;
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        all &= c < 0x80;
        h = (h ^ (c >= 'a' && c <= 'z' ? c - 32u : c)) * 16777619u;
    }
    if (ascii) *ascii = all;
    return h;
}

fy_vm *fy_vm_new(const fy_program *p, const fy_vm_host *host)
{
    fy_vm *vm = fy_xcalloc(1, sizeof(*vm));
    vm->p = p;
    if (host) vm->host = *host;
    vm->best = fy_xcalloc(p->napps + 1, sizeof(*vm->best));
    vm->touched = fy_xcalloc(p->napps + 1, sizeof(*vm->touched));
    vm->order = fy_xcalloc(p->nrules ? p->nrules : 1, sizeof(*vm->order));
    vm->all = fy_xcalloc(p->nrules ? p->nrules : 1, sizeof(*vm->all));
    for (uint32_t i = 0; i < p->nrules; i++) {
        vm->order[i] = order_key(p, i);
        vm->all[i] = i;
    }
    qsort_r(vm->all, p->nrules, sizeof(*vm->all), cmp_order, (void *)p);
    /* Where an exact rule's block continues after its NODE test: past the NODE, and past
     * the JF that follows it (acc is true there). Only for blocks that begin so. */
    vm->after_node = fy_xcalloc(p->nrules ? p->nrules : 1, sizeof(*vm->after_node));
    for (uint32_t i = 0; i < p->nrules; i++) {
        uint32_t e = p->rules[i].entry / FY_INSN_SIZE;
        vm->after_node[i] = FY_NONE;
        if (!(p->rules[i].flags & FY_RULE_NODE_EXACT) || p->code[e].op != FY_OP_NODE) continue;
        uint32_t next = e + 1; /* exists: a verified block's NODE is never its last insn */
        if (p->code[next].op == FY_OP_JF) next++;
        vm->after_node[i] = next * FY_INSN_SIZE;
    }
    /* Node names are upper-cased by the compiler; hash them as gather() hashes an
     * ASCII path component (non-ASCII names never match the fast path: it is skipped). */
    vm->dhash = fy_xcalloc(p->ndnodes ? p->ndnodes : 1, sizeof(*vm->dhash));
    for (uint32_t i = 0; i < p->ndnodes; i++) {
        uint32_t nm = p->dnodes[i].name;
        vm->dhash[i] = nm < p->nstr ? fold_hash(p->str[nm], p->str_len[nm], NULL) : 0;
    }
    vm->xhash = fy_xcalloc(p->ndexts ? p->ndexts : 1, sizeof(*vm->xhash));
    for (uint32_t i = 0; i < p->ndexts; i++)
        vm->xhash[i] = fold_hash(p->str[p->dexts[i].ext], p->str_len[p->dexts[i].ext], NULL);
    vm->md = pcre2_match_data_create(32, NULL);
    vm->mctx = pcre2_match_context_create(NULL);
    if (!vm->md || !vm->mctx) abort();
    fy_vm_set_regex_limits(vm, 1000000, 1000);
    return vm;
}

void fy_vm_free(fy_vm *vm)
{
    if (!vm) return;
    free(vm->best);
    free(vm->touched);
    free(vm->order);
    free(vm->all);
    free(vm->dhash);
    free(vm->xhash);
    free(vm->after_node);
    fy_buf_free(&vm->v);
    fy_buf_free(&vm->vtext);
    fy_buf_free(&vm->version);
    fy_buf_free(&vm->scratch);
    fy_buf_free(&vm->orig);
    pcre2_match_data_free(vm->md);
    pcre2_match_context_free(vm->mctx);
    free(vm);
}

void fy_vm_set_now(fy_vm *vm, int64_t now)
{
    vm->now = now;
}

void fy_vm_set_detected(fy_vm *vm, const uint8_t *detected)
{
    vm->detected = detected;
}

void fy_vm_set_regex_limits(fy_vm *vm, uint32_t match_limit, uint32_t depth_limit)
{
    pcre2_set_match_limit(vm->mctx, match_limit);
    pcre2_set_depth_limit(vm->mctx, depth_limit);
}

const char *fy_vm_error(const fy_vm *vm)
{
    return vm->err;
}

const char *fy_vm_drop_reason(const fy_vm *vm)
{
    return vm->drop_reason ? vm->drop_reason : "";
}

/* ---- helpers ---- */

static bool cmp_i64(uint8_t cmp, int64_t x, int64_t y)
{
    switch (cmp) {
    case 1: return x < y;
    case 2: return x <= y;
    case 3: return x == y;
    case 4: return x != y;
    case 5: return x >= y;
    default: return x > y;
    }
}

/* Does `folder` match the node glob, or (recurse) lie below a folder that does? The star in a
 * node never crosses '\\'; "*" alone means anywhere. */
enum { NODE_RECURSE = 1, NODE_LITERAL = 2 };

static bool node_match(const char *node, size_t nn, const char *f, size_t fn, unsigned flags)
{
    bool recurse = flags & NODE_RECURSE;
    if (flags & NODE_LITERAL) {
        /* Case folding keeps UTF-8 lengths (fy_fold_cp maps within equal-length ranges), so
         * a literal node is a prefix comparison. */
        if (fn < nn || fy_strcasecmp_u8(node, nn, f, nn) != 0) return false;
        return fn == nn || (recurse && f[nn] == '\\');
    }
    if (nn == 1 && node[0] == '*') return true;
    if (!recurse) return fy_glob_match(node, nn, f, fn, false);
    /* Try every prefix of f that ends at a component boundary, shortest first. A literal
     * node can only match the prefix of its own component count. */
    size_t comps = 1;
    for (size_t i = 0; i < nn; i++)
        if (node[i] == '\\') comps++;
    size_t seen = 1;
    for (size_t i = 0; i <= fn; i++) {
        if (i == fn || f[i] == '\\') {
            if (seen == comps) return fy_glob_match(node, nn, f, i, false);
            seen++;
        }
    }
    return false;
}

void fy_reg_data_text(uint32_t type, const uint8_t *data, size_t len, fy_buf *out)
{
    switch (type) {
    case 1: /* REG_SZ */
    case 2: /* REG_EXPAND_SZ */
    case 6: /* REG_LINK */ {
        size_t n;
        char *s = fy_utf16le_to_utf8(data, len, true, &n);
        fy_buf_put(out, s, n);
        free(s);
        break;
    }
    case 7: { /* REG_MULTI_SZ: strings separated by NUL, list ended by an empty string */
        size_t i = 0;
        bool first = true;
        while (i + 1 < len) {
            size_t j = i;
            while (j + 1 < len && (data[j] | data[j + 1])) j += 2;
            if (j == i) break;
            size_t n;
            char *s = fy_utf16le_to_utf8(data + i, j - i, false, &n);
            if (!first) fy_buf_putc(out, '\n');
            fy_buf_put(out, s, n);
            free(s);
            first = false;
            i = j + 2;
        }
        break;
    }
    case 4: /* REG_DWORD */
        if (len == 4) {
            fy_buf_printf(out, "%u", fy_le32(data));
            break;
        }
        goto hex;
    case 5: /* REG_DWORD_BIG_ENDIAN */
        if (len == 4) {
            fy_buf_printf(out, "%u",
                          (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | data[2] << 8 | data[3]);
            break;
        }
        goto hex;
    case 11: /* REG_QWORD */
        if (len == 8) {
            fy_buf_printf(out, "%llu", (unsigned long long)fy_le64(data));
            break;
        }
        goto hex;
    default:
    hex:
        for (size_t i = 0; i < len; i++) fy_buf_printf(out, "%02x", data[i]);
    }
    fy_buf_cstr(out);
}

/* Text of the value register. */
static const char *vtext(fy_vm *vm, size_t *n)
{
    vm->vtext.len = 0;
    if (vm->mobj)
        fy_reg_data_text(vm->mobj->type, vm->mobj->data.data, vm->mobj->data.len, &vm->vtext);
    else
        fy_reg_data_text(vm->vtype, vm->v.data, vm->v.len, &vm->vtext);
    fy_buf_cstr(&vm->vtext);
    *n = vm->vtext.len;
    return (const char *)vm->vtext.data;
}

static bool contains_ci(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0) return true;
    for (size_t i = 0; i + nn <= hn; i++)
        if (fy_strcasecmp_u8(h + i, nn, nd, nn) == 0) return true;
    return false;
}

int fy_version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        unsigned long x = strtoul(a, (char **)&a, 10);
        unsigned long y = strtoul(b, (char **)&b, 10);
        if (x != y) return x < y ? -1 : 1;
        while (*a && *a != '.') a++;
        while (*b && *b != '.') b++;
        if (*a == '.') a++;
        if (*b == '.') b++;
    }
    return 0;
}

/* Compares a file's version with a bound, looking only at as many parts as the bound has:
 * 11.0.8173.0 is within max-version 11.0 (docs/appdefs.md). */
static int version_cmp_bound(const char *v, const char *bound)
{
    while (*bound) {
        unsigned long x = strtoul(v, (char **)&v, 10);
        unsigned long y = strtoul(bound, (char **)&bound, 10);
        if (x != y) return x < y ? -1 : 1;
        while (*v && *v != '.') v++;
        while (*bound && *bound != '.') bound++;
        if (*v == '.') v++;
        if (*bound == '.') bound++;
    }
    return 0;
}

/* ---- conversion operations on the mutable object ---- */

static void buf_set(fy_buf *b, const char *s, size_t n)
{
    b->len = 0;
    fy_buf_put(b, s, n);
    fy_buf_cstr(b);
}

/* Replaces the leading `from` (case-insensitive, at a component boundary) with `to`. */
static bool replace_prefix(fy_vm *vm, fy_buf *path, const char *from, const char *to)
{
    size_t fl = strlen(from), pl = path->len;
    const char *ps = (const char *)path->data;
    if (pl < fl || fy_strcasecmp_u8(ps, fl, from, fl) != 0) return false;
    if (pl > fl && ps[fl] != '\\') return false;
    vm->scratch.len = 0;
    fy_buf_puts(&vm->scratch, to);
    fy_buf_put(&vm->scratch, ps + fl, pl - fl);
    buf_set(path, (const char *)vm->scratch.data, vm->scratch.len);
    return true;
}

static void put_utf16_text(fy_buf *out, const char *s, size_t n, bool terminate)
{
    size_t wl;
    uint8_t *w = fy_utf8_to_utf16le(s, n, &wl);
    if (w) fy_buf_put(out, w, wl);
    free(w);
    if (terminate) fy_buf_u16(out, 0);
}

/* Encodes text as data of the object's type (for XMAP and XTYPE). */
static int encode_text(fy_vm *vm, uint32_t type, const char *s, size_t n, fy_buf *out)
{
    out->len = 0;
    switch (type) {
    case 1:
    case 2:
    case 6:
        put_utf16_text(out, s, n, true);
        return 0;
    case 7: {
        size_t i = 0;
        while (i <= n) {
            size_t j = i;
            while (j < n && s[j] != '\n') j++;
            if (j > i) put_utf16_text(out, s + i, j - i, true);
            i = j + 1;
        }
        fy_buf_u16(out, 0);
        return 0;
    }
    case 4:
    case 5:
    case 11: {
        char tmp[32];
        if (n == 0 || n >= sizeof tmp) goto bad;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        char *end;
        unsigned long long x = strtoull(tmp, &end, 0);
        if (*end) goto bad;
        if (type == 11) {
            fy_buf_u64(out, x);
        } else {
            if (x > 0xFFFFFFFFull) goto bad;
            uint32_t d = (uint32_t)x;
            if (type == 5) d = __builtin_bswap32(d);
            fy_buf_u32(out, d);
        }
        return 0;
    }
    default:
        snprintf(vm->err, sizeof vm->err, "cannot write text as registry type %u", type);
        return -1;
    }
bad:
    snprintf(vm->err, sizeof vm->err, "'%.*s' is not a number for registry type %u", (int)n, s,
             type);
    return -1;
}

static int x_type(fy_vm *vm, uint32_t to)
{
    fy_mobject *o = vm->mobj;
    uint32_t from = o->type;
    if (from == to) return 0;
    bool from_str = from == 1 || from == 2, to_str = to == 1 || to == 2;
    if ((from_str && to_str) || to == 3 || to == 0) { /* same bytes, new type */
        o->type = to;
        return 0;
    }
    size_t n;
    const char *t = vtext(vm, &n);
    fy_buf out = {0};
    int rc = encode_text(vm, to, t, n, &out);
    if (rc == 0) {
        fy_buf_free(&o->data);
        o->data = out;
        o->type = to;
    } else {
        fy_buf_free(&out);
    }
    return rc;
}

static int x_map(fy_vm *vm, uint32_t m, bool *mapped)
{
    const fy_program *p = vm->p;
    size_t n;
    const char *t = vtext(vm, &n);
    *mapped = false;
    for (uint32_t i = p->maps[m].first; i < p->maps[m].first + p->maps[m].count; i++) {
        const char *from = fy_prog_str(p, p->mapents[i].from);
        if (strlen(from) != n || memcmp(from, t, n) != 0) continue; /* exact text */
        const char *to = fy_prog_str(p, p->mapents[i].to);
        fy_buf out = {0};
        if (encode_text(vm, vm->mobj->type, to, strlen(to), &out)) {
            fy_buf_free(&out);
            return -1;
        }
        fy_buf_free(&vm->mobj->data);
        vm->mobj->data = out;
        *mapped = true;
        return 0;
    }
    return 0;
}

static int x_subst(fy_vm *vm, uint32_t rx, const char *repl)
{
    fy_mobject *o = vm->mobj;
    if (o->type != 1 && o->type != 2 && o->type != 7) return 0; /* strings only */
    size_t n;
    const char *t = vtext(vm, &n);
    char *in = fy_xstrndup(t, n);
    size_t cap = n * 2 + 64;
    int rc = 0;
    for (;;) {
        PCRE2_UCHAR *out = fy_xmalloc(cap);
        PCRE2_SIZE outlen = cap;
        int r = pcre2_substitute(vm->p->regex_code[rx], (PCRE2_SPTR)in, n, 0,
                                 PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                                 vm->md, vm->mctx, (PCRE2_SPTR)repl, PCRE2_ZERO_TERMINATED, out,
                                 &outlen);
        if (r == PCRE2_ERROR_NOMEMORY) {
            free(out);
            cap = outlen + 1;
            continue;
        }
        if (r < 0) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(r, msg, sizeof msg);
            snprintf(vm->err, sizeof vm->err, "regex %u: %s", rx, (char *)msg);
            rc = -1;
        } else if (r > 0) {
            fy_buf data = {0};
            rc = encode_text(vm, o->type, (const char *)out, outlen, &data);
            if (rc == 0) {
                fy_buf_free(&o->data);
                o->data = data;
            } else {
                fy_buf_free(&data);
            }
        }
        free(out);
        break;
    }
    free(in);
    return rc;
}

static int host_call(fy_vm *vm, uint8_t n)
{
    fy_host_fn fn = vm->host.fn[n];
    if (!fn) return 0;
    vm->v.len = 0;
    vm->version.len = 0;
    fy_vm_call call = {.s = {vm->s[0], vm->s[1], vm->s[2], vm->s[3]},
                       .vtype = &vm->vtype,
                       .v = &vm->v,
                       .version = &vm->version,
                       .obj = vm->mobj};
    int r = fn(vm->host.ctx, &call);
    if (r < 0) snprintf(vm->err, sizeof vm->err, "host call %s failed", fy_hostinfo_table[n].name);
    return r;
}

/* Runs the block at byte offset `entry`. Returns acc (0/1) or -1 on a failure. */
static int run_from(fy_vm *vm, uint32_t entry, bool acc)
{
    const fy_program *p = vm->p;
    const fy_insn *code = p->code;
    uint32_t pc = entry / FY_INSN_SIZE;
    int failed = 0;
    const fy_object *o = vm->obj;
    for (;;) {
        const fy_insn *in = &code[pc++];
        switch ((fy_opcode)in->op) {
        case FY_OP_HALT:
            return failed ? -1 : acc;
        case FY_OP_JMP:
            pc = in->c / FY_INSN_SIZE;
            break;
        case FY_OP_JT:
            if (acc) pc = in->c / FY_INSN_SIZE;
            break;
        case FY_OP_JF:
            if (!acc) pc = in->c / FY_INSN_SIZE;
            break;
        case FY_OP_SET:
            acc = in->a;
            break;
        case FY_OP_NOT:
            acc = !acc;
            break;
        case FY_OP_LDS:
            vm->s[in->a] = p->str[in->c];
            break;
        case FY_OP_HOST: {
            int r = host_call(vm, in->a);
            if (r < 0) failed = 1;
            acc = r > 0;
            break;
        }
        case FY_OP_KIND:
            acc = (o ? o->kind : vm->mobj->kind) == in->a;
            break;
        case FY_OP_NODE:
            if (o)
                acc = node_match(p->str[in->c], p->str_len[in->c], o->folder, o->folder_len, in->a);
            else
                acc = node_match(p->str[in->c], p->str_len[in->c], vm->orig_folder,
                                 vm->orig_folder_len, in->a);
            break;
        case FY_OP_LEAF:
            if (o)
                acc = o->kind != FY_OBJ_KIND_REGKEY &&
                      fy_glob_match(p->str[in->c], p->str_len[in->c], o->name, o->name_len, true);
            else
                acc = vm->mobj->kind != FY_OBJ_KIND_REGKEY &&
                      fy_glob_match(p->str[in->c], p->str_len[in->c], vm->orig_name,
                                    vm->orig_name_len, true);
            break;
        case FY_OP_SIZE:
            acc = o->kind == FY_OBJ_KIND_FILE && cmp_i64(in->a, (int64_t)o->size, p->consts[in->c]);
            break;
        case FY_OP_MTIME:
            acc = o->kind == FY_OBJ_KIND_FILE && cmp_i64(in->a, o->mtime_local, p->consts[in->c]);
            break;
        case FY_OP_AGE:
            acc = o->kind == FY_OBJ_KIND_FILE && cmp_i64(in->a, vm->now - o->mtime, p->consts[in->c]);
            break;
        case FY_OP_ATTR:
            acc = (o->attrib & in->c) == in->c && (o->attrib & in->b) == 0;
            break;
        case FY_OP_VEQ: {
            size_t n;
            const char *t = vtext(vm, &n);
            acc = fy_strcasecmp_u8(t, n, p->str[in->c], p->str_len[in->c]) == 0;
            break;
        }
        case FY_OP_VHAS: {
            size_t n;
            const char *t = vtext(vm, &n);
            acc = contains_ci(t, n, p->str[in->c], p->str_len[in->c]);
            break;
        }
        case FY_OP_VMATCH: {
            size_t n;
            const char *t = vtext(vm, &n);
            int r = pcre2_match(p->regex_code[in->c], (PCRE2_SPTR)t, n, 0, 0, vm->md, vm->mctx);
            if (r < 0 && r != PCRE2_ERROR_NOMATCH) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(r, msg, sizeof msg);
                snprintf(vm->err, sizeof vm->err, "regex %u: %s", in->c, (char *)msg);
                failed = 1;
            }
            acc = r >= 0;
            break;
        }
        case FY_OP_VERGE:
            acc = vm->version.len && version_cmp_bound(fy_buf_cstr(&vm->version), p->str[in->c]) >= 0;
            break;
        case FY_OP_VERLE:
            acc = vm->version.len && version_cmp_bound(fy_buf_cstr(&vm->version), p->str[in->c]) <= 0;
            break;
        case FY_OP_XKEY:
            acc = replace_prefix(vm, &vm->mobj->folder, vm->s[0], vm->s[1]);
            break;
        case FY_OP_XNAME:
            buf_set(&vm->mobj->name, vm->s[0], strlen(vm->s[0]));
            acc = true;
            break;
        case FY_OP_XTYPE:
            if (x_type(vm, in->c)) failed = 1;
            acc = !failed;
            break;
        case FY_OP_XMAP: {
            bool mapped;
            if (x_map(vm, in->c, &mapped)) failed = 1;
            acc = mapped;
            break;
        }
        case FY_OP_XSUBST:
            if (x_subst(vm, in->c, vm->s[0])) failed = 1;
            acc = !failed;
            break;
        case FY_OP_XFILE:
            acc = replace_prefix(vm, &vm->mobj->folder, vm->s[0], vm->s[1]);
            break;
        case FY_OP_XDROP:
            vm->mobj->dropped = true;
            vm->drop_reason = p->str[in->c];
            acc = true;
            break;
        default:
            /* Unreachable for verified programs. */
            snprintf(vm->err, sizeof vm->err, "pc 0x%04x: bad opcode", (pc - 1) * FY_INSN_SIZE);
            return -1;
        }
    }
}

static int run(fy_vm *vm, uint32_t entry)
{
    return run_from(vm, entry, false);
}

/* ---- classification ---- */

static bool rule_applies(const fy_vm *vm, const fy_prog_rule *r, const fy_object *o)
{
    bool file = o->kind == FY_OBJ_KIND_FILE;
    if (file != (r->kind == 1)) return false;
    if (o->kind == FY_OBJ_KIND_REGKEY && !(r->flags & FY_RULE_KEYS)) return false;
    if ((r->flags & FY_RULE_DETECTION) && vm->detected && r->app != FY_NONE &&
        !vm->detected[r->app])
        return false;
    return true;
}

/* A run: a slice of rule indices already in trial order (DREFS lists are sorted so by the
 * compiler; vm->all by fy_vm_new). Classification merges the runs it meets lazily, trying
 * the next rule in the global order each time, so the first decisive match ends the work
 * without gathering or sorting every candidate. */
typedef struct run_slice {
    const uint32_t *r;
    uint32_t n;
    uint8_t tree;   /* met through the dispatch tree: exact rules' NODE tests hold... */
    uint8_t at_end; /* ...and the object's folder ends at this tree node */
} run_slice;

static void decide(fy_vm *vm, const fy_object *o, run_slice *runs, uint32_t nruns,
                   fy_verdict *out)
{
    const fy_program *p = vm->p;
    const uint64_t *key = vm->order;
    uint32_t best2 = FY_NONE, uncond = FY_NONE, matched = 0;
    vm->ntouched = 0;
    vm->obj = o;
    vm->mobj = NULL;
    for (;;) {
        /* the run whose head comes first in the trial order */
        uint32_t pick = FY_NONE;
        uint64_t best = UINT64_MAX;
        for (uint32_t k = 0; k < nruns; k++) {
            if (runs[k].n && key[runs[k].r[0]] < best) {
                best = key[runs[k].r[0]];
                pick = k;
            }
        }
        if (pick == FY_NONE) break;
        uint32_t ri = runs[pick].r[0];
        runs[pick].r++;
        runs[pick].n--;
        const fy_prog_rule *r = &p->rules[ri];
        if (!rule_applies(vm, r, o)) continue;
        int res;
        if (runs[pick].tree && vm->after_node[ri] != FY_NONE) {
            /* the tree proved the node: a folder at this node, or below it when recursing */
            if (!(r->flags & FY_RULE_RECURSE) && !runs[pick].at_end) continue;
            res = run_from(vm, vm->after_node[ri], true);
        } else {
            res = run(vm, r->entry);
        }
        if (res != 1) continue;
        matched++;
        if (r->stage == 3) {
            uncond = ri;
            break;
        }
        if (r->stage == 2) {
            best2 = ri;
            break; /* overrides the content selection */
        }
        uint32_t slot = r->app == FY_NONE ? p->napps : r->app;
        app_best *b = &vm->best[slot];
        if (!b->seen) {
            b->seen = 1;
            b->spec = r->specificity;
            b->rule = ri;
            b->action = r->action;
            vm->touched[vm->ntouched++] = slot;
        } else if (r->specificity > b->spec ||
                   (r->specificity == b->spec &&
                    ((r->action == 2 && b->action != 2) ||
                     (r->action == b->action && ri < b->rule)))) {
            /* Ties: an exclude wins; between equals the earlier rule speaks, so the
             * verdict does not depend on the order candidates were met. */
            b->spec = r->specificity;
            b->rule = ri;
            b->action = r->action;
        }
    }
    uint32_t decider = FY_NONE;
    fy_decision d = FY_DECIDE_NONE;
    if (uncond != FY_NONE) {
        decider = uncond, d = FY_DECIDE_EXCLUDE;
    } else if (best2 != FY_NONE) {
        decider = best2, d = p->rules[best2].action == 1 ? FY_DECIDE_INCLUDE : FY_DECIDE_EXCLUDE;
    }
    /* Stage 1 across apps: included by any app = included; the most specific including rule
     * speaks for it. Reset the touched slots as we go. */
    uint32_t inc = FY_NONE, exc = FY_NONE;
    for (uint32_t i = 0; i < vm->ntouched; i++) {
        app_best *b = &vm->best[vm->touched[i]];
        uint32_t *slot = b->action == 1 ? &inc : &exc;
        if (*slot == FY_NONE || b->spec > p->rules[*slot].specificity ||
            (b->spec == p->rules[*slot].specificity && b->rule < *slot))
            *slot = b->rule;
        b->seen = 0;
    }
    if (d == FY_DECIDE_NONE && inc != FY_NONE) decider = inc, d = FY_DECIDE_INCLUDE;
    if (d == FY_DECIDE_NONE && exc != FY_NONE) decider = exc, d = FY_DECIDE_EXCLUDE;
    out->decision = d;
    out->rule = decider;
    out->matched = matched;
    out->dest = FY_NONE;
    out->node = FY_NONE;
    if (decider != FY_NONE) {
        out->node = p->rules[decider].node;
        if (d == FY_DECIDE_INCLUDE) out->dest = p->rules[decider].dest;
    }
    vm->obj = NULL;
}

/* Dispatch look-ups: a name among a node's children or extension buckets (sorted by
 * their upper-cased bytes). Few entries and an ASCII name:
 * hash first; otherwise a binary search of the folded names. FY_NONE when absent. */
#define FY_HASH_SCAN_MAX 16

/* children = true: the entries are dnodes, else extension buckets. h and ascii from
 * fold_hash(s, n). Inlined into both uses so the branch on `children` disappears. */
static inline uint32_t lookup(const fy_program *p, bool children, const uint32_t *hashes, uint32_t first,
                              uint32_t count, const char *s, size_t n, uint32_t h, bool ascii)
{
#define NAME_OF(i) (children ? p->dnodes[i].name : p->dexts[i].ext)
    if (ascii && count <= FY_HASH_SCAN_MAX) {
        for (uint32_t i = first; i < first + count; i++) {
            uint32_t nm = NAME_OF(i);
            if (hashes[i] == h && fy_strcasecmp_u8(p->str[nm], p->str_len[nm], s, n) == 0) return i;
        }
        return FY_NONE;
    }
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2, nm = NAME_OF(first + mid);
        int c = fy_strcasecmp_u8(p->str[nm], p->str_len[nm], s, n);
        if (c == 0) return first + mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return FY_NONE;
#undef NAME_OF
}

/* Walks the dispatch tree along the object's folder; at every node met, the rules anchored
 * there and those in the bucket of the object's extension become runs. */
static uint32_t gather(fy_vm *vm, const fy_object *o, run_slice *runs, uint32_t max)
{
    const fy_program *p = vm->p;
    uint32_t nruns = 0;
    if (!p->ndnodes) return 0;
    const char *ext = NULL;
    size_t extn = 0;
    if (o->kind == FY_OBJ_KIND_FILE) {
        for (size_t i = o->name_len; i-- > 0;) {
            if (o->name[i] == '.') {
                ext = o->name + i + 1;
                extn = o->name_len - i - 1;
                break;
            }
        }
    }
    bool ext_ascii = false;
    uint32_t ext_hash = ext ? fold_hash(ext, extn, &ext_ascii) : 0;
    uint32_t node = 0;
    size_t pos = 0;
    while (nruns + 2 <= max) {
        const fy_prog_dnode *d = &p->dnodes[node];
        uint8_t at_end = pos >= o->folder_len;
        if (d->nrefs) runs[nruns++] = (run_slice){p->drefs + d->first_ref, d->nrefs, 1, at_end};
        if (ext && d->nexts) {
            uint32_t x = lookup(p, false, vm->xhash, d->first_ext, d->nexts, ext, extn, ext_hash, ext_ascii);
            if (x != FY_NONE)
                runs[nruns++] = (run_slice){p->drefs + p->dexts[x].first_ref, p->dexts[x].nrefs, 1, at_end};
        }
        if (pos >= o->folder_len || !d->nchildren) break;
        size_t e = pos;
        while (e < o->folder_len && o->folder[e] != '\\') e++;
        bool ascii;
        uint32_t h = fold_hash(o->folder + pos, e - pos, &ascii);
        uint32_t next =
            lookup(p, true, vm->dhash, d->first_child, d->nchildren, o->folder + pos, e - pos, h, ascii);
        if (next == FY_NONE) break;
        node = next;
        pos = e < o->folder_len ? e + 1 : e;
    }
    return nruns;
}

int fy_vm_classify(fy_vm *vm, const fy_object *obj, fy_verdict *out)
{
    vm->err[0] = 0;
    run_slice runs[(FY_DISPATCH_MAX_DEPTH + 1) * 2];
    uint32_t n = gather(vm, obj, runs, FY_ARRAY_LEN(runs));
    decide(vm, obj, runs, n, out);
    return 0;
}

int fy_vm_classify_all(fy_vm *vm, const fy_object *obj, fy_verdict *out)
{
    vm->err[0] = 0;
    run_slice all = {vm->all, vm->p->nrules, 0, 0};
    decide(vm, obj, &all, 1, out);
    return 0;
}

/* ---- detection and conversion ---- */

int fy_vm_detect_version(fy_vm *vm, uint32_t v)
{
    vm->err[0] = 0;
    const fy_prog_version *ver = &vm->p->versions[v];
    if (ver->detect == FY_NONE) return 0;
    vm->obj = NULL;
    vm->mobj = NULL;
    vm->version.len = 0;
    return run(vm, ver->detect);
}

uint32_t fy_vm_detect_app(fy_vm *vm, uint32_t a)
{
    const fy_prog_app *app = &vm->p->apps[a];
    uint32_t found = FY_NONE;
    for (uint32_t i = 0; i < app->nversions; i++)
        if (fy_vm_detect_version(vm, app->first_version + i) == 1) found = app->first_version + i;
    return found;
}

void fy_mobject_set(fy_mobject *o, uint8_t kind, const char *folder, const char *name,
                    uint32_t type, const void *data, size_t len)
{
    o->kind = kind;
    buf_set(&o->folder, folder, strlen(folder));
    buf_set(&o->name, name ? name : "", name ? strlen(name) : 0);
    o->type = type;
    o->data.len = 0;
    fy_buf_put(&o->data, data, len);
    o->dropped = false;
}

void fy_mobject_free(fy_mobject *o)
{
    fy_buf_free(&o->folder);
    fy_buf_free(&o->name);
    fy_buf_free(&o->data);
}

int fy_vm_convert(fy_vm *vm, uint32_t c, fy_mobject *obj)
{
    vm->err[0] = 0;
    /* Tests in a CNV block see the object as it came in; keep a copy of its folder and
     * name, and of the whole object to roll back on failure. */
    fy_mobject saved = {0};
    fy_mobject_set(&saved, obj->kind, fy_buf_cstr(&obj->folder), fy_buf_cstr(&obj->name),
                   obj->type, obj->data.data, obj->data.len);
    vm->orig_folder = (const char *)saved.folder.data;
    vm->orig_folder_len = saved.folder.len;
    vm->orig_name = (const char *)saved.name.data;
    vm->orig_name_len = saved.name.len;
    vm->obj = NULL;
    vm->mobj = obj;
    int r = run(vm, vm->p->convs[c].entry);
    vm->mobj = NULL;
    if (r < 0) {
        fy_mobject_set(obj, saved.kind, (const char *)saved.folder.data,
                       (const char *)saved.name.data, saved.type, saved.data.data, saved.data.len);
    }
    fy_mobject_free(&saved);
    return r < 0 ? -1 : 0;
}
