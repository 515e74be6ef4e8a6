/* The VM: runs a verified program's blocks on one object at a time. No I/O of its own:
 * detection and some conversions ask the host through a numbered table of host calls
 * (FY_HOST_LIST in fy_opcodes.h) that the runtime fills in.
 *
 * One fy_vm per thread. It owns scratch buffers and PCRE2 match data made at creation,
 * so classifying an object allocates nothing. */
#ifndef FY_VM_H
#define FY_VM_H

#include "fy_program.h"

enum { FY_OBJ_KIND_FILE = 1, FY_OBJ_KIND_REGVAL = 2, FY_OBJ_KIND_REGKEY = 3 };

/* An object to classify. Paths are normalised (fy_ir.h): folder "<My Documents>\\Sub",
 * key "HKCU\\Software\\X". A registry key object has folder = the key's own path and an
 * empty name. Borrowed: the VM does not keep pointers after the call. */
typedef struct fy_object {
    uint8_t kind;
    const char *folder;
    size_t folder_len;
    const char *name;
    size_t name_len;
    uint64_t size;
    int64_t mtime;       /* seconds since 1970 UTC */
    int64_t mtime_local; /* the same instant as wall-clock seconds in the source's time zone */
    uint32_t attrib;     /* FILE_ATTRIBUTE_* */
} fy_object;

/* An object being converted on injection: owned buffers the VM rewrites. */
typedef struct fy_mobject {
    uint8_t kind;
    fy_buf folder; /* key path or file folder, NUL-terminated */
    fy_buf name;   /* value or file name, NUL-terminated */
    uint32_t type; /* registry value type */
    fy_buf data;   /* raw value data */
    bool dropped;
} fy_mobject;

void fy_mobject_set(fy_mobject *o, uint8_t kind, const char *folder, const char *name,
                    uint32_t type, const void *data, size_t len);
void fy_mobject_free(fy_mobject *o);

/* Host call arguments. */
typedef struct fy_vm_call {
    const char *s[4];  /* string registers */
    uint32_t *vtype;   /* REG_VALUE_GET: out, the value's type */
    fy_buf *v;         /* REG_VALUE_GET: out, the value's data (reset by the VM) */
    fy_buf *version;   /* FILE_VERSION: out, dotted version text (reset by the VM) */
    fy_mobject *obj;   /* CNV host calls: the object being converted */
} fy_vm_call;

/* Returns 1 (acc = true), 0 (false) or -1 (a failure the host has logged; acc = false). */
typedef int (*fy_host_fn)(void *ctx, fy_vm_call *call);

typedef struct fy_vm_host {
    void *ctx;
    fy_host_fn fn[FY_HOST_COUNT]; /* a NULL entry answers false */
} fy_vm_host;

typedef enum { FY_DECIDE_NONE = 0, FY_DECIDE_INCLUDE = 1, FY_DECIDE_EXCLUDE = 2 } fy_decision;

typedef struct fy_verdict {
    fy_decision decision;
    uint32_t rule;    /* the deciding rule (RULES index), FY_NONE when none */
    uint32_t dest;    /* STR: remap destination folder, FY_NONE when none */
    uint32_t node;    /* STR: the deciding rule's node, to take the relative path from */
    uint32_t matched; /* how many rules matched (for trace logs) */
} fy_verdict;

typedef struct fy_vm fy_vm;

/* The program must outlive the VM. */
fy_vm *fy_vm_new(const fy_program *p, const fy_vm_host *host);
void fy_vm_free(fy_vm *vm);

/* Run parameters. `now` counts ages (newer-than/older-than). detected[app] says whether
 * the app was detected on the source (NULL: every app counts as detected). */
void fy_vm_set_now(fy_vm *vm, int64_t now);
void fy_vm_set_detected(fy_vm *vm, const uint8_t *detected);
/* Regex limits (defaults: 1,000,000 match steps, depth 1,000). */
void fy_vm_set_regex_limits(fy_vm *vm, uint32_t match_limit, uint32_t depth_limit);

/* Decides one object: the content selection (stage 1, most specific pattern per app, exclude
 * wins ties, included by any app = included), then the template's rules (stage 2, last match
 * wins), then unconditional excludes (stage 3). Uses the dispatch tree, so only rules that
 * can apply are run. Returns 0. */
int fy_vm_classify(fy_vm *vm, const fy_object *obj, fy_verdict *out);
/* The same without the dispatch tree (every rule is tried): the reference the tests compare
 * the fast path against. */
int fy_vm_classify_all(fy_vm *vm, const fy_object *obj, fy_verdict *out);

/* Runs the detection block of version v (VERSIONS index): 1 detected, 0 not, -1 failure
 * (message in fy_vm_error). */
int fy_vm_detect_version(fy_vm *vm, uint32_t v);
/* Detects app a: the index of its first detected version (in the order the appdef lists
 * them, newest last: the LAST detected version wins), or FY_NONE. */
uint32_t fy_vm_detect_app(fy_vm *vm, uint32_t a);

/* Runs conversion block c (CONVS index) on obj. Returns 0, or -1 (a regex limit, a bad type
 * conversion: fy_vm_error says which; obj is left as it was before the block). */
int fy_vm_convert(fy_vm *vm, uint32_t c, fy_mobject *obj);

/* The last failure's message ("" when none). */
const char *fy_vm_error(const fy_vm *vm);
/* Why the last conversion dropped its object (the appdef's reason; "" when none). */
const char *fy_vm_drop_reason(const fy_vm *vm);

/* Compares dotted version strings numerically ("11.0.8173" < "16.0"). */
int fy_version_cmp(const char *a, const char *b);

/* Renders registry data as text the way VEQ/VHAS/VMATCH/XMAP see it: REG_SZ/EXPAND_SZ as
 * UTF-8 (up to the first NUL), MULTI_SZ as strings joined by '\n', DWORD/QWORD as decimal,
 * anything else as lowercase hex. Appends to out (NUL-terminated). */
void fy_reg_data_text(uint32_t type, const uint8_t *data, size_t len, fy_buf *out);

#endif
