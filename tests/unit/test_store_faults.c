/* runtime/store under stress: locks (a second writer waits then gets LOCKED; stale locks by
 * old heartbeat, dead pid on this host or an old garbled file are taken over; live ones are
 * not; a writer whose lock was taken over cannot commit; shares without hard links; the
 * heartbeat refresh; a failing input fd leaves the writer usable); 20 processes writing 20
 * personalities at once; two processes on one personality; crash safety (a child killed
 * with SIGKILL before each of its mutating I/O operations in turn, for a backup, an
 * overwrite and a first extraction: verify passes and a new writer succeeds every time);
 * injected I/O errors at every operation (ERR_IO, the previous state intact); a real
 * RLIMIT_FSIZE limit; readers on a read-only store (an I/O table that counts every mutating
 * call, and a read-only bind mount in a private mount namespace when the kernel allows). */
#include "store_test_util.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "store/fy_store_int.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = tu_mkdtemp();
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(g_dir);
    free(g_dir);
    g_dir = NULL;
    return 0;
}

/* ---- an I/O table that counts, kills, fails ---- */
typedef struct fio {
    long ops;     /* mutating calls so far */
    long kill_at; /* SIGKILL before this mutating call (0: never) */
    long fail_at; /* fail this mutating call with fail_errno (0: never) */
    int fail_errno;
    bool no_sync;     /* syncs succeed without syncing (a process crash needs none) */
    long write_opens; /* opens with a write flag */
} fio;

static bool counted(fio *f)
{
    f->ops++;
    if (f->kill_at && f->ops == f->kill_at) raise(SIGKILL);
    if (f->fail_at && f->ops == f->fail_at) {
        errno = f->fail_errno;
        return false;
    }
    return true;
}

static int f_openat(void *c, int d, const char *p, int fl, mode_t m)
{
    fio *f = c;
    if (fl & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) {
        f->write_opens++;
        if (!counted(f)) return -1;
    }
    return openat(d, p, fl, m);
}
static int f_close(void *c, int fd)
{
    return close(fd);
}
static ssize_t f_read(void *c, int fd, void *b, size_t n)
{
    return read(fd, b, n);
}
static ssize_t f_pread(void *c, int fd, void *b, size_t n, off_t o)
{
    return pread(fd, b, n, o);
}
static ssize_t f_write(void *c, int fd, const void *b, size_t n)
{
    if (!counted(c)) return -1;
    return write(fd, b, n);
}
static ssize_t f_pwrite(void *c, int fd, const void *b, size_t n, off_t o)
{
    if (!counted(c)) return -1;
    return pwrite(fd, b, n, o);
}
static int f_sync(void *c, int fd, fy_store_sync_kind k)
{
    fio *f = c;
    if (k == FY_STORE_SYNC_START) return 0;
    if (!counted(f)) return -1;
    if (f->no_sync) return 0;
    return k == FY_STORE_SYNC_DATA ? fdatasync(fd) : fsync(fd);
}
static int f_rename(void *c, int od, const char *op, int nd, const char *np)
{
    if (!counted(c)) return -1;
    return renameat(od, op, nd, np);
}
static int f_link(void *c, int od, const char *op, int nd, const char *np)
{
    if (!counted(c)) return -1;
    return linkat(od, op, nd, np, 0);
}
static int f_unlink(void *c, int d, const char *p, int fl)
{
    if (!counted(c)) return -1;
    return unlinkat(d, p, fl);
}
static int f_mkdir(void *c, int d, const char *p, mode_t m)
{
    if (!counted(c)) return -1;
    return mkdirat(d, p, m);
}

static fy_store_io fio_table(fio *f)
{
    fy_store_io io = {f,        f_openat, f_close,  f_read, f_pread,  f_write,
                      f_pwrite, f_sync,   f_rename, f_link, f_unlink, f_mkdir};
    return io;
}

static fy_store_opts test_opts(const fy_store_io *io)
{
    fy_store_opts o = fy_store_opts_default();
    o.create = true;
    o.io = io;
    o.host = "testhost";
    o.lock_wait_ms = 300;
    o.lock_poll_ms = 20;
    return o;
}

/* ---- locks ---- */
static char *lock_path(const fy_store_id *id)
{
    return fy_xasprintf("%s/%s/%s/%s/lock", g_dir, id->domain, id->user, id->computer);
}

