/* The VM with in-memory objects: every rule form, the Migrate7 order for template rules (last
 * match wins, overriding the content selection), USMT precedence for appdefs (most specific
 * wins, exclude wins ties, unconditional-exclude beats all, apps do not cancel each other),
 * detection through host calls, every conversion, and the dispatch tree agreeing with trying
 * every rule (t_classify checks that on every call). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fy_test_ir.h"

#define MB (1024 * 1024)
#define DAY 86400

static fy_ir ir;
static int setup(void **s)
{
    (void)s;
    fy_ir_init(&ir);
    return 0;
}
static int teardown(void **s)
{
    (void)s;
    fy_ir_free(&ir);
    return 0;
}

static const fy_stage T = FY_STAGE_TEMPLATE, C = FY_STAGE_CONTENT, U = FY_STAGE_UNCONDITIONAL;
static const fy_action INC = FY_ACT_INCLUDE, EXC = FY_ACT_EXCLUDE;

/* The SE.rul example of templates.md, rule for rule. */
static void test_template_example(void **s)
{
    (void)s;
    t_rule(&ir, T, INC, FY_OBJ_FILE, "<My Documents>\\Project Data\\* [*]");
    t_rule(&ir, T, EXC, FY_OBJ_FILE, "<My Documents>\\Project Data\\* [*.wav]");
    fy_ir_rule *r2 = t_rule(&ir, T, EXC, FY_OBJ_FILE, "* [*.pptx]");
    t_cond(&ir, r2, FY_COND_SIZE, FY_CMP_GT, 10 * MB);
    fy_ir_rule *r3 = t_rule(&ir, T, INC, FY_OBJ_FILE, "C:\\Project Files\\* [*]");
    r3->dest = "<My Documents>\\Project Files";
    t_rule(&ir, T, EXC, FY_OBJ_FILE, "<My Documents>\\* [*.mp3]");
    fy_ir_rule *r5 = t_rule(&ir, T, INC, FY_OBJ_FILE, "<Desktop>\\* [*.docx]");
    t_cond(&ir, r5, FY_COND_MODIFIED, FY_CMP_GE, 1230768000); /* 2009-01-01 */
    t_cond(&ir, r5, FY_COND_SIZE, FY_CMP_LE, 50 * MB);
    fy_program *p = t_build(&ir);
    fy_vm *vm = fy_vm_new(p, NULL);
    uint32_t rule;

    fy_object o = t_file("<My Documents>\\Project Data\\sub", "a.txt", 10);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_INCLUDE);
    assert_int_equal(rule, 0);
    o = t_file("<My Documents>\\Project Data", "take.WAV", 10);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_EXCLUDE);
    assert_int_equal(rule, 1);
    o = t_file("<My Documents>\\project data", "big.pptx", 20 * MB);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_EXCLUDE);
    assert_int_equal(rule, 2);
    o = t_file("<My Documents>\\Project Data", "small.pptx", 1 * MB);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_INCLUDE);
    assert_int_equal(rule, 0);
    o = t_file("<My Documents>\\Project Data", "song.mp3", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_EXCLUDE); /* last match wins */
    assert_int_equal(rule, 4);

    fy_verdict v;
    o = t_file("C:\\Project Files\\a\\b", "plan.dat", 1);
    fy_vm_classify(vm, &o, &v);
    assert_int_equal(v.decision, FY_DECIDE_INCLUDE);
    assert_string_equal(fy_prog_str(p, v.dest), "<My Documents>\\Project Files");
    assert_string_equal(fy_prog_str(p, v.node), "C:\\Project Files");

    o = t_file("<Desktop>", "new.docx", 1 * MB);
    o.mtime_local = 1262304000; /* 2010 */
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o.mtime_local = 1199145600; /* 2008 */
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    o.mtime_local = 1262304000;
    o.size = 60 * MB;
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    o = t_file("<Desktop>", "notes.txt", 1);
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    fy_vm_free(vm);
    fy_program_free(p);
}

