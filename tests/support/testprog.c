/* Test helpers: hand-built programs and serialized-image pokes (see testprog.h). */
#include "testprog.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Appends one element to a heap array whose capacity is the next power of two of its
 * count (so it only grows when the count is 0 or a power of two). */
static void *tp_grow(void *arr, uint32_t n, size_t elem)
{
    if (n != 0 && (n & (n - 1)) != 0) return arr;
    return fy_xrealloc(arr, (n ? (size_t)n * 2 : 1) * elem);
}
#define TP_PUSH(arr, n, val) ((arr) = tp_grow((arr), (n), sizeof *(arr)), (arr)[(n)] = (val), (n)++)

fy_program *tp_new(void)
{
    fy_program *p = fy_xcalloc(1, sizeof *p);
    p->major = FY_FORMAT_MAJOR;
    p->minor = FY_FORMAT_MINOR;
    p->compiler_version = 0x000100;
    for (int i = 0; i < 32; i++)
        p->source_hash[i] = (uint8_t)i;
    return p;
}

uint32_t tp_strn(fy_program *p, const char *s, uint32_t n)
{
    char *copy = fy_xmalloc((size_t)n + 1);
    memcpy(copy, s, n);
    copy[n] = 0;
    uint32_t len = n, count = p->nstr;
    TP_PUSH(p->str, count, copy);
    TP_PUSH(p->str_len, p->nstr, len);
    return p->nstr - 1;
}

uint32_t tp_str(fy_program *p, const char *s)
{
    size_t n = strlen(s);
    for (uint32_t i = 0; i < p->nstr; i++)
        if (p->str_len[i] == n && memcmp(p->str[i], s, n) == 0) return i;
    return tp_strn(p, s, (uint32_t)n);
}

uint32_t tp_const(fy_program *p, int64_t v)
{
    TP_PUSH(p->consts, p->nconsts, v);
    return p->nconsts - 1;
}

uint32_t tp_regex(fy_program *p, const char *pattern, uint32_t flags)
{
    fy_prog_regex r = {tp_str(p, pattern), flags};
    TP_PUSH(p->regex, p->nregex, r);
    return p->nregex - 1;
}

uint32_t tp_emit(fy_program *p, unsigned op, unsigned a, unsigned b, uint32_t c)
{
    fy_insn in = {(uint8_t)op, (uint8_t)a, (uint16_t)b, c};
    TP_PUSH(p->code, p->ncode, in);
    return (p->ncode - 1) * FY_INSN_SIZE;
}

uint32_t tp_pc(const fy_program *p)
{
    return p->ncode * FY_INSN_SIZE;
}

void tp_patch(fy_program *p, uint32_t pc, uint32_t target)
{
    p->code[pc / FY_INSN_SIZE].c = target;
}

void tp_debug(fy_program *p, uint32_t pc, const char *file, uint32_t line, uint32_t col)
{
    fy_prog_debug d = {pc, tp_str(p, file), line, col};
    TP_PUSH(p->debug, p->ndebug, d);
}

#define TP_ADDER(fn, T, arr, n)                                                                    \
    uint32_t fn(fy_program *p, T v)                                                                \
    {                                                                                              \
        TP_PUSH(p->arr, p->n, v);                                                                  \
        return p->n - 1;                                                                           \
    }
TP_ADDER(tp_rule, fy_prog_rule, rules, nrules)
TP_ADDER(tp_root, fy_prog_root, roots, nroots)
TP_ADDER(tp_dnode, fy_prog_dnode, dnodes, ndnodes)
TP_ADDER(tp_dref, uint32_t, drefs, ndrefs)
TP_ADDER(tp_dext, fy_prog_dext, dexts, ndexts)
TP_ADDER(tp_app, fy_prog_app, apps, napps)
TP_ADDER(tp_component, fy_prog_component, components, ncomponents)
TP_ADDER(tp_version, fy_prog_version, versions, nversions)
TP_ADDER(tp_conv, fy_prog_conv, convs, nconvs)
TP_ADDER(tp_map, fy_prog_map, maps, nmaps)

