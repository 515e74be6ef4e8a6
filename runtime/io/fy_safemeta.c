/* Attributes, creation times and alternate data streams beneath a safe root: through the
 * mount's extended attributes (ntfs-3g, ntfs3) or, on plain folders, the .ferry-attrs side
 * file and the .ferry-streams/ folder. Formats and names: docs/agent-io.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fy_safepath_int.h"

/* ntfs-3g and ntfs3 extended attributes (docs/agent-io.md). Values are in the CPU's byte
 * order; ferry runs on the machine that mounted the volume, so that is the order read. */
typedef struct xa_names {
    const char *attrib;        /* u32 FILE_ATTRIBUTE_*: ntfs-3g, ntfs3 */
    const char *dos_attrib;    /* u8 (the low byte): ntfs3 */
    const char *crtime;        /* u64 FILETIME: ntfs-3g */
    const char *acl_3g;        /* security descriptor: ntfs-3g */
    const char *security_3;    /* security descriptor: ntfs3 */
    const char *stream_prefix; /* ADS with ntfs-3g streams_interface=xattr */
} xa_names;

static const xa_names xa_real = {"system.ntfs_attrib", "system.dos_attrib",    "system.ntfs_crtime",
                                 "system.ntfs_acl",    "system.ntfs_security", "user."};
/* FY_SAFE_EMULATE_NTFS3G (tests): the same layout under user.ferrytest.* on a plain file
 * system with user xattrs, so the xattr code runs without an NTFS mount. */
static const xa_names xa_emul = {"user.ferrytest.ntfs_attrib",   "user.ferrytest.dos_attrib",
                                 "user.ferrytest.ntfs_crtime",   "user.ferrytest.ntfs_acl",
                                 "user.ferrytest.ntfs_security", "user.ferrytest.stream."};

static const xa_names *xa(const fy_safe_root *r)
{
    return (r->flags & FY_SAFE_EMULATE_NTFS3G) ? &xa_emul : &xa_real;
}

#define FY_SF_MAX_CACHED 16
#define FY_SF_MAX_BYTES (64u << 20)
#define FY_STREAM_MAX_BYTES (64u << 20)

#define fail fy_fail /* common/fy_diag.c */

bool fy_sm_stream_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == ':' || s[i] == '\\' || (unsigned char)s[i] < 0x20) return false;
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

fy_meta_mode fy_sm_probe(int rootfd)
{
    int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return FY_META_SIDEFILE;
    uint8_t b[8];
    fy_meta_mode m = FY_META_SIDEFILE;
    if (fgetxattr(fd, xa_real.crtime, b, sizeof b) == 8)
        m = FY_META_NTFS3G;
    else if (fgetxattr(fd, xa_real.attrib, b, 4) == 4 ||
             fgetxattr(fd, xa_real.dos_attrib, b, 1) == 1)
        m = FY_META_NTFS3;
    close(fd);
    return m;
}

/* ---- xattr helpers ---- */

static int x_get_attrs(const xa_names *xn, int fd, uint32_t *a)
{
    uint8_t b[4];
    if (fgetxattr(fd, xn->attrib, b, 4) == 4) {
        memcpy(a, b, 4);
        return 0;
    }
    if (fgetxattr(fd, xn->dos_attrib, b, 1) == 1) {
        *a = b[0];
        return 0;
    }
    return -1;
}

/* Sets the settable bits and keeps the rest (compression, sparse, reparse...): ntfs3 applies
 * the whole value it is given. */
static int x_set_attrs(const xa_names *xn, int fd, uint32_t want)
{
    uint32_t cur = 0;
    if (x_get_attrs(xn, fd, &cur) < 0) cur = 0;
    uint32_t v = (cur & ~(uint32_t)FY_ATTR_SETTABLE) | (want & FY_ATTR_SETTABLE);
    if (fsetxattr(fd, xn->attrib, &v, 4, 0) == 0) return 0;
    int e = errno;
    uint8_t b = (uint8_t)v;
    if (fsetxattr(fd, xn->dos_attrib, &b, 1, 0) == 0) return 0;
    errno = e;
    return -1;
}

static int x_copy(int from, int to, const char *name)
{
    ssize_t n = fgetxattr(from, name, NULL, 0);
    if (n < 0) return (errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP) ? 0 : -1;
    void *buf = fy_xmalloc((size_t)n + 1);
    ssize_t k = fgetxattr(from, name, buf, (size_t)n);
    int rc = k < 0 ? -1 : fsetxattr(to, name, buf, (size_t)k, 0);
    int e = errno;
    free(buf);
    errno = e;
    return rc;
}

