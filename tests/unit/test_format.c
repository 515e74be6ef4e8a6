/* vm/fy_format.c, fy_verify.c, fy_disasm.c: the program file.
 * - round trip of a realistic program (every section equal, canonical re-serialisation),
 *   disassembly (every opcode name, operands, source positions), debug_at;
 * - every byte of a serialized program flipped / set to 0x00 / 0xFF is rejected;
 * - a data-driven negative corpus (CRC fixed after tampering so the deeper checks are
 *   reached): each case rejected with a message naming the section or the pc; the same
 *   cases are committed as tests/data/badprog/<name>.fyb and loaded from there;
 * - signatures, version compatibility, atomic file writing.
 *
 * `test_format --generate SRC_DIR` rewrites tests/data/badprog/ (files and README.md) and
 * fuzz/seeds/program_load/ under SRC_DIR from the tables below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fy_program.h"
#include "testprog.h"

/* ---- helpers ---- */
typedef struct image {
    uint8_t *data;
    size_t size;
} image;

static image serialize(const fy_program *p, const uint8_t *sk)
{
    image im;
    assert_int_equal(fy_program_serialize(p, sk, &im.data, &im.size), 0);
    return im;
}

static int load(const image *im, const uint8_t *pk, fy_program **out, char *err, size_t n)
{
    fy_load_opts o = {pk};
    return fy_program_load(im->data, im->size, &o, out, err, n);
}

/* A fixed key pair, so generated seeds are reproducible. */
static void test_keys(uint8_t pk[32], uint8_t sk[64], uint8_t fill)
{
    uint8_t seed[32];
    memset(seed, fill, sizeof seed);
    assert_true(sodium_init() >= 0);
    crypto_sign_seed_keypair(pk, sk, seed);
}

static void assert_arrays_equal(const void *a, const void *b, size_t n)
{
    if (n) assert_memory_equal(a, b, n);
}

static void assert_programs_equal(const fy_program *a, const fy_program *b)
{
    assert_int_equal(a->compiler_version, b->compiler_version);
    assert_memory_equal(a->source_hash, b->source_hash, 32);
    assert_int_equal(a->nstr, b->nstr);
    for (uint32_t i = 0; i < a->nstr; i++) {
        assert_int_equal(a->str_len[i], b->str_len[i]);
        assert_memory_equal(a->str[i], b->str[i], a->str_len[i]);
        assert_int_equal(b->str[i][b->str_len[i]], 0); /* NUL-terminated in memory */
    }
#define SAME(arr, n)                                                                               \
    do {                                                                                           \
        assert_int_equal(a->n, b->n);                                                              \
        assert_arrays_equal(a->arr, b->arr, a->n * sizeof *a->arr);                                \
    } while (0)
    SAME(consts, nconsts);
    SAME(regex, nregex);
    SAME(code, ncode);
    SAME(rules, nrules);
    SAME(roots, nroots);
    SAME(dnodes, ndnodes);
    SAME(drefs, ndrefs);
    SAME(dexts, ndexts);
    SAME(apps, napps);
    SAME(components, ncomponents);
    SAME(versions, nversions);
    SAME(convs, nconvs);
    SAME(maps, nmaps);
    SAME(mapents, nmapents);
    SAME(policies, npolicies);
    SAME(sources, nsources);
    SAME(debug, ndebug);
#undef SAME
}

