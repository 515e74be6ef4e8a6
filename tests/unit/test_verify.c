/* vm/fy_verify.c on in-memory programs: the path-based block rules (only reachable
 * instructions are restricted by block kind, every path must reach HALT, shared code is
 * checked for every kind that enters it), operand checks on unreachable code, empty
 * tables, app/version ownership, dispatch ordering, debug entries with equal pcs, and
 * large programs (many blocks; many entries into one shared tail) that a walk per block
 * would make quadratic. The
 * negative corpus for the whole loader lives in test_format.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fy_program.h"
#include "testprog.h"

static void expect_ok(fy_program *p)
{
    char err[256] = "";
    if (fy_program_verify(p, err, sizeof err) != 0) fail_msg("rejected: %s", err);
}

static void expect_err(fy_program *p, const char *want)
{
    char err[256] = "";
    assert_int_equal(fy_program_verify(p, err, sizeof err), -1);
    if (!strstr(err, want)) fail_msg("message \"%s\", expected \"%s\"", err, want);
}

static uint32_t add_rule(fy_program *p, uint32_t entry)
{
    return tp_rule(p,
                   (fy_prog_rule){2, 1, 1, 0, FY_NONE, FY_NONE, 0, entry, tp_str(p, "*"), FY_NONE});
}

static void add_conv(fy_program *p, uint32_t entry)
{
    tp_conv(p, (fy_prog_conv){FY_NONE, FY_NONE, FY_NONE, entry});
}

static void test_valid_programs(void **state)
{
    (void)state;
    fy_program *p = tp_new();
    expect_ok(p); /* empty: no code, no tables */
    fy_program_free(p);
    p = tp_realistic();
    expect_ok(p);
    fy_program_free(p);
    p = tp_small();
    expect_ok(p);
    fy_program_free(p);
}

/* An XDROP no path reaches does not make a CLS block invalid. */
static void test_unreachable_is_not_restricted(void **state)
{
    (void)state;
    fy_program *p = tp_new();
    uint32_t j = tp_emit(p, FY_OP_JMP, 0, 0, 0);
    tp_emit(p, FY_OP_XDROP, 0, 0, 0);
    tp_patch(p, j, tp_emit(p, FY_OP_HALT, 0, 0, 0));
    add_rule(p, 0);
    expect_ok(p);
    /* ... but its operands are still checked */
    p->code[1].c = 5;
    expect_err(p, "pc 0x0008: XDROP operand c (STR) is 5, outside 0..0");
    fy_program_free(p);
}

/* A conditional jump's fall-through path that runs off the end is found even when the
 * taken path halts. */
static void test_every_path_halts(void **state)
{
    (void)state;
    fy_program *p = tp_new();
    tp_emit(p, FY_OP_SET, 1, 0, 0);
    uint32_t jt = tp_emit(p, FY_OP_JT, 0, 0, 0);
    tp_emit(p, FY_OP_NOT, 0, 0, 0);
    tp_emit(p, FY_OP_NOT, 0, 0, 0); /* the last instruction: falls off */
    add_rule(p, 0);
    tp_patch(p, jt, 0x18);
    expect_err(p, "pc 0x0018: falls off the end of the code without HALT (CLS block of rule 0)");
    /* the taken path ending in a HALT but the other not: still an error */
    p->code[3] = (fy_insn){FY_OP_HALT, 0, 0, 0};
    p->code[2] = (fy_insn){FY_OP_JMP, 0, 0, 0x18};
    expect_ok(p);
    fy_program_free(p);
}

/* A block entered by a rule and by a conversion must suit both kinds. */
static void test_shared_code(void **state)
{
    (void)state;
    fy_program *p = tp_new();
    tp_emit(p, FY_OP_LEAF, 0, 0, tp_str(p, "*.ini"));
    tp_emit(p, FY_OP_HALT, 0, 0, 0);
    add_rule(p, 0);
    add_rule(p, 0); /* the same entry twice: walked once */
    add_conv(p, 0);
    expect_ok(p);
    p->code[0] = (fy_insn){FY_OP_SIZE, 1, 0, tp_const(p, 10)};
    expect_err(p, "pc 0x0000: SIZE is not allowed in a CNV block (conversion 0)");
    fy_program_free(p);
}

/* An entry in the middle of another block is fine when aligned: it is its own block. */
static void test_entry_mid_block(void **state)
{
    (void)state;
    fy_program *p = tp_realistic();
    add_rule(p, p->rules[0].entry + 16); /* rule 0's LEAF */
    expect_ok(p);
    fy_program_free(p);
}

