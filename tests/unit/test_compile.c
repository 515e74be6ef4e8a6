/* The whole compiler on the shipped rules/ template and appdefs/: it compiles, the program
 * loads and verifies, every instruction has a source position in the disassembly, every
 * single-byte change to the program is refused with a message, and the program classifies
 * what the template says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fy_codegen.h"
#include "fy_vm.h"

static uint8_t *img;
static size_t img_size;

static int compile_rules(void **state)
{
    (void)state;
    const char *src = getenv("FERRY_SOURCE_DIR");
    assert_non_null(src);
    char cfg[4096], defs[4096];
    snprintf(cfg, sizeof cfg, "%s/rules/SE.cfg", src);
    snprintf(defs, sizeof defs, "%s/appdefs", src);
    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    assert_int_equal(fy_fe_appdef_dir(&ir, defs, &d), 0);
    assert_int_equal(fy_fe_template(&ir, cfg, &d), 0);
    int rc = fy_compile_image(&ir, &d, &img, &img_size);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s:%u:%u: %s [%s]\n", d.v[i].file, d.v[i].line, d.v[i].col,
                d.v[i].message, d.v[i].check);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0); /* the shipped rules are lint-clean */
    fy_diags_free(&d);
    fy_ir_free(&ir);
    return 0;
}

static int free_image(void **state)
{
    (void)state;
    free(img);
    return 0;
}

static void test_loads_and_disasm(void **state)
{
    (void)state;
    fy_program *p = NULL;
    char err[512];
    assert_int_equal(fy_program_load(img, img_size, NULL, &p, err, sizeof err), 0);
    assert_true(p->nrules > 10);
    assert_true(p->nroots > 0);
    fy_buf b = {0};
    fy_program_disasm(p, &b);
    char *text = fy_buf_cstr(&b);
    /* every instruction line ("  0x....  OP ...") carries "; file:line:col" */
    size_t insns = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "  0x", 4) != 0) continue;
        insns++;
        char *semi = strrchr(line, ';');
        if (!semi || !strchr(semi, ':')) fail_msg("no source position: %s", line);
    }
    assert_int_equal(insns, p->ncode);
    fy_buf_free(&b);
    fy_program_free(p);
}

/* Any single byte changed, in any way, is refused with a message; nothing crashes. */
static void test_every_byte_flipped(void **state)
{
    (void)state;
    uint8_t *copy = malloc(img_size);
    static const int modes[] = {0xFF /* xor */, 0x00, 0x01 /* +1 */};
    for (size_t m = 0; m < FY_ARRAY_LEN(modes); m++) {
        for (size_t i = 0; i < img_size; i++) {
            memcpy(copy, img, img_size);
            if (modes[m] == 0xFF)
                copy[i] ^= 0xFF;
            else if (modes[m] == 0x01)
                copy[i]++;
            else if (copy[i] == 0)
                continue;
            else
                copy[i] = 0;
            fy_program *p = NULL;
            char err[512] = "";
            int rc = fy_program_load(copy, img_size, NULL, &p, err, sizeof err);
            if (rc == 0) fail_msg("byte %zu changed (mode %d) but the program loaded", i, modes[m]);
            assert_true(err[0] != 0);
        }
    }
    free(copy);
}

static fy_decision classify(fy_vm *vm, const char *folder, const char *name, uint64_t size)
{
    fy_object o = {.kind = FY_OBJ_KIND_FILE, .folder = folder, .folder_len = strlen(folder),
                   .name = name, .name_len = strlen(name), .size = size};
    fy_verdict v, w;
    fy_vm_classify(vm, &o, &v);
    fy_vm_classify_all(vm, &o, &w);
    assert_int_equal(v.decision, w.decision);
    return v.decision;
}

static void test_default_template_decides(void **state)
{
    (void)state;
    fy_program *p = NULL;
    char err[512];
    assert_int_equal(fy_program_load(img, img_size, NULL, &p, err, sizeof err), 0);
    fy_vm *vm = fy_vm_new(p, NULL);
    assert_int_equal(classify(vm, "<My Documents>\\Reports", "q3.docx", 1000), FY_DECIDE_INCLUDE);
    assert_int_equal(classify(vm, "<My Documents>", "song.mp3", 1000), FY_DECIDE_EXCLUDE);
    assert_int_equal(classify(vm, "<My Documents>", "~$q3.docx", 10), FY_DECIDE_EXCLUDE);
    assert_int_equal(classify(vm, "<Desktop>", "disk.iso", 10), FY_DECIDE_EXCLUDE);
    assert_int_equal(classify(vm, "<My Pictures>", "beach.bmp", 10), FY_DECIDE_INCLUDE);
    assert_int_equal(classify(vm, "C:\\Windows", "win.ini", 10), FY_DECIDE_NONE);
    fy_object o = {.kind = FY_OBJ_KIND_FILE, .folder = "C:\\Project Files\\X", .folder_len = 18,
                   .name = "plan.xls", .name_len = 8, .size = 1};
    fy_verdict v;
    fy_vm_classify(vm, &o, &v);
    assert_int_equal(v.decision, FY_DECIDE_INCLUDE);
    assert_string_equal(fy_prog_str(p, v.dest), "<My Documents>\\Project Files");
    fy_vm_free(vm);
    fy_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_and_disasm),
        cmocka_unit_test(test_every_byte_flipped),
        cmocka_unit_test(test_default_template_decides),
    };
    return cmocka_run_group_tests(tests, compile_rules, free_image);
}