/* ---- round trip ---- */
static void test_roundtrip(void **state)
{
    (void)state;
    fy_program *p = tp_realistic();
    char err[256] = "";
    assert_int_equal(fy_program_verify(p, err, sizeof err), 0);
    image im = serialize(p, NULL);
    assert_int_equal(im.size % 8, 0);
    fy_program *q;
    assert_int_equal(load(&im, NULL, &q, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_programs_equal(p, q);
    assert_int_equal(q->major, FY_FORMAT_MAJOR);
    assert_int_equal(q->minor, FY_FORMAT_MINOR);
    assert_false(q->signed_ok);
    for (uint32_t i = 0; i < q->nregex; i++)
        assert_non_null(q->regex_code[i]);
    /* canonical: writing the loaded program gives the same bytes */
    image again = serialize(q, NULL);
    assert_int_equal(again.size, im.size);
    assert_memory_equal(again.data, im.data, im.size);
    free(again.data);
    free(im.data);
    fy_program_free(q);
    fy_program_free(p);
}

static void test_empty_program(void **state)
{
    (void)state;
    fy_program *p = tp_new(), *q;
    image im = serialize(p, NULL);
    char err[256];
    assert_int_equal(load(&im, NULL, &q, err, sizeof err), 0);
    assert_int_equal(q->ncode + q->nstr + q->nrules, 0);
    assert_null(fy_program_debug_at(q, 0));
    fy_buf b = {0};
    fy_program_disasm(q, &b);
    assert_non_null(strstr(fy_buf_cstr(&b), "code:"));
    fy_buf_free(&b);
    free(im.data);
    fy_program_free(q);
    fy_program_free(p);
}

static void test_disasm(void **state)
{
    (void)state;
    fy_program *p = tp_realistic(), *q;
    image im = serialize(p, NULL);
    char err[256];
    assert_int_equal(load(&im, NULL, &q, err, sizeof err), 0);
    fy_buf b = {0};
    fy_program_disasm(q, &b);
    const char *s = fy_buf_cstr(&b);
    for (unsigned op = 0; op < FY_OP_COUNT; op++) {
        char want[32];
        snprintf(want, sizeof want, "  %-6s", fy_opinfo_table[op].name);
        assert_non_null(strstr(s, want));
    }
    for (unsigned h = 0; h < FY_HOST_COUNT; h++)
        assert_non_null(strstr(s, fy_hostinfo_table[h].name));
    /* the exact line shape, operands by kind, positions from the nearest debug entry */
    assert_non_null(strstr(s, "\n  0x0010  LEAF   c=\"*.pptx\"              ; SE.rul:4:20\n"));
    assert_non_null(strstr(s, "\n  0x0008  JF     c=0x0018"));
    assert_non_null(strstr(s, "; SE.rul:4:9\n"));
    assert_non_null(strstr(s, "SIZE   a=>= c=1073741824"));
    assert_non_null(strstr(s, "MTIME  a=< c=-1"));
    assert_non_null(strstr(s, "ATTR   b=0x2 c=0x4"));
    assert_non_null(strstr(s, "LDS    a=s1 c=\"Version\""));
    assert_non_null(strstr(s, "HOST   a=REG_VALUE_GET"));
    assert_non_null(strstr(s, "KIND   a=regvalue"));
    assert_non_null(strstr(s, "XTYPE  c=REG_SZ"));
    assert_non_null(strstr(s, "XMAP   c=map0"));
    assert_non_null(strstr(s, "VMATCH c=r0:\"^11\\\\.[0-9]+$\""));
    assert_non_null(strstr(s, "; apps/contoso.yaml:33:7\n"));
    assert_non_null(strstr(s, "; rule 0 (CLS)\n  0x0000  NODE"));
    assert_non_null(strstr(s, "; version 0 (DET)"));
    assert_non_null(strstr(s, "; conversion 1 (CNV)"));
    /* tables */
    assert_non_null(strstr(s, "source hash  000102030405"));
    assert_non_null(strstr(s, "\"Quote \\\"tab\\\"\\t\" = \"line\\nbreak\""));
    assert_non_null(strstr(s, "\"<MY DOCUMENTS>\\\\R\xC3\x89SUM\xC3\x89S\""));
    assert_non_null(strstr(s, "node 1 \"<MY DOCUMENTS>\" rules {4} .\"PPTX\" {0}"));
    assert_non_null(strstr(s, "\"dark\" -> \"Dark (high contrast)\""));
    assert_non_null(strstr(s, "id \"contoso-writer\""));
    fy_buf_free(&b);
    free(im.data);
    fy_program_free(q);
    fy_program_free(p);
}

static void test_debug_at(void **state)
{
    (void)state;
    fy_program *p = tp_realistic();
    assert_null(fy_program_debug_at(p, 0)); /* the first entry is at 0x0008 */
    const fy_prog_debug *d = fy_program_debug_at(p, 0x0008);
    assert_non_null(d);
    assert_int_equal(d->line, 4);
    assert_int_equal(d->col, 9);
    d = fy_program_debug_at(p, 0x0018); /* after LEAF's entry at 0x0010 */
    assert_int_equal(d->col, 20);
    d = fy_program_debug_at(p, UINT32_MAX);
    assert_ptr_equal(d, &p->debug[p->ndebug - 1]);
    fy_program_free(p);
}

/* ---- every byte damaged ---- */
static void expect_rejected(const image *im, const uint8_t *pk, size_t at, int variant)
{
    fy_program *q = NULL;
    char err[256] = "";
    int rc = load(im, pk, &q, err, sizeof err);
    if (rc == 0 || err[0] == 0)
        fail_msg("byte %zu (variant %d) accepted or no message: rc %d", at, variant, rc);
    assert_null(q);
}

/* Damages each byte in turn three ways; with fix_crc the CRC is recomputed after the
 * damage (the CRC field itself is then skipped), so the other checks must catch it. */
static void damage_each_byte(image *im, const uint8_t *pk, bool fix_crc)
{
    for (size_t i = 0; i < im->size; i++) {
        if (fix_crc && i >= TP_OFF_CRC && i < TP_OFF_CRC + 4) continue;
        uint8_t orig = im->data[i];
        const uint8_t vals[3] = {(uint8_t)~orig, 0x00, 0xFF};
        for (int v = 0; v < 3; v++) {
            if (vals[v] == orig) continue;
            im->data[i] = vals[v];
            uint8_t crc[4];
            memcpy(crc, im->data + TP_OFF_CRC, 4);
            if (fix_crc) tp_fix_crc(im->data, im->size);
            expect_rejected(im, pk, i, v);
            memcpy(im->data + TP_OFF_CRC, crc, 4);
        }
        im->data[i] = orig;
    }
}

static void test_damage_every_byte(void **state)
{
    (void)state;
    fy_program *p = tp_realistic();
    image im = serialize(p, NULL);
    damage_each_byte(&im, NULL, false);
    free(im.data);
    uint8_t pk[32], sk[64];
    test_keys(pk, sk, 7);
    im = serialize(p, sk);
    damage_each_byte(&im, NULL, false); /* the CRC covers the signature block too */
    damage_each_byte(&im, pk, true);    /* the signature covers everything else */
    free(im.data);
    fy_program_free(p);
}

/* ---- the negative corpus ---- */
typedef struct badcase {
    const char *name;
    void (*prog)(fy_program *p);              /* before serialising, or NULL */
    void (*bytes)(uint8_t *img, size_t size); /* after serialising, or NULL */
    bool keep_crc;                            /* do not fix the CRC after bytes() */
    const char *expect;                       /* substring of the load error */
} badcase;

static fy_insn *insn(fy_program *p, unsigned op, unsigned nth)
{
    uint32_t i = tp_find_op(p, op, nth);
    assert_int_not_equal(i, FY_NONE);
    return &p->code[i];
}

static void set_u32(uint8_t *img, size_t size, uint32_t type, int field, uint32_t v)
{
    uint8_t *e = tp_secent(img, size, type);
    assert_non_null(e);
    fy_put_le32(e + 4 * field, v);
}

static uint32_t get_u32(uint8_t *img, size_t size, uint32_t type, int field)
{
    uint8_t *e = tp_secent(img, size, type);
    assert_non_null(e);
    return fy_le32(e + 4 * field);
}

/* header */
static void b_magic(uint8_t *m, size_t n)
{
    (void)n, m[0] = 'X';
}
static void b_guard(uint8_t *m, size_t n)
{
    (void)n, m[8] = '\n';
}
static void b_byteorder(uint8_t *m, size_t n)
{
    (void)n, fy_put_le32(m + 16, 0x04030201);
}
static void b_major(uint8_t *m, size_t n)
{
    (void)n, fy_put_le16(m + TP_OFF_MAJOR, 2);
}
static void b_crc(uint8_t *m, size_t n)
{
    m[n - 1] ^= 1;
}
static void b_hdrlen(uint8_t *m, size_t n)
{
    (void)n, fy_put_le32(m + 20, 13);
}
static void b_total(uint8_t *m, size_t n)
{
    fy_put_le32(m + TP_OFF_TOTAL, (uint32_t)n + 8);
}
static void b_flags(uint8_t *m, size_t n)
{
    (void)n, fy_put_le32(m + TP_OFF_FLAGS, 4);
}
static void b_signed_flag(uint8_t *m, size_t n)
{
    (void)n, fy_put_le32(m + TP_OFF_FLAGS, 1);
}
static void b_reserved(uint8_t *m, size_t n)
{
    (void)n, fy_put_le32(m + 44, 1);
}
/* section table */
static void b_unknown_sec(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_POLICIES, 0, 99);
}
static void b_dup_sec(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_CONSTS, 0, FY_SEC_STRINGS);
}
static void b_unaligned(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_CODE, 1, get_u32(m, n, FY_SEC_CODE, 1) + 4);
}
static void b_in_header(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_STRINGS, 1, 0);
}
static void b_overlap(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_CONSTS, 1, get_u32(m, n, FY_SEC_STRINGS, 1) + 8);
}
static void b_beyond_end(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_CODE, 1, (uint32_t)n);
}
static void b_long_section(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_DEBUG, 2, get_u32(m, n, FY_SEC_DEBUG, 2) + 64);
}
/* section contents */
static void b_trunc_code(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_CODE, 2, get_u32(m, n, FY_SEC_CODE, 2) - 3);
}
static void b_trunc_rules(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_RULES, 2, get_u32(m, n, FY_SEC_RULES, 2) - 1);
}
static void b_trunc_strings(uint8_t *m, size_t n)
{
    set_u32(m, n, FY_SEC_STRINGS, 2, get_u32(m, n, FY_SEC_STRINGS, 2) - 4);
}
static void b_str_count(uint8_t *m, size_t n)
{
    fy_put_le32(m + tp_sec_off(m, n, FY_SEC_STRINGS), 1000000);
}
static void b_str_overlap(uint8_t *m, size_t n)
{
    /* string 1 starts where string 0 does */
    uint32_t off = tp_sec_off(m, n, FY_SEC_STRINGS);
    fy_put_le32(m + off + 8, 0);
}