static void test_norecurse_age_attrib(void **s)
{
    (void)s;
    t_rule(&ir, T, INC, FY_OBJ_FILE, "<My Documents>\\ [*.doc]"); /* that folder only */
    fy_ir_rule *r1 = t_rule(&ir, T, INC, FY_OBJ_FILE, "<Favorites>\\* [*]");
    t_cond(&ir, r1, FY_COND_NEWER_THAN, 0, 30 * DAY);
    fy_ir_rule *r2 = t_rule(&ir, T, EXC, FY_OBJ_FILE, "<Favorites>\\* [*]");
    r2->conds = NULL;
    fy_ir_cond *c = &FY_APUSH(&ir.arena, r2->conds, r2->nconds, r2->conds_cap);
    c->kind = FY_COND_ATTRIB;
    c->attr_set = FY_ATTR_HIDDEN;
    c->attr_clear = FY_ATTR_SYSTEM;
    t_rule(&ir, T, INC, FY_OBJ_FILE, "<Recent>\\* [*]")->conds = NULL;
    fy_ir_rule *r4 = &ir.rules[3];
    t_cond(&ir, r4, FY_COND_OLDER_THAN, 0, 365 * DAY);
    fy_program *p = t_build(&ir);
    fy_vm *vm = fy_vm_new(p, NULL);
    int64_t now = 1700000000;
    fy_vm_set_now(vm, now);

    fy_object o = t_file("<My Documents>", "a.doc", 1);
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o = t_file("<My Documents>\\sub", "a.doc", 1);
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);

    o = t_file("<Favorites>\\Links", "x.url", 1);
    o.mtime = now - 2 * DAY;
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o.mtime = now - 40 * DAY;
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    o.mtime = now - 2 * DAY;
    o.attrib = FY_ATTR_HIDDEN;
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_EXCLUDE);
    o.attrib = FY_ATTR_HIDDEN | FY_ATTR_SYSTEM; /* system set: the exclude does not hold */
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);

    o = t_file("<Recent>", "old.lnk", 1);
    o.mtime = now - 400 * DAY;
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o.mtime = now - 10 * DAY;
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    fy_vm_free(vm);
    fy_program_free(p);
}

static fy_ir_rule *app_rule(int app, fy_stage st, fy_action a, fy_objkind k, const char *pat)
{
    fy_ir_rule *r = t_rule(&ir, st, a, k, pat);
    r->app = app;
    r->detection = st == C;
    return r;
}

static void test_usmt_precedence(void **s)
{
    (void)s;
    int a = t_app(&ir, "a", "Applications|A");
    int b = t_app(&ir, "b", "Applications|B");
    int d = t_app(&ir, "d", "Applications|D");
    app_rule(a, C, INC, FY_OBJ_FILE, "<My Documents>\\* [*]");                 /* 0 */
    app_rule(a, C, EXC, FY_OBJ_FILE, "<My Documents>\\Private\\* [*]");        /* 1 more specific */
    app_rule(a, C, INC, FY_OBJ_FILE, "<Application Data>\\X\\* [*.ini]");      /* 2 tie ... */
    app_rule(a, C, EXC, FY_OBJ_FILE, "<Application Data>\\X\\* [*.ini]");      /* 3 ... exclude wins */
    app_rule(a, C, EXC, FY_OBJ_FILE, "<Application Data>\\Y\\* [*]");          /* 4 */
    app_rule(a, C, INC, FY_OBJ_FILE, "<Application Data>\\Y\\* [keep.ini]");   /* 5 literal leaf wins */
    app_rule(b, C, INC, FY_OBJ_FILE, "<My Documents>\\Private\\* [*.txt]");    /* 6 another app */
    app_rule(d, C, INC, FY_OBJ_FILE, "<Local Application Data>\\D\\* [*]");    /* 7 not detected */
    app_rule(b, U, EXC, FY_OBJ_FILE, "<My Documents>\\* [*.tmp]");            /* 8 unconditional */
    t_rule(&ir, T, INC, FY_OBJ_FILE, "<My Documents>\\* [*.tmp]");            /* 9 template */
    t_rule(&ir, T, EXC, FY_OBJ_FILE, "<My Documents>\\* [*.pptx]");           /* 10 */
    t_rule(&ir, T, INC, FY_OBJ_FILE, "<Desktop>\\* [*.lnk]");                 /* 11 */
    fy_program *p = t_build(&ir);
    fy_vm *vm = fy_vm_new(p, NULL);
    uint8_t detected[3] = {1, 1, 0};
    fy_vm_set_detected(vm, detected);
    uint32_t rule;

    fy_object o = t_file("<My Documents>", "a.doc", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_INCLUDE);
    assert_int_equal(rule, 0);
    o = t_file("<My Documents>\\Private", "secret.doc", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_EXCLUDE); /* most specific wins */
    assert_int_equal(rule, 1);
    o = t_file("<My Documents>\\Private", "diary.txt", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_INCLUDE); /* app B includes it */
    assert_int_equal(rule, 6);
    o = t_file("<Application Data>\\X", "x.ini", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_EXCLUDE); /* exclude wins a tie */
    assert_int_equal(rule, 3);
    o = t_file("<Application Data>\\Y", "keep.ini", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_INCLUDE);
    assert_int_equal(rule, 5);
    o = t_file("<Application Data>\\Y", "other.ini", 1);
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_EXCLUDE);
    o = t_file("<Local Application Data>\\D", "d.dat", 1);
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE); /* app D not detected */
    detected[2] = 1;
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o = t_file("<My Documents>", "x.tmp", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_EXCLUDE); /* beats rules 0 and 9 */
    assert_int_equal(rule, 8);
    o = t_file("<My Documents>", "deck.pptx", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_EXCLUDE); /* template over app */
    assert_int_equal(rule, 10);
    o = t_file("<Desktop>", "app.lnk", 1);
    assert_int_equal(t_classify(vm, &o, &rule), FY_DECIDE_INCLUDE); /* template adds */
    assert_int_equal(rule, 11);
    fy_vm_free(vm);
    fy_program_free(p);
}