static void write_lock(const char *path, const char *host, long pid, int64_t heartbeat)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "ferry-lock 1\nhost=%s\npid=%ld\npid-start=0\ntoken=0123456789abcdef0123456789abcdef\n"
            "started=%020lld\nheartbeat=%020lld\n",
            host, pid, (long long)heartbeat, (long long)heartbeat);
    fclose(f);
}

static void test_locks(void **state)
{
    (void)state;
    char err[512];
    fy_store_opts o = test_opts(NULL);
    fy_store *s = tu_open(g_dir, &o);
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 2, 1, 100, err, sizeof err), 0);
    /* a second writer waits, then fails with LOCKED */
    fy_store_writer *a, *b;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &a, err, sizeof err), 0);
    char *before = tu_snapshot(g_dir);
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err),
                     FY_STORE_ERR_LOCKED);
    assert_non_null(strstr(err, "locked by another agent (host testhost"));
    assert_int_equal(fy_store_exit_code(FY_STORE_ERR_LOCKED), FY_EXIT_STORE);
    char *after = tu_snapshot(g_dir);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* list shows it locked, not stale; readers are not held up */
    fy_store_personality *pl;
    size_t np;
    assert_int_equal(fy_store_list(s, &pl, &np, err, sizeof err), 0);
    assert_true(pl[0].locked);
    assert_false(pl[0].lock_stale);
    assert_string_equal(pl[0].lock_host, "testhost");
    assert_int_equal(pl[0].lock_pid, getpid());
    fy_store_list_free(pl, np);
    int nf;
    assert_int_equal(tu_check_gen(s, &TU_ID, NULL, 0, &nf), 0);
    /* another personality is not held up either */
    fy_store_id bob = {"CONTOSO", "bob", "PC-01"};
    assert_int_equal(tu_write_gen(s, &bob, NULL, 1, 1, 100, err, sizeof err), 0);
    fy_store_writer_free(a);
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err), 0);
    fy_store_writer_free(b);

    char *lp = lock_path(&TU_ID);
    /* a fresh lock of another host: held */
    write_lock(lp, "otherhost", 4242, st_now());
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err),
                     FY_STORE_ERR_LOCKED);
    assert_non_null(strstr(err, "otherhost"));
    /* ... with an old heartbeat: taken over */
    write_lock(lp, "otherhost", 4242, st_now() - 700);
    assert_int_equal(fy_store_list(s, &pl, &np, err, sizeof err), 0);
    assert_true(pl[0].locked && pl[0].lock_stale);
    fy_store_list_free(pl, np);
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err), 0);
    fy_store_writer_free(b);
    /* the stale time is configurable */
    fy_store_opts o2 = test_opts(NULL);
    o2.lock_stale_s = 5;
    fy_store *s2 = tu_open(g_dir, &o2);
    write_lock(lp, "otherhost", 4242, st_now() - 60);
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err),
                     FY_STORE_ERR_LOCKED);
    assert_int_equal(fy_store_writer_begin(s2, &TU_ID, NULL, &b, err, sizeof err), 0);
    fy_store_writer_free(b);
    fy_store_close(s2);
    /* this host, a dead pid: taken over at once, whatever its heartbeat */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    write_lock(lp, "testhost", child, st_now());
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err), 0);
    fy_store_writer_free(b);
    /* this host, a live pid: held */
    child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    write_lock(lp, "testhost", child, st_now());
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err),
                     FY_STORE_ERR_LOCKED);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err), 0);
    fy_store_writer_free(b);
    /* an empty lock (a crash between create and write): held while recent, taken when old */
    FILE *f = fopen(lp, "w");
    fclose(f);
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err),
                     FY_STORE_ERR_LOCKED);
    struct timespec old[2] = {{st_now() - 1000, 0}, {st_now() - 1000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, lp, old, 0), 0);
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err), 0);
    /* a writer whose lock was taken over (judged stale) cannot commit */
    char *idx = fy_xasprintf("%s/CONTOSO/alice/PC-01/index", g_dir);
    char *snap_idx_dir = fy_xasprintf("%s/CONTOSO/alice/PC-01/generations", g_dir);
    char *gens_before = tu_snapshot(snap_idx_dir);
    size_t in1;
    int ifd = open(idx, O_RDONLY);
    uint8_t *i1 = tu_slurp_fd(ifd, &in1);
    close(ifd);
    assert_int_equal(tu_add(b, "<My Documents>\\late.txt", "late", 4, 1, err, sizeof err), 0);
    write_lock(lp, "otherhost", 99, st_now());
    fy_store_meta m = {0};
    assert_int_equal(fy_store_commit(b, &m, NULL, err, sizeof err), FY_STORE_ERR_LOCKED);
    assert_int_equal(fy_store_heartbeat(b, err, sizeof err), FY_STORE_ERR_LOCKED);
    fy_store_writer_free(b);
    size_t in2;
    ifd = open(idx, O_RDONLY);
    uint8_t *i2 = tu_slurp_fd(ifd, &in2);
    close(ifd);
    assert_int_equal(in1, in2);
    assert_memory_equal(i1, i2, in1);
    /* the other agent's lock was left alone */
    struct stat st;
    assert_int_equal(stat(lp, &st), 0);
    unlink(lp);
    /* its catalogue (renamed before the index step failed) is collected by the next writer */
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 2, 3, 300, err, sizeof err), 0);
    assert_int_equal(tu_verify(s, NULL, NULL, NULL), 0);
    free(gens_before);
    free(snap_idx_dir);
    free(i1);
    free(i2);
    free(idx);
    free(lp);
    fy_store_close(s);
}

