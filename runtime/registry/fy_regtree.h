/* An in-memory registry tree: what a hive or a .reg file is read into, changed, and written
 * back from. The hive writer (fy_hive.h) writes a whole hive from one tree in one pass.
 *
 * Names are UTF-8 (converted from the hive's Latin-1 "compressed" or UTF-16LE names);
 * value data is kept as raw bytes exactly as stored (REG_SZ data stays UTF-16LE).
 * Subkeys are kept sorted case-insensitively (as Windows compares key names: upper-cased
 * UTF-16), so lookups are binary searches and the writer's lh lists come out sorted.
 *
 * Ownership: a tree owns every key, value and byte below its root; fy_regtree_free. */
#ifndef FY_REGTREE_H
#define FY_REGTREE_H

#include "fy_common.h"

enum {
    FY_REG_NONE = 0,
    FY_REG_SZ = 1,
    FY_REG_EXPAND_SZ = 2,
    FY_REG_BINARY = 3,
    FY_REG_DWORD = 4,
    FY_REG_DWORD_BIG_ENDIAN = 5,
    FY_REG_LINK = 6,
    FY_REG_MULTI_SZ = 7,
    FY_REG_RESOURCE_LIST = 8,
    FY_REG_FULL_RESOURCE_DESCRIPTOR = 9,
    FY_REG_RESOURCE_REQUIREMENTS_LIST = 10,
    FY_REG_QWORD = 11,
};

typedef struct fy_regval {
    char *name;    /* "" = the default value */
    uint32_t type; /* any u32: hives hold custom types too */
    uint8_t *data;
    uint32_t len;
} fy_regval;

typedef struct fy_regkey {
    char *name;
    struct fy_regkey *parent;
    struct fy_regkey **sub; /* sorted by fy_regname_cmp */
    size_t nsub, sub_cap;
    fy_regval *val; /* in insertion order (Windows keeps value lists unsorted) */
    size_t nval, val_cap;
    uint64_t last_write; /* FILETIME */
    uint8_t *sd;         /* security descriptor (self-relative), or NULL: inherit parent's */
    uint32_t sd_len;
    uint8_t *class_name; /* raw UTF-16LE bytes, or NULL */
    uint32_t class_len;
    uint16_t nk_flags; /* flags from the nk cell worth keeping (e.g. KEY_SYM_LINK 0x10) */
} fy_regkey;

typedef struct fy_regtree {
    fy_regkey *root; /* root key name as in the hive (e.g. "ROOT", "CsiTool-CreateHive-{...}") */
    char *hive_name; /* file name stored in the base block (UTF-8), may be NULL */
} fy_regtree;

/* Compares key or value names as Windows does (case-insensitive). */
int fy_regname_cmp(const char *a, const char *b);

fy_regtree *fy_regtree_new(const char *root_name);
void fy_regtree_free(fy_regtree *t);

/* Child by name (case-insensitive), or NULL. */
fy_regkey *fy_regkey_child(const fy_regkey *k, const char *name);
/* Child by name, created (empty, last_write = now) when missing. */
fy_regkey *fy_regkey_child_create(fy_regkey *k, const char *name);
/* Key by path relative to k ("Software\\Vendor", '\\'-separated; "" = k), or NULL. */
fy_regkey *fy_regkey_find(const fy_regkey *k, const char *path);
/* Same, creating missing keys as regedit does. */
fy_regkey *fy_regkey_create_path(fy_regkey *k, const char *path);
/* Removes and frees child `name` and everything below it; 0, or -1 when absent. */
int fy_regkey_delete_child(fy_regkey *k, const char *name);
/* Unlinks and frees k itself (not the root). */
void fy_regkey_delete(fy_regkey *k);

fy_regval *fy_regkey_value(const fy_regkey *k, const char *name);
/* Sets (replacing) a value; copies data. */
fy_regval *fy_regkey_set_value(fy_regkey *k, const char *name, uint32_t type, const void *data,
                               uint32_t len);
int fy_regkey_delete_value(fy_regkey *k, const char *name);

/* Full path from the root, without the root's name ("Software\\Vendor"); malloc'd. */
char *fy_regkey_path(const fy_regkey *k);
/* Deep copy of k and its subtree (parent of the copy is NULL). */
fy_regkey *fy_regkey_clone(const fy_regkey *k);
/* Counts keys and values below and including k. */
void fy_regkey_count(const fy_regkey *k, size_t *keys, size_t *values);

#endif
