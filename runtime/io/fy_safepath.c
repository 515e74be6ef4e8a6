/* Safe path resolution beneath a volume root, case-insensitive lookups, opens and atomic
 * placement. Attributes, creation times and streams are fy_safemeta.c's.
 *
 * Safety does not rest on the name lookups: every folder on the way is opened with
 * O_NOFOLLOW from the previous one (starting at the root), components can never be "..",
 * and the final open goes through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the
 * kernel has it, else openat(O_NOFOLLOW) in the walked folder. A link swapped in between
 * the lookup and the open is refused by the open itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fy_safepath_int.h"

#define FY_SP_MAX_PATH 4095
#define FY_SP_MAX_NAME 255
#define FY_DC_MAX_DIRS 64
#define FY_DC_MAX_NAMES (1u << 20)

void fy_sp_err(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || !err_size) return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    errno = saved;
}

/* Sets errno and the message together; returns -1. */
#define fail fy_fail /* common/fy_diag.c */

char *fy_sp_join(const char *dir, const char *name)
{
    if (!dir || !*dir) return fy_xstrdup(name ? name : "");
    if (!name) return fy_xstrdup(dir);
    return fy_xasprintf("%s/%s", dir, name);
}

int fy_sp_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int fy_sp_fsync_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    /* Some file systems (FUSE without fsyncdir, network mounts) cannot sync a folder. */
    if (rc < 0 && (saved == EINVAL || saved == ENOSYS || saved == EROFS || saved == ENOTSUP))
        rc = 0;
    errno = saved;
    return rc;
}

int fy_sp_tmpfile(fy_safe_root *r, int dirfd, char name[32])
{
    for (int i = 0; i < 100; i++) {
        uint32_t x;
        if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            x = (uint32_t)getpid() * 2654435761u ^ (uint32_t)ts.tv_nsec ^ ++r->tmp_counter;
        }
        snprintf(name, 32, FY_TMP_PREFIX "%08x", (unsigned)x);
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

/* ---- paths ---- */

bool fy_safe_is_internal_name(const char *name)
{
    return strcmp(name, FY_SIDE_ATTRS) == 0 || strcmp(name, FY_SIDE_STREAMS) == 0 ||
           strncmp(name, FY_TMP_PREFIX, strlen(FY_TMP_PREFIX)) == 0;
}

int fy_safe_check_path(const char *p, size_t n, char *err, size_t es)
{
    if (n == 0) return 0;
    if (n > FY_SP_MAX_PATH) return fail(err, es, ENAMETOOLONG, "path too long (%zu bytes)", n);
    if (memchr(p, '\0', n)) return fail(err, es, EINVAL, "bad path: it holds a NUL byte");
    if (p[0] == '/') return fail(err, es, EINVAL, "bad path \"%.*s\": absolute", (int)n, p);
    if (memchr(p, '\\', n))
        return fail(err, es, EINVAL, "bad path \"%.*s\": a '\\' inside a name", (int)n, p);
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0)
            return fail(err, es, EINVAL, "bad path \"%.*s\": an empty component", (int)n, p);
        if ((len == 1 && p[i] == '.') || (len == 2 && p[i] == '.' && p[i + 1] == '.'))
            return fail(err, es, EINVAL, "bad path \"%.*s\": a \".\" or \"..\" component", (int)n,
                        p);
        if (len > FY_SP_MAX_NAME)
            return fail(err, es, ENAMETOOLONG, "bad path \"%.*s\": a name over %d bytes", (int)n, p,
                        FY_SP_MAX_NAME);
        char name[FY_SP_MAX_NAME + 1];
        memcpy(name, p + i, len);
        name[len] = '\0';
        if (fy_safe_is_internal_name(name))
            return fail(err, es, EINVAL,
                        "bad path \"%.*s\": \"%s\" is a name ferry keeps for "
                        "itself",
                        (int)n, p, name);
        i = j + 1;
    }
    return 0;
}

/* ---- folder listings for case-insensitive lookups ---- */

static int cmp_ci(const char *a, const char *b)
{
    return fy_strcasecmp_u8(a, strlen(a), b, strlen(b));
}

static int cmp_names(const void *x, const void *y)
{
    const char *a = *(char *const *)x, *b = *(char *const *)y;
    int c = cmp_ci(a, b);
    return c ? c : strcmp(a, b);
}

static void dc_clear_one(fy_dircache *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    free(d->dir);
    memset(d, 0, sizeof *d);
}

static void dc_clear(fy_safe_root *r)
{
    for (size_t i = 0; i < r->ndc; i++)
        dc_clear_one(&r->dc[i]);
    r->ndc = 0;
    r->dc_names = 0;
}