uint32_t tp_mapent(fy_program *p, const char *from, const char *to)
{
    fy_prog_mapent e = {tp_str(p, from), tp_str(p, to)};
    TP_PUSH(p->mapents, p->nmapents, e);
    return p->nmapents - 1;
}

uint32_t tp_policy(fy_program *p, const char *section, const char *key, const char *value)
{
    fy_prog_policy po = {tp_str(p, section), tp_str(p, key), tp_str(p, value)};
    TP_PUSH(p->policies, p->npolicies, po);
    return p->npolicies - 1;
}

uint32_t tp_source(fy_program *p, const char *file)
{
    uint32_t s = tp_str(p, file);
    TP_PUSH(p->sources, p->nsources, s);
    return p->nsources - 1;
}

uint32_t tp_find_op(const fy_program *p, unsigned op, unsigned nth)
{
    for (uint32_t i = 0; i < p->ncode; i++)
        if (p->code[i].op == op && nth-- == 0) return i;
    return FY_NONE;
}

/* ---- the realistic program, block by block ---- */

/* Rule 0: <My Documents>\* [*.pptx] (include, template stage). */
static uint32_t blk_rule0(fy_program *p)
{
    uint32_t e = tp_emit(p, FY_OP_NODE, 1, 0, tp_str(p, "<MY DOCUMENTS>"));
    uint32_t jf = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_debug(p, jf, "SE.rul", 4, 9);
    tp_debug(p, tp_emit(p, FY_OP_LEAF, 0, 0, tp_str(p, "*.pptx")), "SE.rul", 4, 20);
    tp_patch(p, jf, tp_emit(p, FY_OP_HALT, 0, 0, 0));
    return e;
}

/* Rule 1: exclude big, old, or system-not-hidden files. */
static uint32_t blk_rule1(fy_program *p)
{
    uint32_t e = tp_emit(p, FY_OP_KIND, 1, 0, 0);
    tp_debug(p, e, "SE.rul", 7, 1);
    uint32_t j[5];
    j[0] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_SIZE, 5, 0, tp_const(p, 1073741824));
    j[1] = tp_emit(p, FY_OP_JT, 0, 0, 0);
    tp_emit(p, FY_OP_AGE, 6, 0, tp_const(p, 31536000));
    j[2] = tp_emit(p, FY_OP_JT, 0, 0, 0);
    tp_emit(p, FY_OP_MTIME, 1, 0, tp_const(p, -1));
    j[3] = tp_emit(p, FY_OP_JT, 0, 0, 0);
    tp_emit(p, FY_OP_ATTR, 0, 0x2, 0x4);
    tp_emit(p, FY_OP_NOT, 0, 0, 0);
    j[4] = tp_emit(p, FY_OP_JMP, 0, 0, 0);
    uint32_t set = tp_emit(p, FY_OP_SET, 1, 0, 0);
    for (int i = 1; i < 4; i++)
        tp_patch(p, j[i], set);
    uint32_t halt = tp_emit(p, FY_OP_HALT, 0, 0, 0);
    tp_patch(p, j[0], halt);
    tp_patch(p, j[4], halt);
    return e;
}

/* Rules 2 and 3 (registry): an unconditional exclude and a content include. */
static uint32_t blk_rule2(fy_program *p)
{
    uint32_t e = tp_emit(p, FY_OP_KIND, 2, 0, 0);
    tp_debug(p, e, "SE.rul", 12, 3);
    uint32_t jf = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_NODE, 0, 0, tp_str(p, "HKCU\\SOFTWARE\\CONTOSO\\CACHE"));
    tp_patch(p, jf, tp_emit(p, FY_OP_HALT, 0, 0, 0));
    return e;
}

static uint32_t blk_rule3(fy_program *p)
{
    uint32_t e = tp_emit(p, FY_OP_NODE, 1, 0, tp_str(p, "HKCU\\SOFTWARE\\CONTOSO"));
    tp_debug(p, e, "apps/contoso.yaml", 10, 7);
    tp_emit(p, FY_OP_HALT, 0, 0, 0);
    return e;
}