/* instructions */
static void p_unknown_op(fy_program *p)
{
    p->code[0].op = 0x3F;
}
static void p_none(fy_program *p)
{
    insn(p, FY_OP_HALT, 0)->a = 1;
}
static void p_none_b(fy_program *p)
{
    insn(p, FY_OP_LEAF, 0)->b = 1;
}
static void p_bool(fy_program *p)
{
    insn(p, FY_OP_SET, 0)->a = 2;
}
static void p_sreg(fy_program *p)
{
    insn(p, FY_OP_LDS, 0)->a = 4;
}
static void p_str(fy_program *p)
{
    insn(p, FY_OP_LEAF, 0)->c = p->nstr;
}
static void p_const(fy_program *p)
{
    insn(p, FY_OP_SIZE, 0)->c = 99;
}
static void p_regex(fy_program *p)
{
    insn(p, FY_OP_VMATCH, 0)->c = 99;
}
static void p_map(fy_program *p)
{
    insn(p, FY_OP_XMAP, 0)->c = 7;
}
static void p_cmp0(fy_program *p)
{
    insn(p, FY_OP_SIZE, 0)->a = 0;
}
static void p_cmp7(fy_program *p)
{
    insn(p, FY_OP_AGE, 0)->a = 7;
}
static void p_kind(fy_program *p)
{
    insn(p, FY_OP_KIND, 0)->a = 4;
}
static void p_type(fy_program *p)
{
    insn(p, FY_OP_XTYPE, 0)->c = 12;
}
static void p_host(fy_program *p)
{
    insn(p, FY_OP_HOST, 0)->a = FY_HOST_COUNT;
}
static void p_jump_out(fy_program *p)
{
    insn(p, FY_OP_JF, 0)->c = tp_pc(p);
}
static void p_jump_back(fy_program *p)
{
    insn(p, FY_OP_JF, 0)->c = 0;
}
static void p_jump_self(fy_program *p)
{
    insn(p, FY_OP_JF, 0)->c = 8;
}
static void p_jump_mid(fy_program *p)
{
    insn(p, FY_OP_JF, 0)->c = 0xC;
}
static void p_no_halt(fy_program *p)
{
    p->code[p->ncode - 1] = (fy_insn){FY_OP_SET, 0, 0, 0};
}
static void p_host_in_cls(fy_program *p)
{
    *insn(p, FY_OP_LEAF, 0) = (fy_insn){FY_OP_HOST, FY_HOST_REG_KEY_EXISTS, 0, 0};
}
static void p_dethost_in_cnv(fy_program *p)
{
    insn(p, FY_OP_HOST, 6)->a = FY_HOST_REG_KEY_EXISTS; /* conversion 1's TRANSLATE_PATHS */
}
static void p_cnvop_in_det(fy_program *p)
{
    *insn(p, FY_OP_VEQ, 0) = (fy_insn){FY_OP_XDROP, 0, 0, 0};
}
static void p_clsop_in_det(fy_program *p)
{
    p->versions[0].detect = p->rules[1].entry;
}
/* strings and regex */
static void p_bad_utf8(fy_program *p)
{
    tp_strn(p, "caf\xC3(", 5);
}
static void p_overlong(fy_program *p)
{
    tp_strn(p, "\xC0\xAF", 2);
}
static void p_nul(fy_program *p)
{
    tp_strn(p, "a\0b", 3);
}
static void p_bad_regex(fy_program *p)
{
    tp_regex(p, "a(b", 0);
}
static void p_regex_flags(fy_program *p)
{
    p->regex[0].flags = 0x1;
}
/* tables */
static void p_rule_entry(fy_program *p)
{
    p->rules[0].entry = 3;
}
static void p_rule_entry_out(fy_program *p)
{
    p->rules[1].entry = tp_pc(p);
}
static void p_rule_stage(fy_program *p)
{
    p->rules[0].stage = 4;
}
static void p_rule_app(fy_program *p)
{
    p->rules[2].app = 5;
}
static void p_rule_comp(fy_program *p)
{
    p->rules[3].component = 9;
}
static void p_rule_node(fy_program *p)
{
    p->rules[0].node = p->nstr;
}
static void p_rule_flags(fy_program *p)
{
    p->rules[0].flags = 0x80;
}
static void p_root_path(fy_program *p)
{
    p->roots[1].path = FY_NONE;
}
static void p_root_reserved(fy_program *p)
{
    p->roots[0].reserved = 1;
}
static void p_dnode_range(fy_program *p)
{
    p->dnodes[2].nchildren = 5;
}
static void p_dnode_back(fy_program *p)
{
    p->dnodes[2].first_child = 1;
}
static void p_dnode_twice(fy_program *p)
{
    p->dnodes[1].first_child = 2, p->dnodes[1].nchildren = 1;
}
static void p_dnode_unreached(fy_program *p)
{
    p->dnodes[0].nchildren = 1;
}
static void p_dnode_unsorted(fy_program *p)
{
    uint32_t t = p->dnodes[1].name;
    p->dnodes[1].name = p->dnodes[2].name;
    p->dnodes[2].name = t;
}
static void p_dnode_root(fy_program *p)
{
    p->dnodes[0].name = 0;
}
static void p_dref(fy_program *p)
{
    p->drefs[3] = 99;
}
static void p_dext(fy_program *p)
{
    p->dexts[0].nrefs = 10;
}
static void p_app_versions(fy_program *p)
{
    p->apps[0].nversions = 3;
}
static void p_version_app(fy_program *p)
{
    p->versions[0].app = 1;
}
static void p_version_detect(fy_program *p)
{
    p->versions[1].detect = 0x7;
}
static void p_comp_app(fy_program *p)
{
    p->components[1].app = FY_NONE;
}
static void p_conv_app(fy_program *p)
{
    p->convs[0].app = 3;
}
static void p_conv_entry(fy_program *p)
{
    p->convs[1].entry = 0x10000;
}
static void p_map_range(fy_program *p)
{
    p->maps[0].count = 3;
}
static void p_mapent(fy_program *p)
{
    p->mapents[1].to = p->nstr + 1;
}
static void p_policy(fy_program *p)
{
    p->policies[0].value = FY_NONE;
}
static void p_source(fy_program *p)
{
    p->sources[2] = 1000;
}
static void p_debug_order(fy_program *p)
{
    p->debug[1].pc = 0;
}
static void p_debug_pc(fy_program *p)
{
    p->debug[p->ndebug - 1].pc = tp_pc(p);
}
static void p_debug_file(fy_program *p)
{
    p->debug[0].file = p->nstr;
}

