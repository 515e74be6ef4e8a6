#include "fy_opcodes.h"

const fy_opinfo fy_opinfo_table[FY_OP_COUNT] = {
#define FY_X(name, a, b, c, k, doc) {#name, FY_OPND_##a, FY_OPND_##b, FY_OPND_##c, k, doc},
    FY_OPCODE_LIST(FY_X)
#undef FY_X
};

const char *const fy_opnd_names[FY_OPND_COUNT] = {
#define FY_X(name) #name,
    FY_OPND_LIST(FY_X)
#undef FY_X
};

const fy_hostinfo fy_hostinfo_table[FY_HOST_COUNT] = {
#define FY_X(name, k, doc) {#name, k, doc},
    FY_HOST_LIST(FY_X)
#undef FY_X
};
