/* The intermediate representation: one model of applications, components, rules,
 * conversions, content selections and policies that every front end lowers into, that the
 * checks (lint) read, and that codegen turns into a program.
 *
 * Ownership: everything reachable from a fy_ir lives in its arena (ir->arena) and is freed
 * by fy_ir_free. Front ends append with FY_APUSH(&ir->arena, ...).
 *
 * Normalised paths (what rules match against, see docs/templates.md):
 *  - files: "<Token>\rest" with the canonical token spelling of fy_tokens.h, e.g.
 *    "<My Documents>\Project Data"; or a drive "C:\Project Files"; or "*:" for every fixed
 *    disk; or "*" (rule location "anywhere the selection reaches"). Separators are '\',
 *    no trailing '\', no "." or ".." components, duplicate separators removed.
 *  - registry: "HKCU\Software\Vendor", "HKLM\...", "HKCR\..." (long root names folded to
 *    these); HKCR is stored as "HKCU\Software\Classes".
 */
#ifndef FY_IR_H
#define FY_IR_H

#include "fy_common.h"

typedef struct fy_pos {
    const char *file; /* interned in the arena; NULL = none */
    uint32_t line, col;
} fy_pos;

typedef enum { FY_OBJ_FILE = 1, FY_OBJ_REG = 2 } fy_objkind;
typedef enum { FY_ACT_INCLUDE = 1, FY_ACT_EXCLUDE = 2 } fy_action;

/* Who decides (templates.md, "The order in which everything decides"). */
typedef enum {
    FY_STAGE_CONTENT = 1,      /* appdef component patterns: most specific wins, exclude ties */
    FY_STAGE_TEMPLATE = 2,     /* SE.rul and [Registry Rules]: last match wins */
    FY_STAGE_UNCONDITIONAL = 3 /* appdef unconditional-exclude: beats everything */
} fy_stage;

/* An object pattern in USMT's encoded-location form: node [leaf]. */
typedef struct fy_ir_pattern {
    fy_objkind kind;
    char *node;   /* normalised folder or key; may hold * and ? within components */
    bool recurse; /* the node and everything below it (a trailing "\*" in USMT form) */
    char *leaf;   /* file-name or value-name glob; "*" = all; "" = the default value */
    bool keys;    /* registry: the pattern also selects the keys themselves (so empty keys move) */
} fy_ir_pattern;

typedef enum {
    FY_COND_SIZE = 1,   /* bytes */
    FY_COND_MODIFIED,   /* value = seconds since 1970-01-01 00:00 in the source's local time */
    FY_COND_NEWER_THAN, /* value = seconds; holds when now - mtime < value */
    FY_COND_OLDER_THAN, /* value = seconds; holds when now - mtime > value */
    FY_COND_ATTRIB,     /* attr_set must all be set, attr_clear all clear */
} fy_cond_kind;

typedef enum { FY_CMP_LT = 1, FY_CMP_LE, FY_CMP_EQ, FY_CMP_NE, FY_CMP_GE, FY_CMP_GT } fy_cmp;

/* Windows file attribute bits, as FILE_ATTRIBUTE_*. */
enum {
    FY_ATTR_READONLY = 0x1,
    FY_ATTR_HIDDEN = 0x2,
    FY_ATTR_SYSTEM = 0x4,
    FY_ATTR_ARCHIVE = 0x20,
    FY_ATTR_ENCRYPTED = 0x4000,
};

typedef struct fy_ir_cond {
    fy_cond_kind kind;
    fy_cmp cmp;
    int64_t value;
    uint32_t attr_set, attr_clear;
    fy_pos pos;
} fy_ir_cond;

typedef struct fy_ir_rule {
    fy_stage stage;
    fy_action action;
    fy_ir_pattern pat;
    fy_ir_cond *conds;
    size_t nconds, conds_cap;
    char *dest;     /* remap destination (normalised), include only; NULL = none */
    int app;        /* index into ir->apps, -1 for template rules */
    int component;  /* index into that app's components, -1 = the app's own */
    bool detection; /* applies only when the app is detected on the source */
    fy_pos pos;
} fy_ir_rule;

