/* The application library (appdefs/) as a whole, compiled together into one program:
 * - it compiles with no diagnostic at all (warnings included), has at least 30 applications,
 *   and the program loads and verifies;
 * - conventions every appdef keeps: content paths under Files|, Windows| or Applications|;
 *   file locations begin with a known-folder token; every drop-value has a reason; every
 *   versioned application converts each older version to its newest; each Office program
 *   has the versions 11.0, 12.0, 14.0, 15.0 and 16.0 and moves its own key to 16.0;
 * - detection through the VM on synthetic machines (a fake host answering registry and file
 *   look-ups): Office found by the user's key, by an MSI install (InstallRoot) or by a
 *   Click-to-Run suite that includes the program (and not by a Visio-only one), the newest
 *   version winning; Windows XP told from Vista and later; applications found by a file;
 * - conversions through the VM on single objects: the screen saver's XP names, Office 2003's
 *   user name and dictionaries, Outlook's profiles, drops.
 * The end-to-end behaviour on the sample machines is tests/scripts/test_appdefs.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fy_codegen.h"
#include "fy_ir.h"
#include "fy_vm.h"

static fy_ir lib;
static fy_program *prog;

static const char *source_dir(void)
{
    const char *d = getenv("FERRY_SOURCE_DIR");
    return d ? d : ".";
}

static void print_diags(const fy_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        print_error("%s:%u:%u: %s [%s]\n", d->v[i].file, d->v[i].line, d->v[i].col, d->v[i].message,
                    d->v[i].check);
}

/* Compiles every appdef together (no template: every rule and conversion is in the
 * program) and loads the result as the agent would. */
