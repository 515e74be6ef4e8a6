/* The operation log: text or CMTrace lines, several copies, secrets scrubbed. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fy_common.h"
#include "io/fy_log.h"
#include "io/fy_progress.h"

#define FY_LOG_MASK "********"
#define FY_LOG_PENDING_MAX (16u << 20)

typedef struct log_copy {
    int fd;
    char *path;
    bool failed;
    dev_t dir_dev; /* the folder it is in: attaching the same folder twice is a no-op */
    ino_t dir_ino;
} log_copy;

struct fy_log {
    pthread_mutex_t mu;
    fy_log_level level;
    fy_log_format format;
    char *name; /* file name (without folder) */
    log_copy *copies;
    size_t ncopies;
    fy_buf pending; /* lines kept while no copy exists */
    size_t pending_dropped;
    char **secrets;
    size_t nsecrets;
    size_t errors, warnings;
    struct timespec start;
    struct timespec (*clock)(void *);
    void *clock_ctx;
    FILE *echo;
    fy_log_level echo_level;
    const char *program;
    struct fy_progress *progress;
    char write_err[256];
    long pid;
};

#define fail fy_fail /* common/fy_diag.c */

/* ---- pure helpers ---- */

const char *fy_log_level_name(fy_log_level lv)
{
    switch (lv) {
    case FY_LOG_ERROR:
        return "Error";
    case FY_LOG_WARNING:
        return "Warning";
    case FY_LOG_INFO:
        return "Informational";
    case FY_LOG_VERBOSE:
        return "Verbose";
    case FY_LOG_TRACE:
        return "Trace";
    }
    return "Informational";
}

int fy_log_level_parse(const char *s, fy_log_level *lv)
{
    static const struct {
        const char *name;
        fy_log_level lv;
    } t[] = {{"error", FY_LOG_ERROR},        {"warning", FY_LOG_WARNING}, {"info", FY_LOG_INFO},
             {"informational", FY_LOG_INFO}, {"verbose", FY_LOG_VERBOSE}, {"trace", FY_LOG_TRACE}};
    for (size_t i = 0; i < FY_ARRAY_LEN(t); i++) {
        if (strcasecmp(s, t[i].name) == 0) {
            *lv = t[i].lv;
            return 0;
        }
    }
    return -1;
}

static const char *op_code(fy_log_op op)
{
    switch (op) {
    case FY_OP_EXTRACT:
        return "Ext";
    case FY_OP_INJECT:
        return "Inj";
    case FY_OP_BACKUP:
        return "Bak";
    case FY_OP_RESTORE:
        return "Res";
    }
    return "Ext";
}

char *fy_log_file_name(const char *computer, fy_log_op op, time_t t)
{
    /* The computer name comes from the volume's registry: keep it to [A-Z0-9-_] so that it
     * can never make a path. */
    char comp[64];
    size_t n = 0;
    for (const char *p = computer ? computer : ""; *p && n < sizeof comp - 1; p++) {
        unsigned char c = (unsigned char)*p;
        comp[n++] = (char)(isascii(c) && isalnum(c) ? toupper(c) : c == '-' ? '-' : '_');
    }
    comp[n] = '\0';
    if (!n) strcpy(comp, "UNKNOWN");
    struct tm tm;
    gmtime_r(&t, &tm);
    return fy_xasprintf("%s_%04d-%02d-%02d_%02d-%02d-%02d_%s.log", comp, tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, op_code(op));
}

/* "password" option name after "--", "-" or "/", any case; *val points after '=' or ':'
 * when the value is in the same argument, else NULL. */
static bool is_password_opt(const char *a, const char **val)
{
    *val = NULL;
    if (a[0] == '-' && a[1] == '-')
        a += 2;
    else if (a[0] == '-' || a[0] == '/')
        a += 1;
    else
        return false;
    if (strncasecmp(a, "password", 8) != 0) return false;
    if (a[8] == '\0') return true;
    if (a[8] == '=' || a[8] == ':') {
        *val = a + 9;
        return true;
    }
    return false;
}

static void put_arg(fy_buf *b, const char *a, size_t n)
{
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        if (strchr(" \t\"'$`;&|<>()*?[]{}!#~", a[i]) || (unsigned char)a[i] < 0x20) quote = true;
    if (!quote) {
        fy_buf_put(b, a, n);
        return;
    }
    fy_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '"') fy_buf_putc(b, '\\'); /* backslashes stay: Windows paths read as typed */
        fy_buf_putc(b, (unsigned char)a[i] < 0x20 ? '?' : (uint8_t)a[i]);
    }
    fy_buf_putc(b, '"');
}