static fy_dircache *dc_find_dir(fy_safe_root *r, const char *dirpath)
{
    for (size_t i = 0; i < r->ndc; i++)
        if (strcmp(r->dc[i].dir, dirpath) == 0) return &r->dc[i];
    return NULL;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int dc_list(fy_safe_root *r, fy_dircache *d, int dirfd, const struct stat *ds, char *err,
                   size_t es)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, es, errno, "cannot list folder \"%s\": %s", d->dir, strerror(errno));
    DIR *dp = fdopendir(fd);
    if (!dp) {
        int e = errno;
        close(fd);
        return fail(err, es, e, "cannot list folder \"%s\": %s", d->dir, strerror(e));
    }
    for (size_t i = 0; i < d->n; i++)
        free(d->names[i]);
    r->dc_names -= d->n < r->dc_names ? d->n : r->dc_names;
    d->n = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(dp))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 16;
            d->names = fy_xrealloc(d->names, d->cap * sizeof *d->names);
        }
        d->names[d->n++] = fy_xstrdup(de->d_name);
        errno = 0;
    }
    int e = errno;
    closedir(dp);
    if (e) {
        d->mtim = (struct timespec){0, -1}; /* never valid */
        return fail(err, es, e, "cannot list folder \"%s\": %s", d->dir, strerror(e));
    }
    if (d->n) qsort(d->names, d->n, sizeof *d->names, cmp_names);
    r->dc_names += d->n;
    d->dev = ds->st_dev;
    d->ino = ds->st_ino;
    d->mtim = ds->st_mtim;
    return 0;
}

/* The listing of dirfd, fresh (relisted when the folder changed or force). */
static fy_dircache *dc_get(fy_safe_root *r, int dirfd, const char *dirpath, bool force, char *err,
                           size_t es)
{
    struct stat ds;
    if (fstat(dirfd, &ds) < 0) {
        fail(err, es, errno, "cannot stat folder \"%s\": %s", dirpath, strerror(errno));
        return NULL;
    }
    fy_dircache *d = dc_find_dir(r, dirpath);
    if (d && !force && d->dev == ds.st_dev && d->ino == ds.st_ino && ts_eq(d->mtim, ds.st_mtim))
        return d;
    if (!d) {
        if (r->ndc >= FY_DC_MAX_DIRS || r->dc_names >= FY_DC_MAX_NAMES) dc_clear(r);
        if (r->ndc == r->capdc) {
            r->capdc = r->capdc ? r->capdc * 2 : 8;
            r->dc = fy_xrealloc(r->dc, r->capdc * sizeof *r->dc);
        }
        d = &r->dc[r->ndc++];
        memset(d, 0, sizeof *d);
        d->dir = fy_xstrdup(dirpath);
    }
    if (dc_list(r, d, dirfd, &ds, err, es) < 0) return NULL;
    return d;
}

/* First name equal to name case-insensitively (the sort puts case variants together). */
static const char *dc_lookup(const fy_dircache *d, const char *name)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_ci(d->names[mid], name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->n && cmp_ci(d->names[lo], name) == 0 ? d->names[lo] : NULL;
}

/* After our own change in a folder: keep its listing in step, so that placing many files in
 * one folder does not relist it each time. name NULL: only the folder's time moved. */
void fy_sp_dc_added(fy_safe_root *r, int dirfd, const char *dirpath, const char *name)
{
    fy_dircache *d = dc_find_dir(r, dirpath);
    struct stat ds;
    if (!d) return;
    if (fstat(dirfd, &ds) < 0 || ds.st_ino != d->ino || ds.st_dev != d->dev) {
        d->mtim = (struct timespec){0, -1};
        return;
    }
    if (name) {
        size_t lo = 0, hi = d->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cmp_names(&d->names[mid], &name) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == d->n || strcmp(d->names[lo], name) != 0) {
            if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 16;
                d->names = fy_xrealloc(d->names, d->cap * sizeof *d->names);
            }
            memmove(d->names + lo + 1, d->names + lo, (d->n - lo) * sizeof *d->names);
            d->names[lo] = fy_xstrdup(name);
            d->n++;
            r->dc_names++;
        }
    }
    d->mtim = ds.st_mtim;
}

void fy_sp_dc_removed(fy_safe_root *r, int dirfd, const char *dirpath, const char *name)
{
    fy_dircache *d = dc_find_dir(r, dirpath);
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->names[i], name) == 0) {
            free(d->names[i]);
            memmove(d->names + i, d->names + i + 1, (d->n - i - 1) * sizeof *d->names);
            d->n--;
            if (r->dc_names) r->dc_names--;
            break;
        }
    }
    fy_sp_dc_added(r, dirfd, dirpath, NULL);
}