static int no_link(void *c, int od, const char *op, int nd, const char *np)
{
    errno = EPERM; /* a share without hard links */
    return -1;
}

/* Shares without hard links: the lock is made with O_EXCL; the heartbeat is refreshed in
 * place and judged from its content. */
static void test_lock_fallback_and_heartbeat(void **state)
{
    (void)state;
    char err[512];
    fy_store_io io = *fy_store_io_posix();
    io.linkat = no_link;
    fy_store_opts o = test_opts(&io);
    o.lock_stale_s = 2; /* so the heartbeat is refreshed on every call */
    fy_store *s = tu_open(g_dir, &o);
    fy_store_writer *a, *b;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &a, err, sizeof err), 0);
    char *lp = lock_path(&TU_ID);
    char *pdir = fy_xasprintf("%s/CONTOSO/alice/PC-01", g_dir);
    int pfd = open(pdir, O_RDONLY | O_DIRECTORY);
    st_lockinfo li;
    bool stale;
    st_lock_inspect(s, pfd, &li, &stale);
    assert_true(li.present && li.parsed && !stale);
    assert_int_equal(li.pid, getpid());
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &b, err, sizeof err),
                     FY_STORE_ERR_LOCKED);
    /* age the heartbeat by hand (same length, same token): stale now... */
    int fd = open(lp, O_RDWR);
    size_t n;
    uint8_t *txt = tu_slurp_fd(fd, &n);
    char *hb = strstr((char *)txt, "heartbeat=");
    assert_non_null(hb);
    char old[21];
    snprintf(old, sizeof old, "%020lld", (long long)(st_now() - 100));
    memcpy(hb + 10, old, 20);
    assert_int_equal(pwrite(fd, txt, n, 0), (ssize_t)n);
    close(fd);
    free(txt);
    st_lock_inspect(s, pfd, &li, &stale);
    assert_true(stale);
    /* ...until the holder's heartbeat refreshes it */
    assert_int_equal(fy_store_heartbeat(a, err, sizeof err), 0);
    st_lock_inspect(s, pfd, &li, &stale);
    assert_false(stale);
    assert_true(st_now() - li.heartbeat <= 1);
    /* a bad input fd is the caller's problem, not the store's: the writer goes on */
    int dirfd = open("/", O_RDONLY | O_DIRECTORY);
    fy_store_objref ref;
    assert_int_equal(fy_store_put_fd(a, dirfd, &ref, err, sizeof err), FY_STORE_ERR_SOURCE);
    close(dirfd);
    assert_int_equal(fy_store_exit_code(FY_STORE_ERR_SOURCE), FY_EXIT_PARTIAL);
    assert_int_equal(tu_add(a, "<My Documents>\\ok.txt", "ok", 2, 1, err, sizeof err), 0);
    fy_store_meta m = {0};
    assert_int_equal(fy_store_commit(a, &m, NULL, err, sizeof err), 0);
    fy_store_writer_free(a);
    struct stat st;
    assert_int_not_equal(stat(lp, &st), 0); /* released */
    int nf;
    assert_int_equal(tu_check_gen(s, &TU_ID, NULL, 0, &nf), 0);
    assert_int_equal(nf, 1);
    close(pfd);
    free(pdir);
    free(lp);
    fy_store_close(s);
}

