/* Helpers for tests that build IR by hand and run it through codegen, the loader and the VM. */
#ifndef FY_TEST_IR_H
#define FY_TEST_IR_H

#include "fy_codegen.h"
#include "fy_ir.h"
#include "fy_vm.h"

/* Appends a rule; `pattern` in USMT encoded form (files: "<My Documents>\\* [*.doc]" or a
 * plain path "<My Documents>\\*.doc"). Aborts the test on a bad pattern. */
fy_ir_rule *t_rule(fy_ir *ir, fy_stage stage, fy_action act, fy_objkind kind, const char *pattern);
void t_cond(fy_ir *ir, fy_ir_rule *r, fy_cond_kind kind, fy_cmp cmp, int64_t value);
int t_app(fy_ir *ir, const char *id, const char *content_path);
fy_ir_conversion *t_conv(fy_ir *ir, int app, const char *from, const char *to);
fy_ir_conv_step *t_step(fy_ir *ir, fy_ir_conversion *c, fy_conv_kind kind);

/* IR -> codegen -> serialise -> load (verified). Fails the test on any error. */
fy_program *t_build(fy_ir *ir);

/* A file object in a normalised folder. */
fy_object t_file(const char *folder, const char *name, uint64_t size);
fy_object t_regval(const char *key, const char *name);
fy_object t_regkey(const char *key);

/* Classifies and returns the decision; *rule gets the deciding rule index. */
fy_decision t_classify(fy_vm *vm, const fy_object *o, uint32_t *rule);

#endif
