/* The program: what ferryc writes and ferry runs. In memory it is a set of flat arrays
 * (one per section); on disk the same arrays in little-endian records (docs/program-format.md).
 * Every cross reference is an index, never a pointer; FY_NONE (0xFFFFFFFF) means "none".
 *
 * Ownership: a fy_program from fy_program_load owns all its arrays and compiled regexes;
 * fy_program_free releases them. The compiler builds one (compiler/fy_codegen.h), serialises
 * it with fy_program_serialize and loads it back before writing: only the loader hands out
 * verified programs. */
#ifndef FY_PROGRAM_H
#define FY_PROGRAM_H

#include "fy_common.h"
#include "fy_opcodes.h"

#define FY_FORMAT_MAJOR 1
#define FY_FORMAT_MINOR 0

/* Section types, in the order they are written. */
typedef enum {
    FY_SEC_STRINGS = 1,    /* count u32; offsets u32[count]; lengths u32[count]; UTF-8 bytes */
    FY_SEC_CONSTS = 2,     /* i64[] */
    FY_SEC_REGEX = 3,      /* fy_prog_regex[] */
    FY_SEC_CODE = 4,       /* fy_insn[] (8 bytes each) */
    FY_SEC_RULES = 5,      /* fy_prog_rule[] */
    FY_SEC_ROOTS = 6,      /* fy_prog_root[]: where the walker starts */
    FY_SEC_DNODES = 7,     /* fy_prog_dnode[]: dispatch prefix tree, node 0 = the root */
    FY_SEC_DREFS = 8,      /* u32[]: rule indices referenced by dispatch nodes and buckets */
    FY_SEC_DEXTS = 9,      /* fy_prog_dext[]: per-node extension buckets */
    FY_SEC_APPS = 10,      /* fy_prog_app[] */
    FY_SEC_COMPONENTS = 11,/* fy_prog_component[] */
    FY_SEC_VERSIONS = 12,  /* fy_prog_version[] */
    FY_SEC_CONVS = 13,     /* fy_prog_conv[] */
    FY_SEC_MAPS = 14,      /* fy_prog_map[]: map tables' directory */
    FY_SEC_MAPENTS = 15,   /* fy_prog_mapent[] */
    FY_SEC_POLICIES = 16,  /* fy_prog_policy[] */
    FY_SEC_SOURCES = 17,   /* u32[]: string indices of the source file names */
    FY_SEC_DEBUG = 18,     /* fy_prog_debug[] sorted by pc; strippable */
    FY_SEC_MAX = 18
} fy_section_type;

typedef struct fy_prog_regex {
    uint32_t pattern; /* STR */
    uint32_t flags;   /* PCRE2 compile options: only PCRE2_CASELESS (0x8) is allowed */
} fy_prog_regex;

/* FY_RULE_NODE_EXACT: the rule's node is literal and the dispatch tree holds all of it, so
 * reaching the rule through the tree proves its NODE test (for a rule that does not recurse,
 * when the object's folder ends at that tree node). The VM then starts the block after the
 * test. A wrong flag can only change decisions, never memory safety: the VM checks the
 * block's shape before it trusts the flag. */
enum { FY_RULE_DETECTION = 1u, FY_RULE_RECURSE = 2u, FY_RULE_KEYS = 4u, FY_RULE_NODE_EXACT = 8u };

typedef struct fy_prog_rule {
    uint8_t stage;  /* fy_stage (1..3) */
    uint8_t action; /* 1 include, 2 exclude */
    uint8_t kind;   /* 1 file, 2 registry */
    uint8_t flags;  /* FY_RULE_* */
    uint32_t app;   /* APPS index or FY_NONE */
    uint32_t component;   /* COMPONENTS index or FY_NONE */
    uint32_t specificity; /* stage 1 precedence: higher wins */
    uint32_t entry;       /* CODE byte offset of the rule's CLS block */
    uint32_t node;        /* STR: the rule's normalised node (location), for remaps */
    uint32_t dest;        /* STR: remap destination or FY_NONE */
} fy_prog_rule;

typedef struct fy_prog_root {
    uint8_t kind;    /* 1 file, 2 registry */
    uint8_t recurse; /* 1: walk below it */
    uint16_t reserved;
    uint32_t path;   /* STR: normalised literal folder / key ("<My Documents>", "HKCU\\Software\\X") */
} fy_prog_root;

/* The dispatch tree is at most this many levels below its root: rules whose literal prefix is
 * longer hang at that depth (their own NODE test still checks the rest). */
#define FY_DISPATCH_MAX_DEPTH 32

/* Dispatch prefix tree: literal path components, case-folded at compile time.
 * Rules whose node starts with a wildcard (or "*") hang on node 0. */
typedef struct fy_prog_dnode {
    uint32_t name;        /* STR: the component (upper-cased); FY_NONE for the root */
    uint32_t first_child; /* DNODES index; children are contiguous, sorted by name bytes */
    uint32_t nchildren;
    uint32_t first_ref;   /* DREFS index: rules anchored here that any file name may meet */
    uint32_t nrefs;
    uint32_t first_ext;   /* DEXTS index: buckets by extension, sorted by ext bytes */
    uint32_t nexts;
} fy_prog_dnode;

typedef struct fy_prog_dext {
    uint32_t ext;       /* STR: upper-cased extension without the dot ("PPTX") */
    uint32_t first_ref; /* DREFS index */
    uint32_t nrefs;
} fy_prog_dext;

enum { FY_APP_SYSTEM = 1u, FY_APP_SELECTED = 2u };