/* Rule 4: a UTF-8 folder name with a remap destination. */
static uint32_t blk_rule4(fy_program *p)
{
    uint32_t e = tp_emit(p, FY_OP_NODE, 0, 0, tp_str(p, "<MY DOCUMENTS>\\R\xC3\x89SUM\xC3\x89S"));
    tp_debug(p, e, "SE.rul", 15, 1);
    uint32_t jf = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_LEAF, 0, 0, tp_str(p, "*.docx"));
    tp_patch(p, jf, tp_emit(p, FY_OP_HALT, 0, 0, 0));
    return e;
}

/* Version 11.0's detection: registry value, regex, file version range. */
static uint32_t blk_detect(fy_program *p)
{
    uint32_t e = tp_emit(p, FY_OP_LDS, 0, 0, tp_str(p, "HKLM\\Software\\Contoso"));
    tp_debug(p, e, "apps/contoso.yaml", 20, 5);
    uint32_t no[6], yes[3];
    tp_emit(p, FY_OP_HOST, FY_HOST_REG_KEY_EXISTS, 0, 0);
    no[0] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_LDS, 1, 0, tp_str(p, "Version"));
    tp_emit(p, FY_OP_HOST, FY_HOST_REG_VALUE_GET, 0, 0);
    no[1] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_VEQ, 0, 0, tp_str(p, "11.0"));
    yes[0] = tp_emit(p, FY_OP_JT, 0, 0, 0);
    tp_emit(p, FY_OP_VHAS, 0, 0, tp_str(p, "11."));
    yes[1] = tp_emit(p, FY_OP_JT, 0, 0, 0);
    tp_emit(p, FY_OP_VMATCH, 0, 0, tp_regex(p, "^11\\.[0-9]+$", 0x8));
    yes[2] = tp_emit(p, FY_OP_JT, 0, 0, 0);
    tp_debug(p, tp_emit(p, FY_OP_LDS, 0, 0, tp_str(p, "<Program Files>\\Contoso\\cw.exe")),
             "apps/contoso.yaml", 22, 5);
    tp_emit(p, FY_OP_HOST, FY_HOST_FILE_EXISTS, 0, 0);
    no[2] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_HOST, FY_HOST_FILE_VERSION, 0, 0);
    no[3] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_VERGE, 0, 0, tp_str(p, "11.0"));
    no[4] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_VERLE, 0, 0, tp_str(p, "11.9"));
    no[5] = tp_emit(p, FY_OP_JMP, 0, 0, 0);
    uint32_t set = tp_emit(p, FY_OP_SET, 1, 0, 0);
    uint32_t halt = tp_emit(p, FY_OP_HALT, 0, 0, 0);
    for (int i = 0; i < 3; i++)
        tp_patch(p, yes[i], set);
    for (int i = 0; i < 6; i++)
        tp_patch(p, no[i], halt);
    return e;
}