static void test_empty_tables(void **state)
{
    (void)state;
    fy_program *p = tp_new();
    tp_emit(p, FY_OP_LDS, 0, 0, 0);
    tp_emit(p, FY_OP_HALT, 0, 0, 0);
    expect_err(p, "pc 0x0000: LDS operand c (STR) is 0, but its table is empty");
    p->code[0] = (fy_insn){FY_OP_XMAP, 0, 0, 0};
    expect_err(p, "XMAP operand c (MAP) is 0, but its table is empty");
    fy_program_free(p);
}

static void test_app_ownership(void **state)
{
    (void)state;
    fy_program *p = tp_realistic();
    uint32_t id = tp_str(p, "other");
    tp_app(p, (fy_prog_app){id, id, FY_NONE, FY_NONE, 0, 1, 1, 0, 0});
    expect_err(p, "section APPS: record 1: version 1 belongs to app 0");
    p->apps[1].nversions = 0;
    p->apps[1].first_component = 0, p->apps[1].ncomponents = 1;
    expect_err(p, "section APPS: record 1: component 0 belongs to app 0");
    p->apps[1].ncomponents = 0;
    expect_ok(p); /* empty ranges are never looked at */
    fy_program_free(p);
}

static void test_dispatch_order(void **state)
{
    (void)state;
    fy_program *p = tp_realistic();
    tp_dref(p, 0);
    uint32_t e = tp_dext(p, (fy_prog_dext){tp_str(p, "DOCX"), 5, 1});
    (void)e;
    p->dnodes[1].nexts = 2; /* PPTX then DOCX: not sorted */
    expect_err(p, "section DNODES: record 1: extension buckets 0 and 1 are not sorted");
    p->dexts[1].ext = tp_str(p, "XLSX");
    expect_ok(p);
    p->dexts[1].ext = p->dexts[0].ext; /* duplicates are not sorted either */
    expect_err(p, "extension buckets 0 and 1 are not sorted");
    fy_program_free(p);
    p = tp_new(); /* a root alone is a tree */
    tp_dnode(p, (fy_prog_dnode){FY_NONE, 0, 0, 0, 0, 0, 0});
    expect_ok(p);
    fy_program_free(p);
}

static void test_debug_equal_pcs(void **state)
{
    (void)state;
    fy_program *p = tp_small();
    tp_debug(p, 0, "SE.rul", 2, 2); /* a second entry for pc 0 */
    tp_debug(p, 8, "SE.rul", 3, 3);
    expect_ok(p);
    assert_int_equal(fy_program_debug_at(p, 0)->line, 2); /* the last entry at that pc */
    assert_int_equal(fy_program_debug_at(p, 8)->line, 3);
    p->code[1].a = 1;
    expect_err(p, "pc 0x0008 (SE.rul:3:3): HALT operand a must be 0, is 1");
    fy_program_free(p);
}

/* 20000 rules over 20000 small blocks: each walk covers its own block only. */
static void test_many_blocks(void **state)
{
    (void)state;
    fy_program *p = tp_new();
    uint32_t s = tp_str(p, "*.txt");
    for (int i = 0; i < 20000; i++) {
        uint32_t e = tp_emit(p, FY_OP_LEAF, 0, 0, s);
        uint32_t jf = tp_emit(p, FY_OP_JF, 0, 0, 0);
        tp_emit(p, FY_OP_NOT, 0, 0, 0);
        tp_patch(p, jf, tp_emit(p, FY_OP_HALT, 0, 0, 0));
        add_rule(p, e);
    }
    expect_ok(p);
    /* the last block's halt replaced: only the last rule is affected */
    p->code[p->ncode - 1] = (fy_insn){FY_OP_NOT, 0, 0, 0};
    expect_err(p, "falls off the end of the code without HALT (CLS block of rule 19999)");
    fy_program_free(p);
}

/* 20000 rules entering one long shared tail at every instruction: each instruction is
 * checked once per kind, not once per rule. An error at the end is still found. */
static void test_shared_tail(void **state)
{
    (void)state;
    fy_program *p = tp_new();
    for (int i = 0; i < 20000; i++)
        add_rule(p, tp_emit(p, FY_OP_NOT, 0, 0, 0));
    tp_emit(p, FY_OP_HALT, 0, 0, 0);
    expect_ok(p);
    p->code[p->ncode - 1] = (fy_insn){FY_OP_XDROP, 0, 0, 0};
    expect_err(p, "pc 0x27100: XDROP is not allowed in a CLS block (rule 0)");
    fy_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_programs),
        cmocka_unit_test(test_unreachable_is_not_restricted),
        cmocka_unit_test(test_every_path_halts),
        cmocka_unit_test(test_shared_code),
        cmocka_unit_test(test_entry_mid_block),
        cmocka_unit_test(test_empty_tables),
        cmocka_unit_test(test_app_ownership),
        cmocka_unit_test(test_dispatch_order),
        cmocka_unit_test(test_debug_equal_pcs),
        cmocka_unit_test(test_many_blocks),
        cmocka_unit_test(test_shared_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
