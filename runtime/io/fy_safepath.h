/* Safe access beneath a volume root: every open, create and write that ferry does on a
 * --machine or --drive volume goes through this module (docs/agent-io.md).
 *
 * - Paths are relative host paths: components separated by '/', never empty, never "." or
 *   "..", no '\\', no NUL, not absolute. "" names the root itself (resolve, stat, meta,
 *   reading opens only).
 * - Names are matched case-insensitively as NTFS does (fy_strcasecmp_u8): an exact match
 *   wins, else the first case-insensitive match. New components are created as written
 *   unless a case variant exists, which is then reused.
 * - Links are never followed. A link inside a path, or as the object of an open or a write,
 *   is refused with errno ELOOP and "refusing to follow a link at X". Reading metadata
 *   (fy_safe_get_meta, fy_safe_stat) reports a final link without following it.
 * - Opens use openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) where
 *   the kernel has it, else openat(O_NOFOLLOW) one component at a time from the root.
 * - Attributes, creation times and alternate data streams travel through the mount's
 *   extended attributes (ntfs-3g, ntfs3) or, on plain folders, the `.ferry-attrs` side file
 *   and `.ferry-streams/` folder (format in docs/agent-io.md).
 *
 * Errors: functions return -1 with errno set and a message in err (err may be NULL).
 * Ownership: a fy_safe_root owns its fd and caches and is freed by fy_safe_root_close.
 * Strings returned through char ** and everything inside a fy_meta are malloc'd and belong
 * to the caller (fy_meta_free). File descriptors returned belong to the caller.
 * A root is not thread-safe: use one per thread. */
#ifndef FY_SAFEPATH_H
#define FY_SAFEPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "fy_common.h"

typedef struct fy_safe_root fy_safe_root;

/* Where attributes, creation times and streams live on this volume. */
typedef enum {
    FY_META_SIDEFILE = 0, /* plain folder: .ferry-attrs and .ferry-streams/ */
    FY_META_NTFS3G = 1,   /* ntfs-3g: system.ntfs_attrib, system.ntfs_crtime, ADS as user.* */
    FY_META_NTFS3 = 2,    /* kernel ntfs3: system.ntfs_attrib / dos_attrib; crtime read-only */
} fy_meta_mode;

enum {
    FY_SAFE_READ_ONLY = 1u << 0,      /* a source volume: every write is refused (EROFS) */
    FY_SAFE_NO_OPENAT2 = 1u << 1,     /* use the component walk even where openat2 exists */
    FY_SAFE_FORCE_SIDEFILE = 1u << 2, /* ignore the mount's xattrs, use the side file */
    /* Tests only: behave as on ntfs-3g, with its xattrs under user.ferrytest.* (a plain
     * file system with user xattrs), so that the xattr code runs without an NTFS mount. */
    FY_SAFE_EMULATE_NTFS3G = 1u << 3,
    /* many files: placement and side files skip their per-file fsync; the caller syncs the
     * volume with fy_safe_root_sync before it depends on them (injection) */
    FY_SAFE_DEFER_SYNC = 1u << 4,
};

/* Opens dir (which may itself be reached through links: the administrator named it) as a
 * root. Probes the metadata mode (fy_meta_mode) and whether openat2 works. */
int fy_safe_root_open(const char *dir, unsigned flags, fy_safe_root **out, char *err,
                      size_t err_size);
/* Writes pending side files, then frees the root (NULL is fine). Returns -1 when a side
 * file could not be written; the root is freed anyway. */
int fy_safe_root_close(fy_safe_root *r, char *err, size_t err_size);
/* Writes pending side files (.ferry-attrs) now. */
int fy_safe_root_flush(fy_safe_root *r, char *err, size_t err_size);
int fy_safe_root_fd(const fy_safe_root *r); /* the O_PATH|O_DIRECTORY fd; owned by r */
const char *fy_safe_root_dir(const fy_safe_root *r);
fy_meta_mode fy_safe_root_meta_mode(const fy_safe_root *r);
bool fy_safe_root_uses_openat2(const fy_safe_root *r);

