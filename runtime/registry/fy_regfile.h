/* .reg files, as regedit reads and writes them.
 *
 * Read: "Windows Registry Editor Version 5.00" and "REGEDIT4" headers; UTF-16LE with BOM
 * (as regedit writes), UTF-8 with or without BOM; REGEDIT4 files that are not valid UTF-8
 * are read as Windows-1252 ("ANSI"); CRLF or LF line ends. Lines: [KEY], [-KEY] (delete
 * the key and everything below), "name"=VALUE, @=VALUE (the default value), "name"=-
 * (delete the value), ; comments, blank lines. VALUE: "string" (escapes \\ and \"),
 * dword:xxxxxxxx, hex:bytes (REG_BINARY), hex(N):bytes for any type N in hex (hex(2)
 * REG_EXPAND_SZ and hex(7) REG_MULTI_SZ are UTF-16LE bytes in v5 files and ANSI bytes in
 * REGEDIT4 files, converted to UTF-16LE). Hex lists may continue over lines: a trailing
 * backslash, then the next line (leading blanks skipped). Key paths are absolute
 * (HKEY_LOCAL_MACHINE\..., HKLM\... accepted) or relative to the root of the hive they are
 * imported into ("\Software\x" as hivexregedit writes, or "Software\x").
 *
 * Write: regedit's exact v5 format (UTF-16LE with BOM, CRLF, hex values wrapped at 80
 * columns with "\" and a two-space indent) or REGEDIT4 (UTF-8, no BOM). Strings are written
 * as "text" only when that form gives back the same bytes; otherwise as hex(1):, so every
 * value round-trips exactly.
 *
 * Ownership: a parsed fy_regfile owns its ops and their strings and data (its arena);
 * fy_regfile_free. A writer owns its buffer (and its temporary file) until
 * fy_regfile_writer_close / _abort frees it. */
#ifndef FY_REGFILE_H
#define FY_REGFILE_H

#include "fy_common.h"
#include "fy_reg.h"
#include "fy_regtree.h"

typedef enum { FY_REGFILE_V5 = 0, FY_REGFILE_REGEDIT4 = 1 } fy_regfile_format;

typedef enum {
    FY_REGOP_KEY,          /* [KEY]: create it (and parents) if missing */
    FY_REGOP_DELETE_KEY,   /* [-KEY] */
    FY_REGOP_VALUE,        /* "name"=data under the last [KEY] */
    FY_REGOP_DELETE_VALUE, /* "name"=- */
} fy_regop_kind;

typedef struct fy_regop {
    fy_regop_kind kind;
    const char *key;  /* as written, without '[', '-', ']' and trailing '\\' ("\\" = root) */
    const char *name; /* value ops: "" = default value */
    uint32_t type;
    const uint8_t *data; /* raw bytes as a hive stores them (REG_SZ: UTF-16LE + NUL) */
    uint32_t len;
    uint32_t line, col; /* of the key line or the value's first character */
} fy_regop;

typedef struct fy_regfile {
    fy_regfile_format format;
    bool utf16; /* the file was UTF-16 */
    fy_regop *ops;
    size_t nops, cap;
    fy_arena arena;
} fy_regfile;

/* Parses a whole file's bytes. Errors and warnings go to d as FILE:LINE:COL (check names
 * "reg-syntax", "reg-encoding", "reg-escape"); parsing goes on after an error to report
 * more (up to 50). Returns 0 and *out, or -1 (and *out NULL) when there was any error. */
int fy_regfile_parse(const uint8_t *bytes, size_t n, const char *file, fy_regfile **out,
                     fy_diags *d);
/* Reads and parses the file at path (an unreadable file is one error in d). */
int fy_regfile_load(const char *path, fy_regfile **out, fy_diags *d);
void fy_regfile_free(fy_regfile *f);

/* True when key path `key` (as in an op) is written relative to a hive's root. */
bool fy_regfile_key_is_relative(const char *key);

/* Applies the ops, in order, to an open registry root. Absolute key paths are mapped onto
 * the root through a prefix: `prefix` when given (keys outside it are errors); else, for a
 * hive, the rule of docs/registry.md (the hive's own mappings from fy_reg_maps when every
 * key lies under them; for a hive of unknown kind, the longest known root prefix under
 * which all the file's keys lie). Keys relative to the root need no prefix; a .reg root
 * takes paths as they are. Missing parents are created, deleting a missing key or value is
 * not an error (as regedit). Errors go to d with the op's line and column. Returns 0, or
 * -1 when any op failed; the root is then half-changed: close it without committing. */
int fy_regfile_apply(const fy_regfile *f, fy_reg *r, const char *prefix, const char *file,
                     fy_diags *d);
/* The prefix fy_regfile_apply would use (malloc'd; "" when all keys are relative), or NULL
 * with an error in d. */
char *fy_regfile_choose_prefix(const fy_regfile *f, const fy_reg *r, const char *file, fy_diags *d);

/* ---- writing ---- */

typedef struct fy_regfile_writer fy_regfile_writer;

/* To a file, atomically: PATH.tmp-XXXXXX beside it, renamed over PATH on close. */
fy_regfile_writer *fy_regfile_writer_file(const char *path, fy_regfile_format fmt, char *err,
                                          size_t err_size);
/* To an open descriptor (not closed; e.g. stdout). */
fy_regfile_writer *fy_regfile_writer_fd(int fd, fy_regfile_format fmt);
/* Appended to a buffer. */
fy_regfile_writer *fy_regfile_writer_mem(fy_buf *out, fy_regfile_format fmt);

/* BOM (v5) and the header line, then a blank line. */
void fy_regfile_write_header(fy_regfile_writer *w);
/* "[PATH]" or "[-PATH]"; the key's values follow; the blank line that ends a key's block is
 * written by the next key header or by close. */
void fy_regfile_write_key(fy_regfile_writer *w, const char *path, bool delete);
void fy_regfile_write_value(fy_regfile_writer *w, const char *name, uint32_t type,
                            const uint8_t *data, uint32_t len);
void fy_regfile_write_delete_value(fy_regfile_writer *w, const char *name);
/* Key k as PATH, its values, then every key below it (subkeys in tree order), as regedit
 * exports. Keys and values whose names cannot be written in a .reg file (a line break in
 * the name, a backslash or an empty key name) are skipped with a warning in `warnings`
 * (may be NULL). Returns the number skipped. */
size_t fy_regfile_write_tree(fy_regfile_writer *w, const fy_regkey *k, const char *path,
                             fy_diags *warnings);
/* Every op of a parsed file, in order, in the writer's format. */
void fy_regfile_write_ops(fy_regfile_writer *w, const fy_regfile *f);
/* Ends the last key block, flushes, and for a file writer fsyncs and renames. Frees w.
 * 0, or -1 with err (errno kept) on any write error; a file writer then leaves nothing. */
int fy_regfile_writer_close(fy_regfile_writer *w, char *err, size_t err_size);
/* Frees w; a file writer removes its temporary file. */
void fy_regfile_writer_abort(fy_regfile_writer *w);

#endif