/* Detection expression tree. */
typedef enum {
    FY_DET_ANY = 1,
    FY_DET_ALL,
    FY_DET_NOT,
    FY_DET_REG_KEY,       /* path exists */
    FY_DET_REG_VALUE,     /* path + name exists */
    FY_DET_VALUE_EQUALS,  /* path + name, arg: data rendered as text equals (case-insensitive) */
    FY_DET_VALUE_CONTAINS,/* arg: substring, case-insensitive */
    FY_DET_VALUE_MATCHES, /* arg: PCRE2 regex */
    FY_DET_FILE,          /* path (file or folder) exists */
    FY_DET_FILE_VERSION,  /* path's version resource within [arg, arg2] (either may be NULL) */
} fy_det_kind;

typedef struct fy_ir_detect {
    fy_det_kind kind;
    char *path;  /* normalised registry key or file path */
    char *name;  /* value name ("" = default) */
    char *arg, *arg2;
    struct fy_ir_detect *kids;
    size_t nkids, kids_cap;
    fy_pos pos;
} fy_ir_detect;

typedef struct fy_ir_version {
    char *version; /* e.g. "11.0"; NULL: the application has no versions (appdef's top-level
                      detect:) and this entry only carries its detection */
    fy_ir_detect *detect; /* NULL: cannot be detected (only named by [Target Versions]) */
    fy_pos pos;
} fy_ir_version;

typedef struct fy_ir_component {
    char *name;         /* "Settings", "Data Files" */
    char *content_path; /* full: "Applications|Microsoft Office|Word|Settings" */
    bool detection;     /* false: this component opts out of detection */
    bool selected;      /* set by the .ptt resolution (checks) */
    fy_pos pos;
} fy_ir_component;

typedef enum {
    FY_CONV_MOVE_KEY = 1, /* from: key (branch) -> to: key */
    FY_CONV_RENAME_VALUE, /* key, name -> to */
    FY_CONV_MAP_VALUE,    /* key, name; data (as text) mapped through map[] */
    FY_CONV_SUBST,        /* key, name (glob); regex -> replacement over string data */
    FY_CONV_SET_TYPE,     /* key, name -> type (REG_*) */
    FY_CONV_MOVE_FILES,   /* from folder -> to folder (normalised file paths) */
    FY_CONV_DROP,         /* key, name: not carried to the new version; reason says why */
} fy_conv_kind;

typedef struct fy_ir_map_entry {
    char *from, *to;
} fy_ir_map_entry;

typedef struct fy_ir_conv_step {
    fy_conv_kind kind;
    char *key;  /* registry key (may hold wildcards) the step applies to */
    char *name; /* value-name glob; NULL = every value */
    char *from, *to;
    char *regex, *replacement;
    uint32_t type;
    char *reason; /* FY_CONV_DROP: why (for the log); NULL otherwise */
    fy_ir_map_entry *map;
    size_t nmap, map_cap;
    fy_pos pos;
} fy_ir_conv_step;

typedef struct fy_ir_conversion {
    int app;            /* -1: template-level (SE.cfg Move Branch), applies always */
    char *from_version; /* NULL = any */
    char *to_version;   /* NULL = any */
    fy_ir_conv_step *steps;
    size_t nsteps, steps_cap;
    fy_pos pos;
} fy_ir_conversion;

typedef struct fy_ir_app {
    char *id;           /* "microsoft-word" */
    char *name;         /* "Microsoft Word" */
    char *vendor;
    char *content_path; /* "Applications|Microsoft Office|Word" */
    bool system;        /* context: system (HKLM, ProgramData) rather than user */
    fy_ir_version *versions;
    size_t nversions, versions_cap;
    fy_ir_component *components;
    size_t ncomponents, components_cap;
    bool selected; /* some component selected (set by checks) */
    fy_pos pos;
} fy_ir_app;