/* Checks a relative path (n bytes; an embedded NUL is refused). 0 or -1 (EINVAL). */
int fy_safe_check_path(const char *relpath, size_t n, char *err, size_t err_size);

/* True for the names this module keeps for itself in a folder (.ferry-attrs,
 * .ferry-streams, .ferry-tmp-*): walkers skip them. */
bool fy_safe_is_internal_name(const char *name);

/* Finds relpath as it is spelt on disk. Returns 0 when it exists (*actual = its path in the
 * disk's case), 1 when it does not (*actual = the existing prefix in the disk's case, the
 * rest as written: the name to create), -1 on error (bad path, a link or a file where a
 * folder is needed). actual may be NULL. A final link counts as existing. */
int fy_safe_resolve(fy_safe_root *r, const char *relpath, char **actual, char *err,
                    size_t err_size);

/* 1 exists, 0 does not, -1 error. */
int fy_safe_exists(fy_safe_root *r, const char *relpath, char *err, size_t err_size);

/* lstat of relpath (a final link is reported, not followed). -1 with ENOENT when absent. */
int fy_safe_stat(fy_safe_root *r, const char *relpath, struct stat *st, char *err, size_t err_size);

/* open(2) beneath the root: returns an fd or -1. O_NOFOLLOW, O_CLOEXEC and O_NOCTTY are
 * always added; on a read-only root O_NOATIME is tried too. With O_CREAT the parent folder
 * must exist (fy_safe_mkdirs) and a case variant of the name is opened instead of creating
 * a second file. Opening an existing file with more than one hard link for writing is
 * refused (it could write outside the volume). */
int fy_safe_open(fy_safe_root *r, const char *relpath, int flags, mode_t mode, char *err,
                 size_t err_size);

/* Creates relpath and its missing parents as folders (mode 0777 less umask), reusing
 * existing components in any case. *actual (may be NULL) = the folder's path on disk. */
int fy_safe_mkdirs(fy_safe_root *r, const char *relpath, char **actual, char *err, size_t err_size);

/* Removes a file (not a folder) and its side-file entry and streams. */
int fy_safe_unlink(fy_safe_root *r, const char *relpath, char *err, size_t err_size);

/* ---- metadata ---- */

/* Windows FILE_ATTRIBUTE_* bits. */
enum {
    FY_ATTR_READONLY = 0x1,
    FY_ATTR_HIDDEN = 0x2,
    FY_ATTR_SYSTEM = 0x4,
    FY_ATTR_DIRECTORY = 0x10,
    FY_ATTR_ARCHIVE = 0x20,
    FY_ATTR_NORMAL = 0x80,
    FY_ATTR_TEMPORARY = 0x100,
    FY_ATTR_SPARSE = 0x200,
    FY_ATTR_REPARSE_POINT = 0x400,
    FY_ATTR_COMPRESSED = 0x800,
    FY_ATTR_OFFLINE = 0x1000,
    FY_ATTR_NOT_INDEXED = 0x2000,
    FY_ATTR_ENCRYPTED = 0x4000,
    FY_ATTR_RECALL_ON_OPEN = 0x40000,
    FY_ATTR_PINNED = 0x80000,
    FY_ATTR_UNPINNED = 0x100000,
    FY_ATTR_RECALL_ON_DATA_ACCESS = 0x400000,
    /* what placement sets; the rest describe the object and are never written */
    FY_ATTR_SETTABLE = FY_ATTR_READONLY | FY_ATTR_HIDDEN | FY_ATTR_SYSTEM | FY_ATTR_ARCHIVE |
                       FY_ATTR_TEMPORARY | FY_ATTR_NOT_INDEXED,
};

typedef enum { FY_KIND_FILE, FY_KIND_DIR, FY_KIND_LINK, FY_KIND_OTHER } fy_kind;

typedef struct fy_meta {
    fy_kind kind;
    uint64_t size;
    struct timespec mtime, atime, ctime; /* ctime: the inode's change time */
    bool has_crtime;
    struct timespec crtime; /* creation time */
    bool has_attrs;
    uint32_t attrs; /* FY_ATTR_* */
    char **streams; /* alternate data stream names (without ':') */
    size_t nstreams;
    char *link_target; /* kind == FY_KIND_LINK: the link's text (never followed) */
    char *warning;     /* a note for the log (e.g. a bad side-file line), or NULL */
} fy_meta;