int fy_sp_lookup(fy_safe_root *r, int dirfd, const char *dirpath, const char *name, char **found,
                 struct stat *st, char *err, size_t es)
{
    *found = NULL;
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0) {
        *found = fy_xstrdup(name);
        return 0;
    }
    if (errno != ENOENT) {
        char *p = fy_sp_join(dirpath, name);
        int rc = fail(err, es, errno, "cannot look up \"%s\": %s", p, strerror(errno));
        free(p);
        return rc;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        fy_dircache *d = dc_get(r, dirfd, dirpath, attempt > 0, err, es);
        if (!d) return -1;
        const char *cand = dc_lookup(d, name);
        if (!cand) return 1;
        if (fstatat(dirfd, cand, st, AT_SYMLINK_NOFOLLOW) == 0) {
            *found = fy_xstrdup(cand);
            return 0;
        }
        if (errno != ENOENT) {
            char *p = fy_sp_join(dirpath, cand);
            int rc = fail(err, es, errno, "cannot look up \"%s\": %s", p, strerror(errno));
            free(p);
            return rc;
        }
        /* the listing was stale: list again once */
    }
    return 1;
}

/* ---- walking ---- */

void fy_sp_walk_free(fy_walk *w)
{
    if (w->dirfd >= 0) close(w->dirfd);
    free(w->dirpath);
    free(w->last);
    memset(w, 0, sizeof *w);
    w->dirfd = -1;
}

static int link_refused(char *err, size_t es, const char *dir, const char *name)
{
    char *p = fy_sp_join(dir, name);
    fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", p);
    free(p);
    return -1;
}

int fy_sp_walk(fy_safe_root *r, const char *relpath, bool create_dirs, fy_walk *w, char *err,
               size_t es)
{
    memset(w, 0, sizeof *w);
    w->dirfd = -1;
    size_t len = strlen(relpath);
    if (fy_safe_check_path(relpath, len, err, es) < 0) return -1;
    int cur = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0) return fail(err, es, errno, "cannot duplicate the root fd: %s", strerror(errno));
    fy_buf dir = {0};
    fy_buf_cstr(&dir);
    if (len == 0) {
        if (fstat(cur, &w->st) < 0) {
            int e = errno;
            close(cur);
            fy_buf_free(&dir);
            return fail(err, es, e, "cannot stat the root: %s", strerror(e));
        }
        w->dirfd = cur;
        w->dirpath = fy_xstrdup("");
        w->exists = true;
        fy_buf_free(&dir);
        return 0;
    }
    char *copy = fy_xstrdup(relpath);
    char *comp = copy;
    int rc = -1;
    for (;;) {
        char *slash = strchr(comp, '/');
        if (!slash) break;
        *slash = '\0';
        char *found = NULL;
        struct stat st;
        int lr = fy_sp_lookup(r, cur, fy_buf_cstr(&dir), comp, &found, &st, err, es);
        if (lr < 0) goto out;
        if (lr == 1) {
            if (!create_dirs) {
                /* A parent is missing: report the rest as written. */
                if (dir.len) fy_buf_putc(&dir, '/');
                fy_buf_puts(&dir, comp);
                char *rest = slash + 1;
                char *lastslash = strrchr(rest, '/');
                if (lastslash) {
                    *lastslash = '\0';
                    fy_buf_putc(&dir, '/');
                    fy_buf_puts(&dir, rest);
                    rest = lastslash + 1;
                }
                w->dirpath = fy_xstrdup(fy_buf_cstr(&dir));
                w->last = fy_xstrdup(rest);
                w->exists = false;
                rc = 1;
                goto out;
            }
            if (r->flags & FY_SAFE_READ_ONLY) {
                fail(err, es, EROFS, "read-only volume: refusing to create \"%s\"", relpath);
                goto out;
            }
            if (mkdirat(cur, comp, 0777) < 0 && errno != EEXIST) {
                char *p = fy_sp_join(fy_buf_cstr(&dir), comp);
                fail(err, es, errno, "cannot create folder \"%s\": %s", p, strerror(errno));
                free(p);
                goto out;
            }
            fy_sp_dc_added(r, cur, fy_buf_cstr(&dir), comp);
            lr = fy_sp_lookup(r, cur, fy_buf_cstr(&dir), comp, &found, &st, err, es);
            if (lr < 0) goto out;
            if (lr == 1) {
                char *p = fy_sp_join(fy_buf_cstr(&dir), comp);
                fail(err, es, ENOENT, "folder \"%s\" vanished after it was created", p);
                free(p);
                goto out;
            }
        }
        if (S_ISLNK(st.st_mode)) {
            link_refused(err, es, fy_buf_cstr(&dir), found);
            free(found);
            goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
            char *p = fy_sp_join(fy_buf_cstr(&dir), found);
            fail(err, es, ENOTDIR, "\"%s\" is not a folder", p);
            free(p);
            free(found);
            goto out;
        }
        int next = openat(cur, found, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            /* ENOTDIR here means it turned into a link after the lookup. */
            if (errno == ENOTDIR || errno == ELOOP)
                link_refused(err, es, fy_buf_cstr(&dir), found);
            else {
                char *p = fy_sp_join(fy_buf_cstr(&dir), found);
                fail(err, es, errno, "cannot open folder \"%s\": %s", p, strerror(errno));
                free(p);
            }
            free(found);
            goto out;
        }
        close(cur);
        cur = next;
        if (dir.len) fy_buf_putc(&dir, '/');
        fy_buf_puts(&dir, found);
        free(found);
        comp = slash + 1;
    }
    {
        char *found = NULL;
        int lr = fy_sp_lookup(r, cur, fy_buf_cstr(&dir), comp, &found, &w->st, err, es);
        if (lr < 0) goto out;
        w->exists = lr == 0;
        w->last = lr == 0 ? found : fy_xstrdup(comp);
        w->dirpath = fy_xstrdup(fy_buf_cstr(&dir));
        w->dirfd = cur;
        cur = -1;
        rc = 0;
    }
