/* Personality locks that work on CIFS and NFS: a file created with O_EXCL holding host, pid
 * and a heartbeat, taken over only when stale. Protocol and its limits:
 * docs/store-format.md, "Locks". */
#include "fy_store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_MAX 4096

int64_t st_now(void)
{
    return (int64_t)time(NULL);
}

int64_t st_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start time of a process (clock ticks since boot, field 22 of /proc/PID/stat), so that a
 * recycled pid is not mistaken for the lock's owner; 0 when unknown. */
static unsigned long long proc_start(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p++;
    /* fields 3.. follow; the start time is field 22, i.e. the 20th after ')' */
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p) return 0;
    }
    return strtoull(p + 1, NULL, 10);
}

static void format_lock(const fy_store *s, st_lock *l, int64_t started, int64_t beat)
{
    long pid = (long)getpid();
    int k = snprintf(l->content, sizeof l->content,
                     "ferry-lock 1\nhost=%s\npid=%ld\npid-start=%llu\ntoken=%s\n"
                     "started=%020" PRId64 "\nheartbeat=%020" PRId64 "\n",
                     s->host, pid, proc_start(pid), l->token, started, beat);
    l->content_len = k < 0 ? 0 : (size_t)k >= sizeof l->content ? sizeof l->content - 1 : (size_t)k;
}

static bool get_field(const char *p, size_t n, const char *key, char *out, size_t outsz)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n;) {
        const char *e = memchr(p + i, '\n', n - i);
        size_t ll = e ? (size_t)(e - p) - i : n - i;
        if (ll > kl && memcmp(p + i, key, kl) == 0 && p[i + kl] == '=') {
            size_t vl = ll - kl - 1;
            if (vl + 1 > outsz) return false;
            memcpy(out, p + i + kl + 1, vl);
            out[vl] = 0;
            return true;
        }
        i += ll + 1;
    }
    return false;
}

static bool parse_lock(const char *p, size_t n, st_lockinfo *li)
{
    char v[64];
    if (n < 13 || memcmp(p, "ferry-lock 1\n", 13) != 0) return false;
    if (!get_field(p, n, "host", li->host, sizeof li->host)) return false;
    if (!get_field(p, n, "pid", v, sizeof v)) return false;
    char *e;
    errno = 0;
    li->pid = strtol(v, &e, 10);
    if (*e || errno || li->pid <= 0) return false;
    if (get_field(p, n, "pid-start", v, sizeof v)) li->pid_start = strtoull(v, NULL, 10);
    if (!get_field(p, n, "token", li->token, sizeof li->token) || strlen(li->token) != 32)
        return false;
    if (!get_field(p, n, "heartbeat", v, sizeof v)) return false;
    li->heartbeat = strtoll(v, &e, 10);
    if (*e) return false;
    return true;
}

static bool judge_stale(const fy_store *s, const st_lockinfo *li, int64_t mtime)
{
    int64_t now = st_now();
    if (!li->parsed) return now - mtime > (int64_t)s->o.lock_stale_s; /* empty or garbled */
    if (now - li->heartbeat > (int64_t)s->o.lock_stale_s) return true;
    if (strcmp(li->host, s->host) == 0 && li->pid != (long)getpid()) {
        if (kill((pid_t)li->pid, 0) < 0 && errno == ESRCH) return true;
        unsigned long long st = proc_start(li->pid);
        if (li->pid_start && st && st != li->pid_start) return true;
    }
    return false;
}

/* Reads the lock file (raw bytes in *raw, malloc'd). */
static bool read_lock(const fy_store *s, int pfd, const char *name, st_lockinfo *li, uint8_t **raw,
                      size_t *rawn, int64_t *mtime)
{
    memset(li, 0, sizeof *li);
    *raw = NULL;
    *rawn = 0;
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return false;
    *mtime = (int64_t)st.st_mtime;
    if (st_read_small(s, pfd, name, LOCK_MAX, raw, rawn) < 0) {
        if (errno == ENOENT) return false;
        *raw = NULL;
        *rawn = 0;
    }
    li->present = true;
    li->parsed = *raw && parse_lock((const char *)*raw, *rawn, li);
    return true;
}

void st_lock_inspect(const fy_store *s, int pfd, st_lockinfo *li, bool *stale)
{
    uint8_t *raw;
    size_t n;
    int64_t mtime = 0;
    *stale = false;
    if (read_lock(s, pfd, "lock", li, &raw, &n, &mtime)) *stale = judge_stale(s, li, mtime);
    free(raw);
}

