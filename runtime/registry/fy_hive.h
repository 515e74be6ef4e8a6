/* Hive files as Windows leaves them: ferry's own one-pass writer, and recovery of dirty
 * hives from their transaction logs (.LOG1/.LOG2). Reading a hive's tree is libhivex's job
 * (fy_reg.h); this module owns the regf binary format on the writing and recovery side.
 *
 * Ownership: buffers and paths returned are malloc'd and the caller frees them. */
#ifndef FY_HIVE_H
#define FY_HIVE_H

#include "fy_common.h"
#include "fy_regtree.h"

/* Serialises a whole hive from a tree in one pass: base block (equal sequence numbers,
 * XOR checksum at 508), hbins, nk/vk/sk cells, sorted lh lists (ri above their limit),
 * db records for values over 16,344 bytes. Keys without a security descriptor inherit
 * their parent's; the root gets a default one when it has none. */
int fy_hive_serialize(const fy_regtree *t, fy_buf *out, char *err, size_t err_size);

/* Writes atomically: PATH.tmp-XXXXXX beside it, fsync, rename, fsync the folder.
 * Keeps the mode of an existing file. Returns 0, or -1 with a message (errno kept). */
int fy_hive_write_file(const fy_regtree *t, const char *path, char *err, size_t err_size);

/* After replacing a hive on a target: removes stale PATH.LOG, .LOG1, .LOG2 (any case). */
int fy_hive_remove_logs(const char *path);

typedef enum {
    FY_HIVE_CLEAN = 0,     /* sequence numbers equal: read the file as it is */
    FY_HIVE_RECOVERED = 1, /* dirty; logs replayed into *recovered_path */
    FY_HIVE_STALE = 2,     /* dirty and no usable log: read the primary, warn */
} fy_hive_state;

/* Looks at a hive's base block and, when dirty, replays the .LOG1/.LOG2 found beside it
 * (case-insensitive names; new HvLE format and the old dirty-page vector format) in
 * sequence order into a temporary copy in tmp_dir (NULL = $TMPDIR or /tmp). Entries older
 * than the hive's own sequence number are skipped; the first damaged or out-of-sequence
 * entry stops the replay with a warning. Never modifies the hive or its logs.
 * Warnings go to `warnings` (check name "hive-dirty" / "hive-log"). Returns -1 with a
 * message in err when the file is not a hive at all (bad signature, truncated base block). */
int fy_hive_recover(const char *path, const char *tmp_dir, fy_hive_state *state,
                    char **recovered_path, fy_diags *warnings, char *err, size_t err_size);

#endif