/* ---- side-file time text: 2019-03-04T10:20:30.1234567Z ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

#define FT_PER_SEC 10000000LL
#define FT_DAYS_1601 (-134774LL) /* days from 1970-01-01 back to 1601-01-01 */

void fy_sm_format_time(int64_t ft, char out[40])
{
    if (ft < 0) ft = 0;
    int64_t secs = ft / FT_PER_SEC, frac = ft % FT_PER_SEC;
    int64_t days = secs / 86400 + FT_DAYS_1601, sod = secs % 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 40, "%04lld-%02u-%02uT%02u:%02u:%02u.%07lldZ", (long long)y, m, d,
             (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
             (long long)frac);
}

static bool digits(const char *s, size_t n, unsigned *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

int fy_sm_parse_time(const char *s, size_t n, int64_t *ft)
{
    unsigned y, mo, d, h, mi, se;
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[n - 1] != 'Z')
        return -1;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return -1;
    int64_t frac = 0;
    size_t p = 19;
    if (p < n - 1) {
        if (s[p] != '.') return -1;
        size_t nd = n - 1 - (p + 1);
        if (nd < 1 || nd > 7) return -1;
        unsigned v;
        if (!digits(s + p + 1, nd, &v)) return -1;
        frac = v;
        for (size_t i = nd; i < 7; i++)
            frac *= 10;
    }
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1601 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || se > 59)
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return -1;
    int64_t days = days_from_civil(y, mo, d) - FT_DAYS_1601;
    *ft = ((days * 86400) + h * 3600 + mi * 60 + se) * FT_PER_SEC + frac;
    return 0;
}

/* ---- the side file ---- */

static int cmp_ci(const char *a, const char *b)
{
    return fy_strcasecmp_u8(a, strlen(a), b, strlen(b));
}

static fy_side_ent *sf_find(fy_sidefile *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) return &s->v[i];
    for (size_t i = 0; i < s->n; i++)
        if (cmp_ci(s->v[i].name, name) == 0) return &s->v[i];
    return NULL;
}

static fy_side_ent *sf_put(fy_sidefile *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) return &s->v[i];
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = fy_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    fy_side_ent *e = &s->v[s->n++];
    memset(e, 0, sizeof *e);
    e->name = fy_xstrdup(name);
    return e;
}

static bool sf_del(fy_sidefile *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].name, name) == 0) {
            free(s->v[i].name);
            s->v[i] = s->v[--s->n];
            return true;
        }
    }
    return false;
}

static void sf_free_one(fy_sidefile *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].name);
    free(s->v);
    free(s->dir);
    free(s->warning);
    memset(s, 0, sizeof *s);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Names are written with %XX for '%', TAB, LF and CR (any %XX is read back). */
static char *unescape_name(const char *s, size_t n)
{
    char *out = fy_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void escape_name(fy_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '%' || *s == '\t' || *s == '\n' || *s == '\r')
            fy_buf_printf(b, "%%%02X", (unsigned)(unsigned char)*s);
        else
            fy_buf_putc(b, (uint8_t)*s);
    }
}