char *fy_log_mask_argv(int argc, char *const *argv)
{
    fy_buf b = {0};
    bool mask_next = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i] ? argv[i] : "";
        if (i) fy_buf_putc(&b, ' ');
        if (mask_next) {
            fy_buf_puts(&b, FY_LOG_MASK);
            mask_next = false;
            continue;
        }
        const char *val;
        if (i > 0 && is_password_opt(a, &val)) {
            if (val) {
                put_arg(&b, a, (size_t)(val - a));
                fy_buf_puts(&b, FY_LOG_MASK);
            } else {
                put_arg(&b, a, strlen(a));
                mask_next = true;
            }
            continue;
        }
        put_arg(&b, a, strlen(a));
    }
    char *s = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return s;
}

static void put_msg(fy_buf *b, const char *msg, bool cmtrace)
{
    for (const char *p = msg; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (cmtrace && strncmp(p, "]LOG]!>", 7) == 0) {
            fy_buf_puts(b, "]LOG] !>"); /* would end the CMTrace message early */
            p += 6;
            continue;
        }
        fy_buf_putc(b, c < 0x20 && c != '\t' ? '?' : c);
    }
}

static size_t format_line(fy_buf *b, fy_log_format f, fy_log_level lv, struct timespec t, long pid,
                          const char *msg)
{
    struct tm tm;
    time_t s = t.tv_sec;
    gmtime_r(&s, &tm);
    size_t start = b->len;
    if (f == FY_LOG_CMTRACE) {
        /* <![LOG[msg]LOG]!><time="HH:MM:SS.mmm+000" date="MM-DD-YYYY" component="ferry"
         * context="" type="1|2|3" thread="PID" file="">; times are UTC, so the bias is +000 */
        fy_buf_puts(b, "<![LOG[");
        put_msg(b, msg, true);
        fy_buf_printf(b,
                      "]LOG]!><time=\"%02d:%02d:%02d.%03ld+000\" date=\"%02d-%02d-%04d\" "
                      "component=\"ferry\" context=\"\" type=\"%d\" thread=\"%ld\" file=\"\">\n",
                      tm.tm_hour, tm.tm_min, tm.tm_sec, t.tv_nsec / 1000000, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_year + 1900,
                      lv == FY_LOG_ERROR     ? 3
                      : lv == FY_LOG_WARNING ? 2
                                             : 1,
                      pid);
    } else {
        fy_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d [%s] ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fy_log_level_name(lv));
        put_msg(b, msg, false);
        fy_buf_putc(b, '\n');
    }
    return b->len - start;
}

size_t fy_log_format_line(char *buf, size_t size, fy_log_format f, fy_log_level lv,
                          struct timespec t, long pid, const char *msg)
{
    fy_buf b = {0};
    size_t n = format_line(&b, f, lv, t, pid, msg);
    if (size) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(buf, b.data, k);
        buf[k] = '\0';
    }
    fy_buf_free(&b);
    return n;
}

/* ---- files ---- */

static int mkdir_p(const char *dir)
{
    char *p = fy_xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                rc = -1;
                break;
            }
            *s = c;
            if (!c) break;
        }
    }
    int e = errno;
    free(p);
    errno = e;
    if (rc == 0) {
        struct stat st;
        if (stat(dir, &st) < 0) return -1;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
    }
    return rc;
}

