/* libFuzzer target: arbitrary bytes as one appdef file, through the in-memory entry point
 * (fy_fe_appdef_mem: decoding, the YAML parser, schema checks, path normalisation, PCRE2
 * compilation, lowering). A second pass lowers the same bytes again into the same IR, which
 * exercises the cross-file checks (duplicate id, duplicate content path).
 * Seeds: fuzz/seeds/appdef/ (copies of appdefs/ and of the test cases). */
#include <stddef.h>
#include <stdint.h>

#include "fy_ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    fy_fe_appdef_mem(&ir, "fuzz.yaml", data, size, &d);
    fy_fe_appdef_mem(&ir, "again.yaml", data, size, &d);
    fy_diags_sort(&d);
    fy_diags_free(&d);
    fy_ir_free(&ir);
    return 0;
}