static void test_registry_rules(void **s)
{
    (void)s;
    /* [Registry Rules] Include Branch / Exclude Branch / Include Value / Include Key */
    fy_ir_rule *r = t_rule(&ir, T, INC, FY_OBJ_REG, "HKCU\\Software\\SimonTatham\\PuTTY\\* [*]");
    assert_true(r->pat.keys);
    t_rule(&ir, T, EXC, FY_OBJ_REG, "HKCU\\Software\\SimonTatham\\PuTTY\\SshHostKeys\\* [*]");
    t_rule(&ir, T, INC, FY_OBJ_REG, "HKCU\\Control Panel\\Desktop [Wallpaper]");
    t_rule(&ir, T, INC, FY_OBJ_REG, "HKLM\\Software\\V\\Key []");
    fy_program *p = t_build(&ir);
    fy_vm *vm = fy_vm_new(p, NULL);
    fy_object o = t_regval("HKCU\\Software\\SimonTatham\\PuTTY\\Sessions\\Default%20Settings", "HostName");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o = t_regkey("HKCU\\Software\\SimonTatham\\PuTTY\\Sessions");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o = t_regkey("HKCU\\Software\\SimonTatham\\PuTTY");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o = t_regval("HKCU\\Software\\SimonTatham\\PuTTY\\SshHostKeys", "rsa2@22:host");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_EXCLUDE);
    o = t_regval("HKCU\\Control Panel\\Desktop", "wallpaper");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    /* value names are not paths: [*] takes a name holding backslashes (printer names) */
    o = t_regval("HKCU\\Software\\SimonTatham\\PuTTY\\Sessions", "\\\\printsrv\\Sales-Color");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o = t_regval("HKCU\\Control Panel\\Desktop", "ScreenSaveActive");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    o = t_regkey("HKCU\\Control Panel\\Desktop"); /* a value rule does not take the key */
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    o = t_regval("HKLM\\Software\\V\\Key", "");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_INCLUDE);
    o = t_regval("HKLM\\Software\\V\\Key", "Named");
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    /* a file never meets registry rules */
    o = t_file("HKCU\\Software\\SimonTatham\\PuTTY", "x", 1);
    assert_int_equal(t_classify(vm, &o, NULL), FY_DECIDE_NONE);
    fy_vm_free(vm);
    fy_program_free(p);
}

/* ---- detection through host calls ---- */

static int h_key(void *ctx, fy_vm_call *c)
{
    (void)ctx;
    return strcmp(c->s[0], "HKCU\\Software\\Microsoft\\Office\\14.0\\Word") == 0 ||
           strcmp(c->s[0], "HKCU\\Software\\Vendor") == 0;
}

static int h_value(void *ctx, fy_vm_call *c)
{
    (void)ctx;
    if (strcmp(c->s[0], "HKCU\\Software\\Vendor") || strcmp(c->s[1], "Version")) return 0;
    size_t n;
    uint8_t *w = fy_utf8_to_utf16le("7.5.2 Pro", 9, &n);
    fy_buf_put(c->v, w, n);
    fy_buf_u16(c->v, 0);
    free(w);
    *c->vtype = 1;
    return 1;
}

