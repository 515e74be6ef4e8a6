#include "fy_ir.h"

#include <string.h>

void fy_ir_init(fy_ir *ir)
{
    memset(ir, 0, sizeof(*ir));
}

void fy_ir_free(fy_ir *ir)
{
    fy_arena_free(&ir->arena);
    memset(ir, 0, sizeof(*ir));
}

const char *fy_ir_intern_file(fy_ir *ir, const char *path)
{
    for (size_t i = 0; i < ir->nsources; i++)
        if (strcmp(ir->sources[i], path) == 0) return ir->sources[i];
    const char *s = fy_arena_strdup(&ir->arena, path);
    FY_APUSH(&ir->arena, ir->sources, ir->nsources, ir->sources_cap) = s;
    return s;
}