static const badcase badcases[] = {
    /* header */
    {"bad_magic", NULL, b_magic, false, "not a ferry program (bad magic)"},
    {"text_mode_guard", NULL, b_guard, false, "guard bytes damaged"},
    {"big_endian", NULL, b_byteorder, false, "byte-order test value is 0x04030201"},
    {"major_2", NULL, b_major, false, "format version 2.0 is not supported"},
    {"bad_crc", NULL, b_crc, true, "CRC mismatch"},
    {"header_length", NULL, b_hdrlen, false, "header length 13 is invalid"},
    {"total_length", NULL, b_total, false, "but its header says"},
    {"unknown_flags", NULL, b_flags, false, "unknown header flags 0x00000004"},
    {"signed_flag_no_signature", NULL, b_signed_flag, false, "signature block: bad magic"},
    {"reserved_header", NULL, b_reserved, false, "reserved header field is not zero"},
    /* section table */
    {"unknown_section", NULL, b_unknown_sec, false, "unknown section type 99"},
    {"duplicate_section", NULL, b_dup_sec, false, "section STRINGS appears twice"},
    {"unaligned_section", NULL, b_unaligned, false, "section CODE: offset 0x"},
    {"section_in_header", NULL, b_in_header, false,
     "section STRINGS: offset 0x0 lies inside the header"},
    {"overlapping_sections", NULL, b_overlap, false, "section CONSTS overlaps section STRINGS"},
    {"section_beyond_end", NULL, b_beyond_end, false, "section CODE (offset 0x"},
    {"section_too_long", NULL, b_long_section, false, "section DEBUG (offset 0x"},
    /* section contents */
    {"truncated_code", NULL, b_trunc_code, false,
     "section CODE: length 597 is not a multiple of 8"},
    {"truncated_rules", NULL, b_trunc_rules, false,
     "section RULES: length 139 is not a multiple of 28"},
    {"truncated_strings", NULL, b_trunc_strings, false,
     "section STRINGS: string 44 (offset 518, length 10) runs past the end of the section"},
    {"strings_count", NULL, b_str_count, false,
     "section STRINGS: count 1000000 larger than its section"},
    {"strings_overlap", NULL, b_str_overlap, false,
     "section STRINGS: string 1 (offset 0) overlaps string 0"},
    {"bad_utf8", p_bad_utf8, NULL, false, "section STRINGS: string 45 is not valid UTF-8"},
    {"overlong_utf8", p_overlong, NULL, false, "section STRINGS: string 45 is not valid UTF-8"},
    {"nul_in_string", p_nul, NULL, false, "section STRINGS: string 45 contains a NUL byte"},
    {"bad_regex", p_bad_regex, NULL, false, "regex 2 (/a(b/): missing closing parenthesis"},
    {"regex_flags", p_regex_flags, NULL, false,
     "section REGEX: record 0: flags 0x1: only CASELESS"},
    /* instructions */
    {"unknown_opcode", p_unknown_op, NULL, false, "pc 0x0000: unknown opcode 0x3f"},
    {"operand_none_a", p_none, NULL, false,
     "pc 0x0018 (SE.rul:4:20): HALT operand a must be 0, is 1"},
    {"operand_none_b", p_none_b, NULL, false, "pc 0x0010 (SE.rul:4:20): LEAF operand b must be 0"},
    {"operand_bool", p_bool, NULL, false, "SET operand a (BOOL) is 2, outside 0..1"},
    {"operand_sreg", p_sreg, NULL, false,
     "(apps/contoso.yaml:20:5): LDS operand a (SREG) is 4, outside 0..3"},
    {"operand_str", p_str, NULL, false,
     "pc 0x0010 (SE.rul:4:20): LEAF operand c (STR) is 45, outside 0..44"},
    {"operand_const", p_const, NULL, false, "SIZE operand c (CONST) is 99, outside 0..2"},
    {"operand_regex", p_regex, NULL, false, "VMATCH operand c (REGEX) is 99, outside 0..1"},
    {"operand_map", p_map, NULL, false, "XMAP operand c (MAP) is 7, outside 0..0"},
    {"operand_cmp_0", p_cmp0, NULL, false, "SIZE operand a (CMP) is 0, outside 1..6"},
    {"operand_cmp_7", p_cmp7, NULL, false, "AGE operand a (CMP) is 7, outside 1..6"},
    {"operand_kind", p_kind, NULL, false, "KIND operand a (KIND) is 4, outside 1..3"},
    {"operand_type", p_type, NULL, false, "XTYPE operand c (TYPE) is 12, outside 0..11"},
    {"operand_host", p_host, NULL, false, "HOST operand a (HOST) is 6, outside 0..5"},
    {"jump_outside", p_jump_out, NULL, false,
     "pc 0x0008 (SE.rul:4:9): jump target 0x0258 is outside the code (0x0258 bytes)"},
    {"backward_jump", p_jump_back, NULL, false,
     "pc 0x0008 (SE.rul:4:9): jump target 0x0000 is not forward"},
    {"jump_to_self", p_jump_self, NULL, false,
     "pc 0x0008 (SE.rul:4:9): jump target 0x0008 is not forward"},
    {"jump_mid_insn", p_jump_mid, NULL, false,
     "pc 0x0008 (SE.rul:4:9): jump target 0x000c is not a multiple of 8"},
    {"missing_halt", p_no_halt, NULL, false,
     "(SE.cfg:3:1): falls off the end of the code without HALT (CNV block of conversion 1)"},
    {"det_host_in_cls", p_host_in_cls, NULL, false,
     "pc 0x0010 (SE.rul:4:20): HOST is not allowed in a CLS block (rule 0)"},
    {"det_host_in_cnv", p_dethost_in_cnv, NULL, false,
     "(SE.cfg:3:1): host call REG_KEY_EXISTS is not allowed in a CNV block (conversion 1)"},
    {"cnv_op_in_det", p_cnvop_in_det, NULL, false,
     "XDROP is not allowed in a DET block (version 0)"},
    {"cls_block_as_det", p_clsop_in_det, NULL, false,
     "(SE.rul:7:1): KIND is not allowed in a DET block (version 0)"},
    /* tables */
    {"rule_entry_unaligned", p_rule_entry, NULL, false,
     "section RULES: record 0: entry 0x0003 is not a multiple of 8"},
    {"rule_entry_outside", p_rule_entry_out, NULL, false,
     "section RULES: record 1: entry 0x0258 is outside the code (0x0258 bytes)"},
    {"rule_stage", p_rule_stage, NULL, false, "section RULES: record 0: stage 4 is not in 1..3"},
    {"rule_app", p_rule_app, NULL, false,
     "section RULES: record 2: app 5 is out of range (section APPS has 1)"},
    {"rule_component", p_rule_comp, NULL, false,
     "section RULES: record 3: component 9 is out of range (section COMPONENTS has 2)"},
    {"rule_node", p_rule_node, NULL, false,
     "section RULES: record 0: node 45 is not a string index (45 strings)"},
    {"rule_flags", p_rule_flags, NULL, false, "section RULES: record 0: unknown flags 0x80"},
    {"root_path", p_root_path, NULL, false,
     "section ROOTS: record 1: path 4294967295 is not a string index"},
    {"root_reserved", p_root_reserved, NULL, false,
     "section ROOTS: record 0: reserved 1 is not in 0..0"},
    {"dnode_children_range", p_dnode_range, NULL, false,
     "section DNODES: record 2: children range 3+5 is out of range (section DNODES has 4)"},
    {"dnode_child_before_parent", p_dnode_back, NULL, false,
     "section DNODES: record 2: children start at 1, not after the node"},
    {"dnode_reached_twice", p_dnode_twice, NULL, false,
     "section DNODES: record 1: child 2 is reached twice"},
    {"dnode_unreached", p_dnode_unreached, NULL, false,
     "section DNODES: record 2: node is not reached from the root"},
    {"dnode_unsorted", p_dnode_unsorted, NULL, false,
     "section DNODES: record 0: children 1 and 2 are not sorted by name"},
    {"dnode_root_name", p_dnode_root, NULL, false,
     "section DNODES: record 0: the root's name must be none"},
    {"dref_rule", p_dref, NULL, false,
     "section DREFS: record 3: rule 99 is out of range (section RULES has 5)"},
    {"dext_refs", p_dext, NULL, false,
     "section DEXTS: record 0: refs range 2+10 is out of range (section DREFS has 5)"},
    {"app_versions", p_app_versions, NULL, false,
     "section APPS: record 0: versions range 0+3 is out of range (section VERSIONS has 2)"},
    {"version_app", p_version_app, NULL, false,
     "section VERSIONS: record 0: app 1 is out of range (section APPS has 1)"},
    {"version_detect", p_version_detect, NULL, false,
     "section VERSIONS: record 1: detect 0x0007 is not a multiple of 8"},
    {"component_app", p_comp_app, NULL, false,
     "section COMPONENTS: record 1: app 4294967295 is out of range"},
    {"conv_app", p_conv_app, NULL, false,
     "section CONVS: record 0: app 3 is out of range (section APPS has 1)"},
    {"conv_entry", p_conv_entry, NULL, false,
     "section CONVS: record 1: entry 0x10000 is outside the code"},
    {"map_range", p_map_range, NULL, false,
     "section MAPS: record 0: entries range 0+3 is out of range (section MAPENTS has 2)"},
    {"mapent_string", p_mapent, NULL, false,
     "section MAPENTS: record 1: to 46 is not a string index (45 strings)"},
    {"policy_string", p_policy, NULL, false,
     "section POLICIES: record 0: value 4294967295 is not a string index"},
    {"source_string", p_source, NULL, false,
     "section SOURCES: record 2: file name 1000 is not a string index"},
    {"debug_unsorted", p_debug_order, NULL, false,
     "section DEBUG: record 1: pc 0x0000 is before the previous entry's 0x0008"},
    {"debug_pc", p_debug_pc, NULL, false,
     "section DEBUG: record 10: pc 0x0258 is not an instruction of the code"},
    {"debug_file", p_debug_file, NULL, false,
     "section DEBUG: record 0: file 45 is not a string index (45 strings)"},
};