out:
    if (cur >= 0) close(cur);
    free(copy);
    fy_buf_free(&dir);
    if (rc < 0) fy_sp_walk_free(w);
    return rc;
}

/* ---- the root ---- */

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned)flags;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd;
    int tries = 0;
    do {
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    } while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 16);
    return (int)fd;
}

int fy_safe_root_open(const char *dir, unsigned flags, fy_safe_root **out, char *err, size_t es)
{
    *out = NULL;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail(err, es, errno, "cannot open folder %s: %s", dir, strerror(errno));
    fy_safe_root *r = fy_xcalloc(1, sizeof *r);
    r->fd = fd;
    r->dir = fy_xstrdup(dir);
    r->flags = flags;
    if (!(flags & FY_SAFE_NO_OPENAT2)) {
        int t = sys_openat2(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (t >= 0) {
            r->openat2_ok = true;
            close(t);
        }
    }
    if (flags & FY_SAFE_FORCE_SIDEFILE)
        r->mode = FY_META_SIDEFILE;
    else if (flags & FY_SAFE_EMULATE_NTFS3G)
        r->mode = FY_META_NTFS3G;
    else
        r->mode = fy_sm_probe(fd);
    *out = r;
    return 0;
}

int fy_safe_root_flush(fy_safe_root *r, char *err, size_t es)
{
    return r ? fy_sm_flush(r, err, es) : 0;
}

int fy_safe_root_close(fy_safe_root *r, char *err, size_t es)
{
    if (!r) return 0;
    int rc = fy_sm_flush(r, err, es);
    int saved = errno;
    fy_sm_free(r);
    dc_clear(r);
    free(r->dc);
    close(r->fd);
    free(r->dir);
    free(r);
    errno = saved;
    return rc;
}

int fy_safe_root_fd(const fy_safe_root *r)
{
    return r->fd;
}

const char *fy_safe_root_dir(const fy_safe_root *r)
{
    return r->dir;
}

fy_meta_mode fy_safe_root_meta_mode(const fy_safe_root *r)
{
    return r->mode;
}

bool fy_safe_root_uses_openat2(const fy_safe_root *r)
{
    return r->openat2_ok;
}

/* ---- queries ---- */

int fy_safe_resolve(fy_safe_root *r, const char *relpath, char **actual, char *err, size_t es)
{
    fy_walk w;
    if (actual) *actual = NULL;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    if (actual) *actual = fy_sp_join(w.dirpath, w.last);
    int ret = (rc == 0 && w.exists) ? 0 : 1;
    fy_sp_walk_free(&w);
    return ret;
}

int fy_safe_exists(fy_safe_root *r, const char *relpath, char *err, size_t es)
{
    int rc = fy_safe_resolve(r, relpath, NULL, err, es);
    return rc < 0 ? -1 : rc == 0;
}

int fy_safe_stat(fy_safe_root *r, const char *relpath, struct stat *st, char *err, size_t es)
{
    fy_walk w;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    if (rc == 1 || !w.exists) {
        char *p = fy_sp_join(w.dirpath, w.last);
        fail(err, es, ENOENT, "\"%s\" does not exist", p);
        free(p);
        fy_sp_walk_free(&w);
        return -1;
    }
    *st = w.st;
    fy_sp_walk_free(&w);
    return 0;
}

/* Opens the walked object: openat2 beneath the root when available, else openat with
 * O_NOFOLLOW in the folder the walk opened without following links. */
static int open_final(fy_safe_root *r, const fy_walk *w, const char *full, int flags, mode_t mode)
{
    flags |= O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    if (r->openat2_ok) {
        int fd = sys_openat2(r->fd, *full ? full : ".", flags, mode);
        if (fd >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL)) return fd;
        if (errno != EINVAL) r->openat2_ok = false;
    }
    if (!w->last) return openat(w->dirfd, ".", flags, mode);
    return openat(w->dirfd, w->last, flags, mode);
}