static bool side_name_ok(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static void sf_warn(fy_sidefile *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sf_warn(fy_sidefile *s, const char *fmt, ...)
{
    if (s->warning) return;
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s->warning = fy_xstrdup(buf);
}

/* Parses a side file's text; bad lines are skipped, the first one noted in s->warning. */
static void sf_parse(fy_sidefile *s, const char *text, size_t n, const char *where)
{
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && text[end] != '\n')
            end++;
        const char *line = text + pos;
        size_t len = end - pos;
        pos = end + 1;
        lineno++;
        if (len && line[len - 1] == '\r') len--;
        if (len == 0 || line[0] == '#') continue;
        const char *t1 = memchr(line, '\t', len);
        const char *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - line)) : NULL;
        if (!t1 || !t2 || memchr(t2 + 1, '\t', len - (size_t)(t2 + 1 - line))) {
            sf_warn(s,
                    "%s line %u: expected name, attributes and creation time separated by "
                    "tabs",
                    where, lineno);
            continue;
        }
        char *name = unescape_name(line, (size_t)(t1 - line));
        if (!name || !side_name_ok(name)) {
            sf_warn(s, "%s line %u: bad name", where, lineno);
            free(name);
            continue;
        }
        const char *a = t1 + 1;
        size_t an = (size_t)(t2 - a);
        bool has_attrs = false;
        uint32_t attrs = 0;
        if (!(an == 1 && a[0] == '-')) {
            bool ok = an >= 1 && an <= 8;
            for (size_t i = 0; ok && i < an; i++) {
                int h = hexval(a[i]);
                if (h < 0)
                    ok = false;
                else
                    attrs = attrs << 4 | (uint32_t)h;
            }
            if (!ok) {
                sf_warn(s, "%s line %u: bad attributes \"%.*s\" (1 to 8 hex digits or -)", where,
                        lineno, (int)an, a);
                free(name);
                continue;
            }
            has_attrs = true;
        }
        const char *c = t2 + 1;
        size_t cn = len - (size_t)(c - line);
        bool has_crtime = false;
        int64_t ft = 0;
        if (!(cn == 1 && c[0] == '-')) {
            if (fy_sm_parse_time(c, cn, &ft) < 0) {
                sf_warn(s,
                        "%s line %u: bad creation time \"%.*s\" (YYYY-MM-DDTHH:MM:SS[.f]Z "
                        "or -)",
                        where, lineno, (int)cn, c);
                free(name);
                continue;
            }
            has_crtime = true;
        }
        fy_side_ent *e = sf_put(s, name);
        free(name);
        e->has_attrs = has_attrs;
        e->attrs = attrs;
        e->has_crtime = has_crtime;
        e->crtime = ft;
    }
}

static int cmp_ent(const void *x, const void *y)
{
    const fy_side_ent *a = x, *b = y;
    int c = cmp_ci(a->name, b->name);
    return c ? c : strcmp(a->name, b->name);
}

/* Opens the folder at dirpath (a path on disk, as the walk produced it) without following
 * links: an O_PATH fd. */
static int open_dir_path(fy_safe_root *r, const char *dirpath)
{
    int cur = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0 || !*dirpath) return cur;
    char *copy = fy_xstrdup(dirpath), *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(cur);
        cur = next;
        if (cur < 0) {
            errno = e == ENOTDIR ? ELOOP : e;
            break;
        }
    }
    free(copy);
    return cur;
}