/* Conversion 11.0 -> 12.0: map the theme, move the branch, rename, rewrite paths. */
static uint32_t blk_convert(fy_program *p, uint32_t map, uint32_t re)
{
    uint32_t e = tp_emit(p, FY_OP_KIND, 2, 0, 0);
    tp_debug(p, e, "apps/contoso.yaml", 30, 5);
    uint32_t end[4], move;
    end[0] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_NODE, 1, 0, tp_str(p, "HKCU\\SOFTWARE\\CONTOSO"));
    end[1] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_LEAF, 0, 0, tp_str(p, "Theme"));
    move = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_XMAP, 0, 0, map);
    tp_emit(p, FY_OP_XTYPE, 0, 0, 1);
    end[2] = tp_emit(p, FY_OP_JMP, 0, 0, 0);
    uint32_t m = tp_emit(p, FY_OP_LDS, 0, 0, tp_str(p, "HKCU\\Software\\Contoso\\11.0"));
    tp_debug(p, m, "apps/contoso.yaml", 33, 7);
    tp_patch(p, move, m);
    tp_emit(p, FY_OP_LDS, 1, 0, tp_str(p, "HKCU\\Software\\Contoso\\12.0"));
    tp_emit(p, FY_OP_XKEY, 0, 0, 0);
    tp_emit(p, FY_OP_LDS, 0, 0, tp_str(p, "NewName"));
    tp_emit(p, FY_OP_XNAME, 0, 0, 0);
    tp_emit(p, FY_OP_LDS, 0, 0, tp_str(p, "D:\\New"));
    tp_emit(p, FY_OP_XSUBST, 0, 0, re);
    tp_emit(p, FY_OP_XFILE, 0, 0, 0);
    tp_emit(p, FY_OP_HOST, FY_HOST_TRANSLATE_PATHS, 0, 0);
    tp_emit(p, FY_OP_HOST, FY_HOST_MAP_DOMAIN, 0, 0);
    tp_emit(p, FY_OP_VMATCH, 0, 0, re);
    end[3] = tp_emit(p, FY_OP_JF, 0, 0, 0);
    tp_emit(p, FY_OP_XDROP, 0, 0, 0);
    uint32_t halt = tp_emit(p, FY_OP_HALT, 0, 0, 0);
    for (int i = 0; i < 4; i++)
        tp_patch(p, end[i], halt);
    return e;
}

static uint32_t blk_convert_any(fy_program *p)
{
    uint32_t e = tp_emit(p, FY_OP_HOST, FY_HOST_TRANSLATE_PATHS, 0, 0);
    tp_debug(p, e, "SE.cfg", 3, 1);
    tp_emit(p, FY_OP_HALT, 0, 0, 0);
    return e;
}

static void add_rules(fy_program *p, const uint32_t entry[5])
{
    uint32_t N = FY_NONE;
    tp_rule(p, (fy_prog_rule){2, 1, 1, FY_RULE_RECURSE, N, N, 0, entry[0],
                              tp_str(p, "<MY DOCUMENTS>"), N});
    tp_rule(p, (fy_prog_rule){2, 2, 1, 0, N, N, 0, entry[1], tp_str(p, "*"), N});
    tp_rule(p, (fy_prog_rule){3, 2, 2, FY_RULE_KEYS, 0, 0, 5, entry[2],
                              tp_str(p, "HKCU\\SOFTWARE\\CONTOSO\\CACHE"), N});
    tp_rule(p, (fy_prog_rule){1, 1, 2, FY_RULE_DETECTION | FY_RULE_RECURSE, 0, 1, 3, entry[3],
                              tp_str(p, "HKCU\\SOFTWARE\\CONTOSO"), N});
    tp_rule(p, (fy_prog_rule){2, 1, 1, 0, N, N, 0, entry[4],
                              tp_str(p, "<MY DOCUMENTS>\\R\xC3\x89SUM\xC3\x89S"),
                              tp_str(p, "<My Documents>\\CV")});
}

/* root -> "<MY DOCUMENTS>" (.PPTX bucket), "HKCU" -> "SOFTWARE" */
static void add_dispatch(fy_program *p)
{
    uint32_t N = FY_NONE;
    tp_dref(p, 1);                /* 0: root, any name */
    tp_dref(p, 4);                /* 1: <MY DOCUMENTS>, any name */
    tp_dref(p, 0);                /* 2: <MY DOCUMENTS>, .PPTX */
    tp_dref(p, 2), tp_dref(p, 3); /* 3, 4: HKCU\SOFTWARE */
    tp_dext(p, (fy_prog_dext){tp_str(p, "PPTX"), 2, 1});
    tp_dnode(p, (fy_prog_dnode){N, 1, 2, 0, 1, 0, 0});
    tp_dnode(p, (fy_prog_dnode){tp_str(p, "<MY DOCUMENTS>"), 0, 0, 1, 1, 0, 1});
    tp_dnode(p, (fy_prog_dnode){tp_str(p, "HKCU"), 3, 1, 0, 0, 0, 0});
    tp_dnode(p, (fy_prog_dnode){tp_str(p, "SOFTWARE"), 0, 0, 3, 2, 0, 0});
}