static int h_filever(void *ctx, fy_vm_call *c)
{
    (void)ctx;
    if (strcmp(c->s[0], "<Program Files>\\V\\v.exe")) return 0;
    fy_buf_puts(c->version, "11.0.8173.0");
    return 1;
}

static fy_ir_detect *det(fy_det_kind k, const char *path, const char *name, const char *arg)
{
    fy_ir_detect *d = fy_arena_alloc(&ir.arena, sizeof(*d));
    d->kind = k;
    d->path = (char *)path;
    d->name = (char *)name;
    d->arg = (char *)arg;
    return d;
}

static void kid(fy_ir_detect *parent, fy_ir_detect *k)
{
    FY_APUSH(&ir.arena, parent->kids, parent->nkids, parent->kids_cap) = *k;
}

static uint32_t add_version(int app, const char *ver, fy_ir_detect *d)
{
    fy_ir_app *a = &ir.apps[app];
    fy_ir_version *v = &FY_APUSH(&ir.arena, a->versions, a->nversions, a->versions_cap);
    v->version = (char *)ver;
    v->detect = d;
    return (uint32_t)a->nversions - 1;
}

static void test_detection(void **s)
{
    (void)s;
    int word = t_app(&ir, "word", "Applications|Microsoft Office|Word");
    add_version(word, "11.0", det(FY_DET_REG_KEY, "HKCU\\Software\\Microsoft\\Office\\11.0\\Word", NULL, NULL));
    add_version(word, "14.0", det(FY_DET_REG_KEY, "HKCU\\Software\\Microsoft\\Office\\14.0\\Word", NULL, NULL));
    add_version(word, "16.0", det(FY_DET_REG_KEY, "HKCU\\Software\\Microsoft\\Office\\16.0\\Word", NULL, NULL));
    int v = t_app(&ir, "vendor", "Applications|Vendor");
    fy_ir_detect *all = det(FY_DET_ALL, NULL, NULL, NULL);
    kid(all, det(FY_DET_VALUE_CONTAINS, "HKCU\\Software\\Vendor", "Version", "pro"));
    kid(all, det(FY_DET_VALUE_MATCHES, "HKCU\\Software\\Vendor", "Version", "^7\\.[5-9]"));
    fy_ir_detect *not = det(FY_DET_NOT, NULL, NULL, NULL);
    kid(not, det(FY_DET_FILE, "<Program Files>\\V\\uninstalled.flag", NULL, NULL));
    kid(all, not);
    fy_ir_detect *fv = det(FY_DET_FILE_VERSION, "<Program Files>\\V\\v.exe", NULL, "11.0");
    fv->arg2 = "11.9";
    kid(all, fv);
    add_version(v, "7", all);
    fy_ir_detect *any = det(FY_DET_ANY, NULL, NULL, NULL);
    kid(any, det(FY_DET_VALUE_EQUALS, "HKCU\\Software\\Vendor", "Version", "8.0"));
    kid(any, det(FY_DET_REG_VALUE, "HKCU\\Software\\Vendor", "Missing", NULL));
    add_version(v, "8", any);
    fy_program *p = t_build(&ir);
    fy_vm_host host = {0};
    host.fn[FY_HOST_REG_KEY_EXISTS] = h_key;
    host.fn[FY_HOST_REG_VALUE_GET] = h_value;
    host.fn[FY_HOST_FILE_VERSION] = h_filever;
    fy_vm *vm = fy_vm_new(p, &host);
    uint32_t found = fy_vm_detect_app(vm, 0);
    assert_int_equal(found, 1);
    assert_string_equal(fy_prog_str(p, p->versions[found].version), "14.0");
    found = fy_vm_detect_app(vm, 1);
    assert_int_not_equal(found, FY_NONE);
    assert_string_equal(fy_prog_str(p, p->versions[found].version), "7");
    assert_int_equal(fy_vm_detect_version(vm, p->apps[1].first_version + 1), 0);
    fy_vm_free(vm);
    fy_program_free(p);
}

/* ---- conversions ---- */

static int h_translate(void *ctx, fy_vm_call *c)
{
    (void)ctx;
    /* pretend the run moved C:\Old to D:\New: append a marker so the test sees the call */
    fy_buf_u16(&c->obj->data, 0);
    return 1;
}

