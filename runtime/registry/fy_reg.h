/* ferry's registry interface: one API over several backends, so that code which reads or
 * changes registry keys does not care where they live.
 *
 * Backends (chosen when a root is opened; a Win32 backend for the live registry can be
 * added as another fy_reg_backend without touching callers, see fy_reg_backend.h):
 *   - hive:    an offline hive file (NTUSER.DAT, SOFTWARE, ...). Opening replays a dirty
 *              hive's logs into a temporary copy (fy_hive_recover) and reads it with
 *              libhivex (fy_hive_read); changes are kept in memory and fy_reg_commit writes
 *              the whole hive atomically with ferry's own writer (fy_hive_write_file), then
 *              removes the stale .LOG1/.LOG2 beside it.
 *   - regfile: a .reg file, read as the keys and values it leaves behind once imported into
 *              an empty registry; fy_reg_commit writes it back as a regedit v5 file.
 *
 * Keys are named by paths relative to the root ("Software\\Vendor\\App"), '\\'-separated,
 * compared case-insensitively as Windows does. Names are UTF-8. Value data is raw bytes as
 * stored (REG_SZ is UTF-16LE with its terminator); see the value helpers below to turn it
 * into text.
 *
 * Ownership: fy_reg_open_* return a root the caller closes with fy_reg_close (which frees
 * every key handle and discards uncommitted changes). Key handles belong to the root; the
 * tree backends' handles need no closing, but callers should still call fy_reg_key_close
 * so that other backends can free theirs. A handle to a key is invalid once that key or an
 * ancestor is deleted. Names and data returned by enumeration and get functions are
 * borrowed: valid until the next change to the registry or until the root is closed.
 * Functions that return char * or fill a fy_buf return malloc'd memory the caller frees. */
#ifndef FY_REG_H
#define FY_REG_H

#include "fy_common.h"
#include "fy_regtree.h"

typedef struct fy_reg fy_reg;
typedef struct fy_reg_key fy_reg_key; /* opaque handle to one key of an open root */

typedef struct fy_reg_value {
    const char *name; /* UTF-8; "" = the key's default value */
    uint32_t type;    /* FY_REG_SZ ... (any u32: hives hold custom types) */
    const uint8_t *data;
    uint32_t len;
} fy_reg_value;

enum {
    FY_REG_OPEN_CREATE = 1, /* a missing file is a new, empty root (written by commit) */
};

/* ---- opening and closing ---- */

/* Opens a hive file. Dirty hives: logs replayed first; a hive whose logs are missing is read
 * as it stands with a warning in `warnings` (may be NULL), as is damage that skipped keys
 * or values. Errors: "PATH: not a registry hive or damaged (...)" and the like. */
int fy_reg_open_hive(const char *path, unsigned flags, fy_diags *warnings, fy_reg **out, char *err,
                     size_t err_size);
/* Opens a .reg file (any dialect fy_regfile.h reads). Syntax errors go to `diags` with
 * line and column, and the open fails with err saying how many. */
int fy_reg_open_regfile(const char *path, unsigned flags, fy_diags *diags, fy_reg **out, char *err,
                        size_t err_size);
/* Either of the above, by the file's first bytes ("regf" = hive); a missing file (with
 * FY_REG_OPEN_CREATE) is a .reg file when its name ends in .reg, else a hive. */
int fy_reg_open(const char *path, unsigned flags, fy_diags *diags, fy_reg **out, char *err,
                size_t err_size);

/* Writes the changes (the whole hive / the whole .reg file) atomically; nothing is
 * written when nothing changed and the root existed. 0, or -1 with err (errno kept). */
int fy_reg_commit(fy_reg *r, char *err, size_t err_size);
void fy_reg_close(fy_reg *r);

const char *fy_reg_path(const fy_reg *r);         /* the file opened */
const char *fy_reg_backend_name(const fy_reg *r); /* "hive", "regfile" */
bool fy_reg_changed(const fy_reg *r);             /* changed since opened or committed */
/* The whole in-memory tree, for backends that keep one (hive, regfile), else NULL. Code
 * that only reads may walk it directly (fast export); changes must go through fy_reg_*. */
const fy_regtree *fy_reg_tree(const fy_reg *r);
/* Sets the root key's security descriptor (self-relative; subkeys without their own
 * inherit it when written). libhivex cannot read descriptors, so a user hive that ferry
 * rewrites must be given one that lets its user in (agent: fy_agent_user_hive_sd). -1 for
 * backends without a tree. */
int fy_reg_set_root_security(fy_reg *r, const void *sd, uint32_t len);

/* ---- keys ---- */

fy_reg_key *fy_reg_root(fy_reg *r);
/* The key at `path` below `base` (NULL = the root; "" = base itself), components compared
 * case-insensitively; NULL when missing. This is how to find a key by path. */
fy_reg_key *fy_reg_key_open(fy_reg *r, fy_reg_key *base, const char *path);
/* Same, creating missing keys (and parents) as regedit does; NULL with err on failure
 * (an empty component, a name over 255 characters). */
fy_reg_key *fy_reg_key_create(fy_reg *r, fy_reg_key *base, const char *path, char *err,
                              size_t err_size);
void fy_reg_key_close(fy_reg *r, fy_reg_key *k);
const char *fy_reg_key_name(fy_reg *r, fy_reg_key *k);    /* the root's name as stored */
uint64_t fy_reg_key_last_write(fy_reg *r, fy_reg_key *k); /* FILETIME, 0 = unknown */

