/* The instruction set: one line per opcode. This X-macro list generates the enum, the
 * names, the disassembler's operand printing and the verifier's operand table.
 *
 * An instruction is 8 bytes, little-endian: op (u8), a (u8), b (u16), c (u32).
 * Jump targets are byte offsets from the start of the code section: they must be a
 * multiple of 8, lie inside the section, and be greater than the jump's own offset.
 *
 * The machine: `acc` (a boolean, false at block entry), four string registers s0..s3
 * (loaded from the string table), the value register `v` (registry data loaded by a host
 * call, or the data of the object being converted), and the version register.
 * Every block ends in HALT; its result is acc.
 *
 * Block kinds: CLS classifies one object (rules), DET detects an application version,
 * CNV converts one object on injection. The last column says where an opcode may appear.
 *
 *   X(NAME,   a-kind, b-kind, c-kind, kinds,        what it does) */
#ifndef FY_OPCODES_H
#define FY_OPCODES_H

#include <stdint.h>

/* operand kinds */
#define FY_OPND_LIST(X)                                                                        \
    X(NONE)  /* must be 0 */                                                                   \
    X(BOOL)  /* 0 or 1 */                                                                      \
    X(SREG)  /* string register 0..3 */                                                        \
    X(STR)   /* index into the string table */                                                 \
    X(CONST) /* index into the 64-bit constant table */                                        \
    X(REGEX) /* index into the regex table */                                                  \
    X(MAP)   /* index into the map-table directory */                                          \
    X(JUMP)  /* forward byte offset into the code section */                                   \
    X(CMP)   /* comparison 1..6: < <= == != >= > */                                            \
    X(KIND)  /* object kind: 1 file, 2 registry value, 3 registry key */                       \
    X(TYPE)  /* registry value type 0..11 */                                                   \
    X(HOST)  /* host call number (fy_host.h) */                                                \
    X(MASK)  /* any bit mask */

#define FY_K_CLS 1u
#define FY_K_DET 2u
#define FY_K_CNV 4u
#define FY_K_ALL 7u

#define FY_OPCODE_LIST(X)                                                                      \
    X(HALT, NONE, NONE, NONE, FY_K_ALL, "end the block; its result is acc")                    \
    X(JMP, NONE, NONE, JUMP, FY_K_ALL, "jump to c")                                            \
    X(JT, NONE, NONE, JUMP, FY_K_ALL, "jump to c when acc is true")                            \
    X(JF, NONE, NONE, JUMP, FY_K_ALL, "jump to c when acc is false")                           \
    X(SET, BOOL, NONE, NONE, FY_K_ALL, "acc = a")                                              \
    X(NOT, NONE, NONE, NONE, FY_K_ALL, "acc = !acc")                                           \
    X(LDS, SREG, NONE, STR, FY_K_ALL, "s[a] = string c")                                       \
    X(HOST, HOST, NONE, NONE, FY_K_DET | FY_K_CNV, "host call a on s0..s3; sets acc (and v)")  \
    X(KIND, KIND, NONE, NONE, FY_K_CLS | FY_K_CNV, "acc = the object is of kind a")            \
    X(NODE, MASK, NONE, STR, FY_K_CLS | FY_K_CNV,                                              \
      "acc = folder/key matches glob c (a bit 1: or lies below; bit 2: c has no wildcard)")    \
    X(LEAF, NONE, NONE, STR, FY_K_CLS | FY_K_CNV, "acc = the object's name matches glob c")    \
    X(SIZE, CMP, NONE, CONST, FY_K_CLS, "acc = size <a> const c")                              \
    X(MTIME, CMP, NONE, CONST, FY_K_CLS, "acc = modification time (source local) <a> const c") \
    X(AGE, CMP, NONE, CONST, FY_K_CLS, "acc = (now - modification time) <a> const c seconds")  \
    X(ATTR, NONE, MASK, MASK, FY_K_CLS, "acc = attributes have all bits of c and none of b")   \
    X(VEQ, NONE, NONE, STR, FY_K_DET | FY_K_CNV, "acc = v as text equals string c (no case)")  \
    X(VHAS, NONE, NONE, STR, FY_K_DET | FY_K_CNV, "acc = v as text contains string c")         \
    X(VMATCH, NONE, NONE, REGEX, FY_K_DET | FY_K_CNV, "acc = regex c matches v as text")       \
    X(VERGE, NONE, NONE, STR, FY_K_DET, "acc = version register >= version string c")          \
    X(VERLE, NONE, NONE, STR, FY_K_DET, "acc = version register <= version string c")          \
    X(XKEY, NONE, NONE, NONE, FY_K_CNV, "object key: prefix s0 becomes s1 (move branch)")      \
    X(XNAME, NONE, NONE, NONE, FY_K_CNV, "object value name becomes s0")                       \
    X(XTYPE, NONE, NONE, TYPE, FY_K_CNV, "object data converted to type c")                    \
    X(XMAP, NONE, NONE, MAP, FY_K_CNV, "object data mapped through table c; acc = mapped")     \
    X(XSUBST, NONE, NONE, REGEX, FY_K_CNV, "every match of regex c in string data -> s0")      \
    X(XFILE, NONE, NONE, NONE, FY_K_CNV, "object file folder: prefix s0 becomes s1")           \
    X(XDROP, NONE, NONE, STR, FY_K_CNV, "the object is not injected; string c says why")

typedef enum {
#define FY_X(name) FY_OPND_##name,
    FY_OPND_LIST(FY_X)
#undef FY_X
        FY_OPND_COUNT
} fy_opnd_kind;

typedef enum {
#define FY_X(name, a, b, c, k, doc) FY_OP_##name,
    FY_OPCODE_LIST(FY_X)
#undef FY_X
        FY_OP_COUNT
} fy_opcode;

typedef struct fy_opinfo {
    const char *name;
    uint8_t a, b, c; /* fy_opnd_kind */
    uint8_t kinds;   /* FY_K_* mask */
    const char *doc;
} fy_opinfo;

extern const fy_opinfo fy_opinfo_table[FY_OP_COUNT];
extern const char *const fy_opnd_names[FY_OPND_COUNT];

/* Host calls: numbered, each allowed in some block kinds. */
#define FY_HOST_LIST(X)                                                                        \
    X(REG_KEY_EXISTS, FY_K_DET, "acc = registry key s0 exists")                                \
    X(REG_VALUE_GET, FY_K_DET, "acc = value s1 of key s0 exists; v = its data")                \
    X(FILE_EXISTS, FY_K_DET, "acc = file or folder s0 exists")                                 \
    X(FILE_VERSION, FY_K_DET, "acc = file s0 has a version resource; version register = it")   \
    X(TRANSLATE_PATHS, FY_K_CNV, "rewrite the run's moved folders inside the object's data")   \
    X(MAP_DOMAIN, FY_K_CNV, "rewrite OLDDOMAIN\\user to NEWDOMAIN\\user in the object's data")

typedef enum {
#define FY_X(name, k, doc) FY_HOST_##name,
    FY_HOST_LIST(FY_X)
#undef FY_X
        FY_HOST_COUNT
} fy_hostcall;

typedef struct fy_hostinfo {
    const char *name;
    uint8_t kinds;
    const char *doc;
} fy_hostinfo;

extern const fy_hostinfo fy_hostinfo_table[FY_HOST_COUNT];

typedef struct fy_insn {
    uint8_t op, a;
    uint16_t b;
    uint32_t c;
} fy_insn;

#define FY_INSN_SIZE 8u

#endif