/* ---- many processes ---- */
static void test_concurrent_personalities(void **state)
{
    (void)state;
    enum { N = 20 };
    pid_t kids[N];
    int go[2];
    assert_int_equal(pipe(go), 0);
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            char c, err[512];
            close(go[1]);
            if (read(go[0], &c, 1) < 0) _exit(3); /* released all together */
            fy_store_opts o = test_opts(NULL);
            fy_store *s;
            if (fy_store_open(g_dir, &o, &s, err, sizeof err)) _exit(2);
            char user[32];
            snprintf(user, sizeof user, "user%02d", i);
            fy_store_id id = {"CONTOSO", user, "PC-01"};
            int rc = tu_write_gen(s, &id, NULL, 20, i, 1000 + i, err, sizeof err);
            if (rc) fprintf(stderr, "child %d: %s\n", i, err);
            fy_store_close(s);
            _exit(rc ? 1 : 0);
        }
    }
    close(go[0]);
    close(go[1]); /* EOF releases them */
    for (int i = 0; i < N; i++) {
        int st;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    char err[512];
    fy_store_opts o = test_opts(NULL);
    fy_store *s = tu_open(g_dir, &o);
    fy_store_personality *pl;
    size_t np;
    assert_int_equal(fy_store_list(s, &pl, &np, err, sizeof err), 0);
    assert_int_equal(np, N);
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(pl[i].n_gens, 1);
        assert_false(pl[i].locked);
    }
    fy_store_list_free(pl, np);
    assert_int_equal(tu_verify(s, NULL, NULL, NULL), 0);
    fy_store_close(s);
}

static void test_same_personality(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t kids[2];
        for (int i = 0; i < 2; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                char c, err[512];
                close(go[1]);
                if (read(go[0], &c, 1) < 0) _exit(3);
                fy_store_opts o = test_opts(NULL);
                /* round 0: wait long enough for the other; round 1: do not wait */
                o.lock_wait_ms = round == 0 ? 30000 : 0;
                fy_store *s;
                if (fy_store_open(g_dir, &o, &s, err, sizeof err)) _exit(2);
                int rc = tu_write_gen(s, &TU_ID, NULL, 40, i, 1000 + i, err, sizeof err);
                fy_store_close(s);
                _exit(rc == 0 ? 0 : rc == FY_STORE_ERR_LOCKED ? 10 : 1);
            }
        }
        close(go[0]);
        close(go[1]);
        int ok = 0;
        for (int i = 0; i < 2; i++) {
            int st;
            waitpid(kids[i], &st, 0);
            assert_true(WIFEXITED(st));
            int code = WEXITSTATUS(st);
            assert_true(code == 0 || (round == 1 && code == 10));
            ok += code == 0;
        }
        assert_true(ok >= 1);
        char err[512];
        fy_store_opts o = test_opts(NULL);
        fy_store *s = tu_open(g_dir, &o);
        fy_store_reader *r;
        assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
        size_t ng;
        fy_store_reader_gens(r, &ng);
        fy_store_reader_close(r);
        static size_t total;
        total += (size_t)ok;
        assert_int_equal(ng, total);
        assert_int_equal(tu_verify(s, NULL, NULL, NULL), 0);
        fy_store_close(s);
    }
}

/* ---- crash safety ---- */
/* One generation as a child writes it: 2 small files (version v), one streamed 1.1 MB file
 * and a big registry value, so that every kind of write is on the path. */