/* Creates dir/name (or name-2.log, name-3.log ... when taken); never follows a link. */
static int create_log_file(const char *dir, const char *name, char **path)
{
    size_t n = strlen(name);
    const char *ext = n > 4 ? name + n - 4 : name + n;
    for (int k = 1; k < 100; k++) {
        char *p = k == 1 ? fy_xasprintf("%s/%s", dir, name)
                         : fy_xasprintf("%s/%.*s-%d%s", dir, (int)(ext - name), name, k, ext);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd >= 0) {
            *path = p;
            return fd;
        }
        int e = errno;
        free(p);
        if (e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

static int write_all(int fd, const void *p, size_t n)
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

static struct timespec now(const fy_log *l)
{
    if (l->clock) return l->clock(l->clock_ctx);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t;
}

static void warn_out(fy_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_out(fy_log *l, const char *fmt, ...)
{
    FILE *f = l->echo ? l->echo : stderr;
    if (l->progress) fy_progress_clear(l->progress);
    va_list ap;
    va_start(ap, fmt);
    fprintf(f, "%s: warning: ", l->program);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    va_end(ap);
}

/* Writes bytes to every copy (or keeps them while there is none). Called locked. */
static void emit(fy_log *l, const void *p, size_t n)
{
    if (!l->ncopies) {
        if (l->pending.len + n <= FY_LOG_PENDING_MAX)
            fy_buf_put(&l->pending, p, n);
        else
            l->pending_dropped++;
        return;
    }
    for (size_t i = 0; i < l->ncopies; i++) {
        log_copy *c = &l->copies[i];
        if (c->failed) continue;
        if (write_all(c->fd, p, n) < 0) {
            c->failed = true;
            if (!l->write_err[0])
                snprintf(l->write_err, sizeof l->write_err, "cannot write the log %s: %s", c->path,
                         strerror(errno));
            warn_out(l, "cannot write the log %s: %s", c->path, strerror(errno));
        }
    }
}

static char *scrub(const fy_log *l, const char *msg)
{
    char *s = fy_xstrdup(msg);
    for (size_t i = 0; i < l->nsecrets; i++) {
        const char *sec = l->secrets[i];
        size_t sn = strlen(sec);
        if (!sn || !strstr(s, sec)) continue;
        fy_buf b = {0};
        const char *p = s, *q;
        while ((q = strstr(p, sec))) {
            fy_buf_put(&b, p, (size_t)(q - p));
            fy_buf_puts(&b, FY_LOG_MASK);
            p = q + sn;
        }
        fy_buf_puts(&b, p);
        free(s);
        s = fy_xstrdup(fy_buf_cstr(&b));
        fy_buf_free(&b);
    }
    return s;
}

/* One message (split on '\n') at lv; called locked. */
static void write_msg(fy_log *l, fy_log_level lv, const char *msg, bool to_log, bool echo)
{
    char *clean = scrub(l, msg);
    struct timespec t = now(l);
    fy_buf b = {0};
    char *save = NULL;
    char *copy = fy_xstrdup(clean);
    bool any = false;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[len - 1] = '\0';
        format_line(&b, l->format, lv, t, l->pid, line);
        any = true;
    }
    if (!any) format_line(&b, l->format, lv, t, l->pid, "");
    if (to_log) emit(l, b.data, b.len);
    if (echo && l->echo) {
        if (l->progress) fy_progress_clear(l->progress);
        static const char *const label[] = {"", "error", "warning", "info", "verbose", "trace"};
        fprintf(l->echo, "%s: %s: %s\n", l->program, label[lv], clean);
        fflush(l->echo);
    }
    fy_buf_free(&b);
    free(copy);
    free(clean);
}

/* ---- the log ---- */

static void add_copy(fy_log *l, int fd, char *path, const char *dir)
{
    struct stat st = {0};
    stat(dir, &st);
    l->copies = fy_xrealloc(l->copies, (l->ncopies + 1) * sizeof *l->copies);
    l->copies[l->ncopies++] =
        (log_copy){.fd = fd, .path = path, .dir_dev = st.st_dev, .dir_ino = st.st_ino};
}

int fy_log_open(const fy_log_opts *o, fy_log **out, char *err, size_t es)
{
    *out = NULL;
    if (o->level && (o->level < FY_LOG_ERROR || o->level > FY_LOG_TRACE))
        return fail(err, es, EINVAL, "bad log level %d", (int)o->level);
    if (o->format != FY_LOG_TEXT && o->format != FY_LOG_CMTRACE)
        return fail(err, es, EINVAL, "bad log format %d", (int)o->format);
    if (o->op < FY_OP_EXTRACT || o->op > FY_OP_RESTORE)
        return fail(err, es, EINVAL, "bad log operation %d", (int)o->op);
    fy_log *l = fy_xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->level = o->level ? o->level : FY_LOG_INFO;
    l->format = o->format;
    l->clock = o->clock;
    l->clock_ctx = o->clock_ctx;
    l->echo = o->echo;
    l->echo_level = o->echo_level;
    l->program = o->program ? o->program : "ferry";
    l->pid = (long)getpid();
    l->start = now(l);
    l->name = fy_log_file_name(o->computer, o->op, l->start.tv_sec);
    const char *dir = o->log_dir ? o->log_dir : FY_LOG_DEFAULT_DIR;
    if (*dir) {
        char *path = NULL;
        int fd = mkdir_p(dir) < 0 ? -1 : create_log_file(dir, l->name, &path);
        if (fd < 0)
            warn_out(l, "cannot write the log in %s: %s; going on without that copy", dir,
                     strerror(errno));
        else
            add_copy(l, fd, path, dir);
    }
    fy_log_section(l, "Header");
    fy_log_item(l, "Program", "%s", l->program);
    fy_log_item(l, "Version", "%s", o->version ? o->version : "");
    if (o->argv) {
        char *cmd = fy_log_mask_argv(o->argc, o->argv);
        fy_log_item(l, "Command line", "%s", cmd);
        free(cmd);
    }
    fy_log_item(l, "Process", "%ld", l->pid);
    struct utsname u;
    if (uname(&u) == 0)
        fy_log_item(l, "Running on", "%s (%s %s)", u.nodename, u.sysname, u.release);
    fy_log_item(l, "Log level", "%s", fy_log_level_name(l->level));
    fy_log_item(l, "Times", "UTC");
    *out = l;
    return 0;
}

int fy_log_attach(fy_log *l, const char *dir, char *err, size_t es)
{
    pthread_mutex_lock(&l->mu);
    int rc = -1;
    char *path = NULL;
    struct stat dst;
    if (stat(dir, &dst) == 0) {
        for (size_t i = 0; i < l->ncopies; i++) {
            if (l->copies[i].dir_dev == dst.st_dev && l->copies[i].dir_ino == dst.st_ino) {
                rc = 0; /* already there (--log-dir is that folder) */
                goto out;
            }
        }
    }
    int fd = create_log_file(dir, l->name, &path);
    if (fd < 0) {
        fail(err, es, errno, "cannot create the log in %s: %s", dir, strerror(errno));
        goto out;
    }
    /* Copy what was written so far: from the first copy, or the lines kept in memory. */
    int e = 0;
    if (l->ncopies) {
        int src = open(l->copies[0].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (src < 0) {
            e = errno;
        } else {
            char buf[65536];
            ssize_t k;
            while ((k = read(src, buf, sizeof buf)) != 0) {
                if (k < 0 && errno == EINTR) continue;
                if (k < 0 || write_all(fd, buf, (size_t)k) < 0) {
                    e = errno;
                    break;
                }
            }
            close(src);
        }
    } else {
        if (write_all(fd, l->pending.data, l->pending.len) < 0) e = errno;
        if (!e && l->pending_dropped) {
            char note[128];
            snprintf(note, sizeof note, "(%zu earlier lines were not kept)", l->pending_dropped);
            fy_buf b = {0};
            format_line(&b, l->format, FY_LOG_WARNING, now(l), l->pid, note);
            if (write_all(fd, b.data, b.len) < 0) e = errno;
            fy_buf_free(&b);
        }
    }
    if (e) {
        close(fd);
        unlink(path);
        free(path);
        fail(err, es, e, "cannot copy the log into %s: %s", dir, strerror(e));
        goto out;
    }
    add_copy(l, fd, path, dir);
    fy_buf_free(&l->pending);
    l->pending_dropped = 0;
    rc = 0;
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void fy_log_add_secret(fy_log *l, const char *secret)
{
    if (!secret || !*secret) return;
    pthread_mutex_lock(&l->mu);
    l->secrets = fy_xrealloc(l->secrets, (l->nsecrets + 1) * sizeof *l->secrets);
    l->secrets[l->nsecrets++] = fy_xstrdup(secret);
    pthread_mutex_unlock(&l->mu);
}

void fy_log_section(fy_log *l, const char *title)
{
    char *m = fy_xasprintf("==== %s ====", title);
    pthread_mutex_lock(&l->mu);
    write_msg(l, FY_LOG_INFO, m, true, false);
    pthread_mutex_unlock(&l->mu);
    free(m);
}

void fy_log_item(fy_log *l, const char *name, const char *fmt, ...)
{
    fy_buf b = {0};
    fy_buf_printf(&b, "  %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    char *v = NULL;
    if (vasprintf(&v, fmt, ap) < 0) v = NULL;
    va_end(ap);
    fy_buf_puts(&b, v ? v : "");
    free(v);
    pthread_mutex_lock(&l->mu);
    write_msg(l, FY_LOG_INFO, fy_buf_cstr(&b), true, false);
    pthread_mutex_unlock(&l->mu);
    fy_buf_free(&b);
}

static void fmt_time(char *out, size_t n, struct timespec t)
{
    struct tm tm;
    time_t s = t.tv_sec;
    gmtime_r(&s, &tm);
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void fy_log_time_section(fy_log *l)
{
    char t[64];
    fmt_time(t, sizeof t, l->start);
    fy_log_section(l, "Time");
    fy_log_item(l, "Start", "%s", t);
}

bool fy_log_enabled(const fy_log *l, fy_log_level lv)
{
    return l && lv <= l->level;
}

void fy_log_set_level(fy_log *l, fy_log_level lv)
{
    pthread_mutex_lock(&l->mu);
    l->level = lv;
    pthread_mutex_unlock(&l->mu);
}

void fy_log_vmsg(fy_log *l, fy_log_level lv, const char *fmt, va_list ap)
{
    if (!l) return;
    if (lv < FY_LOG_ERROR) lv = FY_LOG_ERROR;
    if (lv > FY_LOG_TRACE) lv = FY_LOG_TRACE;
    pthread_mutex_lock(&l->mu);
    if (lv == FY_LOG_ERROR) l->errors++;
    if (lv == FY_LOG_WARNING) l->warnings++;
    bool to_log = lv <= l->level, echo = l->echo && lv <= l->echo_level;
    if (to_log || echo) {
        char *m = NULL;
        if (vasprintf(&m, fmt, ap) < 0) m = NULL;
        write_msg(l, lv, m ? m : "(out of memory)", to_log, echo);
        free(m);
    }
    pthread_mutex_unlock(&l->mu);
}

void fy_log_msg(fy_log *l, fy_log_level lv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fy_log_vmsg(l, lv, fmt, ap);
    va_end(ap);
}

size_t fy_log_errors(const fy_log *l)
{
    return l->errors;
}

size_t fy_log_warnings(const fy_log *l)
{
    return l->warnings;
}

const char *fy_log_path(const fy_log *l)
{
    return l->ncopies ? l->copies[0].path : NULL;
}

void fy_log_set_progress(fy_log *l, struct fy_progress *p)
{
    pthread_mutex_lock(&l->mu);
    l->progress = p;
    pthread_mutex_unlock(&l->mu);
}

int fy_log_close(fy_log *l, int exit_code, char *err, size_t es)
{
    if (!l) return 0;
    struct timespec end = now(l);
    char t[64];
    fmt_time(t, sizeof t, end);
    int64_t ms =
        (int64_t)(end.tv_sec - l->start.tv_sec) * 1000 + (end.tv_nsec - l->start.tv_nsec) / 1000000;
    if (ms < 0) ms = 0;
    fy_log_section(l, "Summary");
    fy_log_item(l, "End", "%s", t);
    fy_log_item(l, "Duration", "%02lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
                (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), (long long)(ms % 1000));
    fy_log_item(l, "Errors", "%zu", l->errors);
    fy_log_item(l, "Warnings", "%zu", l->warnings);
    fy_log_item(l, "Exit code", "%d", exit_code);
    int rc = 0;
    for (size_t i = 0; i < l->ncopies; i++) {
        log_copy *c = &l->copies[i];
        if (!c->failed && (fsync(c->fd) < 0 && errno != EINVAL)) {
            c->failed = true;
            if (!l->write_err[0])
                snprintf(l->write_err, sizeof l->write_err, "cannot sync the log %s: %s", c->path,
                         strerror(errno));
        }
        if (close(c->fd) < 0 && !c->failed) {
            c->failed = true;
            if (!l->write_err[0])
                snprintf(l->write_err, sizeof l->write_err, "cannot close the log %s: %s", c->path,
                         strerror(errno));
        }
        if (c->failed) rc = -1;
        free(c->path);
    }
    if (rc < 0) fail(err, es, EIO, "%s", l->write_err);
    for (size_t i = 0; i < l->nsecrets; i++) {
        explicit_bzero(l->secrets[i], strlen(l->secrets[i]));
        free(l->secrets[i]);
    }
    free(l->secrets);
    free(l->copies);
    free(l->name);
    fy_buf_free(&l->pending);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return rc;
}
