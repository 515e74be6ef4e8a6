/* Internals shared by fy_safepath.c (paths, opens, placement) and fy_safemeta.c (attributes,
 * creation times, streams, the side file). Not for other modules: use fy_safepath.h. */
#ifndef FY_SAFEPATH_INT_H
#define FY_SAFEPATH_INT_H

#include <stdarg.h>

#include "fy_safepath.h"

#define FY_SIDE_ATTRS ".ferry-attrs"
#define FY_SIDE_STREAMS ".ferry-streams"
#define FY_TMP_PREFIX ".ferry-tmp-"

/* One folder's listing, sorted case-insensitively, for case-insensitive lookups. Valid while
 * the folder's inode and modification time are the ones recorded. */
typedef struct fy_dircache {
    char *dir; /* the folder's path on disk ("" = root) */
    dev_t dev;
    ino_t ino;
    struct timespec mtim;
    char **names;
    size_t n, cap;
} fy_dircache;

/* One entry of a side file. */
typedef struct fy_side_ent {
    char *name;
    bool has_attrs, has_crtime;
    uint32_t attrs;
    int64_t crtime; /* FILETIME */
} fy_side_ent;

/* A folder's .ferry-attrs, parsed; written back when dirty. */
typedef struct fy_sidefile {
    char *dir; /* the folder's path on disk */
    fy_side_ent *v;
    size_t n, cap;
    bool dirty;
    char *warning; /* first problem met while reading it, or NULL */
    uint64_t used; /* for least-recently-used eviction */
} fy_sidefile;

struct fy_safe_root {
    int fd; /* O_PATH | O_DIRECTORY */
    char *dir;
    unsigned flags;
    bool openat2_ok;
    fy_meta_mode mode;
    fy_dircache *dc;
    size_t ndc, capdc, dc_names;
    fy_sidefile *sf;
    size_t nsf, capsf;
    uint64_t clock;
    uint32_t tmp_counter;
};

/* A path walked down to its last component. */
typedef struct fy_walk {
    int dirfd;      /* O_PATH fd of the last component's folder (owned), -1 when missing */
    char *dirpath;  /* that folder's path on disk ("" = root); malloc'd */
    char *last;     /* the last component as on disk, or as written when absent; NULL = root */
    bool exists;    /* the last component exists (the folder always does when dirfd >= 0) */
    struct stat st; /* lstat of the last component when it exists */
} fy_walk;

void fy_sp_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Walks relpath. Returns 0 (the folder exists; w->exists says whether the last does), 1
 * (a parent folder is missing; w->dirfd = -1 and dirpath/last hold the path as far as it
 * goes), -1 error. With create_dirs, missing parent folders are made. */
int fy_sp_walk(fy_safe_root *r, const char *relpath, bool create_dirs, fy_walk *w, char *err,
               size_t err_size);
void fy_sp_walk_free(fy_walk *w);
char *fy_sp_join(const char *dir, const char *name); /* malloc'd "dir/name" or "name" */
/* Case-insensitive lookup of name in the folder dirfd (at dirpath). 0 found (*found, *st),
 * 1 absent, -1 error. */
int fy_sp_lookup(fy_safe_root *r, int dirfd, const char *dirpath, const char *name, char **found,
                 struct stat *st, char *err, size_t err_size);
void fy_sp_dc_added(fy_safe_root *r, int dirfd, const char *dirpath, const char *name);
void fy_sp_dc_removed(fy_safe_root *r, int dirfd, const char *dirpath, const char *name);
/* Creates a temporary file in dirfd: returns its fd and writes its name into name[32]. */
int fy_sp_tmpfile(fy_safe_root *r, int dirfd, char name[32]);
int fy_sp_fsync_dir(int dirfd);
int fy_sp_write_all(int fd, const void *p, size_t n);

/* fy_safemeta.c */
fy_meta_mode fy_sm_probe(int rootfd);
/* Reads attributes, creation time and stream names into m for an object that exists (w). */
int fy_sm_read(fy_safe_root *r, fy_walk *w, fy_meta *m, char *err, size_t err_size);
/* Applies pm to an open fd before it is renamed into place (xattr modes: streams, crtime,
 * attributes; every mode: mtime/atime). */
int fy_sm_apply_fd(fy_safe_root *r, int fd, const fy_place_meta *pm, const char *what, char *err,
                   size_t err_size);
/* After placement or on set_meta: side-file entry and stream files for name in w's folder
 * (side-file mode only). replace_streams drops streams not in pm. keep_entry keeps an
 * existing entry's fields that pm does not set. */
int fy_sm_apply_side(fy_safe_root *r, int dirfd, const char *dirpath, const char *name,
                     const fy_place_meta *pm, bool keep_entry, bool replace_streams, char *err,
                     size_t err_size);
/* Copies owner, mode and the NTFS security descriptor from the existing file old_fd to
 * tmp_fd; on xattr mounts also fills eff's attributes and creation time from the old file
 * where eff does not set them (applied later by fy_sm_apply_fd, in the right order). */
int fy_sm_copy_security(fy_safe_root *r, int old_fd, int tmp_fd, fy_place_meta *eff, char *err,
                        size_t err_size);
/* Forgets name in the side file of its folder and removes its stream files. */
int fy_sm_forget(fy_safe_root *r, int dirfd, const char *dirpath, const char *name, char *err,
                 size_t err_size);
int fy_sm_flush(fy_safe_root *r, char *err, size_t err_size);
void fy_sm_free(fy_safe_root *r);
int fy_sm_read_stream(fy_safe_root *r, fy_walk *w, const char *stream, fy_buf *out, char *err,
                      size_t err_size);
bool fy_sm_stream_name_ok(const char *s);

/* Side-file text helpers (exposed for tests through fy_safemeta.c's own parser). */
void fy_sm_format_time(int64_t ft, char out[40]);
int fy_sm_parse_time(const char *s, size_t n, int64_t *ft);

#endif