/* The realistic program, damaged as the case says, serialised with a valid CRC. */
static image make_bad(const badcase *c)
{
    fy_program *p = tp_realistic();
    if (c->prog) c->prog(p);
    image im = serialize(p, NULL);
    fy_program_free(p);
    if (c->bytes) {
        c->bytes(im.data, im.size);
        if (!c->keep_crc) tp_fix_crc(im.data, im.size);
    }
    return im;
}

static void check_rejected(const badcase *c, const image *im)
{
    fy_program *q = NULL;
    char err[512] = "";
    int rc = load(im, NULL, &q, err, sizeof err);
    if (rc != -1 || !strstr(err, c->expect))
        fail_msg("%s: rc %d, message \"%s\", expected \"%s\"", c->name, rc, err, c->expect);
    assert_null(q);
}

static void test_negative_corpus(void **state)
{
    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(badcases); i++) {
        image im = make_bad(&badcases[i]);
        check_rejected(&badcases[i], &im);
        free(im.data);
    }
}

static char *data_path(const char *rel)
{
    const char *d = getenv("FERRY_TEST_DATA");
    return fy_xasprintf("%s/%s", d ? d : "tests/data", rel);
}

static image read_file(const char *path)
{
    image im = {0};
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (regenerate with test_format --generate)", path);
    fy_buf b = {0};
    uint8_t tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        fy_buf_put(&b, tmp, n);
    fclose(f);
    im.data = b.data;
    im.size = b.len;
    return im;
}