/* Reads relpath's metadata without following a final link. *m is overwritten (free it
 * with fy_meta_free even after an error). */
int fy_safe_get_meta(fy_safe_root *r, const char *relpath, fy_meta *m, char *err, size_t err_size);
void fy_meta_free(fy_meta *m);

/* Reads one alternate data stream of relpath into out (appended). -1 with ENODATA when
 * there is no such stream. */
int fy_safe_read_stream(fy_safe_root *r, const char *relpath, const char *stream, fy_buf *out,
                        char *err, size_t err_size);

typedef struct fy_stream_data {
    const char *name; /* without ':'; e.g. "Zone.Identifier" */
    const void *data;
    size_t size;
} fy_stream_data;

/* What to set on a placed file or an existing object; each part only when its flag is set. */
typedef struct fy_place_meta {
    bool set_mtime, set_atime, set_crtime, set_attrs;
    struct timespec mtime, atime, crtime;
    uint32_t attrs; /* only FY_ATTR_SETTABLE bits are written */
    const fy_stream_data *streams;
    size_t nstreams;
} fy_place_meta;

/* Sets times, attributes and streams on an existing file or folder (e.g. a folder that
 * fy_safe_mkdirs created: AppData is hidden). */
int fy_safe_set_meta(fy_safe_root *r, const char *relpath, const fy_place_meta *pm, char *err,
                     size_t err_size);

/* ---- atomic placement ---- */

typedef struct fy_place_opts {
    const fy_place_meta *meta; /* NULL: a plain new file */
    bool no_replace;           /* fail with EEXIST when the target exists */
    bool keep_security;        /* replacing: keep the old file's owner, mode, security
                                  descriptor (ntfs-3g/ntfs3), and its attributes and creation
                                  time unless meta sets them (hives) */
    bool defer_sync;           /* no fsync of the file and its folder: the caller syncs the
                                  whole volume later with fy_safe_root_sync (many files) */
} fy_place_opts;

/* Flushes everything written beneath the root to disk (syncfs). */
int fy_safe_root_sync(fy_safe_root *r, char *err, size_t err_size);

/* Writes a file atomically: a temporary name in the same folder (.ferry-tmp-XXXXXXXX),
 * content, streams, creation time, times, attributes, fsync, rename over relpath, fsync of
 * the folder. Missing parent folders are created. A target that is a link or a folder is
 * refused. On error nothing is left behind and an existing target is unchanged.
 * *placed (may be NULL) = the path written, in the disk's case. */
int fy_safe_place_data(fy_safe_root *r, const char *relpath, const void *data, size_t size,
                       const fy_place_opts *o, char **placed, char *err, size_t err_size);
/* Same, copying src_fd from its current offset to its end. */
int fy_safe_place_fd(fy_safe_root *r, const char *relpath, int src_fd, const fy_place_opts *o,
                     char **placed, char *err, size_t err_size);

/* ---- overwrite policy helpers (the policy itself is the caller's) ---- */

/* 1 when relpath exists and its modification time is later than mtime (compared in NTFS's
 * 100 ns units), 0 when it is not later or does not exist, -1 on error. */
int fy_safe_target_newer(fy_safe_root *r, const char *relpath, const struct timespec *mtime,
                         char *err, size_t err_size);

/* The first free name for relpath, as "name (1).ext", "name (2).ext", ... (the extension
 * is what follows the last '.', none for folders or names without one; a name that is only
 * ".ext" counts as having none). Case-insensitive: "Name (1).ext" taken means taken.
 * *free_relpath is malloc'd. */
int fy_safe_free_name(fy_safe_root *r, const char *relpath, char **free_relpath, char *err,
                      size_t err_size);

/* ---- NTFS time (100 ns units since 1601-01-01 UTC) ---- */
int64_t fy_filetime_from_timespec(struct timespec ts);
struct timespec fy_timespec_from_filetime(int64_t ft);

#endif