typedef struct fy_prog_app {
    uint32_t id, name, vendor, content_path; /* STR */
    uint32_t flags;                          /* FY_APP_* */
    uint32_t first_version, nversions;       /* VERSIONS range */
    uint32_t first_component, ncomponents;   /* COMPONENTS range */
} fy_prog_app;

enum { FY_COMP_DETECTION = 1u, FY_COMP_SELECTED = 2u };

typedef struct fy_prog_component {
    uint32_t app;          /* APPS index */
    uint32_t name, content_path; /* STR */
    uint32_t flags;        /* FY_COMP_* */
} fy_prog_component;

typedef struct fy_prog_version {
    uint32_t app;     /* APPS index */
    uint32_t version; /* STR */
    uint32_t detect;  /* CODE byte offset of a DET block, or FY_NONE */
} fy_prog_version;

typedef struct fy_prog_conv {
    uint32_t app;          /* APPS index or FY_NONE (template-level, always applies) */
    uint32_t from_version; /* STR or FY_NONE = any */
    uint32_t to_version;   /* STR or FY_NONE = any */
    uint32_t entry;        /* CODE byte offset of a CNV block */
} fy_prog_conv;

typedef struct fy_prog_map {
    uint32_t first, count; /* MAPENTS range */
} fy_prog_map;

typedef struct fy_prog_mapent {
    uint32_t from, to; /* STR */
} fy_prog_mapent;

typedef struct fy_prog_policy {
    uint32_t section, key, value; /* STR */
} fy_prog_policy;

typedef struct fy_prog_debug {
    uint32_t pc;   /* CODE byte offset */
    uint32_t file; /* STR */
    uint32_t line, col;
} fy_prog_debug;

typedef struct fy_program {
    uint16_t major, minor;
    uint32_t compiler_version; /* major<<16 | minor<<8 | patch */
    uint8_t source_hash[32];   /* BLAKE2b-256 over the sources (name, NUL, bytes, per file) */
    bool signed_ok;            /* loaded with a signature that verified */

    /* strings: str[i] is str_len[i] bytes, NUL-terminated in memory (not on disk) */
    char **str;
    uint32_t *str_len;
    uint32_t nstr;
    /* When set (the loader sets it), every str[i] points into this one block and
     * fy_program_free frees only it; when NULL, each str[i] is its own malloc'd block. */
    char *str_blob;

    int64_t *consts;
    uint32_t nconsts;
    fy_prog_regex *regex;
    uint32_t nregex;
    /* pcre2_code_8 * per regex, compiled at load (JIT'd where available) with
     * PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C plus the stored flags:
     * subjects need not be valid UTF-8. */
    void **regex_code;
    fy_insn *code;
    uint32_t ncode; /* instructions; byte offset = index * 8 */
    fy_prog_rule *rules;
    uint32_t nrules;
    fy_prog_root *roots;
    uint32_t nroots;
    fy_prog_dnode *dnodes;
    uint32_t ndnodes;
    uint32_t *drefs;
    uint32_t ndrefs;
    fy_prog_dext *dexts;
    uint32_t ndexts;
    fy_prog_app *apps;
    uint32_t napps;
    fy_prog_component *components;
    uint32_t ncomponents;
    fy_prog_version *versions;
    uint32_t nversions;
    fy_prog_conv *convs;
    uint32_t nconvs;
    fy_prog_map *maps;
    uint32_t nmaps;
    fy_prog_mapent *mapents;
    uint32_t nmapents;
    fy_prog_policy *policies;
    uint32_t npolicies;
    uint32_t *sources;
    uint32_t nsources;
    fy_prog_debug *debug; /* may be empty (stripped) */
    uint32_t ndebug;
} fy_program;

/* ---- loading: the only way a program reaches the VM. ---- */
typedef struct fy_load_opts {
    const uint8_t *trusted_key; /* 32-byte Ed25519 public key: require a valid signature */
} fy_load_opts;

/* Parses, checks and verifies a program image. On failure returns -1 and writes one
 * message (naming the section or the pc, and the source position where the debug table
 * has it) into err (err_size bytes). Never crashes on any input. */
int fy_program_load(const uint8_t *data, size_t size, const fy_load_opts *opts, fy_program **out,
                    char *err, size_t err_size);
int fy_program_load_file(const char *path, const fy_load_opts *opts, fy_program **out, char *err,
                         size_t err_size);
/* Frees every array (with free()), the strings (see str_blob), the compiled regexes and p
 * itself. Also usable on a program built by hand on the heap. NULL is allowed. */
void fy_program_free(fy_program *p);

/* The verifier alone (fy_program_load calls it): 0 or -1 with a message. */
int fy_program_verify(const fy_program *p, char *err, size_t err_size);

/* Serialises p (its arrays; regex_code and signed_ok ignored). With secret_key (64-byte
 * Ed25519 secret key) the image carries a signature. Result malloc'd. */
int fy_program_serialize(const fy_program *p, const uint8_t *secret_key, uint8_t **out,
                         size_t *out_size);
/* Writes atomically: temporary file, fsync, rename. */
int fy_program_write_file(const fy_program *p, const uint8_t *secret_key, const char *path,
                          char *err, size_t err_size);

/* The name of a section type ("CODE"), or "?" for an unknown type. */
const char *fy_prog_section_name(uint32_t type);

/* The source position of a pc from the debug table, or NULL when none. */
const fy_prog_debug *fy_program_debug_at(const fy_program *p, uint32_t pc);
/* Human-readable listing: header, tables, every instruction with its source position. */
void fy_program_disasm(const fy_program *p, fy_buf *out);
/* Looks up a string: "" for FY_NONE or out of range (loaded programs are verified). */
static inline const char *fy_prog_str(const fy_program *p, uint32_t i)
{
    return i < p->nstr ? p->str[i] : "";
}

#endif