static bool is_case_file(const char *file)
{
    for (size_t i = 0; i < FY_ARRAY_LEN(badcases); i++) {
        char want[128];
        snprintf(want, sizeof want, "%s.fyb", badcases[i].name);
        if (strcmp(file, want) == 0) return true;
    }
    return false;
}

/* The committed files: each is rejected with its message; no file is left unexplained. */
static void test_badprog_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < FY_ARRAY_LEN(badcases); i++) {
        char *rel = fy_xasprintf("badprog/%s.fyb", badcases[i].name);
        char *path = data_path(rel);
        image im = read_file(path);
        check_rejected(&badcases[i], &im);
        free(im.data);
        free(path);
        free(rel);
    }
    char *dir = data_path("badprog");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".fyb") == 0 && !is_case_file(e->d_name))
            fail_msg("%s/%s is not in the test's table", dir, e->d_name);
    }
    closedir(d);
    free(dir);
}

/* ---- signatures and versions ---- */
static void test_signature(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    test_keys(pk, sk, 1);
    test_keys(pk2, sk2, 2);
    fy_program *p = tp_realistic(), *q;
    char err[256];
    image im = serialize(p, sk);
    assert_int_equal(load(&im, pk, &q, err, sizeof err), 0);
    assert_true(q->signed_ok);
    fy_program_free(q);
    /* signed, no key asked: loads, not marked verified */
    assert_int_equal(load(&im, NULL, &q, err, sizeof err), 0);
    assert_false(q->signed_ok);
    fy_program_free(q);
    /* another key */
    assert_int_equal(load(&im, pk2, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "signature does not verify"));
    /* tampered content with a fixed-up CRC */
    im.data[tp_sec_off(im.data, im.size, FY_SEC_CODE)] ^= 1;
    tp_fix_crc(im.data, im.size);
    assert_int_equal(load(&im, pk, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "signature does not verify"));
    free(im.data);
    /* unsigned with a trusted key */
    im = serialize(p, NULL);
    assert_int_equal(load(&im, pk, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "not signed, but a trusted key is required"));
    free(im.data);
    fy_program_free(p);
}