/* Moves a stale lock aside. Renaming is atomic, so of several agents that judged the same
 * lock stale only one moves it; the mover then checks that what it moved is what it judged
 * (another agent may have taken over and made a fresh lock in between) and, if not, puts
 * it back with link(), which fails rather than replace a newer lock. */
static bool take_over(const fy_store *s, int pfd, const uint8_t *judged, size_t judged_n)
{
    char aside[64];
    st_tmpname(aside, "lock.broken");
    if (st_rename(s, pfd, "lock", pfd, aside) < 0) return errno == ENOENT;
    uint8_t *raw = NULL;
    size_t n = 0;
    bool same = st_read_small(s, pfd, aside, LOCK_MAX, &raw, &n) == 0 && n == judged_n &&
                (n == 0 || memcmp(raw, judged, n) == 0);
    free(raw);
    if (!same) s->io->linkat(s->io->ctx, pfd, aside, pfd, "lock");
    st_unlink(s, pfd, aside, 0);
    return true;
}

/* Writes our lock content under a fresh temporary name in the personality folder. */
static int prepare(const fy_store *s, int pfd, st_lock *l, char name[64])
{
    st_tmpname(name, "lock.new");
    int fd = st_open(s, pfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0) return -1;
    int64_t now = st_now();
    format_lock(s, l, now, now);
    if (st_write_all(s, fd, l->content, l->content_len) < 0 ||
        st_sync(s, fd, FY_STORE_SYNC_DATA) < 0) {
        int e = errno;
        st_close(s, fd);
        st_unlink(s, pfd, name, 0);
        errno = e;
        return -1;
    }
    return fd;
}

/* Tries once to make "lock" ours: 1 taken, 0 held by someone, -1 error (errno). The lock is
 * written under a temporary name and hard-linked into place: link() fails when "lock"
 * exists (atomic on NFS and local file systems, like O_EXCL) and, unlike create-then-write,
 * never leaves an empty lock behind a crash. Shares that refuse hard links get
 * O_CREAT|O_EXCL followed by the write. */
static int try_take(const fy_store *s, int pfd, st_lock *l, char tmp[64], int *tmpfd,
                    bool *no_links)
{
    if (!*no_links) {
        if (*tmpfd < 0 && (*tmpfd = prepare(s, pfd, l, tmp)) < 0) return -1;
        if (s->io->linkat(s->io->ctx, pfd, tmp, pfd, "lock") == 0) return 1;
        int e = errno;
        struct stat st;
        /* NFS: a retransmitted link may report EEXIST although it worked */
        if (e == EEXIST && fstat(*tmpfd, &st) == 0 && st.st_nlink == 2) return 1;
        if (e == EEXIST) return 0;
        if (e == ENOENT) { /* our temporary file was removed meanwhile: make it again */
            st_close(s, *tmpfd);
            *tmpfd = -1;
            return 0;
        }
        if (e != EPERM && e != ENOTSUP && e != EOPNOTSUPP && e != ENOSYS && e != EMLINK &&
            e != EXDEV) {
            errno = e;
            return -1;
        }
        *no_links = true;
        st_close(s, *tmpfd);
        st_unlink(s, pfd, tmp, 0);
        *tmpfd = -1;
    }
    int fd = st_open(s, pfd, "lock", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0) return errno == EEXIST ? 0 : -1;
    int64_t now = st_now();
    format_lock(s, l, now, now);
    if (st_write_all(s, fd, l->content, l->content_len) < 0 ||
        st_sync(s, fd, FY_STORE_SYNC_DATA) < 0) {
        int e = errno;
        st_close(s, fd);
        st_unlink(s, pfd, "lock", 0);
        errno = e;
        return -1;
    }
    *tmpfd = fd;
    tmp[0] = 0;
    return 1;
}