static void set_sz(fy_mobject *o, const char *key, const char *name, const char *text)
{
    size_t n;
    uint8_t *w = fy_utf8_to_utf16le(text, strlen(text), &n);
    fy_buf b = {0};
    fy_buf_put(&b, w, n);
    fy_buf_u16(&b, 0);
    fy_mobject_set(o, FY_OBJ_KIND_REGVAL, key, name, 1, b.data, b.len);
    free(w);
    fy_buf_free(&b);
}

static char *text_of(fy_mobject *o)
{
    fy_buf b = {0};
    fy_reg_data_text(o->type, o->data.data, o->data.len, &b);
    return fy_buf_cstr(&b);
}

static void test_conversions(void **s)
{
    (void)s;
    int word = t_app(&ir, "word", "Applications|Microsoft Office|Word");
    fy_ir_conversion *c = t_conv(&ir, word, "14.0", "16.0");
    const char *k14 = "HKCU\\Software\\Microsoft\\Office\\14.0\\Word";
    fy_ir_conv_step *st = t_step(&ir, c, FY_CONV_RENAME_VALUE);
    st->key = fy_arena_printf(&ir.arena, "%s\\Options", k14);
    st->name = "OldName";
    st->to = "NewName";
    st = t_step(&ir, c, FY_CONV_MAP_VALUE);
    st->key = fy_arena_printf(&ir.arena, "%s\\Options", k14);
    st->name = "Mode";
    fy_ir_map_entry *m = &FY_APUSH(&ir.arena, st->map, st->nmap, st->map_cap);
    m->from = "1";
    m->to = "2";
    st = t_step(&ir, c, FY_CONV_SUBST);
    st->key = fy_arena_printf(&ir.arena, "%s\\Options", k14);
    st->name = "*Path";
    st->regex = "(?i)C:\\\\Old";
    st->replacement = "D:\\New"; /* literal but for $ */
    st = t_step(&ir, c, FY_CONV_DROP);
    st->key = fy_arena_printf(&ir.arena, "%s\\Options", k14);
    st->name = "Gone";
    st->reason = "no longer read by Word 2016";
    st = t_step(&ir, c, FY_CONV_SET_TYPE);
    st->key = fy_arena_printf(&ir.arena, "%s\\Options", k14);
    st->name = "Num";
    st->type = 4;
    st = t_step(&ir, c, FY_CONV_MOVE_KEY);
    st->from = (char *)k14;
    st->to = "HKCU\\Software\\Microsoft\\Office\\16.0\\Word";
    st = t_step(&ir, c, FY_CONV_MOVE_FILES);
    st->from = "<Application Data>\\Microsoft\\Word11";
    st->to = "<Application Data>\\Microsoft\\Word";
    fy_program *p = t_build(&ir);
    fy_vm_host host = {0};
    host.fn[FY_HOST_TRANSLATE_PATHS] = h_translate;
    fy_vm *vm = fy_vm_new(p, &host);
    assert_int_equal(p->nconvs, 2); /* the app's and the built-in string conversion */

    fy_mobject o = {0};
    char opt[200];
    snprintf(opt, sizeof opt, "%s\\Options", k14);
    set_sz(&o, opt, "OldName", "x");
    assert_int_equal(fy_vm_convert(vm, 0, &o), 0);
    assert_string_equal(o.name.data, "NewName");
    assert_string_equal(o.folder.data, "HKCU\\Software\\Microsoft\\Office\\16.0\\Word\\Options");

    set_sz(&o, opt, "Mode", "1");
    assert_int_equal(fy_vm_convert(vm, 0, &o), 0);
    char *t = text_of(&o);
    assert_string_equal(t, "2");
    free(t);

    set_sz(&o, opt, "DocPath", "c:\\old\\docs");
    assert_int_equal(fy_vm_convert(vm, 0, &o), 0);
    t = text_of(&o);
    assert_string_equal(t, "D:\\New\\docs");
    free(t);

    set_sz(&o, opt, "Gone", "x");
    assert_int_equal(fy_vm_convert(vm, 0, &o), 0);
    assert_true(o.dropped);
    assert_string_equal(fy_vm_drop_reason(vm), "no longer read by Word 2016");

    set_sz(&o, opt, "Num", "42");
    assert_int_equal(fy_vm_convert(vm, 0, &o), 0);
    assert_int_equal(o.type, 4);
    assert_int_equal(o.data.len, 4);
    assert_int_equal(fy_le32(o.data.data), 42);

    set_sz(&o, opt, "Num", "not a number"); /* a failed conversion leaves the object as it was */
    assert_int_equal(fy_vm_convert(vm, 0, &o), -1);
    assert_int_equal(o.type, 1);
    assert_string_equal(o.folder.data, opt);
    assert_non_null(strstr(fy_vm_error(vm), "not a number"));

    set_sz(&o, "HKCU\\Software\\Microsoft\\Office\\14.0\\Wordy", "X", "x"); /* not below 14.0\Word */
    assert_int_equal(fy_vm_convert(vm, 0, &o), 0);
    assert_string_equal(o.folder.data, "HKCU\\Software\\Microsoft\\Office\\14.0\\Wordy");

    fy_mobject_set(&o, FY_OBJ_KIND_FILE, "<Application Data>\\Microsoft\\Word11\\STARTUP", "a.dot",
                   0, NULL, 0);
    assert_int_equal(fy_vm_convert(vm, 0, &o), 0);
    assert_string_equal(o.folder.data, "<Application Data>\\Microsoft\\Word\\STARTUP");

    /* the built-in conversion calls the host on string values */
    set_sz(&o, "HKCU\\X", "P", "C:\\Old");
    size_t before = o.data.len;
    assert_int_equal(fy_vm_convert(vm, 1, &o), 0);
    assert_int_equal(o.data.len, before + 2);
    fy_mobject_free(&o);
    fy_vm_free(vm);
    fy_program_free(p);
}