static int open_error(char *err, size_t es, int e, const char *full)
{
    if (e == ELOOP) return fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", full);
    if (e == EXDEV) return fail(err, es, EXDEV, "\"%s\" leads outside the volume", full);
    return fail(err, es, e, "cannot open \"%s\": %s", full, strerror(e));
}

int fy_safe_open(fy_safe_root *r, const char *relpath, int flags, mode_t mode, char *err, size_t es)
{
    int acc = flags & O_ACCMODE;
    bool writes = acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return fail(err, es, EINVAL, "O_TMPFILE is not supported here");
    if (writes && (r->flags & FY_SAFE_READ_ONLY))
        return fail(err, es, EROFS, "read-only volume: refusing to write \"%s\"", relpath);
    fy_walk w;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    char *full = fy_sp_join(w.dirpath, w.last);
    int fd = -1;
    if (rc == 1) {
        fail(err, es, ENOENT, "folder \"%s\" does not exist", w.dirpath);
        goto out;
    }
    if (!w.last && writes) {
        fail(err, es, EISDIR, "cannot write the root folder itself");
        goto out;
    }
    if (w.exists) {
        if (S_ISLNK(w.st.st_mode)) {
            fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", full);
            goto out;
        }
        if ((flags & O_CREAT) && (flags & O_EXCL)) {
            fail(err, es, EEXIST, "\"%s\" exists", full);
            goto out;
        }
    } else if (!(flags & O_CREAT)) {
        fail(err, es, ENOENT, "\"%s\" does not exist", full);
        goto out;
    }
    /* Truncate only after checking the hard-link count on the open file. */
    bool trunc = w.exists && (flags & O_TRUNC) && acc != O_RDONLY;
    int oflags = trunc ? flags & ~O_TRUNC : flags;
    if (r->flags & FY_SAFE_READ_ONLY) {
        fd = open_final(r, &w, full, oflags | O_NOATIME, mode);
        if (fd < 0 && errno == EPERM) fd = open_final(r, &w, full, oflags, mode);
    } else {
        fd = open_final(r, &w, full, oflags, mode);
    }
    if (fd < 0) {
        open_error(err, es, errno, full);
        goto out;
    }
    if (acc != O_RDONLY) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
            int e = errno;
            close(fd);
            fd = -1;
            fail(err, es, e, "cannot stat \"%s\": %s", full, strerror(e));
            goto out;
        }
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
            close(fd);
            fd = -1;
            fail(err, es, EMLINK, "refusing to write through a hard link at \"%s\"", full);
            goto out;
        }
    }
    if (trunc && ftruncate(fd, 0) < 0) {
        int e = errno;
        close(fd);
        fd = -1;
        fail(err, es, e, "cannot truncate \"%s\": %s", full, strerror(e));
        goto out;
    }
    if (!w.exists) fy_sp_dc_added(r, w.dirfd, w.dirpath, w.last);
out:
    free(full);
    fy_sp_walk_free(&w);
    return fd;
}

int fy_safe_mkdirs(fy_safe_root *r, const char *relpath, char **actual, char *err, size_t es)
{
    if (actual) *actual = NULL;
    if (r->flags & FY_SAFE_READ_ONLY)
        return fail(err, es, EROFS, "read-only volume: refusing to create \"%s\"", relpath);
    fy_walk w;
    if (fy_sp_walk(r, relpath, true, &w, err, es) < 0) return -1;
    int rc = -1;
    char *full = fy_sp_join(w.dirpath, w.last);
    if (w.last && !w.exists) {
        if (mkdirat(w.dirfd, w.last, 0777) < 0 && errno != EEXIST) {
            fail(err, es, errno, "cannot create folder \"%s\": %s", full, strerror(errno));
            goto out;
        }
        fy_sp_dc_added(r, w.dirfd, w.dirpath, w.last);
        char *found = NULL;
        int lr = fy_sp_lookup(r, w.dirfd, w.dirpath, w.last, &found, &w.st, err, es);
        if (lr != 0) {
            if (lr == 1) fail(err, es, ENOENT, "folder \"%s\" vanished after it was made", full);
            goto out;
        }
        free(full);
        full = fy_sp_join(w.dirpath, found);
        free(found);
    }
    if (S_ISLNK(w.st.st_mode)) {
        fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", full);
        goto out;
    }
    if (!S_ISDIR(w.st.st_mode)) {
        fail(err, es, ENOTDIR, "\"%s\" exists and is not a folder", full);
        goto out;
    }
    rc = 0;
    if (actual) {
        *actual = full;
        full = NULL;
    }
out:
    free(full);
    fy_sp_walk_free(&w);
    return rc;
}