/* Enumeration by index, 0..count-1 (subkeys in case-insensitive name order, values in
 * stored order). Names are borrowed. */
size_t fy_reg_subkey_count(fy_reg *r, fy_reg_key *k);
const char *fy_reg_subkey_name(fy_reg *r, fy_reg_key *k, size_t i);
size_t fy_reg_value_count(fy_reg *r, fy_reg_key *k);
int fy_reg_value_at(fy_reg *r, fy_reg_key *k, size_t i, fy_reg_value *out);

/* Lists as malloc'd arrays of malloc'd strings (free with fy_reg_strv_free). */
char **fy_reg_list_subkeys(fy_reg *r, fy_reg_key *k, size_t *n);
char **fy_reg_list_values(fy_reg *r, fy_reg_key *k, size_t *n);
void fy_reg_strv_free(char **v, size_t n);

/* 0 and *out filled (borrowed), or -1 when the key has no such value. */
int fy_reg_get_value(fy_reg *r, fy_reg_key *k, const char *name, fy_reg_value *out);
/* Sets (creates or replaces) a value; the data is copied. */
int fy_reg_set_value(fy_reg *r, fy_reg_key *k, const char *name, uint32_t type, const void *data,
                     uint32_t len, char *err, size_t err_size);
/* Deletes the key at `path` below `base` and everything under it. -1 with err when it is
 * missing or is the root. */
int fy_reg_delete_key(fy_reg *r, fy_reg_key *base, const char *path, char *err, size_t err_size);
/* 0, or -1 when there was no such value. */
int fy_reg_delete_value(fy_reg *r, fy_reg_key *k, const char *name);

/* ---- how .reg key paths map onto this root ---- */

/* A .reg path prefix and the key under this root it stands for ("" = the root). */
typedef struct fy_reg_map {
    const char *prefix;  /* "HKEY_CURRENT_USER", "HKEY_LOCAL_MACHINE\\SOFTWARE", ... */
    const char *subpath; /* "", or e.g. "Classes" for HKEY_CLASSES_ROOT on SOFTWARE */
} fy_reg_map;

/* The mappings of a hive whose kind is known (from the name in its base block, else its
 * file name; see docs/registry.md): maps[0] is the prefix export writes, the others are
 * aliases import accepts. 0 (and *maps NULL) when the kind is not known, and for .reg
 * roots, whose keys carry their absolute paths. */
size_t fy_reg_maps(const fy_reg *r, const fy_reg_map **maps);
/* The prefix export writes: maps[0], else "HKEY_LOCAL_MACHINE\\<FILE NAME>" for a hive of
 * unknown kind, else "" for .reg roots. Borrowed. */
const char *fy_reg_default_prefix(const fy_reg *r);
/* The mappings for a hive by name alone (base-block name, file path; either may be NULL). */
size_t fy_reg_maps_for_names(const char *base_block_name, const char *file_path,
                             const fy_reg_map **maps);
/* The full form of a root key name: HKLM -> HKEY_LOCAL_MACHINE, HKCU, HKCR, HKU, HKCC;
 * case-insensitive; NULL when `name` (n bytes) is not a root key name. Static string. */
const char *fy_reg_root_key_name(const char *name, size_t n);

/* ---- value helpers ---- */

/* "REG_SZ", "REG_MULTI_SZ", ... for types 0 to 11; "REG_UNKNOWN" for others. Static. */
const char *fy_reg_type_name(uint32_t type);
/* Value as text: REG_SZ / EXPAND_SZ / LINK -> the string (up to its first NUL); DWORD,
 * DWORD_BIG_ENDIAN, QWORD -> unsigned decimal (when the data has that size); MULTI_SZ ->
 * the items joined by '\n'; anything else -> lowercase hex bytes joined by ','. */
char *fy_reg_value_text(uint32_t type, const uint8_t *data, uint32_t len);
/* REG_SZ-style data -> UTF-8 up to the first NUL (bad surrogates become U+FFFD). */
char *fy_reg_sz_decode(const uint8_t *data, uint32_t len);
/* REG_MULTI_SZ data -> its items. Decoded from the raw bytes: items are split at NUL
 * characters, and the trailing empty items (the list's terminator) are dropped, so
 * "a\0b\0\0" gives {"a","b"} and "" or "\0\0" give none; empty items in the middle stay. */
char **fy_reg_multi_sz_decode(const uint8_t *data, uint32_t len, size_t *n);
/* UTF-8 -> REG_SZ data (UTF-16LE plus terminator) appended to out; -1 on invalid UTF-8. */
int fy_reg_sz_encode(const char *s, fy_buf *out);
/* Items -> REG_MULTI_SZ data (each item NUL-terminated, then one more NUL). */
int fy_reg_multi_sz_encode(char *const *items, size_t n, fy_buf *out);
/* Text -> data of a type: the inverse of fy_reg_value_text. DWORD/QWORD accept decimal or
 * 0x-hex and are range-checked; MULTI_SZ splits at '\n'; BINARY and other types accept hex
 * bytes separated by ',' or spaces. 0, or -1 with err. */
int fy_reg_value_from_text(uint32_t type, const char *text, fy_buf *out, char *err,
                           size_t err_size);

#endif
