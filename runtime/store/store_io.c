/* The store's I/O layer (an injectable table, POSIX by default), error messages, and small
 * helpers: atomic small-file writes, hex, folder-name canonicalisation. */
#include "fy_store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- errors ---- */
int fy_store_exit_code(int rc)
{
    switch (rc) {
    case FY_STORE_OK:
        return FY_EXIT_OK;
    case FY_STORE_ERR_USAGE:
        return FY_EXIT_USAGE;
    case FY_STORE_ERR_PASSWORD:
        return FY_EXIT_PASSWORD;
    case FY_STORE_ERR_IO:
        return FY_EXIT_IO;
    case FY_STORE_ERR_SOURCE:
        return FY_EXIT_PARTIAL;
    default:
        return FY_EXIT_STORE;
    }
}

const char *fy_store_strerror(int rc)
{
    switch (rc) {
    case FY_STORE_OK:
        return "ok";
    case FY_STORE_ERR_USAGE:
        return "invalid argument";
    case FY_STORE_ERR_NOT_FOUND:
        return "not found";
    case FY_STORE_ERR_LOCKED:
        return "locked";
    case FY_STORE_ERR_PASSWORD:
        return "password missing or wrong";
    case FY_STORE_ERR_CORRUPT:
        return "corrupt";
    case FY_STORE_ERR_IO:
        return "I/O error";
    case FY_STORE_ERR_EXISTS:
        return "a different personality exists";
    case FY_STORE_ERR_SOURCE:
        return "cannot read the input";
    default:
        return "unknown error";
    }
}

int st_fail(char *err, size_t n, int code, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return code;
}

int st_fail_errno(char *err, size_t n, int code, int e, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(err, n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < n) snprintf(err + k, n - (size_t)k, ": %s", strerror(e));
    }
    return code;
}