static void add_app(fy_program *p, uint32_t detect)
{
    uint32_t N = FY_NONE;
    tp_app(p, (fy_prog_app){tp_str(p, "contoso-writer"), tp_str(p, "Contoso Writer"),
                            tp_str(p, "Contoso Ltd"), tp_str(p, "<Program Files>\\Contoso"),
                            FY_APP_SYSTEM | FY_APP_SELECTED, 0, 2, 0, 2});
    tp_version(p, (fy_prog_version){0, tp_str(p, "11.0"), detect});
    tp_version(p, (fy_prog_version){0, tp_str(p, "12.0"), N});
    tp_component(p, (fy_prog_component){0, tp_str(p, "Settings"), N, FY_COMP_SELECTED});
    tp_component(p, (fy_prog_component){0, tp_str(p, "Templates"),
                                        tp_str(p, "<AppData>\\Contoso\\Templates"),
                                        FY_COMP_DETECTION});
}

fy_program *tp_realistic(void)
{
    fy_program *p = tp_new();
    tp_source(p, "SE.rul");
    tp_source(p, "SE.cfg");
    tp_source(p, "apps/contoso.yaml");
    uint32_t entry[5] = {blk_rule0(p), blk_rule1(p), blk_rule2(p), blk_rule3(p), blk_rule4(p)};
    uint32_t det = blk_detect(p);
    tp_map(p, (fy_prog_map){0, 2});
    tp_mapent(p, "dark", "Dark (high contrast)");
    tp_mapent(p, "light", "Light");
    uint32_t re = tp_regex(p, "C:\\\\Old", 0x8);
    uint32_t cnv = blk_convert(p, 0, re), cnv_any = blk_convert_any(p);
    add_rules(p, entry);
    add_dispatch(p);
    add_app(p, det);
    tp_conv(p, (fy_prog_conv){0, tp_str(p, "11.0"), tp_str(p, "12.0"), cnv});
    tp_conv(p, (fy_prog_conv){FY_NONE, FY_NONE, FY_NONE, cnv_any});
    tp_root(p, (fy_prog_root){1, 1, 0, tp_str(p, "<My Documents>")});
    tp_root(p, (fy_prog_root){2, 1, 0, tp_str(p, "HKCU\\Software\\Contoso")});
    tp_policy(p, "Settings", "Volume", "C:");
    tp_policy(p, "Settings", "Quote \"tab\"\t", "line\nbreak");
    return p;
}

fy_program *tp_small(void)
{
    fy_program *p = tp_new();
    tp_source(p, "SE.rul");
    uint32_t e = tp_emit(p, FY_OP_LEAF, 0, 0, tp_str(p, "*.txt"));
    tp_debug(p, e, "SE.rul", 1, 1);
    tp_emit(p, FY_OP_HALT, 0, 0, 0);
    tp_rule(p, (fy_prog_rule){2, 1, 1, 0, FY_NONE, FY_NONE, 0, e, tp_str(p, "*"), FY_NONE});
    tp_root(p, (fy_prog_root){1, 1, 0, tp_str(p, "<Profile>")});
    return p;
}

/* ---- images ---- */
void tp_fix_crc(uint8_t *img, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, img, TP_OFF_CRC);
    crc = crc32(crc, img + TP_OFF_CRC + 4, (uInt)(size - TP_OFF_CRC - 4));
    fy_put_le32(img + TP_OFF_CRC, (uint32_t)crc);
}

uint8_t *tp_secent(uint8_t *img, size_t size, uint32_t type)
{
    uint32_t n = fy_le32(img + TP_OFF_NSEC);
    for (uint32_t i = 0; i < n && TP_SECTAB + (i + 1) * 12 <= size; i++) {
        uint8_t *e = img + TP_SECTAB + i * 12;
        if (fy_le32(e) == type) return e;
    }
    return NULL;
}

uint32_t tp_sec_off(uint8_t *img, size_t size, uint32_t type)
{
    uint8_t *e = tp_secent(img, size, type);
    return e ? fy_le32(e + 4) : 0;
}