/* One .ptt line. */
typedef struct fy_ir_select {
    char *path; /* "Applications|WinSCP" */
    bool deselect;
    fy_pos pos;
} fy_ir_select;

/* One .cfg Key=Value outside [Registry Rules], in file order. */
typedef struct fy_ir_policy {
    char *section, *key, *value;
    fy_pos pos;
    fy_pos value_pos;
} fy_ir_policy;

typedef struct fy_ir {
    fy_arena arena;
    fy_ir_app *apps;
    size_t napps, apps_cap;
    fy_ir_rule *rules; /* every rule, in source order: appdef rules then template rules */
    size_t nrules, rules_cap;
    fy_ir_conversion *convs;
    size_t nconvs, convs_cap;
    fy_ir_select *selects;
    size_t nselects, selects_cap;
    fy_ir_policy *policies;
    size_t npolicies, policies_cap;
    const char **sources; /* every source file read, in order (for the source hash) */
    size_t nsources, sources_cap;
    bool have_template; /* an SE.cfg was read */
} fy_ir;

void fy_ir_init(fy_ir *ir);
void fy_ir_free(fy_ir *ir);
const char *fy_ir_intern_file(fy_ir *ir, const char *path); /* adds to sources */

/* ---- front ends: each appends to ir and reports into diags. Return 0, or -1 when the
 * file could not be read at all (a diagnostic says why). Syntax errors are diagnostics,
 * not -1: the front end recovers at the next line and goes on. ---- */

/* SE.cfg; also reads SE.rul and SE.ptt with the same base name when they exist. */
int fy_fe_template(fy_ir *ir, const char *cfg_path, fy_diags *diags);
int fy_fe_cfg(fy_ir *ir, const char *path, fy_diags *diags);
int fy_fe_rul(fy_ir *ir, const char *path, fy_diags *diags);
int fy_fe_ptt(fy_ir *ir, const char *path, fy_diags *diags);
/* One appdef YAML file (one application). */
int fy_fe_appdef(fy_ir *ir, const char *path, fy_diags *diags);
/* Every *.yaml / *.yml in a folder, in name order. */
int fy_fe_appdef_dir(fy_ir *ir, const char *dir, fy_diags *diags);
/* One appdef from memory (len bytes, any encoding fy_text_decode accepts); name is the file
 * name that positions and diagnostics carry (interned). Used by fy_fe_appdef and the fuzzer;
 * returns 0 (faults are diagnostics). */
int fy_fe_appdef_mem(fy_ir *ir, const char *name, const void *data, size_t len,
                     fy_diags *diags);

/* Path normalisation shared by the front ends (compiler/fy_path.c). Turns a source path
 * with tokens in either spelling into the normalised form above. Returns the normalised
 * string (arena), or NULL with *err set and *err_off the byte offset in `in` of the fault
 * (for the column). */
char *fy_norm_file_path(fy_arena *a, const char *in, size_t n, const char **err, size_t *err_off);
char *fy_norm_reg_key(fy_arena *a, const char *in, size_t n, const char **err, size_t *err_off);
/* Parses USMT encoded location "Node [Leaf]" (or a plain path for files / keys). */
int fy_parse_pattern(fy_arena *a, fy_objkind kind, const char *in, size_t n, fy_ir_pattern *out,
                     const char **err, size_t *err_off);

/* The project's appdefs/ folder: $FERRY_APPDEFS, else beside the running program's folder
 * (a build tree inside the source tree), else the installed share/ferry/appdefs; malloc'd,
 * NULL when none is found. */
char *fy_default_appdefs_dir(void);

/* ---- checks (lint) and codegen ---- */
/* Runs every semantic check; resolves .ptt selections (marks components selected). */
void fy_check(fy_ir *ir, fy_diags *diags);

#endif