/* ---- the POSIX table ---- */
static int px_openat(void *c, int d, const char *p, int f, mode_t m)
{
    return openat(d, p, f, m);
}
static int px_close(void *c, int fd)
{
    return close(fd);
}
static ssize_t px_read(void *c, int fd, void *b, size_t n)
{
    return read(fd, b, n);
}
static ssize_t px_pread(void *c, int fd, void *b, size_t n, off_t o)
{
    return pread(fd, b, n, o);
}
static ssize_t px_write(void *c, int fd, const void *b, size_t n)
{
    return write(fd, b, n);
}
static ssize_t px_pwrite(void *c, int fd, const void *b, size_t n, off_t o)
{
    return pwrite(fd, b, n, o);
}
static int px_sync(void *c, int fd, fy_store_sync_kind k)
{
    switch (k) {
    case FY_STORE_SYNC_START:
#ifdef SYNC_FILE_RANGE_WRITE
        /* Starts write-back now so that the later fdatasync finds little left to do (and
         * one journal commit covers many files); errors are not interesting here. */
        (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
        return 0;
    case FY_STORE_SYNC_DATA:
        return fdatasync(fd);
    case FY_STORE_SYNC_FS:
        return syncfs(fd);
    default:
        return fsync(fd);
    }
}
static int px_renameat(void *c, int od, const char *op, int nd, const char *np)
{
    return renameat(od, op, nd, np);
}
static int px_linkat(void *c, int od, const char *op, int nd, const char *np)
{
    return linkat(od, op, nd, np, 0);
}
static int px_unlinkat(void *c, int d, const char *p, int f)
{
    return unlinkat(d, p, f);
}
static int px_mkdirat(void *c, int d, const char *p, mode_t m)
{
    return mkdirat(d, p, m);
}

static const fy_store_io posix_io = {
    NULL,      px_openat, px_close,    px_read,   px_pread,    px_write,
    px_pwrite, px_sync,   px_renameat, px_linkat, px_unlinkat, px_mkdirat,
};

const fy_store_io *fy_store_io_posix(void)
{
    return &posix_io;
}

/* ---- helpers over the table ---- */
int st_open(const fy_store *s, int dirfd, const char *path, int flags, mode_t mode)
{
    return s->io->openat(s->io->ctx, dirfd, path, flags | O_CLOEXEC, mode);
}

void st_close(const fy_store *s, int fd)
{
    if (fd >= 0) s->io->close(s->io->ctx, fd);
}

int st_write_all(const fy_store *s, int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = s->io->write(s->io->ctx, fd, b, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) {
            errno = EIO;
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int st_pwrite_all(const fy_store *s, int fd, const void *p, size_t n, off_t off)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = s->io->pwrite(s->io->ctx, fd, b, n, off);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) {
            errno = EIO;
            return -1;
        }
        b += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

ssize_t st_read_full(const fy_store *s, int fd, void *p, size_t n)
{
    uint8_t *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t k = s->io->read(s->io->ctx, fd, b + got, n - got);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

ssize_t st_pread_full(const fy_store *s, int fd, void *p, size_t n, off_t off)
{
    uint8_t *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t k = s->io->pread(s->io->ctx, fd, b + got, n - got, off + (off_t)got);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

int st_sync(const fy_store *s, int fd, fy_store_sync_kind kind)
{
    int r;
    do
        r = s->io->sync(s->io->ctx, fd, kind);
    while (r < 0 && errno == EINTR);
    /* Folders on some network file systems refuse fsync; their renames are then as durable
     * as the server makes them. */
    if (r < 0 && kind == FY_STORE_SYNC_FULL && (errno == EINVAL || errno == EBADF)) r = 0;
    return r;
}

int st_rename(const fy_store *s, int od, const char *op, int nd, const char *np)
{
    return s->io->renameat(s->io->ctx, od, op, nd, np);
}

int st_unlink(const fy_store *s, int dirfd, const char *path, int flags)
{
    return s->io->unlinkat(s->io->ctx, dirfd, path, flags);
}

int st_mkdir(const fy_store *s, int dirfd, const char *path)
{
    if (s->io->mkdirat(s->io->ctx, dirfd, path, 0777) == 0) return 0;
    if (errno != EEXIST) return -1;
    struct stat st;
    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) return 0;
    errno = ENOTDIR;
    return -1;
}

int st_open_dir(const fy_store *s, int dirfd, const char *path)
{
    return st_open(s, dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
}

int st_sync_dir(const fy_store *s, int dirfd, const char *path)
{
    int fd = st_open_dir(s, dirfd, path);
    if (fd < 0) return -1;
    int r = st_sync(s, fd, FY_STORE_SYNC_FULL);
    int e = errno;
    st_close(s, fd);
    errno = e;
    return r;
}

void st_tmpname(char out[64], const char *prefix)
{
    uint8_t r[8];
    char hex[17];
    randombytes_buf(r, sizeof r);
    st_hex(r, sizeof r, hex);
    snprintf(out, 64, "%s-%s", prefix, hex);
}

int st_read_small(const fy_store *s, int dirfd, const char *path, size_t max, uint8_t **out,
                  size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = st_open(s, dirfd, path, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        st_close(s, fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        st_close(s, fd);
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1;
    uint8_t *b = fy_xmalloc(cap);
    ssize_t k = st_read_full(s, fd, b, cap);
    int e = errno;
    st_close(s, fd);
    if (k < 0 || (size_t)k == cap) { /* error, or the file grew while we read it */
        free(b);
        errno = k < 0 ? e : EAGAIN;
        return -1;
    }
    *out = b;
    *len = (size_t)k;
    return 0;
}

int st_write_atomic(const fy_store *s, int tmpdir, int dirfd, const char *name, const void *data,
                    size_t n, char *err, size_t err_size)
{
    char tmp[64];
    st_tmpname(tmp, name);
    int fd = st_open(s, tmpdir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0)
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot create %s", tmp);
    if (st_write_all(s, fd, data, n) < 0 || st_sync(s, fd, FY_STORE_SYNC_DATA) < 0) {
        int e = errno;
        st_close(s, fd);
        st_unlink(s, tmpdir, tmp, 0);
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, e, "cannot write %s", name);
    }
    if (s->io->close(s->io->ctx, fd) < 0) {
        int e = errno;
        st_unlink(s, tmpdir, tmp, 0);
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, e, "cannot write %s", name);
    }
    if (st_rename(s, tmpdir, tmp, dirfd, name) < 0) {
        int e = errno;
        st_unlink(s, tmpdir, tmp, 0);
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, e, "cannot rename %s into place",
                             name);
    }
    if (st_sync(s, dirfd, FY_STORE_SYNC_FULL) < 0)
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot sync the folder of %s",
                             name);
    return FY_STORE_OK;
}

void st_clear_dir(const fy_store *s, int dirfd)
{
    int fd = dup(dirfd);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        st_unlink(s, dirfd, de->d_name, 0);
    }
    closedir(d);
}

/* ---- hex ---- */
void st_hex(const uint8_t *p, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[p[i] >> 4];
        out[2 * i + 1] = h[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool st_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hexval(s[i]) < 0) return false;
    return true;
}

bool st_unhex(const char *s, size_t sn, uint8_t *out, size_t n)
{
    if (sn != 2 * n) return false;
    for (size_t i = 0; i < n; i++) {
        int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
        if (a < 0 || b < 0) return false;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return true;
}

/* ---- folder names ---- */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || !fy_utf8_valid(s, n)) return false;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
    }
    return true;
}