static void test_versions(void **state)
{
    (void)state;
    fy_program *p = tp_realistic(), *q;
    char err[256];
    image im = serialize(p, NULL);
    /* a newer minor loads; its unknown sections and reserved header field are ignored */
    fy_put_le16(im.data + TP_OFF_MINOR, FY_FORMAT_MINOR + 1);
    set_u32(im.data, im.size, FY_SEC_POLICIES, 0, 99);
    fy_put_le32(im.data + 44, 5);
    tp_fix_crc(im.data, im.size);
    assert_int_equal(load(&im, NULL, &q, err, sizeof err), 0);
    assert_int_equal(q->minor, FY_FORMAT_MINOR + 1);
    assert_int_equal(q->npolicies, 0);
    assert_int_equal(q->nrules, p->nrules);
    fy_program_free(q);
    /* a different major does not */
    fy_put_le16(im.data + TP_OFF_MAJOR, FY_FORMAT_MAJOR + 1);
    tp_fix_crc(im.data, im.size);
    assert_int_equal(load(&im, NULL, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not supported"));
    fy_put_le16(im.data + TP_OFF_MAJOR, FY_FORMAT_MAJOR - 1);
    tp_fix_crc(im.data, im.size);
    assert_int_equal(load(&im, NULL, &q, err, sizeof err), -1);
    free(im.data);
    fy_program_free(p);
}

static void test_short_inputs(void **state)
{
    (void)state;
    fy_program *q;
    char err[256];
    assert_int_equal(fy_program_load(NULL, 0, NULL, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "too short"));
    fy_program *p = tp_small();
    image im = serialize(p, NULL);
    for (size_t n = 0; n < im.size; n++) {
        image cut = {im.data, n};
        assert_int_equal(load(&cut, NULL, &q, err, sizeof err), -1);
        assert_true(err[0] != 0);
    }
    /* a tiny error buffer is still NUL-terminated */
    char small[8];
    image cut = {im.data, 10};
    assert_int_equal(load(&cut, NULL, &q, small, sizeof small), -1);
    assert_int_equal(strlen(small), 7);
    free(im.data);
    fy_program_free(p);
}

/* ---- files ---- */
static void test_write_file(void **state)
{
    (void)state;
    const char *tmpdir = getenv("TMPDIR");
    char *tmpl = fy_xasprintf("%s/fy_formatXXXXXX", tmpdir ? tmpdir : "/tmp");
    assert_non_null(mkdtemp(tmpl));
    char *path = fy_xasprintf("%s/prog.fyb", tmpl);
    fy_program *p = tp_realistic(), *q;
    char err[512];
    uint8_t pk[32], sk[64];
    test_keys(pk, sk, 3);
    assert_int_equal(fy_program_write_file(p, sk, path, err, sizeof err), 0);
    fy_load_opts o = {pk};
    assert_int_equal(fy_program_load_file(path, &o, &q, err, sizeof err), 0);
    assert_true(q->signed_ok);
    assert_programs_equal(p, q);
    fy_program_free(q);
    /* overwrite in place: still one file, no temporaries left */
    assert_int_equal(fy_program_write_file(p, NULL, path, err, sizeof err), 0);
    DIR *d = opendir(tmpl);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') count++;
    closedir(d);
    assert_int_equal(count, 1);
    /* failures carry a message */
    char *bad = fy_xasprintf("%s/missing/prog.fyb", tmpl);
    assert_int_equal(fy_program_write_file(p, NULL, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing/prog.fyb"));
    assert_int_equal(fy_program_load_file(bad, NULL, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    /* a load error from a file names the file */
    FILE *f = fopen(path, "wb");
    fputs("hello", f);
    fclose(f);
    assert_int_equal(fy_program_load_file(path, NULL, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "prog.fyb: file is 5 bytes, too short"));
    unlink(path);
    rmdir(tmpl);
    free(bad);
    free(path);
    free(tmpl);
    fy_program_free(p);
}

/* ---- docs/program-format.md lists every opcode and host call as fy_opcodes.h does ---- */
static const char *kinds_text(unsigned k, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s%s", k & FY_K_CLS ? "CLS" : "", (k & FY_K_CLS) && (k & 6) ? ", " : "",
             k & FY_K_DET ? "DET" : "", (k & FY_K_DET) && (k & FY_K_CNV) ? ", " : "",
             k & FY_K_CNV ? "CNV" : "");
    return buf;
}

static void test_docs_tables(void **state)
{
    (void)state;
    const char *src = getenv("FERRY_SOURCE_DIR");
    char *path = fy_xasprintf("%s/docs/program-format.md", src ? src : ".");
    image doc = read_file(path);
    fy_buf b = {0};
    fy_buf_put(&b, doc.data, doc.size);
    const char *text = fy_buf_cstr(&b);
    char row[160], k[32];
    for (unsigned op = 0; op < FY_OP_COUNT; op++) {
        const fy_opinfo *o = &fy_opinfo_table[op];
        snprintf(row, sizeof row, "| 0x%02x | `%s` | %s | %s | %s | %s |", op, o->name,
                 fy_opnd_names[o->a], fy_opnd_names[o->b], fy_opnd_names[o->c],
                 kinds_text(o->kinds, k, sizeof k));
        if (!strstr(text, row)) fail_msg("%s lacks the row \"%s\"", path, row);
    }
    for (unsigned h = 0; h < FY_HOST_COUNT; h++) {
        snprintf(row, sizeof row, "| %u | `%s` | %s |", h, fy_hostinfo_table[h].name,
                 kinds_text(fy_hostinfo_table[h].kinds, k, sizeof k));
        if (!strstr(text, row)) fail_msg("%s lacks the row \"%s\"", path, row);
    }
    fy_buf_free(&b);
    free(doc.data);
    free(path);
}

/* ---- --generate: the committed corpus and fuzz seeds ---- */
static int write_bytes(const char *path, const image *im)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(im->data, 1, im->size, f) != im->size) {
        fprintf(stderr, "cannot write %s\n", path);
        if (f) fclose(f);
        return -1;
    }
    return fclose(f);
}

/* Writes every case's file and README.md; a case whose message does not match its
 * expectation is reported (all of them, so the table can be fixed in one go) and fails. */
static int generate_badprog(const char *src)
{
    char *data = fy_xasprintf("%s/tests/data", src);
    char *dir = fy_xasprintf("%s/badprog", data);
    mkdir(data, 0755);
    mkdir(dir, 0755);
    fy_buf readme = {0};
    fy_buf_puts(
        &readme,
        "# Malformed program files\n\n"
        "Each file is the realistic test program (tests/support/testprog.c) damaged in one\n"
        "way, with a valid CRC unless the damage is the CRC itself, so the loader's deeper\n"
        "checks are reached. `test_format` loads every file and checks the message;\n"
        "regenerate them with `build/tests/test_format --generate .` after changing the\n"
        "table in tests/unit/test_format.c.\n\n"
        "| file | message |\n|---|---|\n");
    int rc = 0;
    for (size_t i = 0; i < FY_ARRAY_LEN(badcases); i++) {
        image im = make_bad(&badcases[i]);
        char *path = fy_xasprintf("%s/%s.fyb", dir, badcases[i].name);
        fy_program *q = NULL;
        char err[512] = "";
        if (write_bytes(path, &im) != 0) rc = -1;
        if (load(&im, NULL, &q, err, sizeof err) == 0 || !strstr(err, badcases[i].expect)) {
            fprintf(stderr, "%s: got \"%s\", expected \"%s\"\n", badcases[i].name, err,
                    badcases[i].expect);
            rc = -1;
        }
        fy_program_free(q);
        fy_buf_printf(&readme, "| %s.fyb | `%s` |\n", badcases[i].name, err);
        free(path);
        free(im.data);
    }
    char *rpath = fy_xasprintf("%s/README.md", dir);
    image r = {readme.data, readme.len};
    if (write_bytes(rpath, &r) != 0) rc = -1;
    free(rpath);
    fy_buf_free(&readme);
    free(dir);
    free(data);
    return rc;
}

static int generate_seeds(const char *src)
{
    char *fuzz = fy_xasprintf("%s/fuzz/seeds", src);
    char *dir = fy_xasprintf("%s/program_load", fuzz);
    mkdir(fuzz, 0755);
    mkdir(dir, 0755);
    uint8_t pk[32], sk[64];
    test_keys(pk, sk, 9);
    fy_program *progs[2] = {tp_realistic(), tp_small()};
    const char *names[3] = {"realistic.fyb", "small.fyb", "realistic_signed.fyb"};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        image im = serialize(progs[i % 2], i == 2 ? sk : NULL);
        char *path = fy_xasprintf("%s/%s", dir, names[i]);
        rc = write_bytes(path, &im);
        free(path);
        free(im.data);
    }
    fy_program_free(progs[0]);
    fy_program_free(progs[1]);
    free(dir);
    free(fuzz);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--generate") == 0)
        return generate_badprog(argv[2]) || generate_seeds(argv[2]) ? 1 : 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_empty_program),
        cmocka_unit_test(test_disasm),
        cmocka_unit_test(test_debug_at),
        cmocka_unit_test(test_damage_every_byte),
        cmocka_unit_test(test_negative_corpus),
        cmocka_unit_test(test_badprog_files),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_short_inputs),
        cmocka_unit_test(test_write_file),
        cmocka_unit_test(test_docs_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