/* A regex that backtracks catastrophically hits the match limit: a failure, not a hang. */
static void test_regex_limit(void **s)
{
    (void)s;
    int app = t_app(&ir, "x", "Applications|X");
    fy_ir_conversion *c = t_conv(&ir, app, "1", "2");
    fy_ir_conv_step *st = t_step(&ir, c, FY_CONV_SUBST);
    st->key = "HKCU\\X";
    st->name = "*";
    st->regex = "(a+)+$";
    st->replacement = "b";
    fy_program *p = t_build(&ir);
    fy_vm *vm = fy_vm_new(p, NULL);
    fy_vm_set_regex_limits(vm, 10000, 100);
    fy_mobject o = {0};
    set_sz(&o, "HKCU\\X", "v", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!");
    assert_int_equal(fy_vm_convert(vm, 0, &o), -1);
    assert_non_null(strstr(fy_vm_error(vm), "limit"));
    fy_mobject_free(&o);
    fy_vm_free(vm);
    fy_program_free(p);
}

/* Random rules and objects: the dispatch tree and the plain scan agree (t_classify). */
static void test_dispatch_random(void **s)
{
    (void)s;
    static const char *nodes[] = {"<My Documents>", "<My Documents>\\A", "<My Documents>\\A\\B",
                                  "<Desktop>", "C:\\Data", "*", "<My Documents>\\*\\B", "C:"};
    static const char *leaves[] = {"*", "*.doc", "*.DOC", "a.doc", "*.txt", "?.txt", "b*"};
    srand(7);
    int apps[2] = {t_app(&ir, "a", "Applications|A"), t_app(&ir, "b", "Applications|B")};
    for (int i = 0; i < 300; i++) {
        char pat[200];
        snprintf(pat, sizeof pat, "%s%s [%s]", nodes[rand() % 8], rand() % 2 ? "\\*" : "",
                 leaves[rand() % 7]);
        fy_stage st = (fy_stage)(1 + rand() % 3);
        fy_action act = st == U ? EXC : (fy_action)(1 + rand() % 2);
        if (strcmp(nodes[0], "*") == 0) continue;
        fy_ir_rule *r = t_rule(&ir, st, act, FY_OBJ_FILE, pat);
        if (st != T) r->app = apps[rand() % 2];
    }
    fy_program *p = t_build(&ir);
    fy_vm *vm = fy_vm_new(p, NULL);
    static const char *folders[] = {"<My Documents>", "<my documents>\\a", "<My Documents>\\A\\b",
                                    "<My Documents>\\X\\B", "<Desktop>", "C:\\Data\\x", "C:",
                                    "D:\\Data"};
    static const char *names[] = {"a.doc", "A.DOC", "x.txt", "b.txt", "bar", "noext", "q.Doc"};
    for (int i = 0; i < 5000; i++) {
        fy_object o = t_file(folders[rand() % 8], names[rand() % 7], 1);
        t_classify(vm, &o, NULL);
    }
    fy_vm_free(vm);
    fy_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_template_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_norecurse_age_attrib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usmt_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regex_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_random, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