static void put_cp(fy_buf *b, uint32_t cp)
{
    if (cp < 0x80) {
        fy_buf_putc(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        fy_buf_putc(b, (uint8_t)(0xC0 | cp >> 6));
        fy_buf_putc(b, (uint8_t)(0x80 | (cp & 63)));
    } else if (cp < 0x10000) {
        fy_buf_putc(b, (uint8_t)(0xE0 | cp >> 12));
        fy_buf_putc(b, (uint8_t)(0x80 | ((cp >> 6) & 63)));
        fy_buf_putc(b, (uint8_t)(0x80 | (cp & 63)));
    } else {
        fy_buf_putc(b, (uint8_t)(0xF0 | cp >> 18));
        fy_buf_putc(b, (uint8_t)(0x80 | ((cp >> 12) & 63)));
        fy_buf_putc(b, (uint8_t)(0x80 | ((cp >> 6) & 63)));
        fy_buf_putc(b, (uint8_t)(0x80 | (cp & 63)));
    }
}

/* The lower-case partner of an upper-case letter, for the same ranges fy_fold_cp folds. */
static uint32_t lower_cp(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x178) return 0xFF;
    if (c >= 0x100 && c <= 0x17F) {
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
        if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

static char *recase(const char *s, bool upper)
{
    if (!s || !name_ok(s)) return NULL;
    size_t n = strlen(s);
    fy_buf b = {0};
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += fy_utf8_next(s + i, n - i, &cp);
        put_cp(&b, upper ? fy_fold_cp(cp) : lower_cp(cp));
    }
    char *r = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return r;
}

char *st_name_upper(const char *s)
{
    return recase(s, true);
}

char *st_name_lower(const char *s)
{
    return recase(s, false);
}

bool st_find_ci(int dirfd, const char *name, char out[256])
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(out, 256, "%s", name);
        return true;
    }
    int fd = dup(dirfd);
    if (fd < 0) return false;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return false;
    }
    rewinddir(d);
    bool found = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (fy_streq_ci(de->d_name, name) &&
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(out, 256, "%s", de->d_name);
            found = true;
            break;
        }
    }
    closedir(d);
    return found;
}

bool st_ads_name_safe(const char *s, size_t n)
{
    if (n == 0 || n > 255 || !fy_utf8_valid(s, n)) return false;
    bool all_dots = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '\\' || c == '/' || c == ':') return false;
        if (c != '.' && c != ' ') all_dots = false;
    }
    return !all_dots;
}