static int crash_gen(fy_store *s, const fy_store_id *id, const fy_store_write_opts *wo, int v,
                     char *err, size_t es)
{
    fy_store_writer *w;
    int rc = fy_store_writer_begin(s, id, wo, &w, err, es);
    if (rc) return rc;
    for (int i = 0; i < 2 && !rc; i++) {
        char path[64], data[64];
        snprintf(path, sizeof path, "<My Documents>\\f%d.txt", i);
        snprintf(data, sizeof data, "file %d v%d", i, v);
        rc = tu_add(w, path, data, strlen(data), 1, err, es);
    }
    if (!rc) {
        /* the same content each time: stored once, so that verifying every generation after
         * every crash stays cheap; writing it still streams through a temporary file */
        size_t n = 1100 * 1024; /* over the in-memory limit (1 MiB): streamed */
        uint8_t *big = fy_xmalloc(n);
        tu_fill(big, n, 1);
        int fd = tu_memfd(big, n);
        fy_store_file f = {0};
        f.path = "<My Documents>\\big.bin";
        f.size = n;
        f.has_content = true;
        rc = fy_store_put_fd(w, fd, &f.content, err, es);
        close(fd);
        free(big);
        if (!rc) rc = fy_store_add_file(w, &f, err, es);
    }
    if (!rc) {
        uint8_t reg[6000];
        tu_fill(reg, sizeof reg, (uint32_t)v + 1);
        fy_store_reg r = {
            .key = "HKCU\\Software\\X", .value = "Big", .type = 3, .data = reg, .len = sizeof reg};
        rc = fy_store_add_reg(w, &r, err, es);
    }
    fy_store_meta m = {0};
    m.time = 1000 + v;
    if (!rc) rc = fy_store_commit(w, &m, NULL, err, es);
    fy_store_writer_free(w);
    return rc;
}

/* The latest generation is whole: every file readable with the content of one version
 * (read_objects false: only count the generations). */
static void check_whole(fy_store *s, const fy_store_id *id, size_t *n_gens, bool read_objects)
{
    char err[512];
    fy_store_reader *r;
    int rc = fy_store_reader_open(s, id, NULL, 0, &r, err, sizeof err);
    if (rc == FY_STORE_ERR_NOT_FOUND) {
        *n_gens = 0;
        return;
    }
    assert_int_equal(rc, 0);
    fy_store_reader_gens(r, n_gens);
    if (!read_objects) {
        fy_store_reader_close(r);
        return;
    }
    fy_store_gen *g;
    assert_int_equal(fy_store_gen_open(r, 0, &g, err, sizeof err), 0);
    fy_store_entry e;
    int n = 0;
    while ((rc = fy_store_gen_next(g, &e, err, sizeof err)) == 1) {
        n++;
        const fy_store_objref *ref =
            e.kind == FY_STORE_ENTRY_FILE ? &e.file.content : &e.reg.data_ref;
        if (e.kind == FY_STORE_ENTRY_REG && !e.reg.data_is_object) continue;
        int ofd = tu_memfd("", 0);
        rc = fy_store_read_object(r, ref, ofd, err, sizeof err);
        if (rc) fail_msg("generation not whole: %s", err);
        close(ofd);
    }
    assert_int_equal(rc, 0);
    assert_true(n >= 2);
    fy_store_gen_close(g);
    fy_store_reader_close(r);
}

/* Kills a child before its k-th mutating I/O call, for k = 1, 2, ... until one finishes;
 * after each: the store verifies, the personality is the old or the new state, and a new
 * writer succeeds. Returns the number of crash points. */
static long crash_series(const fy_store_id *id, bool overwrite, long stride, int *version)
{
    char err[512];
    fio pf = {.no_sync = true};
    fy_store_io pio = fio_table(&pf);
    fy_store_opts po = test_opts(&pio);
    long k;
    for (k = 1;; k += stride) {
        size_t before = 0, after = 0;
        fy_store *s = tu_open(g_dir, &po);
        check_whole(s, id, &before, false);
        fy_store_close(s);
        int v = ++*version;
        pid_t child = fork();
        if (child == 0) {
            fio f = {.no_sync = true};
            fy_store_io io = fio_table(&f);
            fy_store_opts o = test_opts(&io);
            fy_store *cs;
            if (fy_store_open(g_dir, &o, &cs, err, sizeof err)) _exit(2);
            f.kill_at = f.ops + k; /* counted from the writer's first call */
            fy_store_write_opts wo = {.overwrite = overwrite};
            int rc = crash_gen(cs, id, &wo, v, err, sizeof err);
            if (rc) fprintf(stderr, "child: %s\n", err);
            _exit(rc ? 1 : 0);
        }
        int st;
        assert_int_equal(waitpid(child, &st, 0), child);
        bool finished = WIFEXITED(st);
        if (finished)
            assert_int_equal(WEXITSTATUS(st), 0);
        else
            assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        s = tu_open(g_dir, &po);
        int nd = 0;
        int vrc = tu_verify(s, NULL, NULL, &nd);
        if (vrc) fail_msg("verify failed after a crash at operation %ld", k);
        check_whole(s, id, &after, true);
        if (overwrite)
            assert_true(after == before || after == 1);
        else
            assert_true(after == before || after == before + 1);
        if (finished) assert_true(after == (overwrite ? 1 : before + 1));
        /* the next writer takes over the dead child's lock and succeeds (starting afresh
         * now and then, which keeps the store, and so each verify, small) */
        v = ++*version;
        fy_store_write_opts wo = {.overwrite = after >= 4};
        if (crash_gen(s, id, &wo, v, err, sizeof err))
            fail_msg("writer after crash %ld: %s", k, err);
        char *tmp = fy_xasprintf("%s/%s/%s/%s/tmp", g_dir, id->domain, id->user, id->computer);
        assert_int_equal(tu_count_files(tmp), 0);
        free(tmp);
        fy_store_close(s);
        if (finished) break;
    }
    return k;
}