int fy_safe_unlink(fy_safe_root *r, const char *relpath, char *err, size_t es)
{
    if (r->flags & FY_SAFE_READ_ONLY)
        return fail(err, es, EROFS, "read-only volume: refusing to remove \"%s\"", relpath);
    fy_walk w;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    char *full = fy_sp_join(w.dirpath, w.last);
    rc = -1;
    if (!w.last)
        fail(err, es, EISDIR, "cannot remove the root folder");
    else if (w.dirfd < 0 || !w.exists)
        fail(err, es, ENOENT, "\"%s\" does not exist", full);
    else if (S_ISLNK(w.st.st_mode))
        fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", full);
    else if (S_ISDIR(w.st.st_mode))
        fail(err, es, EISDIR, "\"%s\" is a folder", full);
    else if (unlinkat(w.dirfd, w.last, 0) < 0)
        fail(err, es, errno, "cannot remove \"%s\": %s", full, strerror(errno));
    else {
        fy_sp_dc_removed(r, w.dirfd, w.dirpath, w.last);
        rc = fy_sm_forget(r, w.dirfd, w.dirpath, w.last, err, es);
    }
    free(full);
    fy_sp_walk_free(&w);
    return rc;
}

int fy_safe_get_meta(fy_safe_root *r, const char *relpath, fy_meta *m, char *err, size_t es)
{
    memset(m, 0, sizeof *m);
    fy_walk w;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    if (rc == 1 || !w.exists) {
        char *p = fy_sp_join(w.dirpath, w.last);
        fail(err, es, ENOENT, "\"%s\" does not exist", p);
        free(p);
        fy_sp_walk_free(&w);
        return -1;
    }
    rc = fy_sm_read(r, &w, m, err, es);
    fy_sp_walk_free(&w);
    return rc;
}

void fy_meta_free(fy_meta *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nstreams; i++)
        free(m->streams[i]);
    free(m->streams);
    free(m->link_target);
    free(m->warning);
    memset(m, 0, sizeof *m);
}

int fy_safe_read_stream(fy_safe_root *r, const char *relpath, const char *stream, fy_buf *out,
                        char *err, size_t es)
{
    if (!fy_sm_stream_name_ok(stream))
        return fail(err, es, EINVAL, "bad stream name \"%s\"", stream);
    fy_walk w;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    if (rc == 1 || !w.exists) {
        char *p = fy_sp_join(w.dirpath, w.last);
        fail(err, es, ENOENT, "\"%s\" does not exist", p);
        free(p);
        fy_sp_walk_free(&w);
        return -1;
    }
    rc = fy_sm_read_stream(r, &w, stream, out, err, es);
    fy_sp_walk_free(&w);
    return rc;
}

static int check_streams(const fy_place_meta *pm, char *err, size_t es)
{
    for (size_t i = 0; pm && i < pm->nstreams; i++)
        if (!pm->streams[i].name || !fy_sm_stream_name_ok(pm->streams[i].name))
            return fail(err, es, EINVAL, "bad stream name \"%s\"",
                        pm->streams[i].name ? pm->streams[i].name : "(null)");
    return 0;
}

int fy_safe_set_meta(fy_safe_root *r, const char *relpath, const fy_place_meta *pm, char *err,
                     size_t es)
{
    if (r->flags & FY_SAFE_READ_ONLY)
        return fail(err, es, EROFS, "read-only volume: refusing to change \"%s\"", relpath);
    if (check_streams(pm, err, es) < 0) return -1;
    fy_walk w;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    char *full = fy_sp_join(w.dirpath, w.last);
    int fd = -1;
    rc = -1;
    if (w.dirfd < 0 || !w.exists) {
        fail(err, es, ENOENT, "\"%s\" does not exist", full);
        goto out;
    }
    if (S_ISLNK(w.st.st_mode)) {
        fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", full);
        goto out;
    }
    if (!S_ISREG(w.st.st_mode) && !S_ISDIR(w.st.st_mode)) {
        fail(err, es, EINVAL, "\"%s\" is neither a file nor a folder", full);
        goto out;
    }
    fd = open_final(r, &w, full, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0) {
        open_error(err, es, errno, full);
        goto out;
    }
    if (fy_sm_apply_fd(r, fd, pm, full, err, es) < 0) goto out;
    if (r->mode == FY_META_SIDEFILE && w.last &&
        fy_sm_apply_side(r, w.dirfd, w.dirpath, w.last, pm, true, false, err, es) < 0)
        goto out;
    rc = 0;
out:
    if (fd >= 0) close(fd);
    free(full);
    fy_sp_walk_free(&w);
    return rc;
}

/* ---- placement ---- */