static int sf_write(fy_safe_root *r, fy_sidefile *s, char *err, size_t es)
{
    int dirfd = open_dir_path(r, s->dir);
    if (dirfd < 0)
        return fail(err, es, errno, "cannot open folder \"%s\" to write " FY_SIDE_ATTRS ": %s",
                    s->dir, strerror(errno));
    int rc = -1, fd = -1;
    char tmp[32] = "";
    fy_buf b = {0};
    size_t live = 0;
    if (s->n) qsort(s->v, s->n, sizeof *s->v, cmp_ent);
    fy_buf_puts(&b, "# ferry attribute side file v1: name<TAB>attributes (hex, Windows "
                    "FILE_ATTRIBUTE_*)<TAB>creation time (UTC); see docs/agent-io.md\n");
    for (size_t i = 0; i < s->n; i++) {
        const fy_side_ent *e = &s->v[i];
        if (!e->has_attrs && !e->has_crtime) continue;
        live++;
        escape_name(&b, e->name);
        if (e->has_attrs)
            fy_buf_printf(&b, "\t%08X", (unsigned)e->attrs);
        else
            fy_buf_puts(&b, "\t-");
        if (e->has_crtime) {
            char t[40];
            fy_sm_format_time(e->crtime, t);
            fy_buf_printf(&b, "\t%s\n", t);
        } else {
            fy_buf_puts(&b, "\t-\n");
        }
    }
    if (!live) {
        if (unlinkat(dirfd, FY_SIDE_ATTRS, 0) < 0 && errno != ENOENT) {
            fail(err, es, errno, "cannot remove \"%s/" FY_SIDE_ATTRS "\": %s", s->dir,
                 strerror(errno));
            goto out;
        }
        rc = 0;
        goto out;
    }
    fd = fy_sp_tmpfile(r, dirfd, tmp);
    if (fd < 0) {
        tmp[0] = '\0';
        fail(err, es, errno, "cannot write " FY_SIDE_ATTRS " in \"%s\": %s", s->dir,
             strerror(errno));
        goto out;
    }
    if (fy_sp_write_all(fd, b.data, b.len) < 0 || (!(r->flags & FY_SAFE_DEFER_SYNC) && fsync(fd) < 0)) {
        fail(err, es, errno, "cannot write " FY_SIDE_ATTRS " in \"%s\": %s", s->dir,
             strerror(errno));
        goto out;
    }
    int c = close(fd);
    fd = -1;
    if (c < 0 || renameat(dirfd, tmp, dirfd, FY_SIDE_ATTRS) < 0) {
        fail(err, es, errno, "cannot write " FY_SIDE_ATTRS " in \"%s\": %s", s->dir,
             strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    if (!(r->flags & FY_SAFE_DEFER_SYNC) && fy_sp_fsync_dir(dirfd) < 0) {
        fail(err, es, errno, "cannot sync folder \"%s\": %s", s->dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (tmp[0]) unlinkat(dirfd, tmp, 0);
    if (rc == 0) {
        s->dirty = false;
        fy_sp_dc_added(r, dirfd, s->dir, NULL);
    }
    close(dirfd);
    fy_buf_free(&b);
    return rc;
}

static void sf_load(fy_sidefile *s, int dirfd)
{
    char where[600];
    snprintf(where, sizeof where, "%s%s" FY_SIDE_ATTRS, s->dir, *s->dir ? "/" : "");
    int fd =
        openat(dirfd, FY_SIDE_ATTRS, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ELOOP)
            sf_warn(s, "ignoring %s: it is a link", where);
        else if (errno != ENOENT)
            sf_warn(s, "cannot read %s: %s", where, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > FY_SF_MAX_BYTES) {
        sf_warn(s, "ignoring %s: not a regular file of at most %u bytes", where, FY_SF_MAX_BYTES);
        close(fd);
        return;
    }
    fy_buf b = {0};
    fy_buf_reserve(&b, (size_t)st.st_size + 1);
    for (;;) {
        if (b.len >= FY_SF_MAX_BYTES) break;
        fy_buf_reserve(&b, 65536);
        ssize_t k = read(fd, b.data + b.len, 65536);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            sf_warn(s, "cannot read %s: %s", where, strerror(errno));
            break;
        }
        if (k == 0) break;
        b.len += (size_t)k;
    }
    close(fd);
    if (b.len) sf_parse(s, (const char *)b.data, b.len, where);
    fy_buf_free(&b);
}

/* The side file of the folder dirfd (at dirpath), loaded on first use. *fresh says whether it
 * was loaded by this call. Evicting a dirty one writes it. */
static fy_sidefile *sf_get(fy_safe_root *r, int dirfd, const char *dirpath, bool *fresh, char *err,
                           size_t es)
{
    if (fresh) *fresh = false;
    r->clock++;
    for (size_t i = 0; i < r->nsf; i++) {
        if (strcmp(r->sf[i].dir, dirpath) == 0) {
            r->sf[i].used = r->clock;
            return &r->sf[i];
        }
    }
    if (r->nsf >= FY_SF_MAX_CACHED) {
        size_t old = 0;
        for (size_t i = 1; i < r->nsf; i++)
            if (r->sf[i].used < r->sf[old].used) old = i;
        if (r->sf[old].dirty && sf_write(r, &r->sf[old], err, es) < 0) return NULL;
        sf_free_one(&r->sf[old]);
        r->sf[old] = r->sf[--r->nsf];
    }
    if (r->nsf == r->capsf) {
        r->capsf = r->capsf ? r->capsf * 2 : 8;
        r->sf = fy_xrealloc(r->sf, r->capsf * sizeof *r->sf);
    }
    fy_sidefile *s = &r->sf[r->nsf++];
    memset(s, 0, sizeof *s);
    s->dir = fy_xstrdup(dirpath);
    s->used = r->clock;
    sf_load(s, dirfd);
    if (fresh) *fresh = true;
    return s;
}

int fy_sm_flush(fy_safe_root *r, char *err, size_t es)
{
    int rc = 0;
    for (size_t i = 0; i < r->nsf; i++)
        if (r->sf[i].dirty && sf_write(r, &r->sf[i], rc == 0 ? err : NULL, es) < 0 && rc == 0)
            rc = -1;
    return rc;
}

void fy_sm_free(fy_safe_root *r)
{
    for (size_t i = 0; i < r->nsf; i++)
        sf_free_one(&r->sf[i]);
    free(r->sf);
    r->sf = NULL;
    r->nsf = r->capsf = 0;
}

/* ---- side streams: .ferry-streams/<name>:<stream> ---- */

static int streams_dir(int dirfd, bool create)
{
    if (create && mkdirat(dirfd, FY_SIDE_STREAMS, 0777) < 0 && errno != EEXIST) return -1;
    int fd = openat(dirfd, FY_SIDE_STREAMS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOTDIR) errno = ELOOP;
    return fd;
}

/* Calls fn for each stream file of name (entry "name:stream"). */
static int side_streams_each(int dirfd, const char *name,
                             int (*fn)(int sfd, const char *entry, const char *stream, void *ctx),
                             void *ctx)
{
    int sfd = streams_dir(dirfd, false);
    if (sfd < 0) return errno == ENOENT ? 0 : -1;
    int dup = fcntl(sfd, F_DUPFD_CLOEXEC, 0);
    DIR *dp = dup >= 0 ? fdopendir(dup) : NULL;
    if (!dp) {
        int e = errno;
        if (dup >= 0) close(dup);
        close(sfd);
        errno = e;
        return -1;
    }
    size_t nl = strlen(name);
    /* collect first: fn may unlink */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (strncmp(de->d_name, name, nl) != 0 || de->d_name[nl] != ':') continue;
        if (!fy_sm_stream_name_ok(de->d_name + nl + 1)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            names = fy_xrealloc(names, cap * sizeof *names);
        }
        names[n++] = fy_xstrdup(de->d_name);
    }
    closedir(dp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && fn(sfd, names[i], names[i] + nl + 1, ctx) < 0) rc = -1;
        free(names[i]);
    }
    free(names);
    int e = errno;
    close(sfd);
    errno = e;
    return rc;
}

static int collect_stream(int sfd, const char *entry, const char *stream, void *ctx)
{
    (void)sfd;
    (void)entry;
    fy_meta *m = ctx;
    m->streams = fy_xrealloc(m->streams, (m->nstreams + 1) * sizeof *m->streams);
    m->streams[m->nstreams++] = fy_xstrdup(stream);
    return 0;
}

struct keep_ctx {
    const fy_place_meta *pm;
};

static int drop_stream(int sfd, const char *entry, const char *stream, void *ctx)
{
    const struct keep_ctx *k = ctx;
    for (size_t i = 0; k->pm && i < k->pm->nstreams; i++)
        if (strcmp(k->pm->streams[i].name, stream) == 0) return 0;
    if (unlinkat(sfd, entry, 0) < 0 && errno != ENOENT) return -1;
    return 0;
}

static int side_write_stream(fy_safe_root *r, int dirfd, const char *name, const fy_stream_data *sd,
                             char *err, size_t es)
{
    char *entry = fy_xasprintf("%s:%s", name, sd->name);
    int sfd = -1, fd = -1, rc = -1;
    char tmp[32] = "";
    if (strlen(entry) > 255) {
        fail(err, es, ENAMETOOLONG, "stream name \"%s\" too long to keep beside \"%s\"", sd->name,
             name);
        goto out;
    }
    sfd = streams_dir(dirfd, true);
    if (sfd < 0) {
        fail(err, es, errno, "cannot open " FY_SIDE_STREAMS " beside \"%s\": %s", name,
             strerror(errno));
        goto out;
    }
    fd = fy_sp_tmpfile(r, sfd, tmp);
    if (fd < 0) {
        tmp[0] = '\0';
        fail(err, es, errno, "cannot write stream %s of \"%s\": %s", sd->name, name,
             strerror(errno));
        goto out;
    }
    if (fy_sp_write_all(fd, sd->data, sd->size) < 0 || (!(r->flags & FY_SAFE_DEFER_SYNC) && fsync(fd) < 0)) {
        fail(err, es, errno, "cannot write stream %s of \"%s\": %s", sd->name, name,
             strerror(errno));
        goto out;
    }
    int c = close(fd);
    fd = -1;
    if (c < 0 || renameat(sfd, tmp, sfd, entry) < 0) {
        fail(err, es, errno, "cannot write stream %s of \"%s\": %s", sd->name, name,
             strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    rc = (r->flags & FY_SAFE_DEFER_SYNC) ? 0 : fy_sp_fsync_dir(sfd);
    if (rc < 0) fail(err, es, errno, "cannot sync " FY_SIDE_STREAMS ": %s", strerror(errno));
out:
    if (fd >= 0) close(fd);
    if (tmp[0]) unlinkat(sfd, tmp, 0);
    if (sfd >= 0) close(sfd);
    free(entry);
    return rc;
}

/* ---- reading ---- */

static int open_obj(const fy_walk *w, int extra)
{
    const char *name = w->last ? w->last : ".";
    int base = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | extra;
    int fd = openat(w->dirfd, name, base | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = openat(w->dirfd, name, base);
    return fd;
}

static void note(fy_meta *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(fy_meta *m, const char *fmt, ...)
{
    if (m->warning) return;
    va_list ap;
    va_start(ap, fmt);
    char buf[600];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    m->warning = fy_xstrdup(buf);
}

int fy_sm_read(fy_safe_root *r, fy_walk *w, fy_meta *m, char *err, size_t es)
{
    struct statx sx;
    char *full = fy_sp_join(w->dirpath, w->last);
    int rc = -1, fd = -1;
    if (statx(w->dirfd, w->last ? w->last : "", w->last ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH,
              STATX_BASIC_STATS | STATX_BTIME, &sx) < 0) {
        fail(err, es, errno, "cannot stat \"%s\": %s", full, strerror(errno));
        goto out;
    }
    mode_t fmt = sx.stx_mode & S_IFMT;
    m->kind = fmt == S_IFREG   ? FY_KIND_FILE
              : fmt == S_IFDIR ? FY_KIND_DIR
              : fmt == S_IFLNK ? FY_KIND_LINK
                               : FY_KIND_OTHER;
    m->size = sx.stx_size;
    m->mtime = (struct timespec){sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
    m->atime = (struct timespec){sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec};
    m->ctime = (struct timespec){sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec};
    if (sx.stx_mask & STATX_BTIME) {
        m->has_crtime = true;
        m->crtime = (struct timespec){sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec};
    }
    rc = 0;
    if (m->kind == FY_KIND_LINK) {
        char buf[PATH_MAX + 1];
        ssize_t k = readlinkat(w->dirfd, w->last, buf, PATH_MAX);
        if (k >= 0) {
            buf[k] = '\0';
            m->link_target = fy_xstrdup(buf);
        }
        goto out;
    }
    if (m->kind == FY_KIND_OTHER) goto out;
    if (r->mode == FY_META_SIDEFILE) {
        if (w->last) {
            bool fresh;
            fy_sidefile *s = sf_get(r, w->dirfd, w->dirpath, &fresh, err, es);
            if (!s) {
                rc = -1;
                goto out;
            }
            if (fresh && s->warning) note(m, "%s", s->warning);
            fy_side_ent *e = sf_find(s, w->last);
            if (e && e->has_attrs) {
                m->has_attrs = true;
                m->attrs = e->attrs;
            }
            if (e && e->has_crtime) {
                m->has_crtime = true;
                m->crtime = fy_timespec_from_filetime(e->crtime);
            }
            if (side_streams_each(w->dirfd, w->last, collect_stream, m) < 0)
                note(m, "cannot list the streams of \"%s\": %s", full, strerror(errno));
        }
    } else {
        fd = open_obj(w, 0);
        if (fd < 0) {
            note(m, "cannot read the attributes of \"%s\": %s", full, strerror(errno));
            goto out;
        }
        const xa_names *xn = xa(r);
        uint32_t a;
        if (x_get_attrs(xn, fd, &a) == 0) {
            m->has_attrs = true;
            m->attrs = a;
        }
        int64_t ft;
        if (r->mode == FY_META_NTFS3G && fgetxattr(fd, xn->crtime, &ft, 8) == 8) {
            m->has_crtime = true;
            m->crtime = fy_timespec_from_filetime(ft);
        }
        if (r->mode == FY_META_NTFS3G) {
            ssize_t n = flistxattr(fd, NULL, 0);
            char *list = n > 0 ? fy_xmalloc((size_t)n + 1) : NULL;
            if (n > 0) n = flistxattr(fd, list, (size_t)n);
            for (ssize_t i = 0; n > 0 && i < n;) {
                const char *nm = list + i;
                size_t l = strnlen(nm, (size_t)(n - i));
                size_t pl = strlen(xn->stream_prefix);
                if (l > pl && strncmp(nm, xn->stream_prefix, pl) == 0 &&
                    fy_sm_stream_name_ok(nm + pl))
                    collect_stream(-1, nm, nm + pl, m);
                i += (ssize_t)l + 1;
            }
            free(list);
        }
    }
    if (m->has_attrs) {
        if (m->kind == FY_KIND_DIR)
            m->attrs |= FY_ATTR_DIRECTORY;
        else
            m->attrs &= ~(uint32_t)FY_ATTR_DIRECTORY;
    }
out:
    if (fd >= 0) close(fd);
    free(full);
    return rc;
}

int fy_sm_read_stream(fy_safe_root *r, fy_walk *w, const char *stream, fy_buf *out, char *err,
                      size_t es)
{
    char *full = fy_sp_join(w->dirpath, w->last);
    int rc = -1, fd = -1;
    if (S_ISLNK(w->st.st_mode)) {
        fail(err, es, ELOOP, "refusing to follow a link at \"%s\"", full);
        goto out;
    }
    if (r->mode == FY_META_NTFS3) {
        fail(err, es, EOPNOTSUPP, "this mount (ntfs3) does not expose alternate data streams");
        goto out;
    }
    if (r->mode == FY_META_NTFS3G) {
        fd = open_obj(w, 0);
        if (fd < 0) {
            fail(err, es, errno, "cannot open \"%s\": %s", full, strerror(errno));
            goto out;
        }
        char *xname = fy_xasprintf("%s%s", xa(r)->stream_prefix, stream);
        ssize_t n = fgetxattr(fd, xname, NULL, 0);
        if (n >= 0) {
            fy_buf_reserve(out, (size_t)n + 1);
            n = fgetxattr(fd, xname, out->data + out->len, (size_t)n);
        }
        int e = errno;
        free(xname);
        if (n < 0) {
            fail(err, es, e == ENODATA ? ENODATA : e, "cannot read stream %s of \"%s\": %s", stream,
                 full, strerror(e));
            goto out;
        }
        out->len += (size_t)n;
        rc = 0;
        goto out;
    }
    if (!w->last) {
        fail(err, es, ENODATA, "the root folder has no streams here");
        goto out;
    }
    int sfd = streams_dir(w->dirfd, false);
    if (sfd < 0) {
        fail(err, es, errno == ENOENT ? ENODATA : errno, "no stream %s on \"%s\"", stream, full);
        goto out;
    }
    char *entry = fy_xasprintf("%s:%s", w->last, stream);
    fd = openat(sfd, entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    int e = errno;
    close(sfd);
    free(entry);
    if (fd < 0) {
        fail(err, es, e == ENOENT ? ENODATA : e, "no stream %s on \"%s\"", stream, full);
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > FY_STREAM_MAX_BYTES) {
        fail(err, es, EINVAL, "stream %s of \"%s\" is not a regular file of at most %u bytes",
             stream, full, FY_STREAM_MAX_BYTES);
        goto out;
    }
    size_t total = 0;
    for (;;) {
        fy_buf_reserve(out, 65536);
        ssize_t k = read(fd, out->data + out->len, 65536);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            fail(err, es, errno, "cannot read stream %s of \"%s\": %s", stream, full,
                 strerror(errno));
            goto out;
        }
        if (k == 0) break;
        out->len += (size_t)k;
        total += (size_t)k;
        if (total > FY_STREAM_MAX_BYTES) {
            fail(err, es, EFBIG, "stream %s of \"%s\" grew while read", stream, full);
            goto out;
        }
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    free(full);
    return rc;
}

/* ---- writing ---- */

int fy_sm_apply_fd(fy_safe_root *r, int fd, const fy_place_meta *pm, const char *what, char *err,
                   size_t es)
{
    if (!pm) return 0;
    const xa_names *xn = xa(r);
    if (r->mode == FY_META_NTFS3G) {
        for (size_t i = 0; i < pm->nstreams; i++) {
            const fy_stream_data *sd = &pm->streams[i];
            char *xname = fy_xasprintf("%s%s", xn->stream_prefix, sd->name);
            int x = fsetxattr(fd, xname, sd->data ? sd->data : "", sd->size, 0);
            free(xname);
            if (x < 0)
                return fail(err, es, errno, "cannot write stream %s of \"%s\": %s", sd->name, what,
                            strerror(errno));
        }
        if (pm->set_crtime) {
            int64_t ft = fy_filetime_from_timespec(pm->crtime);
            if (fsetxattr(fd, xn->crtime, &ft, 8, 0) < 0)
                return fail(err, es, errno, "cannot set the creation time of \"%s\": %s", what,
                            strerror(errno));
        }
    }
    /* ntfs3 cannot set a creation time or streams (docs/agent-io.md). */
    if (pm->set_mtime || pm->set_atime) {
        struct timespec t[2] = {
            pm->set_atime ? pm->atime : (struct timespec){0, UTIME_OMIT},
            pm->set_mtime ? pm->mtime : (struct timespec){0, UTIME_OMIT},
        };
        if (futimens(fd, t) < 0)
            return fail(err, es, errno, "cannot set the times of \"%s\": %s", what,
                        strerror(errno));
    }
    /* Attributes last: a read-only attribute must not stop the steps above. */
    if (pm->set_attrs && r->mode != FY_META_SIDEFILE && x_set_attrs(xn, fd, pm->attrs) < 0)
        return fail(err, es, errno, "cannot set the attributes of \"%s\": %s", what,
                    strerror(errno));
    return 0;
}

int fy_sm_apply_side(fy_safe_root *r, int dirfd, const char *dirpath, const char *name,
                     const fy_place_meta *pm, bool keep_entry, bool replace_streams, char *err,
                     size_t es)
{
    if (r->mode != FY_META_SIDEFILE) return 0;
    bool want = pm && (pm->set_attrs || pm->set_crtime);
    fy_sidefile *s = sf_get(r, dirfd, dirpath, NULL, err, es);
    if (!s) return -1;
    if (!keep_entry && sf_del(s, name)) s->dirty = true;
    if (want) {
        fy_side_ent *e = sf_put(s, name);
        if (pm->set_attrs) {
            e->has_attrs = true;
            e->attrs = pm->attrs & FY_ATTR_SETTABLE;
        }
        if (pm->set_crtime) {
            e->has_crtime = true;
            e->crtime = fy_filetime_from_timespec(pm->crtime);
        }
        s->dirty = true;
    }
    for (size_t i = 0; pm && i < pm->nstreams; i++)
        if (side_write_stream(r, dirfd, name, &pm->streams[i], err, es) < 0) return -1;
    if (replace_streams) {
        struct keep_ctx k = {pm};
        if (side_streams_each(dirfd, name, drop_stream, &k) < 0)
            return fail(err, es, errno, "cannot drop old streams of \"%s\": %s", name,
                        strerror(errno));
    }
    if (pm && pm->nstreams) fy_sp_dc_added(r, dirfd, dirpath, NULL);
    return 0;
}

int fy_sm_copy_security(fy_safe_root *r, int old_fd, int tmp_fd, fy_place_meta *eff, char *err,
                        size_t es)
{
    struct stat st;
    if (fstat(old_fd, &st) < 0)
        return fail(err, es, errno, "cannot stat the file being replaced: %s", strerror(errno));
    /* Owner and mode: best effort (a non-root agent, or a mount without permissions). */
    if (fchown(tmp_fd, st.st_uid, st.st_gid) < 0 && errno != EPERM && errno != ENOTSUP &&
        errno != ENOSYS)
        return fail(err, es, errno, "cannot set the owner: %s", strerror(errno));
    if (fchmod(tmp_fd, st.st_mode & 07777) < 0 && errno != EPERM && errno != ENOTSUP &&
        errno != ENOSYS)
        return fail(err, es, errno, "cannot set the mode: %s", strerror(errno));
    if (r->mode == FY_META_SIDEFILE) return 0;
    const xa_names *xn = xa(r);
    const char *sd = r->mode == FY_META_NTFS3G ? xn->acl_3g : xn->security_3;
    if (x_copy(old_fd, tmp_fd, sd) < 0)
        return fail(err, es, errno, "cannot copy the security descriptor: %s", strerror(errno));
    uint32_t a;
    if (!eff->set_attrs && x_get_attrs(xn, old_fd, &a) == 0) {
        eff->set_attrs = true;
        eff->attrs = a;
    }
    int64_t ft;
    if (!eff->set_crtime && r->mode == FY_META_NTFS3G &&
        fgetxattr(old_fd, xn->crtime, &ft, 8) == 8) {
        eff->set_crtime = true;
        eff->crtime = fy_timespec_from_filetime(ft);
    }
    return 0;
}

int fy_sm_forget(fy_safe_root *r, int dirfd, const char *dirpath, const char *name, char *err,
                 size_t es)
{
    if (r->mode != FY_META_SIDEFILE) return 0;
    fy_sidefile *s = sf_get(r, dirfd, dirpath, NULL, err, es);
    if (!s) return -1;
    if (sf_del(s, name)) s->dirty = true;
    struct keep_ctx k = {NULL};
    if (side_streams_each(dirfd, name, drop_stream, &k) < 0)
        return fail(err, es, errno, "cannot remove the streams of \"%s\": %s", name,
                    strerror(errno));
    return 0;
}