static void test_crash_points(void **state)
{
    (void)state;
    int version = 0;
    /* a first extraction (no personality yet) and an overwrite (with its collection of the
     * old objects): before every third mutating call, to keep the run short; a backup on
     * top of existing generations: before every one. The number returned is the call at
     * which the child first ran to its end. */
    fy_store_id first = {"CONTOSO", "new", "PC-01"};
    long a = crash_series(&first, false, 3, &version);
    long b = crash_series(&TU_ID, false, 1, &version);
    long c = crash_series(&TU_ID, true, 3, &version);
    print_message("crash points: first extraction %ld, backup %ld, overwrite %ld\n", a, b, c);
    assert_true(a > 60 && b > 60 && c > 60);
}

/* ---- injected I/O errors ---- */
static void test_io_errors(void **state)
{
    (void)state;
    char err[512];
    fio pf = {.no_sync = true};
    fy_store_io pio = fio_table(&pf);
    fy_store_opts po = test_opts(&pio);
    fy_store *s = tu_open(g_dir, &po);
    int version = 1;
    assert_int_equal(crash_gen(s, &TU_ID, NULL, version, err, sizeof err), 0);
    char *pdir = fy_xasprintf("%s/CONTOSO/alice/PC-01", g_dir);
    char *idx = fy_xasprintf("%s/index", pdir), *gens = fy_xasprintf("%s/generations", pdir);
    char *tmp = fy_xasprintf("%s/tmp", pdir);
    const int errs[] = {ENOSPC, EIO, EFBIG};
    long k;
    for (k = 1;; k++) {
        char *gs1 = tu_snapshot(gens);
        int ifd = open(idx, O_RDONLY);
        size_t n1;
        uint8_t *i1 = tu_slurp_fd(ifd, &n1);
        close(ifd);
        fio f = {.fail_errno = errs[k % 3], .no_sync = true};
        fy_store_io io = fio_table(&f);
        fy_store_opts o = test_opts(&io);
        fy_store *fs = tu_open(g_dir, &o);
        f.fail_at = f.ops + k;
        int rc = crash_gen(fs, &TU_ID, NULL, ++version, err, sizeof err);
        fy_store_close(fs);
        bool reached = f.ops >= f.fail_at;
        if (!reached) {
            assert_int_equal(rc, 0); /* past the last operation: the run succeeded */
            free(gs1);
            free(i1);
            break;
        }
        size_t n2;
        ifd = open(idx, O_RDONLY);
        uint8_t *i2 = tu_slurp_fd(ifd, &n2);
        close(ifd);
        char *gs2 = tu_snapshot(gens);
        bool changed = n1 != n2 || memcmp(i1, i2, n1) != 0;
        if (rc == 0) {
            /* Failures the writer may shrug off: removing its lock, or a collection. */
        } else {
            assert_int_equal(rc, FY_STORE_ERR_IO);
            assert_int_equal(fy_store_exit_code(rc), FY_EXIT_IO);
            /* Unchanged, except when only the final folder sync failed after the index was
             * renamed: then the new state is whole and visible. */
            if (changed) assert_string_not_equal(gs1, gs2);
            if (!changed) {
                /* nothing visible changed: no new catalogue listed */
                fy_store_reader *r;
                assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
                fy_store_reader_close(r);
            }
        }
        assert_int_equal(tu_verify(s, NULL, NULL, NULL), 0);
        size_t ng;
        check_whole(s, &TU_ID, &ng, true);
        /* When the failing call was the removal of the lock, this process (alive, so never
         * judged stale) still owns it: as if it had exited, remove it. */
        char *lp = lock_path(&TU_ID);
        st_lockinfo li;
        bool stale;
        int pfd = open(pdir, O_RDONLY | O_DIRECTORY);
        st_lock_inspect(s, pfd, &li, &stale);
        close(pfd);
        if (li.present) {
            assert_true(li.parsed && li.pid == getpid());
            unlink(lp);
        }
        free(lp);
        /* a new writer succeeds, and clears any temporary file left (when the failing call
         * was the removal of one) */
        fy_store_write_opts wo = {.overwrite = ng >= 4};
        assert_int_equal(crash_gen(s, &TU_ID, &wo, ++version, err, sizeof err), 0);
        assert_int_equal(tu_count_files(tmp), 0);
        free(gs1);
        free(gs2);
        free(i1);
        free(i2);
    }
    print_message("injected failures: %ld operations\n", k - 1);
    assert_true(k > 20);
    free(pdir);
    free(idx);
    free(gens);
    free(tmp);
    fy_store_close(s);
}