static int setup(void **state)
{
    (void)state;
    char *dir = fy_xasprintf("%s/appdefs", source_dir());
    fy_diags d = {0};
    fy_ir_init(&lib);
    int rc = fy_fe_appdef_dir(&lib, dir, &d);
    free(dir);
    if (rc != 0 || d.n) {
        print_diags(&d);
        fy_diags_free(&d);
        return -1;
    }
    fy_ir img_ir;
    fy_ir_init(&img_ir);
    dir = fy_xasprintf("%s/appdefs", source_dir());
    fy_fe_appdef_dir(&img_ir, dir, &d);
    free(dir);
    uint8_t *img = NULL;
    size_t n = 0;
    rc = fy_compile_image(&img_ir, &d, &img, &n);
    fy_ir_free(&img_ir);
    if (rc != 0 || d.n) {
        print_diags(&d);
        fy_diags_free(&d);
        free(img);
        return -1;
    }
    fy_diags_free(&d);
    char err[512];
    rc = fy_program_load(img, n, NULL, &prog, err, sizeof err);
    free(img);
    if (rc) print_error("load: %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    fy_program_free(prog);
    fy_ir_free(&lib);
    return 0;
}

static const fy_ir_app *ir_app(const char *id)
{
    for (size_t i = 0; i < lib.napps; i++)
        if (!strcmp(lib.apps[i].id, id)) return &lib.apps[i];
    return NULL;
}

static uint32_t prog_app(const char *id)
{
    for (uint32_t i = 0; i < prog->napps; i++)
        if (!strcmp(fy_prog_str(prog, prog->apps[i].id), id)) return i;
    fail_msg("no application %s in the program", id);
    return FY_NONE;
}

/* ---- the library compiles, and keeps its conventions ---- */

static void test_library_compiles(void **state)
{
    (void)state;
    assert_true(lib.napps >= 30);
    assert_int_equal(prog->napps, lib.napps);
    assert_true(prog->nrules > 200);
    assert_true(prog->nconvs >= 20);
    assert_true(prog->nroots > 10);
}

static void test_conventions(void **state)
{
    (void)state;
    for (size_t i = 0; i < lib.napps; i++) {
        const fy_ir_app *a = &lib.apps[i];
        if (strncmp(a->content_path, "Files|", 6) && strncmp(a->content_path, "Windows|", 8) &&
            strncmp(a->content_path, "Applications|", 13))
            fail_msg("%s: content path %s is outside Files|, Windows|, Applications|", a->id,
                     a->content_path);
        assert_non_null(a->name);
    }
    for (size_t i = 0; i < lib.nrules; i++) {
        const fy_ir_rule *r = &lib.rules[i];
        if (r->pat.kind == FY_OBJ_FILE && r->pat.node[0] != '<')
            fail_msg("%s: file rule %s does not begin with a known-folder token",
                     lib.apps[r->app].id, r->pat.node);
        if (r->pat.kind != FY_OBJ_FILE && strncmp(r->pat.node, "HKCU\\", 5) &&
            strncmp(r->pat.node, "HKLM\\", 5))
            fail_msg("%s: registry rule %s is neither HKCU nor HKLM", lib.apps[r->app].id,
                     r->pat.node);
    }
    for (size_t i = 0; i < lib.nconvs; i++) {
        const fy_ir_conversion *c = &lib.convs[i];
        const fy_ir_app *a = &lib.apps[c->app];
        assert_true(c->nsteps > 0);
        /* conversions go to the newest version the appdef lists */
        assert_string_equal(c->to_version, a->versions[a->nversions - 1].version);
        for (size_t k = 0; k < c->nsteps; k++)
            if (c->steps[k].kind == FY_CONV_DROP) {
                assert_non_null(c->steps[k].reason);
                assert_true(strlen(c->steps[k].reason) > 20);
            }
    }
    /* every versioned application converts each older version */
    for (size_t i = 0; i < lib.napps; i++) {
        const fy_ir_app *a = &lib.apps[i];
        for (size_t v = 0; v + 1 < a->nversions; v++) {
            bool found = false;
            for (size_t k = 0; k < lib.nconvs; k++)
                if (&lib.apps[lib.convs[k].app] == a &&
                    !strcmp(lib.convs[k].from_version, a->versions[v].version))
                    found = true;
            if (!found)
                fail_msg("%s: no conversion from version %s", a->id, a->versions[v].version);
        }
    }
}

static void test_office_versions(void **state)
{
    (void)state;
    static const struct {
        const char *id, *key;
    } office[] = {
        {"microsoft-word", "Word"},
        {"microsoft-excel", "Excel"},
        {"microsoft-powerpoint", "PowerPoint"},
        {"microsoft-outlook", "Outlook"},
        {"microsoft-office-common", "Common\\General"},
    };
    static const char *const vers[] = {"11.0", "12.0", "14.0", "15.0", "16.0"};
    for (size_t i = 0; i < FY_ARRAY_LEN(office); i++) {
        const fy_ir_app *a = ir_app(office[i].id);
        assert_non_null(a);
        assert_int_equal(a->nversions, FY_ARRAY_LEN(vers));
        for (size_t v = 0; v < a->nversions; v++) {
            assert_string_equal(a->versions[v].version, vers[v]);
            assert_non_null(a->versions[v].detect);
            assert_int_equal(a->versions[v].detect->kind, FY_DET_ANY);
        }
        int idx = (int)(a - lib.apps), nconv = 0;
        for (size_t k = 0; k < lib.nconvs; k++) {
            const fy_ir_conversion *c = &lib.convs[k];
            if (c->app != idx) continue;
            nconv++;
            char *from = fy_xasprintf("HKCU\\Software\\Microsoft\\Office\\%s\\%s", c->from_version,
                                      office[i].key);
            char *to = fy_xasprintf("HKCU\\Software\\Microsoft\\Office\\16.0\\%s", office[i].key);
            bool moved = false;
            for (size_t s = 0; s < c->nsteps; s++)
                if (c->steps[s].kind == FY_CONV_MOVE_KEY && !strcmp(c->steps[s].from, from) &&
                    !strcmp(c->steps[s].to, to))
                    moved = true;
            if (!moved) fail_msg("%s %s: no move-key %s -> %s", a->id, c->from_version, from, to);
            free(from);
            free(to);
        }
        assert_int_equal(nconv, 4);
    }
}

/* ---- detection through the VM ---- */

typedef struct fake_value {
    const char *key, *name, *text; /* text: REG_SZ data */
} fake_value;

typedef struct fake_machine {
    const char *const *keys;  /* NULL-terminated */
    const fake_value *values; /* terminated by key == NULL */
    const char *const *files; /* NULL-terminated, normalised (<Token>\...) */
} fake_machine;

static bool in_list(const char *const *l, const char *s)
{
    for (; l && *l; l++)
        if (fy_streq_ci(*l, s)) return true;
    return false;
}

static int f_key(void *ctx, fy_vm_call *c)
{
    const fake_machine *m = ctx;
    if (in_list(m->keys, c->s[0])) return 1;
    for (const fake_value *v = m->values; v && v->key; v++)
        if (fy_streq_ci(v->key, c->s[0])) return 1;
    return 0;
}

static int f_value(void *ctx, fy_vm_call *c)
{
    const fake_machine *m = ctx;
    for (const fake_value *v = m->values; v && v->key; v++) {
        if (!fy_streq_ci(v->key, c->s[0]) || !fy_streq_ci(v->name, c->s[1] ? c->s[1] : ""))
            continue;
        size_t n;
        uint8_t *w = fy_utf8_to_utf16le(v->text, strlen(v->text), &n);
        fy_buf_put(c->v, w, n);
        fy_buf_u16(c->v, 0);
        free(w);
        *c->vtype = 1;
        return 1;
    }
    return 0;
}

static int f_file(void *ctx, fy_vm_call *c)
{
    const fake_machine *m = ctx;
    return in_list(m->files, c->s[0]);
}

/* The detected version of app id on machine m: "(none)", "*" or the version. */
static const char *detect_on(const fake_machine *m, const char *id)
{
    fy_vm_host h = {.ctx = (void *)m};
    h.fn[FY_HOST_REG_KEY_EXISTS] = f_key;
    h.fn[FY_HOST_REG_VALUE_GET] = f_value;
    h.fn[FY_HOST_FILE_EXISTS] = f_file;
    fy_vm *vm = fy_vm_new(prog, &h);
    uint32_t a = prog_app(id);
    uint32_t v = fy_vm_detect_app(vm, a);
    if (fy_vm_error(vm)[0]) print_error("%s: %s\n", id, fy_vm_error(vm));
    assert_string_equal(fy_vm_error(vm), "");
    fy_vm_free(vm);
    if (v == FY_NONE) return "(none)";
    /* an application without versions has one unnamed detection entry */
    uint32_t s = prog->versions[v].version;
    return s == FY_NONE || !fy_prog_str(prog, s)[0] ? "*" : fy_prog_str(prog, s);
}

#define C2R "HKLM\\Software\\Microsoft\\Office\\ClickToRun\\Configuration"
#define NTCV "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion"

static void test_detection(void **state)
{
    (void)state;
    /* A freshly imaged Windows 10 with Microsoft 365 Apps: nobody has started Office yet. */
    static const fake_value m365v[] = {{C2R, "VersionToReport", "16.0.17928.20156"},
                                       {C2R, "ProductReleaseIds", "O365ProPlusRetail"},
                                       {NTCV, "CurrentVersion", "6.3"},
                                       {NULL, NULL, NULL}};
    const fake_machine m365 = {.values = m365v};
    assert_string_equal(detect_on(&m365, "microsoft-word"), "16.0");
    assert_string_equal(detect_on(&m365, "microsoft-excel"), "16.0");
    assert_string_equal(detect_on(&m365, "microsoft-powerpoint"), "16.0");
    assert_string_equal(detect_on(&m365, "microsoft-outlook"), "16.0");
    assert_string_equal(detect_on(&m365, "microsoft-office-common"), "16.0");
    assert_string_equal(detect_on(&m365, "windows-screen-saver"), "6.0");
    assert_string_equal(detect_on(&m365, "windows-regional-settings"), "6.0");
    assert_string_equal(detect_on(&m365, "mozilla-firefox"), "(none)");

    /* Click-to-Run Visio alone is not Word or Outlook; the shared settings still count. */
    static const fake_value visiov[] = {{C2R, "VersionToReport", "16.0.17928.20156"},
                                        {C2R, "ProductReleaseIds", "VisioProRetail"},
                                        {NULL, NULL, NULL}};
    const fake_machine visio = {.values = visiov};
    assert_string_equal(detect_on(&visio, "microsoft-word"), "(none)");
    assert_string_equal(detect_on(&visio, "microsoft-outlook"), "(none)");
    assert_string_equal(detect_on(&visio, "microsoft-office-common"), "16.0");
    /* A Click-to-Run Office 2013 (15.x) is not 16.0 */
    static const fake_value c2r15v[] = {{C2R, "VersionToReport", "15.0.5031.1000"},
                                        {C2R, "ProductReleaseIds", "O365ProPlusRetail"},
                                        {NULL, NULL, NULL}};
    const fake_machine c2r15 = {.values = c2r15v};
    assert_string_equal(detect_on(&c2r15, "microsoft-excel"), "(none)");

    /* XP with an MSI Office 2003 whose Excel the user never started. */
    static const fake_value xpv[] = {{"HKLM\\Software\\Microsoft\\Office\\11.0\\Excel\\InstallRoot",
                                      "Path", "C:\\Program Files\\Microsoft Office\\OFFICE11\\"},
                                     {NTCV, "CurrentVersion", "5.1"},
                                     {NULL, NULL, NULL}};
    const fake_machine xp = {.values = xpv};
    assert_string_equal(detect_on(&xp, "microsoft-excel"), "11.0");
    assert_string_equal(detect_on(&xp, "microsoft-word"), "(none)");
    assert_string_equal(detect_on(&xp, "windows-screen-saver"), "5.1");
    assert_string_equal(detect_on(&xp, "windows-regional-settings"), "5.1");

    /* A user who kept Office 2010's key after an upgrade to Microsoft 365: the newest wins. */
    static const char *const upkeys[] = {"HKCU\\Software\\Microsoft\\Office\\14.0\\Word", NULL};
    const fake_machine up = {.keys = upkeys, .values = m365v};
    assert_string_equal(detect_on(&up, "microsoft-word"), "16.0");
    const fake_machine only14 = {.keys = upkeys};
    assert_string_equal(detect_on(&only14, "microsoft-word"), "14.0");

    /* Applications found by a file in the user's folders. */
    static const char *const files[] = {
        "<Application Data>\\Mozilla\\Firefox\\profiles.ini",
        "<Application Data>\\KeePass\\KeePass.config.xml", "<Profile>\\.gitconfig",
        "<Local Application Data>\\Microsoft\\Windows Terminal\\settings.json", NULL};
    const fake_machine fm = {.files = files};
    assert_string_equal(detect_on(&fm, "mozilla-firefox"), "*");
    assert_string_equal(detect_on(&fm, "keepass"), "*");
    assert_string_equal(detect_on(&fm, "git-for-windows"), "*");
    assert_string_equal(detect_on(&fm, "windows-terminal"), "*");
    assert_string_equal(detect_on(&fm, "mozilla-thunderbird"), "(none)");
    assert_string_equal(detect_on(&fm, "windows-wireless-profiles"), "(none)");
    /* Reader DC's installer key (a 32-bit install is found through WOW6432Node by the agent;
     * here the fake host answers the key as the appdef names it). */
    static const fake_value dcv[] = {{"HKLM\\Software\\Adobe\\Acrobat Reader\\DC\\Installer",
                                      "Path",
                                      "C:\\Program Files (x86)\\Adobe\\Acrobat Reader DC\\"},
                                     {NULL, NULL, NULL}};
    const fake_machine dc = {.values = dcv};
    assert_string_equal(detect_on(&dc, "adobe-acrobat-reader"), "DC");
}

/* ---- conversions through the VM ---- */

static uint32_t conv_of(const char *id, const char *from)
{
    uint32_t a = prog_app(id);
    for (uint32_t i = 0; i < prog->nconvs; i++)
        if (prog->convs[i].app == a &&
            !strcmp(fy_prog_str(prog, prog->convs[i].from_version), from))
            return i;
    fail_msg("%s: no conversion from %s", id, from);
    return FY_NONE;
}

/* Runs conversion c on one object; returns its folder, name and text (or "DROPPED"). */
static char *convert(uint32_t c, uint8_t kind, const char *folder, const char *name, uint32_t type,
                     const char *text)
{
    fy_mobject o = {0};
    size_t n = 0;
    uint8_t *w = text ? fy_utf8_to_utf16le(text, strlen(text), &n) : NULL;
    fy_buf data = {0};
    if (w) fy_buf_put(&data, w, n), fy_buf_u16(&data, 0);
    free(w);
    fy_mobject_set(&o, kind, folder, name, type, data.data, data.len);
    fy_buf_free(&data);
    fy_vm *vm = fy_vm_new(prog, NULL);
    assert_int_equal(fy_vm_convert(vm, c, &o), 0);
    fy_vm_free(vm);
    char *out;
    if (o.dropped) {
        out = fy_xstrdup("DROPPED");
    } else {
        fy_buf t = {0};
        fy_reg_data_text(o.type, o.data.data, o.data.len, &t);
        out = fy_xasprintf("%s [%s] %s", fy_buf_cstr(&o.folder), fy_buf_cstr(&o.name),
                           t.data ? fy_buf_cstr(&t) : "");
        fy_buf_free(&t);
    }
    fy_mobject_free(&o);
    return out;
}

#define CHECK_CONV(c, kind, folder, name, type, text, want)                                        \
    do {                                                                                           \
        char *got_ = convert(c, kind, folder, name, type, text);                                   \
        if (strcmp(got_, want)) print_error("got  %s\nwant %s\n", got_, want);                     \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void test_conversions(void **state)
{
    (void)state;
    const uint8_t R = FY_OBJ_KIND_REGVAL, F = FY_OBJ_KIND_FILE;
    /* The screen saver, XP to Vista and later. */
    uint32_t ss = conv_of("windows-screen-saver", "5.1");
    CHECK_CONV(ss, R, "HKCU\\Control Panel\\Desktop", "SCRNSAVE.EXE", 1,
               "C:\\WINDOWS\\system32\\ssmarque.scr",
               "HKCU\\Control Panel\\Desktop [SCRNSAVE.EXE] C:\\WINDOWS\\system32\\scrnsave.scr");
    CHECK_CONV(ss, R, "HKCU\\Control Panel\\Desktop", "SCRNSAVE.EXE", 1,
               "C:\\WINDOWS\\System32\\LOGON.SCR",
               "HKCU\\Control Panel\\Desktop [SCRNSAVE.EXE] C:\\WINDOWS\\System32\\scrnsave.scr");
    CHECK_CONV(ss, R, "HKCU\\Control Panel\\Desktop", "SCRNSAVE.EXE", 1,
               "C:\\WINDOWS\\system32\\ssmyst.scr",
               "HKCU\\Control Panel\\Desktop [SCRNSAVE.EXE] C:\\WINDOWS\\system32\\Mystify.scr");
    /* 3D Text still exists on Windows 10; a name that merely contains a removed one stays */
    CHECK_CONV(ss, R, "HKCU\\Control Panel\\Desktop", "SCRNSAVE.EXE", 1,
               "C:\\WINDOWS\\system32\\sstext3d.scr",
               "HKCU\\Control Panel\\Desktop [SCRNSAVE.EXE] C:\\WINDOWS\\system32\\sstext3d.scr");
    CHECK_CONV(ss, R, "HKCU\\Control Panel\\Desktop", "SCRNSAVE.EXE", 1,
               "C:\\Tools\\myssmarque.scr",
               "HKCU\\Control Panel\\Desktop [SCRNSAVE.EXE] C:\\Tools\\myssmarque.scr");
    CHECK_CONV(ss, R, "HKCU\\Control Panel\\Screen Saver.Marquee", "Text", 1, "hello", "DROPPED");
    CHECK_CONV(ss, R, "HKCU\\Control Panel\\Desktop", "ScreenSaveTimeOut", 1, "600",
               "HKCU\\Control Panel\\Desktop [ScreenSaveTimeOut] 600");

    /* Office 2003's shared settings. */
    uint32_t oc = conv_of("microsoft-office-common", "11.0");
    CHECK_CONV(oc, R, "HKCU\\Software\\Microsoft\\Office\\11.0\\Common\\UserInfo", "UserName", 1,
               "Jane Smith",
               "HKCU\\Software\\Microsoft\\Office\\Common\\UserInfo [UserName] Jane Smith");
    CHECK_CONV(
        oc, R, "HKCU\\Software\\Microsoft\\Shared Tools\\Proofing Tools\\Custom Dictionaries", "1",
        1, "C:\\Documents and Settings\\js\\Application Data\\Microsoft\\PROOF\\CUSTOM.DIC",
        "HKCU\\Software\\Microsoft\\Shared Tools\\Proofing Tools\\1.0\\Custom Dictionaries [1] "
        "C:\\Documents and Settings\\js\\Application Data\\Microsoft\\UProof\\CUSTOM.DIC");
    CHECK_CONV(oc, F, "<Application Data>\\Microsoft\\Proof", "CUSTOM.DIC", 0, NULL,
               "<Application Data>\\Microsoft\\UProof [CUSTOM.DIC] ");
    /* Another folder whose name begins with Proof is not Proof */
    CHECK_CONV(oc, F, "<Application Data>\\Microsoft\\Proofs", "x.dic", 0, NULL,
               "<Application Data>\\Microsoft\\Proofs [x.dic] ");

    /* Outlook 2010's profiles move to Office 16.0; the old default-profile value is dropped. */
    uint32_t ol = conv_of("microsoft-outlook", "14.0");
    CHECK_CONV(ol, R,
               "HKCU\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Windows Messaging "
               "Subsystem\\Profiles\\Outlook\\9375CFF0413111d3B88A00104B2A6676",
               "Account Name", 1, "jsmith@example.com",
               "HKCU\\Software\\Microsoft\\Office\\16."
               "0\\Outlook\\Profiles\\Outlook\\9375CFF0413111d3B88A00104B2A6676 [Account Name] "
               "jsmith@example.com");
    CHECK_CONV(ol, R,
               "HKCU\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Windows Messaging "
               "Subsystem\\Profiles",
               "DefaultProfile", 1, "Outlook", "DROPPED");
    CHECK_CONV(ol, R, "HKCU\\Software\\Microsoft\\Office\\14.0\\Common\\MailSettings",
               "NewSignature", 1, "Work",
               "HKCU\\Software\\Microsoft\\Office\\16.0\\Common\\MailSettings [NewSignature] Work");
    /* Another program's key is left to that program's conversion */
    CHECK_CONV(ol, R, "HKCU\\Software\\Microsoft\\Office\\14.0\\Word\\Options", "AutoSpell", 1, "1",
               "HKCU\\Software\\Microsoft\\Office\\14.0\\Word\\Options [AutoSpell] 1");

    /* Word 2003: the toolbar layout is dropped, an empty DefaultFormat becomes "Doc". */
    uint32_t wd = conv_of("microsoft-word", "11.0");
    CHECK_CONV(wd, R, "HKCU\\Software\\Microsoft\\Office\\11.0\\Common\\Toolbars\\Settings",
               "Microsoft Word", 1, "x", "DROPPED");
    CHECK_CONV(wd, R, "HKCU\\Software\\Microsoft\\Office\\11.0\\Word\\Options", "DefaultFormat", 1,
               "", "HKCU\\Software\\Microsoft\\Office\\16.0\\Word\\Options [DefaultFormat] Doc");
    CHECK_CONV(wd, R, "HKCU\\Software\\Microsoft\\Office\\11.0\\Word\\Options", "DefaultFormat", 1,
               "Rtf", "HKCU\\Software\\Microsoft\\Office\\16.0\\Word\\Options [DefaultFormat] Rtf");

    /* Regional settings: XP's numeric Locale is dropped, the formats stay. */
    uint32_t rs = conv_of("windows-regional-settings", "5.1");
    CHECK_CONV(rs, R, "HKCU\\Control Panel\\International", "Locale", 1, "00000407", "DROPPED");
    CHECK_CONV(rs, R, "HKCU\\Control Panel\\International", "sShortDate", 1, "dd.MM.yyyy",
               "HKCU\\Control Panel\\International [sShortDate] dd.MM.yyyy");

    /* Acrobat Reader XI to DC: key and per-user folder. */
    uint32_t ar = conv_of("adobe-acrobat-reader", "11.0");
    CHECK_CONV(ar, R, "HKCU\\Software\\Adobe\\Acrobat Reader\\11.0\\AVGeneral", "iDefaultZoomType",
               1, "2", "HKCU\\Software\\Adobe\\Acrobat Reader\\DC\\AVGeneral [iDefaultZoomType] 2");
    CHECK_CONV(ar, F, "<Application Data>\\Adobe\\Acrobat\\11.0\\Stamps", "a.pdf", 0, NULL,
               "<Application Data>\\Adobe\\Acrobat\\DC\\Stamps [a.pdf] ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_compiles), cmocka_unit_test(test_conventions),
        cmocka_unit_test(test_office_versions),  cmocka_unit_test(test_detection),
        cmocka_unit_test(test_conversions),
    };
    return cmocka_run_group_tests_name("appdefs_all", tests, setup, teardown);
}
