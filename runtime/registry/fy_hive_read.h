/* Reading a hive file into an in-memory tree with libhivex (read-only: the file is never
 * modified). This is the lowest layer of the hive backend of fy_reg.h; most code should open
 * hives through fy_reg_open_hive, which replays dirty hives' logs first.
 *
 * What is kept: key names and value names as UTF-8 (libhivex recodes the hive's Latin-1
 * and UTF-16LE names), value types and raw data bytes exactly as stored (big-data values
 * included), each key's last-write time, and the KEY_SYM_LINK flag, inferred from a
 * REG_LINK value named SymbolicLinkValue. What is not: security descriptors and class
 * names (libhivex 1.3 has no call that returns them; keys are left with sd = NULL and
 * class_name = NULL so the writer assigns or inherits defaults).
 *
 * Ownership: *out is a new tree the caller frees with fy_regtree_free. */
#ifndef FY_HIVE_READ_H
#define FY_HIVE_READ_H

#include "fy_common.h"
#include "fy_regtree.h"

/* Reads the hive at `path`. `display` names the file in messages (NULL = path): a
 * recovered temporary copy is read under the name of the hive it came from.
 * Damage below the root that libhivex reports for one key or value (an unreadable value,
 * a subkey list that loops) skips that item with a warning in `warnings` (check name
 * "hive-damaged", file = display); a file libhivex refuses to open fails with
 * "DISPLAY: not a registry hive or damaged (REASON)". Returns 0, or -1 with err set. */
int fy_hive_read(const char *path, const char *display, fy_regtree **out, fy_diags *warnings,
                 char *err, size_t err_size);

#endif