/* A real file-size limit: objects over it fail with EFBIG, the writer reports ERR_IO, and
 * nothing visible changes. */
static void test_rlimit_fsize(void **state)
{
    (void)state;
    char err[512];
    fy_store_opts o = test_opts(NULL);
    fy_store *s = tu_open(g_dir, &o);
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 3, 1, 100, err, sizeof err), 0);
    char *pdir = fy_xasprintf("%s/CONTOSO/alice/PC-01", g_dir);
    for (int variant = 0; variant < 2; variant++) {
        char *before = tu_snapshot(pdir);
        pid_t child = fork();
        if (child == 0) {
            size_t n = 2u << 20;
            uint8_t *big = fy_xmalloc(n);
            tu_fill(big, n, 9);
            int fd = tu_memfd(big, n); /* before the limit */
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {128 * 1024, 128 * 1024};
            if (setrlimit(RLIMIT_FSIZE, &rl) < 0) _exit(3);
            fy_store *cs;
            if (fy_store_open(g_dir, &o, &cs, err, sizeof err)) _exit(2);
            fy_store_writer *w;
            int rc = fy_store_writer_begin(cs, &TU_ID, NULL, &w, err, sizeof err);
            if (rc) _exit(4);
            if (variant == 0) {
                /* one big incompressible file */
                fy_store_objref ref;
                rc = fy_store_put_fd(w, fd, &ref, err, sizeof err);
            } else {
                /* many entries: the catalogue and its reference list outgrow the limit */
                for (int i = 0; i < 5000 && !rc; i++) {
                    char path[64];
                    snprintf(path, sizeof path, "<My Documents>\\many\\file%05d.txt", i);
                    rc = tu_add(w, path, "same", 4, 1, err, sizeof err);
                }
                fy_store_meta m = {0};
                if (!rc) rc = fy_store_commit(w, &m, NULL, err, sizeof err);
            }
            if (rc) fprintf(stderr, "expected failure: %s\n", err);
            fy_store_writer_free(w);
            _exit(rc == FY_STORE_ERR_IO && strstr(err, "File too large") ? 0 : 1);
        }
        int st;
        waitpid(child, &st, 0);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        char *after = tu_snapshot(pdir);
        assert_string_equal(before, after);
        free(before);
        free(after);
        assert_int_equal(tu_verify(s, NULL, NULL, NULL), 0);
    }
    free(pdir);
    fy_store_close(s);
}

