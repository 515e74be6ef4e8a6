#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fy_test_ir.h"

fy_ir_rule *t_rule(fy_ir *ir, fy_stage stage, fy_action act, fy_objkind kind, const char *pattern)
{
    fy_ir_rule *r = &FY_APUSH(&ir->arena, ir->rules, ir->nrules, ir->rules_cap);
    r->stage = stage;
    r->action = act;
    r->app = -1;
    r->component = -1;
    r->pos = (fy_pos){"test", (uint32_t)ir->nrules, 1};
    const char *err = NULL;
    size_t off = 0;
    if (fy_parse_pattern(&ir->arena, kind, pattern, strlen(pattern), &r->pat, &err, &off)) {
        fprintf(stderr, "bad pattern '%s': %s at %zu\n", pattern, err, off);
        fail();
    }
    return r;
}

void t_cond(fy_ir *ir, fy_ir_rule *r, fy_cond_kind kind, fy_cmp cmp, int64_t value)
{
    fy_ir_cond *c = &FY_APUSH(&ir->arena, r->conds, r->nconds, r->conds_cap);
    c->kind = kind;
    c->cmp = cmp;
    c->value = value;
}

int t_app(fy_ir *ir, const char *id, const char *content_path)
{
    fy_ir_app *a = &FY_APUSH(&ir->arena, ir->apps, ir->napps, ir->apps_cap);
    a->id = fy_arena_strdup(&ir->arena, id);
    a->name = a->id;
    a->content_path = fy_arena_strdup(&ir->arena, content_path);
    a->selected = true;
    return (int)ir->napps - 1;
}

fy_ir_conversion *t_conv(fy_ir *ir, int app, const char *from, const char *to)
{
    fy_ir_conversion *c = &FY_APUSH(&ir->arena, ir->convs, ir->nconvs, ir->convs_cap);
    c->app = app;
    c->from_version = from ? fy_arena_strdup(&ir->arena, from) : NULL;
    c->to_version = to ? fy_arena_strdup(&ir->arena, to) : NULL;
    return c;
}

fy_ir_conv_step *t_step(fy_ir *ir, fy_ir_conversion *c, fy_conv_kind kind)
{
    fy_ir_conv_step *s = &FY_APUSH(&ir->arena, c->steps, c->nsteps, c->steps_cap);
    s->kind = kind;
    return s;
}

fy_program *t_build(fy_ir *ir)
{
    fy_diags d = {0};
    fy_check(ir, &d);
    for (size_t i = 0; i < d.n; i++)
        if (d.v[i].level == FY_DIAG_ERROR)
            fprintf(stderr, "%s:%u:%u: %s: %s [%s]\n", d.v[i].file ? d.v[i].file : "-", d.v[i].line,
                d.v[i].col, fy_diag_level_name(d.v[i].level), d.v[i].message, d.v[i].check);
    assert_int_equal(d.errors, 0);
    fy_codegen *cg = fy_codegen_run(ir, &d);
    assert_non_null(cg);
    uint8_t *img = NULL;
    size_t n = 0;
    assert_int_equal(fy_program_serialize(fy_codegen_program(cg), NULL, &img, &n), 0);
    fy_codegen_free(cg);
    fy_program *p = NULL;
    char err[512] = "";
    int rc = fy_program_load(img, n, NULL, &p, err, sizeof err);
    if (rc) fprintf(stderr, "load: %s\n", err);
    assert_int_equal(rc, 0);
    free(img);
    fy_diags_free(&d);
    return p;
}

fy_object t_file(const char *folder, const char *name, uint64_t size)
{
    fy_object o = {0};
    o.kind = FY_OBJ_KIND_FILE;
    o.folder = folder;
    o.folder_len = strlen(folder);
    o.name = name;
    o.name_len = strlen(name);
    o.size = size;
    return o;
}

fy_object t_regval(const char *key, const char *name)
{
    fy_object o = {0};
    o.kind = FY_OBJ_KIND_REGVAL;
    o.folder = key;
    o.folder_len = strlen(key);
    o.name = name;
    o.name_len = strlen(name);
    return o;
}

fy_object t_regkey(const char *key)
{
    fy_object o = t_regval(key, "");
    o.kind = FY_OBJ_KIND_REGKEY;
    return o;
}

fy_decision t_classify(fy_vm *vm, const fy_object *o, uint32_t *rule)
{
    fy_verdict v, w;
    fy_vm_classify(vm, o, &v);
    /* The dispatch tree must never change a verdict: compare with trying every rule. */
    fy_vm_classify_all(vm, o, &w);
    if (v.decision != w.decision || v.rule != w.rule)
        fprintf(stderr, "dispatch disagrees on %s \\ %s: %d/%u vs %d/%u\n", o->folder, o->name,
                v.decision, v.rule, w.decision, w.rule);
    assert_int_equal(v.decision, w.decision);
    assert_int_equal(v.rule, w.rule);
    if (rule) *rule = v.rule;
    return v.decision;
}
