/* Code generation: IR -> program. The result is an unverified in-memory program owned by
 * the fy_codegen result; serialise it (fy_program_serialize) and load it back to run it:
 * only the loader hands out verified programs. */
#ifndef FY_CODEGEN_H
#define FY_CODEGEN_H

#include "fy_ir.h"
#include "fy_program.h"

typedef struct fy_codegen fy_codegen;

/* Builds the program for ir (after fy_check). Returns NULL only on an internal limit
 * (a diagnostic says which). */
fy_codegen *fy_codegen_run(const fy_ir *ir, fy_diags *diags);
const fy_program *fy_codegen_program(const fy_codegen *cg);
void fy_codegen_free(fy_codegen *cg);

/* Compiles sources to a serialised program image (front ends, checks, codegen). The
 * convenience the tools and tests use. Returns 0, or -1 when diags has errors. */
int fy_compile_image(fy_ir *ir, fy_diags *diags, uint8_t **image, size_t *image_size);

/* Specificity of a pattern for stage-1 precedence (USMT): literal node components count
 * twice, a literal leaf once more. */
uint32_t fy_pattern_specificity(const fy_ir_pattern *p);

#endif
