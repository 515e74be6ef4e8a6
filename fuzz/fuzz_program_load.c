/* libFuzzer target: the program loader (header, CRC, section table, sections, verifier,
 * regex compilation) and, for what loads, the disassembler. Seeds:
 * fuzz/seeds/program_load/ (written by `test_format --generate .`). The CRC stops most
 * mutations early, so the target also retries each input with its CRC fixed up: that
 * lets the fuzzer reach the section readers and the verifier. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fy_program.h"

#define OFF_CRC 28 /* docs/program-format.md */

static void load_and_disasm(const uint8_t *data, size_t size)
{
    fy_program *p = NULL;
    char err[256];
    if (fy_program_load(data, size, NULL, &p, err, sizeof err) == 0) {
        fy_buf b = {0};
        fy_program_disasm(p, &b);
        fy_buf_free(&b);
        fy_program_free(p);
    } else if (err[0] == 0) {
        abort(); /* every rejection must say why */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_and_disasm(data, size);
    if (size < OFF_CRC + 4 || size > UINT32_MAX) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    uLong crc = crc32_z(0L, Z_NULL, 0);
    crc = crc32_z(crc, copy, OFF_CRC);
    crc = crc32_z(crc, copy + OFF_CRC + 4, size - OFF_CRC - 4);
    fy_put_le32(copy + OFF_CRC, (uint32_t)crc);
    load_and_disasm(copy, size);
    free(copy);
    return 0;
}