static int copy_fd(int src, int dst)
{
    size_t cap = 1 << 18;
    uint8_t *buf = fy_xmalloc(cap);
    int rc = 0;
    for (;;) {
        ssize_t k = read(src, buf, cap);
        if (k < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        if (k == 0) break;
        if (fy_sp_write_all(dst, buf, (size_t)k) < 0) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    free(buf);
    errno = saved;
    return rc;
}

/* Renames tmp to name in dirfd without replacing an existing name. */
static int rename_noreplace(int dirfd, const char *tmp, const char *name)
{
    if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -1;
    /* No RENAME_NOREPLACE here (FUSE, older file systems): a hard link fails with EEXIST
     * atomically; where links are unsupported too, check then rename. */
    if (linkat(dirfd, tmp, dirfd, name, 0) == 0) {
        unlinkat(dirfd, tmp, 0);
        return 0;
    }
    if (errno == EEXIST) return -1;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return -1;
    }
    return renameat(dirfd, tmp, dirfd, name);
}

static int place(fy_safe_root *r, const char *relpath, const void *data, size_t size, int src_fd,
                 const fy_place_opts *o, char **placed, char *err, size_t es)
{
    static const fy_place_opts defaults;
    if (placed) *placed = NULL;
    if (!o) o = &defaults;
    if (r->flags & FY_SAFE_READ_ONLY)
        return fail(err, es, EROFS, "read-only volume: refusing to write \"%s\"", relpath);
    if (!*relpath) return fail(err, es, EISDIR, "cannot place a file at the root itself");
    if (check_streams(o->meta, err, es) < 0) return -1;
    fy_walk w;
    if (fy_sp_walk(r, relpath, true, &w, err, es) < 0) return -1;
    char *full = fy_sp_join(w.dirpath, w.last);
    char tmp[32] = "";
    int tmpfd = -1, rc = -1;
    if (w.exists) {
        if (S_ISLNK(w.st.st_mode)) {
            fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", full);
            goto out;
        }
        if (S_ISDIR(w.st.st_mode)) {
            fail(err, es, EISDIR, "\"%s\" is a folder", full);
            goto out;
        }
        if (!S_ISREG(w.st.st_mode)) {
            fail(err, es, EINVAL, "\"%s\" exists and is not a regular file", full);
            goto out;
        }
        if (o->no_replace) {
            fail(err, es, EEXIST, "\"%s\" exists", full);
            goto out;
        }
    }
    tmpfd = fy_sp_tmpfile(r, w.dirfd, tmp);
    if (tmpfd < 0) {
        fail(err, es, errno, "cannot create a temporary file in \"%s\": %s", w.dirpath,
             strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    if (data ? fy_sp_write_all(tmpfd, data, size) < 0 : copy_fd(src_fd, tmpfd) < 0) {
        fail(err, es, errno, "cannot write \"%s\": %s", full, strerror(errno));
        goto out;
    }
    fy_place_meta eff = o->meta ? *o->meta : (fy_place_meta){0};
    if (w.exists && o->keep_security) {
        int oldfd =
            openat(w.dirfd, w.last, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (oldfd < 0) {
            open_error(err, es, errno, full);
            goto out;
        }
        int crc = fy_sm_copy_security(r, oldfd, tmpfd, &eff, err, es);
        close(oldfd);
        if (crc < 0) goto out;
    }
    if (fy_sm_apply_fd(r, tmpfd, &eff, full, err, es) < 0) goto out;
    bool defer = o->defer_sync || (r->flags & FY_SAFE_DEFER_SYNC);
    if (!defer && fsync(tmpfd) < 0) {
        fail(err, es, errno, "cannot sync \"%s\": %s", full, strerror(errno));
        goto out;
    }
    int crc = close(tmpfd);
    tmpfd = -1;
    if (crc < 0) {
        fail(err, es, errno, "cannot write \"%s\": %s", full, strerror(errno));
        goto out;
    }
    if ((o->no_replace ? rename_noreplace(w.dirfd, tmp, w.last)
                       : renameat(w.dirfd, tmp, w.dirfd, w.last)) < 0) {
        if (errno == EEXIST)
            fail(err, es, EEXIST, "\"%s\" exists", full);
        else
            fail(err, es, errno, "cannot rename into \"%s\": %s", full, strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    if (!defer && fy_sp_fsync_dir(w.dirfd) < 0) {
        fail(err, es, errno, "cannot sync folder \"%s\": %s", w.dirpath, strerror(errno));
        goto out;
    }
    fy_sp_dc_added(r, w.dirfd, w.dirpath, w.exists ? NULL : w.last);
    if (r->mode == FY_META_SIDEFILE &&
        fy_sm_apply_side(r, w.dirfd, w.dirpath, w.last, o->meta, w.exists && o->keep_security, true,
                         err, es) < 0)
        goto out;
    rc = 0;
    if (placed) {
        *placed = full;
        full = NULL;
    }
out:
    if (tmpfd >= 0) close(tmpfd);
    if (tmp[0]) {
        unlinkat(w.dirfd, tmp, 0);
        fy_sp_dc_added(r, w.dirfd, w.dirpath, NULL);
    }
    free(full);
    fy_sp_walk_free(&w);
    return rc;
}

int fy_safe_place_data(fy_safe_root *r, const char *relpath, const void *data, size_t size,
                       const fy_place_opts *o, char **placed, char *err, size_t es)
{
    static const char empty[1];
    return place(r, relpath, data ? data : empty, data ? size : 0, -1, o, placed, err, es);
}

int fy_safe_place_fd(fy_safe_root *r, const char *relpath, int src_fd, const fy_place_opts *o,
                     char **placed, char *err, size_t es)
{
    if (src_fd < 0) return fail(err, es, EBADF, "no source file to copy into \"%s\"", relpath);
    return place(r, relpath, NULL, 0, src_fd, o, placed, err, es);
}

/* ---- policy helpers ---- */

int fy_safe_target_newer(fy_safe_root *r, const char *relpath, const struct timespec *mtime,
                         char *err, size_t es)
{
    struct stat st;
    if (fy_safe_stat(r, relpath, &st, err, es) < 0) return errno == ENOENT ? 0 : -1;
    return fy_filetime_from_timespec(st.st_mtim) > fy_filetime_from_timespec(*mtime);
}

int fy_safe_free_name(fy_safe_root *r, const char *relpath, char **free_relpath, char *err,
                      size_t es)
{
    *free_relpath = NULL;
    fy_walk w;
    int rc = fy_sp_walk(r, relpath, false, &w, err, es);
    if (rc < 0) return -1;
    if (!w.last) {
        fy_sp_walk_free(&w);
        return fail(err, es, EINVAL, "the root folder has no free name");
    }
    if (rc == 1 || !w.exists) {
        *free_relpath = fy_sp_join(w.dirpath, w.last);
        fy_sp_walk_free(&w);
        return 0;
    }
    const char *written = strrchr(relpath, '/');
    written = written ? written + 1 : relpath;
    size_t stem = strlen(written);
    const char *dot = strrchr(written, '.');
    if (!S_ISDIR(w.st.st_mode) && dot && dot != written) stem = (size_t)(dot - written);
    const char *ext = written + stem;
    rc = -1;
    bool done = false;
    for (unsigned k = 1; k <= 100000 && !done; k++) {
        char cand[FY_SP_MAX_NAME + 32];
        int n = snprintf(cand, sizeof cand, "%.*s (%u)%s", (int)stem, written, k, ext);
        if (n < 0 || n > FY_SP_MAX_NAME) {
            fail(err, es, ENAMETOOLONG, "no free name for \"%s\": too long", relpath);
            done = true;
            break;
        }
        char *found = NULL;
        struct stat st;
        int lr = fy_sp_lookup(r, w.dirfd, w.dirpath, cand, &found, &st, err, es);
        free(found);
        if (lr != 0) done = true;
        if (lr == 1) {
            *free_relpath = fy_sp_join(w.dirpath, cand);
            rc = 0;
        }
    }
    if (!done) fail(err, es, EEXIST, "no free name for \"%s\"", relpath);
    fy_sp_walk_free(&w);
    return rc;
}

/* ---- NTFS time ---- */

#define FT_EPOCH_DIFF 11644473600LL /* seconds from 1601-01-01 to 1970-01-01 */
#define FT_PER_SEC 10000000LL

int64_t fy_filetime_from_timespec(struct timespec ts)
{
    const int64_t max_sec = INT64_MAX / FT_PER_SEC - FT_EPOCH_DIFF - 1;
    if (ts.tv_sec > max_sec) return INT64_MAX;
    if (ts.tv_sec < -FT_EPOCH_DIFF - (INT64_MAX / FT_PER_SEC)) return INT64_MIN;
    return ((int64_t)ts.tv_sec + FT_EPOCH_DIFF) * FT_PER_SEC + ts.tv_nsec / 100;
}

struct timespec fy_timespec_from_filetime(int64_t ft)
{
    int64_t sec = ft / FT_PER_SEC, rem = ft % FT_PER_SEC;
    if (rem < 0) {
        rem += FT_PER_SEC;
        sec--;
    }
    return (struct timespec){.tv_sec = (time_t)(sec - FT_EPOCH_DIFF), .tv_nsec = (long)rem * 100};
}

int fy_safe_root_sync(fy_safe_root *r, char *err, size_t err_size)
{
    if (fy_safe_root_flush(r, err, err_size) < 0) return -1;
    /* syncfs needs a real descriptor, not the O_PATH one */
    int fd = openat(r->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) < 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return fail(err, err_size, e, "cannot sync \"%s\": %s", r->dir, strerror(e));
    }
    close(fd);
    return 0;
}