/* ---- read-only stores ---- */
static int read_everything(fy_store *s, const char *pw)
{
    char err[512];
    fy_store_personality *pl;
    size_t np;
    int rc = fy_store_list(s, &pl, &np, err, sizeof err);
    if (rc) return rc;
    for (size_t i = 0; i < np; i++) {
        fy_store_id id = {pl[i].domain, pl[i].user, pl[i].computer};
        fy_store_reader *r;
        if ((rc = fy_store_reader_open(s, &id, pw, pw ? strlen(pw) : 0, &r, err, sizeof err)))
            break;
        size_t ng;
        const fy_store_gen_info *gi = fy_store_reader_gens(r, &ng);
        for (size_t gk = 0; gk < ng && !rc; gk++) {
            fy_store_gen *g;
            if ((rc = fy_store_gen_open(r, gi[gk].number, &g, err, sizeof err))) break;
            fy_store_entry e;
            while ((rc = fy_store_gen_next(g, &e, err, sizeof err)) == 1) {
                if (e.kind != FY_STORE_ENTRY_FILE) continue;
                int ofd = tu_memfd("", 0);
                rc = fy_store_read_object(r, &e.file.content, ofd, err, sizeof err);
                close(ofd);
                if (rc) break;
            }
            uint8_t *prog;
            size_t pn;
            if (!rc && fy_store_gen_program(g, &prog, &pn, err, sizeof err) == 0) free(prog);
            fy_store_gen_close(g);
        }
        char **names;
        size_t nn;
        if (!rc && !(rc = fy_store_reader_logs(r, &names, &nn, err, sizeof err))) {
            for (size_t k = 0; k < nn && !rc; k++) {
                int ofd = tu_memfd("", 0);
                rc = fy_store_reader_read_log(r, names[k], ofd, err, sizeof err);
                close(ofd);
            }
            fy_store_strv_free(names, nn);
        }
        fy_store_reader_close(r);
        if (rc) break;
    }
    fy_store_list_free(pl, np);
    if (!rc) rc = tu_verify(s, NULL, pw, NULL);
    if (rc) fprintf(stderr, "read_everything: %s\n", err);
    return rc;
}

static void test_readonly(void **state)
{
    (void)state;
    char err[512];
    fy_store_opts o = test_opts(NULL);
    fy_store *s = tu_open(g_dir, &o);
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 3, 1, 100, err, sizeof err), 0);
    fy_store_writer *w;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &w, err, sizeof err), 0);
    assert_int_equal(fy_store_set_program(w, "prog", 4, err, sizeof err), 0);
    fy_store_meta m = {0};
    assert_int_equal(fy_store_commit(w, &m, NULL, err, sizeof err), 0);
    int lfd = tu_memfd("a log\n", 6);
    assert_int_equal(fy_store_add_log(w, "x.log", lfd, err, sizeof err), 0);
    close(lfd);
    fy_store_writer_free(w);
    fy_store_close(s);
    /* 1. through an I/O table that counts every call that could change anything */
    fio f = {0};
    fy_store_io io = fio_table(&f);
    fy_store_opts ro = test_opts(&io);
    ro.create = false;
    fy_store *rs = tu_open(g_dir, &ro);
    assert_int_equal(read_everything(rs, NULL), 0);
    assert_int_equal(f.ops, 0);
    assert_int_equal(f.write_opens, 0);
    fy_store_close(rs);
    /* 2. a real read-only bind mount, in a child with its own mount namespace */
    pid_t child = fork();
    if (child == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(g_dir, g_dir, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, g_dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
            _exit(77);
        char *probe = fy_xasprintf("%s/probe", g_dir);
        int pfd = open(probe, O_WRONLY | O_CREAT, 0644);
        if (pfd >= 0 || errno != EROFS) _exit(5); /* not read-only after all */
        fy_store_opts co = test_opts(NULL);
        co.create = false;
        fy_store *cs;
        if (fy_store_open(g_dir, &co, &cs, err, sizeof err)) _exit(2);
        if (read_everything(cs, NULL)) _exit(3);
        /* a writer fails cleanly with an I/O error */
        fy_store_writer *cw;
        int rc = fy_store_writer_begin(cs, &TU_ID, NULL, &cw, err, sizeof err);
        if (rc != FY_STORE_ERR_IO) _exit(4);
        fy_store_reader *r;
        if (fy_store_reader_open(cs, &TU_ID, NULL, 0, &r, err, sizeof err)) _exit(6);
        int lfd2 = tu_memfd("x", 1);
        rc = fy_store_reader_add_log(r, "inject.log", lfd2, err, sizeof err);
        fy_store_reader_close(r);
        if (rc != FY_STORE_ERR_IO) _exit(7);
        fy_store_close(cs);
        _exit(0);
    }
    int st;
    waitpid(child, &st, 0);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        print_message("read-only bind mount not possible here (no CAP_SYS_ADMIN): covered by the "
                      "counting I/O table only\n");
    else
        assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    if (getenv("STORE_TEST_FILTER")) cmocka_set_test_filter(getenv("STORE_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_fallback_and_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_personalities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_personality, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rlimit_fsize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
