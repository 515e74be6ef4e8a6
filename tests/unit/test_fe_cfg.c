/* compiler/fy_fe_cfg.c and fy_fe_template.c: SE.cfg settings, policies and registry rules,
 * and reading a whole template (SE.cfg + SE.rul + SE.ptt). Runs every
 * tests/data/templates/NAME.case whose source is a .cfg or which holds several sources (each
 * in every encoding and line end), and checks by hand: a UTF-16LE file built byte by byte,
 * templates with missing, unreadable or undecodable parts, a template named without a
 * folder, and what the IR's policies and conversions hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fy_ir.h"
#include "tmpl_case.h"

static void test_cases(void **state)
{
    (void)state;
    int n = 0;
    int failures = tmpl_run_cases(".cfg", &n);
    assert_true(n >= 5);
    assert_int_equal(failures, 0);
}

static size_t put16(uint8_t *out, size_t at, const char *ascii)
{
    for (const char *p = ascii; *p; p++) {
        out[at++] = (uint8_t)*p;
        out[at++] = 0;
    }
    return at;
}

static void test_utf16le_bom_crlf_bytewise(void **state)
{
    (void)state;
    uint8_t b[512];
    size_t n = 0;
    b[n++] = 0xFF, b[n++] = 0xFE;
    n = put16(b, n, "[Logging]\r\nLog Level = Trace ; chatty\r\n[Registry Rules]\r\n");
    n = put16(b, n, "Include Value=HKCU\\Software\\");
    b[n++] = 0xFC, b[n++] = 0x00; /* U+00FC u-umlaut */
    n = put16(b, n, "ber [Name]\r\nInclude Key=");
    b[n++] = 0xE9, b[n++] = 0x00; /* U+00E9: not a registry root */
    n = put16(b, n, "\\x\r\n");
    char *dir = tmpl_mkdtemp();
    char *path = tmpl_write(dir, "SE.cfg", b, n);
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_cfg(&ir, path, &d), 0);
    assert_true(ir.have_template);
    assert_int_equal(ir.npolicies, 1);
    assert_string_equal(ir.policies[0].section, "Logging");
    assert_string_equal(ir.policies[0].key, "Log Level");
    assert_string_equal(ir.policies[0].value, "Trace");
    assert_int_equal(ir.policies[0].value_pos.line, 2);
    assert_int_equal(ir.policies[0].value_pos.col, 13);
    assert_ptr_equal(ir.policies[0].pos.file, ir.sources[0]);
    assert_int_equal(ir.nrules, 1);
    assert_string_equal(ir.rules[0].pat.node, "HKCU\\Software\\\xC3\xBC"
                                              "ber");
    assert_string_equal(ir.rules[0].pat.leaf, "Name");
    assert_false(ir.rules[0].pat.keys);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].check, "registry-root");
    assert_int_equal(d.v[0].line, 5);
    assert_int_equal(d.v[0].col, 13);
    free(path);
    tmpl_rmtree(dir);
    free(dir);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static void test_template_parts(void **state)
{
    (void)state;
    char *dir = tmpl_mkdtemp();
    char *cfg = fy_xasprintf("%s/SE.cfg", dir);
    fy_ir ir;
    fy_diags d = {0};

    /* No .cfg: an error, and nothing beside it is read. */
    free(tmpl_write(dir, "SE.rul", "include <Desktop> *\n", 20));
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_template(&ir, cfg, &d), -1);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].check, "unreadable");
    assert_int_equal(ir.nrules, 0);
    assert_false(ir.have_template);
    fy_ir_free(&ir);
    fy_diags_free(&d);

    /* A .cfg that is not text: an error, but the .rul is still read for its diagnostics. */
    free(tmpl_write(dir, "SE.cfg", "[Logging]\n\xFF\n", 12));
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_template(&ir, cfg, &d), -1);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].check, "encoding");
    assert_int_equal(d.v[0].line, 2);
    assert_int_equal(ir.nrules, 1);
    fy_ir_free(&ir);
    fy_diags_free(&d);

    /* Only a .cfg: no .rul, no .ptt, no complaint. */
    char *rul = fy_xasprintf("%s/SE.rul", dir);
    assert_int_equal(unlink(rul), 0);
    free(tmpl_write(dir, "SE.cfg", "[Logging]\nLog Level=Error\n", 26));
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_template(&ir, cfg, &d), 0);
    assert_int_equal(d.n, 0);
    assert_true(ir.have_template);
    assert_int_equal(ir.nsources, 1);
    assert_int_equal(ir.npolicies, 1);
    fy_ir_free(&ir);

    /* A .rul that cannot be read (a folder of that name): the template fails. */
    assert_int_equal(mkdir(rul, 0700), 0);
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_template(&ir, cfg, &d), -1);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].check, "unreadable");
    assert_string_equal(d.v[0].file, rul);
    fy_ir_free(&ir);
    fy_diags_free(&d);
    assert_int_equal(rmdir(rul), 0);

    /* The sources are registered in reading order: .cfg, .rul, .ptt. */
    free(tmpl_write(dir, "se.PTT", "Files|Desktop\n", 14));
    free(tmpl_write(dir, "Se.Rul", "include <Desktop> *\n", 20));
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_template(&ir, cfg, &d), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.nsources, 3);
    assert_string_equal(ir.sources[0], cfg);
    assert_non_null(strstr(ir.sources[1], "/Se.Rul"));
    assert_non_null(strstr(ir.sources[2], "/se.PTT"));
    assert_int_equal(ir.nrules, 1);
    assert_int_equal(ir.nselects, 1);
    assert_ptr_equal(ir.selects[0].pos.file, ir.sources[2]);
    fy_ir_free(&ir);

    /* A template named without a folder: the siblings are looked for in the current one,
     * and their names carry no "./". */
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    assert_int_equal(chdir(dir), 0);
    fy_ir_init(&ir);
    int rc = fy_fe_template(&ir, "SE.cfg", &d);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(ir.nsources, 3);
    assert_string_equal(ir.sources[1], "Se.Rul");
    assert_string_equal(ir.sources[2], "se.PTT");
    fy_ir_free(&ir);
    free(cwd);

    fy_diags_free(&d);
    free(rul);
    free(cfg);
    tmpl_rmtree(dir);
    free(dir);
}