int st_lock_acquire(const fy_store *s, int pfd, const char *what, st_lock *l, char *err,
                    size_t err_size)
{
    memset(l, 0, sizeof *l);
    l->pfd = pfd;
    l->fd = -1;
    uint8_t tok[16];
    randombytes_buf(tok, sizeof tok);
    st_hex(tok, sizeof tok, l->token);
    int64_t deadline = st_mono_ms() + s->o.lock_wait_ms;
    st_lockinfo li = {0};
    char tmp[64] = "";
    int tmpfd = -1;
    bool no_links = false;
    for (unsigned round = 0;; round++) {
        /* A lock that keeps vanishing or being taken over must not spin past the deadline. */
        if (round && st_mono_ms() > deadline) break;
        int got = try_take(s, pfd, l, tmp, &tmpfd, &no_links);
        if (got < 0) {
            int e = errno;
            if (tmpfd >= 0) st_close(s, tmpfd);
            if (tmp[0]) st_unlink(s, pfd, tmp, 0);
            return st_fail_errno(err, err_size, FY_STORE_ERR_IO, e, "cannot create the lock of %s",
                                 what);
        }
        if (got > 0) {
            /* the lock file and our fd are one inode: heartbeats write through the fd */
            if (tmp[0]) st_unlink(s, pfd, tmp, 0);
            l->fd = tmpfd;
            l->held = true;
            l->last_beat = st_mono_ms() / 1000;
            return FY_STORE_OK;
        }
        uint8_t *raw;
        size_t rawn;
        int64_t mtime = 0;
        if (!read_lock(s, pfd, "lock", &li, &raw, &rawn, &mtime)) continue; /* just released */
        bool moved = judge_stale(s, &li, mtime) && take_over(s, pfd, raw, rawn);
        free(raw);
        if (moved) continue;
        int64_t left = deadline - st_mono_ms();
        if (left <= 0) break;
        int64_t nap = s->o.lock_poll_ms < left ? s->o.lock_poll_ms : left;
        struct timespec ts = {nap / 1000, (long)(nap % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (tmpfd >= 0) st_close(s, tmpfd);
    if (tmp[0]) st_unlink(s, pfd, tmp, 0);
    if (li.parsed)
        return st_fail(err, err_size, FY_STORE_ERR_LOCKED,
                       "%s is locked by another agent (host %s, pid %ld, heartbeat %" PRId64
                       " s ago); waited %u s. Try again later, or remove its 'lock' file if "
                       "that agent is gone",
                       what, li.host, li.pid, st_now() - li.heartbeat, s->o.lock_wait_ms / 1000);
    return st_fail(err, err_size, FY_STORE_ERR_LOCKED,
                   "%s is locked by another agent (lock file being written); waited %u s", what,
                   s->o.lock_wait_ms / 1000);
}

int st_lock_check(const fy_store *s, st_lock *l, char *err, size_t err_size)
{
    if (!l->held) return st_fail(err, err_size, FY_STORE_ERR_LOCKED, "the lock is not held");
    st_lockinfo li;
    uint8_t *raw;
    size_t n;
    int64_t mtime;
    bool present = read_lock(s, l->pfd, "lock", &li, &raw, &n, &mtime);
    free(raw);
    if (!present || !li.parsed || strcmp(li.token, l->token) != 0) {
        l->held = false;
        return st_fail(err, err_size, FY_STORE_ERR_LOCKED,
                       "another agent took over this personality's lock (ours was judged "
                       "stale); nothing was committed");
    }
    return FY_STORE_OK;
}

int st_lock_heartbeat(const fy_store *s, st_lock *l, bool force, char *err, size_t err_size)
{
    int64_t now = st_mono_ms() / 1000;
    if (!l->held) return st_fail(err, err_size, FY_STORE_ERR_LOCKED, "the lock was lost");
    if (!force && now - l->last_beat < (int64_t)s->o.heartbeat_s) return FY_STORE_OK;
    int rc = st_lock_check(s, l, err, err_size);
    if (rc) return rc;
    /* Same length as before (fixed-width times), written in place. */
    char *sp = strstr(l->content, "started=");
    int64_t started = sp ? strtoll(sp + 8, NULL, 10) : st_now();
    format_lock(s, l, started, st_now());
    if (st_pwrite_all(s, l->fd, l->content, l->content_len, 0) < 0 ||
        st_sync(s, l->fd, FY_STORE_SYNC_DATA) < 0)
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot refresh the lock");
    l->last_beat = now;
    return FY_STORE_OK;
}

void st_lock_release(const fy_store *s, st_lock *l)
{
    if (l->held && st_lock_check(s, l, NULL, 0) == FY_STORE_OK) st_unlink(s, l->pfd, "lock", 0);
    l->held = false;
    st_close(s, l->fd);
    l->fd = -1;
}