/* Move Branch lowers into a template-level conversion with one step. */
static void test_move_branch_ir(void **state)
{
    (void)state;
    const char src[] = "[Registry Rules]\nMove Branch=HKCR\\Old -> HKEY_CURRENT_USER\\New\n";
    char *dir = tmpl_mkdtemp();
    char *path = tmpl_write(dir, "SE.cfg", src, sizeof(src) - 1);
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_cfg(&ir, path, &d), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.nconvs, 1);
    const fy_ir_conversion *cv = &ir.convs[0];
    assert_int_equal(cv->app, -1);
    assert_null(cv->from_version);
    assert_null(cv->to_version);
    assert_int_equal(cv->nsteps, 1);
    assert_int_equal(cv->steps[0].kind, FY_CONV_MOVE_KEY);
    assert_string_equal(cv->steps[0].from, "HKCU\\Software\\Classes\\Old");
    assert_string_equal(cv->steps[0].to, "HKCU\\New");
    assert_null(cv->steps[0].name);
    assert_int_equal(cv->pos.line, 2);
    assert_int_equal(cv->pos.col, 1);
    assert_int_equal(cv->steps[0].pos.col, 13);
    assert_ptr_equal(cv->pos.file, ir.sources[0]);
    assert_int_equal(ir.nrules, 0);
    free(path);
    tmpl_rmtree(dir);
    free(dir);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

/* The template that ships in rules/ reads without a single diagnostic, and selects the
 * content-tree paths the shipped appdefs define. */
static void test_shipped_template(void **state)
{
    (void)state;
    const char *src = getenv("FERRY_SOURCE_DIR");
    assert_non_null(src);
    char *cfg = fy_xasprintf("%s/rules/SE.cfg", src);
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    assert_int_equal(fy_fe_template(&ir, cfg, &d), 0);
    for (size_t i = 0; i < d.n; i++)
        print_error("%s:%u:%u: %s\n", d.v[i].file, d.v[i].line, d.v[i].col, d.v[i].message);
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.nsources, 3);
    assert_true(ir.have_template);
    assert_int_equal(ir.npolicies, 10);
    assert_int_equal(ir.nconvs, 1);
    static const char *const want[] = {
        "Files|My Documents",
        "Files|Desktop",
        "Files|Favorites",
        "Files|My Pictures",
        "Windows|Desktop|Wallpaper",
        "Windows|Mapped Network Drives",
        "Windows|Printer Connections",
        "Applications|PuTTY",
        "Applications|WinSCP",
        "Applications|Microsoft Office|Word",
    };
    assert_int_equal(ir.nselects, FY_ARRAY_LEN(want));
    for (size_t i = 0; i < FY_ARRAY_LEN(want); i++) {
        assert_string_equal(ir.selects[i].path, want[i]);
        assert_false(ir.selects[i].deselect);
    }
    size_t reg = 0, file = 0, remaps = 0;
    for (size_t i = 0; i < ir.nrules; i++) {
        if (ir.rules[i].pat.kind == FY_OBJ_REG) reg++;
        if (ir.rules[i].pat.kind == FY_OBJ_FILE) file++;
        if (ir.rules[i].dest) remaps++;
    }
    assert_int_equal(reg, 5);
    assert_int_equal(file, 15);
    assert_int_equal(remaps, 1);
    free(cfg);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_utf16le_bom_crlf_bytewise),
        cmocka_unit_test(test_template_parts),
        cmocka_unit_test(test_move_branch_ir),
        cmocka_unit_test(test_shipped_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
