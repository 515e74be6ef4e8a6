/* The store: opening it, finding personalities, writing a generation, reading one back,
 * logs and the list. Crash safety and formats: docs/store-format.md. */
#include "fy_store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SMALL_OBJECT (1u << 20) /* read whole, hashed first: duplicates are never written */
#define BATCH_MAX 256           /* objects waiting for their sync + rename */
#define BATCH_BYTES (64u << 20)
#define READ_SLICE (256u << 10)
#define PROGRAM_MAX (256u << 20)

#ifndef FERRY_VERSION
#define FERRY_VERSION "0"
#endif

/* ---- the store ---- */
fy_store_opts fy_store_opts_default(void)
{
    fy_store_opts o = {0};
    o.lock_wait_ms = 60000;
    o.lock_poll_ms = 250;
    o.lock_stale_s = 600;
    o.heartbeat_s = 30;
    o.zlib_level = FY_STORE_ZLIB_LEVEL;
    return o;
}

static int mkdir_p(const fy_store *s, const char *path)
{
    char *p = fy_xstrdup(path);
    int rc = 0;
    for (char *q = p + 1; *q && !rc; q++) {
        if (*q != '/') continue;
        *q = 0;
        rc = st_mkdir(s, AT_FDCWD, p);
        *q = '/';
    }
    if (!rc) rc = st_mkdir(s, AT_FDCWD, p);
    free(p);
    return rc;
}

int fy_store_open(const char *root, const fy_store_opts *opts, fy_store **out, char *err,
                  size_t err_size)
{
    *out = NULL;
    if (!root || !*root) return st_fail(err, err_size, FY_STORE_ERR_USAGE, "no store folder given");
    fy_store *s = fy_xcalloc(1, sizeof *s);
    s->o = opts ? *opts : fy_store_opts_default();
    s->io = s->o.io ? s->o.io : fy_store_io_posix();
    if (s->o.zlib_level < 0 || s->o.zlib_level > 9) s->o.zlib_level = FY_STORE_ZLIB_LEVEL;
    if (s->o.lock_poll_ms == 0) s->o.lock_poll_ms = 1;
    /* The heartbeat must come well within the stale time, whatever the caller set. */
    if ((uint64_t)s->o.heartbeat_s * 3 > s->o.lock_stale_s)
        s->o.heartbeat_s = s->o.lock_stale_s / 3;
    if (s->o.host) {
        snprintf(s->host, sizeof s->host, "%s", s->o.host);
    } else if (gethostname(s->host, sizeof s->host - 1) < 0 || !s->host[0]) {
        snprintf(s->host, sizeof s->host, "unknown");
    }
    for (char *c = s->host; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '=' || (unsigned char)*c >= 0x7f) *c = '_';
    s->root = fy_xstrdup(root);
    s->rootfd = -1;
    if (sodium_init() < 0) {
        fy_store_close(s);
        return st_fail(err, err_size, FY_STORE_ERR_IO, "libsodium failed to initialise");
    }
    if (s->o.create && mkdir_p(s, root) < 0) {
        int e = errno;
        fy_store_close(s);
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, e, "cannot create the store %s", root);
    }
    s->rootfd = st_open_dir(s, AT_FDCWD, root);
    if (s->rootfd < 0) {
        int e = errno;
        fy_store_close(s);
        return st_fail_errno(err, err_size, e == ENOENT ? FY_STORE_ERR_NOT_FOUND : FY_STORE_ERR_IO,
                             e, "cannot open the store %s", root);
    }
    *out = s;
    return FY_STORE_OK;
}

void fy_store_close(fy_store *s)
{
    if (!s) return;
    st_close(s, s->rootfd);
    free(s->root);
    free(s);
}

/* ---- personalities ---- */
static int open_level(const fy_store *s, int dirfd, const char *name, bool create, int *fd,
                      char found[256])
{
    *fd = -1;
    if (!st_find_ci(dirfd, name, found)) {
        if (!create) return FY_STORE_ERR_NOT_FOUND;
        if (st_mkdir(s, dirfd, name) < 0) return FY_STORE_ERR_IO;
        snprintf(found, 256, "%s", name);
    }
    *fd = st_open_dir(s, dirfd, found);
    if (*fd < 0) return errno == ENOENT ? FY_STORE_ERR_NOT_FOUND : FY_STORE_ERR_IO;
    return FY_STORE_OK;
}

/* Opens (and with create, makes) DOMAIN/user/COMPUTER; names already canonical. */
static int pers_open(const fy_store *s, const char *domain, const char *user, const char *computer,
                     bool create, int *pfd, char **rel, char *err, size_t err_size)
{
    char f1[256], f2[256], f3[256];
    int d1 = -1, d2 = -1, rc;
    *pfd = -1;
    if ((rc = open_level(s, s->rootfd, domain, create, &d1, f1)) ||
        (rc = open_level(s, d1, user, create, &d2, f2)) ||
        (rc = open_level(s, d2, computer, create, pfd, f3))) {
        int e = errno;
        st_close(s, d1);
        st_close(s, d2);
        if (rc == FY_STORE_ERR_NOT_FOUND)
            return st_fail(err, err_size, rc, "no personality %s\\%s from %s in the store %s",
                           domain, user, computer, s->root);
        return st_fail_errno(err, err_size, rc, e, "cannot open the personality %s/%s/%s in %s",
                             domain, user, computer, s->root);
    }
    st_close(s, d1);
    st_close(s, d2);
    if (rel) *rel = fy_xasprintf("%s/%s/%s", f1, f2, f3);
    return FY_STORE_OK;
}

int st_pers_open(const fy_store *s, const char *domain, const char *user, const char *computer,
                 int *pfd, char **rel, char *err, size_t err_size)
{
    return pers_open(s, domain, user, computer, false, pfd, rel, err, err_size);
}

typedef struct canon {
    char *domain, *user, *computer;
} canon;

static void canon_free(canon *c)
{
    free(c->domain);
    free(c->user);
    free(c->computer);
}

static int canon_id(const fy_store_id *id, bool need_computer, canon *c, char *err, size_t err_size)
{
    memset(c, 0, sizeof *c);
    if (!id || !id->domain || !id->user)
        return st_fail(err, err_size, FY_STORE_ERR_USAGE,
                       "a personality needs a domain and a user");
    c->domain = st_name_upper(id->domain);
    c->user = st_name_lower(id->user);
    c->computer = id->computer ? st_name_upper(id->computer) : NULL;
    if (!c->domain || !c->user || (id->computer && !c->computer) ||
        (need_computer && !c->computer)) {
        canon_free(c);
        return st_fail(err, err_size, FY_STORE_ERR_USAGE,
                       "invalid personality name %s\\%s from %s (empty, '.', '..', a slash or a "
                       "control character)",
                       id->domain, id->user, id->computer ? id->computer : "(none)");
    }
    return FY_STORE_OK;
}

/* Keys for a personality from its index and a password. */
static int unlock_keys(const st_index *ix, const char *pw, size_t pwlen, st_keys *k, char *err,
                       size_t err_size, const char *what)
{
    memset(k, 0, sizeof *k);
    if (!ix->enc) {
        k->have = true;
        return FY_STORE_OK;
    }
    if (!pw)
        return st_fail(err, err_size, FY_STORE_ERR_PASSWORD,
                       "%s is password-protected: give its password (--password-file or "
                       "FERRY_PASSWORD)",
                       what);
    int rc = st_kdf(pw, pwlen, ix->salt, ix->kdf_ops, ix->kdf_mem, k, err, err_size);
    if (rc) return rc;
    if (!st_kcv_check(k, ix->uid, ix->kcv)) {
        st_keys_wipe(k);
        return st_fail(err, err_size, FY_STORE_ERR_PASSWORD, "wrong password for %s", what);
    }
    return FY_STORE_OK;
}

/* ---- previous generation's files (incremental backup) ----
 * Compact: one fixed-size record per file, every path in one blob, a table of u32 slots
 * (about 190 bytes a file with its path); streams are rare and kept apart. */
typedef struct prev_ent {
    uint64_t path_off;
    uint32_t path_len, attributes;
    uint64_t size, mtime, ctime;
    fy_store_objref content;
    uint32_t ads_first, n_ads;
    uint8_t has_content;
} prev_ent;

typedef struct prev_ads {
    uint64_t name_off;
    fy_store_objref ref;
} prev_ads;

typedef struct prev_table {
    prev_ent *v;
    size_t n, cap;
    prev_ads *ads;
    size_t n_ads, ads_cap;
    fy_buf text;
    uint32_t *slots; /* index + 1; 0 empty */
    size_t nslots;
    /* what prev_find returns (valid until the next call) */
    fy_store_file out;
    fy_store_ads *out_ads;
    size_t out_ads_cap;
} prev_table;

static uint32_t path_hash(const char *p, size_t n)
{
    return fy_hash_ci(p, n);
}

static uint64_t put_text(prev_table *t, const char *s)
{
    uint64_t off = t->text.len;
    fy_buf_put(&t->text, s, strlen(s) + 1);
    return off;
}

static void prev_insert(prev_table *t, const fy_store_file *f)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->v = fy_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    prev_ent *e = &t->v[t->n++];
    memset(e, 0, sizeof *e);
    e->path_len = (uint32_t)strlen(f->path);
    e->path_off = put_text(t, f->path);
    e->attributes = f->attributes;
    e->size = f->size;
    e->mtime = f->mtime;
    e->ctime = f->ctime;
    e->has_content = f->has_content;
    e->content = f->content;
    e->ads_first = (uint32_t)t->n_ads;
    e->n_ads = (uint32_t)f->n_ads;
    for (size_t i = 0; i < f->n_ads; i++) {
        if (t->n_ads == t->ads_cap) {
            t->ads_cap = t->ads_cap ? t->ads_cap * 2 : 64;
            t->ads = fy_xrealloc(t->ads, t->ads_cap * sizeof *t->ads);
        }
        t->ads[t->n_ads].name_off = put_text(t, f->ads[i].name);
        t->ads[t->n_ads++].ref = f->ads[i].ref;
    }
}

static void prev_index(prev_table *t)
{
    t->nslots = 16;
    while (t->nslots < t->n * 2)
        t->nslots *= 2;
    t->slots = fy_xcalloc(t->nslots, sizeof *t->slots);
    for (size_t i = 0; i < t->n; i++) {
        size_t h = path_hash((const char *)t->text.data + t->v[i].path_off, t->v[i].path_len) &
                   (t->nslots - 1);
        while (t->slots[h])
            h = (h + 1) & (t->nslots - 1);
        t->slots[h] = (uint32_t)(i + 1);
    }
}

static const fy_store_file *prev_find(prev_table *t, const char *path)
{
    if (!t->nslots) return NULL;
    size_t pl = strlen(path);
    size_t h = path_hash(path, pl) & (t->nslots - 1);
    while (t->slots[h]) {
        const prev_ent *e = &t->v[t->slots[h] - 1];
        const char *ep = (const char *)t->text.data + e->path_off;
        if (fy_strcasecmp_u8(ep, e->path_len, path, pl) == 0) {
            fy_store_file *f = &t->out;
            memset(f, 0, sizeof *f);
            f->path = ep;
            f->size = e->size;
            f->mtime = e->mtime;
            f->ctime = e->ctime;
            f->attributes = e->attributes;
            f->has_content = e->has_content;
            f->content = e->content;
            if (e->n_ads > t->out_ads_cap) {
                t->out_ads_cap = e->n_ads;
                t->out_ads = fy_xrealloc(t->out_ads, t->out_ads_cap * sizeof *t->out_ads);
            }
            for (uint32_t i = 0; i < e->n_ads; i++) {
                t->out_ads[i].name = (const char *)t->text.data + t->ads[e->ads_first + i].name_off;
                t->out_ads[i].ref = t->ads[e->ads_first + i].ref;
            }
            f->ads = e->n_ads ? t->out_ads : NULL;
            f->n_ads = e->n_ads;
            return f;
        }
        h = (h + 1) & (t->nslots - 1);
    }
    return NULL;
}

static void prev_free(prev_table *t)
{
    free(t->v);
    free(t->ads);
    free(t->slots);
    free(t->out_ads);
    fy_buf_free(&t->text);
    memset(t, 0, sizeof *t);
}

/* ---- the writer ---- */
typedef struct pending {
    int fd;
    char tmp[64];
    fy_store_objref ref;
} pending;

struct fy_store_writer {
    fy_store *s;
    char *rel;
    canon names; /* the folder names in use */
    int pfd, objfd, genfd, tmpfd, logfd;
    st_lock lock;
    st_index old;
    bool had_old;
    bool fresh; /* no generation is kept (new personality or overwrite) */
    st_keys keys;
    st_index next; /* crypto, uid and identity of the index to write */
    uint32_t generation;
    st_catw cat;
    bool cat_open;
    pending batch[BATCH_MAX];
    size_t n_batch;
    uint64_t batch_bytes;
    uint8_t fan_known[32], fan_touched[32];
    bool objdir_dirty;
    prev_table prev;
    bool has_program;
    fy_store_objref program;
    char **logs;
    size_t n_logs;
    uint8_t *rbuf; /* SMALL_OBJECT bytes, reused by fy_store_put_fd */
    int failed;    /* sticky error code after a store write failed */
    bool committed;
};

static int poison(fy_store_writer *w, int rc)
{
    if (rc == FY_STORE_ERR_IO || rc == FY_STORE_ERR_LOCKED || rc == FY_STORE_ERR_CORRUPT)
        w->failed = rc;
    return rc;
}

static int check_usable(fy_store_writer *w, char *err, size_t err_size)
{
    if (w->committed)
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "the generation is already committed");
    if (w->failed)
        return st_fail(err, err_size, w->failed,
                       "an earlier write to this personality failed; nothing was committed");
    return FY_STORE_OK;
}

static int max_catalog_number(int genfd, uint32_t *max)
{
    *max = 0;
    int fd = dup(genfd);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        unsigned long v;
        char tail[8];
        if (strlen(de->d_name) == 12 && sscanf(de->d_name, "%8lu%4s", &v, tail) == 2 &&
            strcmp(tail, ".cat") == 0 && v > *max && v < UINT32_MAX)
            *max = (uint32_t)v;
    }
    closedir(d);
    return 0;
}

/* Loads the previous generation's file entries. */
static int load_prev(fy_store_writer *w, char *err, size_t err_size)
{
    const st_gen *g = &w->old.gens[w->old.n_gens - 1];
    int fd = st_open(w->s, w->genfd, g->catalog, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0)
        return st_fail_errno(err, err_size,
                             errno == ENOENT ? FY_STORE_ERR_CORRUPT : FY_STORE_ERR_IO, errno,
                             "cannot open generation %u of %s", g->number, w->rel);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        st_close(w->s, fd);
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot read %s", w->rel);
    }
    st_src src = {w->s, fd, NULL, (uint64_t)st.st_size};
    st_catr c;
    int rc = st_catr_open(&c, src, &w->keys, 0, err, err_size);
    if (!rc && memcmp(c.hash, g->hash, 32) != 0)
        rc = st_fail(err, err_size, FY_STORE_ERR_CORRUPT,
                     "generation %u of %s is not the catalogue its index lists", g->number, w->rel);
    fy_store_entry e;
    if (!rc) {
        while ((rc = st_catr_next(&c, &e, err, err_size)) == 1)
            if (e.kind == FY_STORE_ENTRY_FILE) prev_insert(&w->prev, &e.file);
    }
    if (rc == 0) prev_index(&w->prev);
    st_catr_close(&c);
    st_close(w->s, fd);
    return rc;
}

/* Temporary files of crashed agents in a folder (lock.new-*, lock.broken-* in the
 * personality, .log-* in logs/) whose names start with one of the prefixes. Recent ones may
 * belong to an agent at work right now (waiting for the lock, adding a log), so only old
 * ones go. */
static void clear_leftovers(const fy_store *s, int pfd, const char *const *prefixes, size_t np)
{
    int fd = dup(pfd);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *de;
    int64_t now = st_now();
    while ((de = readdir(d))) {
        struct stat st;
        bool match = false;
        for (size_t i = 0; i < np; i++)
            match |= strncmp(de->d_name, prefixes[i], strlen(prefixes[i])) == 0;
        if (match && fstatat(pfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            now - (int64_t)st.st_mtime > (int64_t)s->o.lock_stale_s)
            st_unlink(s, pfd, de->d_name, 0);
    }
    closedir(d);
}

static int open_subdirs(fy_store_writer *w, char *err, size_t err_size)
{
    const fy_store *s = w->s;
    static const char *const sub[] = {"objects", "generations", "tmp", "logs"};
    int *fds[] = {&w->objfd, &w->genfd, &w->tmpfd, &w->logfd};
    bool made = false;
    for (int i = 0; i < 4; i++) {
        struct stat st;
        if (fstatat(w->pfd, sub[i], &st, AT_SYMLINK_NOFOLLOW) < 0) made = true;
        if (st_mkdir(s, w->pfd, sub[i]) < 0 || (*fds[i] = st_open_dir(s, w->pfd, sub[i])) < 0)
            return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot make %s/%s", w->rel,
                                 sub[i]);
    }
    if (made && st_sync(s, w->pfd, FY_STORE_SYNC_FULL) < 0)
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot sync %s", w->rel);
    return FY_STORE_OK;
}

static bool same_crypto(const st_index *a, const st_index *b)
{
    return a->enc == b->enc && (!a->enc || (a->kdf_ops == b->kdf_ops && a->kdf_mem == b->kdf_mem &&
                                            memcmp(a->salt, b->salt, ST_SALT_LEN) == 0 &&
                                            memcmp(a->kcv, b->kcv, ST_KCV_LEN) == 0 &&
                                            memcmp(a->uid, b->uid, ST_UID_LEN) == 0));
}

/* Decides the keys of the generation to write, given the index found (or none). */
static int writer_crypto(fy_store_writer *w, const fy_store_write_opts *o, const st_index *pre,
                         const st_keys *pre_keys, char *err, size_t err_size)
{
    bool keep = w->had_old && !o->overwrite;
    const char *what = w->rel;
    if (w->had_old && w->old.enc) {
        /* Even an overwrite needs the old password: no one destroys a protected
         * personality by guessing. */
        if (pre && pre_keys && same_crypto(pre, &w->old)) {
            w->keys = *pre_keys;
        } else {
            int rc =
                unlock_keys(&w->old, o->password, o->password_len, &w->keys, err, err_size, what);
            if (rc) return rc;
        }
    } else if (keep && o->password) {
        return st_fail(err, err_size, FY_STORE_ERR_PASSWORD,
                       "%s has no password; a password cannot be added to its generations (start "
                       "it afresh with --overwrite)",
                       what);
    } else {
        w->keys.enc = false;
        w->keys.have = true;
    }
    if (keep) {
        memcpy(w->next.uid, w->old.uid, ST_UID_LEN);
        w->next.enc = w->old.enc;
        w->next.kdf_ops = w->old.kdf_ops;
        w->next.kdf_mem = w->old.kdf_mem;
        memcpy(w->next.salt, w->old.salt, ST_SALT_LEN);
        memcpy(w->next.kcv, w->old.kcv, ST_KCV_LEN);
        return FY_STORE_OK;
    }
    /* a new personality (or a fresh start): new uid, new salt */
    randombytes_buf(w->next.uid, ST_UID_LEN);
    st_keys_wipe(&w->keys);
    if (!o->password) {
        w->keys.have = true;
        return FY_STORE_OK;
    }
    w->next.enc = true;
    w->next.kdf_ops = o->kdf_ops ? o->kdf_ops : crypto_pwhash_OPSLIMIT_MODERATE;
    w->next.kdf_mem = o->kdf_mem ? o->kdf_mem : crypto_pwhash_MEMLIMIT_MODERATE;
    randombytes_buf(w->next.salt, ST_SALT_LEN);
    int rc = st_kdf(o->password, o->password_len, w->next.salt, w->next.kdf_ops, w->next.kdf_mem,
                    &w->keys, err, err_size);
    if (rc) return rc == FY_STORE_ERR_CORRUPT ? FY_STORE_ERR_USAGE : rc;
    st_kcv_make(&w->keys, w->next.uid, w->next.kcv);
    return FY_STORE_OK;
}

int fy_store_writer_begin(fy_store *s, const fy_store_id *id, const fy_store_write_opts *o,
                          fy_store_writer **out, char *err, size_t err_size)
{
    *out = NULL;
    fy_store_write_opts none = {0};
    if (!o) o = &none;
    canon c;
    int rc = canon_id(id, true, &c, err, err_size);
    if (rc) return rc;
    fy_store_writer *w = fy_xcalloc(1, sizeof *w);
    w->s = s;
    w->names = c;
    w->pfd = w->objfd = w->genfd = w->tmpfd = w->logfd = -1;
    w->lock.fd = -1;
    st_index pre = {0};
    st_keys pre_keys = {0};
    bool have_pre = false;
    /* 1. Before anything is written: an existing personality's password. */
    int pfd = -1;
    char *rel = NULL;
    if (st_pers_open(s, c.domain, c.user, c.computer, &pfd, &rel, NULL, 0) == FY_STORE_OK) {
        rc = st_index_load(s, pfd, &pre, err, err_size);
        if (rc == FY_STORE_OK) {
            have_pre = true;
            if (pre.enc || (o->password && !o->overwrite)) {
                if (!pre.enc) {
                    rc = st_fail(err, err_size, FY_STORE_ERR_PASSWORD,
                                 "%s has no password; a password cannot be added to its "
                                 "generations (start it afresh with --overwrite)",
                                 rel);
                } else {
                    rc = unlock_keys(&pre, o->password, o->password_len, &pre_keys, err, err_size,
                                     rel);
                }
            }
        } else if (rc == FY_STORE_ERR_NOT_FOUND || (rc == FY_STORE_ERR_CORRUPT && o->overwrite)) {
            rc = FY_STORE_OK;
        }
        st_close(s, pfd);
        free(rel);
        if (rc) goto fail;
    }
    /* 2. The folders and the lock. */
    if ((rc = pers_open(s, c.domain, c.user, c.computer, true, &w->pfd, &w->rel, err, err_size)))
        goto fail;
    if ((rc = st_lock_acquire(s, w->pfd, w->rel, &w->lock, err, err_size))) goto fail;
    if ((rc = open_subdirs(w, err, err_size))) goto fail;
    st_clear_dir(s, w->tmpfd);
    static const char *const lock_tmp[] = {"lock.new-", "lock.broken-"}, *const log_tmp[] = {
                                                                             ".log-"};
    clear_leftovers(s, w->pfd, lock_tmp, 2);
    clear_leftovers(s, w->logfd, log_tmp, 1);
    /* 3. The index as it is now that we hold the lock. */
    rc = st_index_load(s, w->pfd, &w->old, err, err_size);
    if (rc == FY_STORE_OK) {
        w->had_old = true;
    } else if (rc == FY_STORE_ERR_NOT_FOUND || (rc == FY_STORE_ERR_CORRUPT && o->overwrite)) {
        rc = FY_STORE_OK;
    } else {
        goto fail;
    }
    if ((rc = writer_crypto(w, o, have_pre ? &pre : NULL, have_pre ? &pre_keys : NULL, err,
                            err_size)))
        goto fail;
    w->fresh = !w->had_old || o->overwrite;
    /* Identity as the folders spell it (an existing folder keeps its spelling). */
    char *p1 = strchr(w->rel, '/'), *p2 = p1 ? strchr(p1 + 1, '/') : NULL;
    w->next.domain = fy_xstrndup(w->rel, (size_t)(p1 - w->rel));
    w->next.user = fy_xstrndup(p1 + 1, (size_t)(p2 - p1 - 1));
    w->next.computer = fy_xstrdup(p2 + 1);
    if (w->had_old) {
        w->generation = w->old.next;
    } else {
        uint32_t max = 0;
        max_catalog_number(w->genfd, &max);
        w->generation = max + 1;
    }
    if (w->generation == UINT32_MAX) {
        rc = st_fail(err, err_size, FY_STORE_ERR_CORRUPT, "%s: generation numbers exhausted",
                     w->rel);
        goto fail;
    }
    /* 4. What a crash left behind, and the previous generation for incremental backup. */
    if (w->had_old && !o->overwrite && st_gc_due(s, w->pfd, &w->old) &&
        (rc = st_gc(s, w->pfd, &w->old, err, err_size)))
        goto fail;
    if (!w->fresh && w->old.n_gens && (rc = load_prev(w, err, err_size))) goto fail;
    if ((rc = st_catw_begin(&w->cat, s, w->tmpfd, &w->keys, s->o.zlib_level, w->generation,
                            w->next.uid, err, err_size)))
        goto fail;
    w->cat_open = true;
    st_index_free(&pre);
    st_keys_wipe(&pre_keys);
    *out = w;
    return FY_STORE_OK;
fail:
    st_index_free(&pre);
    st_keys_wipe(&pre_keys);
    fy_store_writer_free(w);
    return rc;
}

int fy_store_heartbeat(fy_store_writer *w, char *err, size_t err_size)
{
    if (w->failed) return check_usable(w, err, err_size);
    /* also after commit: the lock is held until the writer is freed (logs) */
    return poison(w, st_lock_heartbeat(w->s, &w->lock, false, err, err_size));
}

typedef struct objsink {
    const fy_store *s;
    int fd;
} objsink;

static int sink_obj(void *ctx, const void *p, size_t n)
{
    objsink *o = ctx;
    return st_write_all(o->s, o->fd, p, n);
}

/* Makes every object of the batch durable, then visible under its final name. */
static int flush_batch(fy_store_writer *w, char *err, size_t err_size)
{
    const fy_store *s = w->s;
    int rc = FY_STORE_OK;
    size_t i = 0;
    /* A batch of several objects is made durable by one syncfs (one journal commit and
     * one disk flush) rather than one fdatasync each; a single object by fdatasync. Either
     * way, no object gets its final name before its bytes are on disk. */
    bool whole_fs = w->n_batch > 1;
    if (whole_fs && st_sync(s, w->batch[0].fd, FY_STORE_SYNC_FS) < 0)
        whole_fs = false; /* a file system without syncfs: one fdatasync each, below */
    for (; i < w->n_batch; i++) {
        pending *p = &w->batch[i];
        char rel[68], fan[3];
        st_obj_relpath(p->ref.id, rel);
        memcpy(fan, rel, 2);
        fan[2] = 0;
        unsigned fi = (unsigned)strtoul(fan, NULL, 16);
        if (!whole_fs && st_sync(s, p->fd, FY_STORE_SYNC_DATA) < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno,
                               "cannot write an object to %s", w->rel);
            break;
        }
        int fd = p->fd;
        p->fd = -1;
        if (s->io->close(s->io->ctx, fd) < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno,
                               "cannot write an object to %s", w->rel);
            break;
        }
        if (!(w->fan_known[fi / 8] & (1u << (fi % 8)))) {
            if (s->io->mkdirat(s->io->ctx, w->objfd, fan, 0777) == 0) {
                w->objdir_dirty = true;
            } else if (errno != EEXIST) {
                rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno,
                                   "cannot make objects/%s in %s", fan, w->rel);
                break;
            }
            w->fan_known[fi / 8] |= (uint8_t)(1u << (fi % 8));
        }
        if (st_rename(s, w->tmpfd, p->tmp, w->objfd, rel) < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno,
                               "cannot store an object in %s", w->rel);
            break;
        }
        p->tmp[0] = 0;
        w->fan_touched[fi / 8] |= (uint8_t)(1u << (fi % 8));
    }
    if (rc) { /* the rest stay temporary files: removed by free (or the next writer) */
        for (; i < w->n_batch; i++) {
            st_close(s, w->batch[i].fd);
            w->batch[i].fd = -1;
            if (w->batch[i].tmp[0]) st_unlink(s, w->tmpfd, w->batch[i].tmp, 0);
        }
        w->n_batch = 0;
        return poison(w, rc);
    }
    w->n_batch = 0;
    w->batch_bytes = 0;
    return FY_STORE_OK;
}

/* An object with this id already stored (or waiting in the batch): its reference. */
static bool find_existing(fy_store_writer *w, const uint8_t id[32], uint64_t size,
                          fy_store_objref *ref)
{
    for (size_t i = 0; i < w->n_batch; i++)
        if (memcmp(w->batch[i].ref.id, id, 32) == 0) {
            *ref = w->batch[i].ref;
            return true;
        }
    char rel[68];
    st_obj_relpath(id, rel);
    fy_store_objref got;
    if (st_obj_peek(w->s, w->objfd, rel, &got) < 0) return false;
    /* A plain object says its size; one that disagrees is damaged and is written anew. */
    if (!w->keys.enc && got.size != size) return false;
    memcpy(ref->id, id, 32);
    memcpy(ref->stored_hash, got.stored_hash, 32);
    ref->stored_size = got.stored_size;
    ref->size = size;
    return true;
}

typedef struct objw {
    objsink sink;
    char tmp[64];
    st_enc enc;
    bool enc_open;
} objw;

static int objw_begin(fy_store_writer *w, objw *o, char *err, size_t err_size)
{
    memset(o, 0, sizeof *o);
    o->sink.s = w->s;
    st_tmpname(o->tmp, "obj");
    o->sink.fd = st_open(w->s, w->tmpfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (o->sink.fd < 0)
        return poison(w, st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno,
                                       "cannot create an object in %s", w->rel));
    o->enc_open = true;
    if (st_enc_begin(&o->enc, &w->keys, w->s->o.zlib_level, sink_obj, &o->sink) < 0)
        return poison(w, st_fail_errno(err, err_size, FY_STORE_ERR_IO, o->enc.err,
                                       "cannot write an object to %s", w->rel));
    return FY_STORE_OK;
}

static void objw_drop(fy_store_writer *w, objw *o)
{
    if (o->enc_open) st_enc_end(&o->enc);
    o->enc_open = false;
    if (o->sink.fd >= 0) {
        st_close(w->s, o->sink.fd);
        st_unlink(w->s, w->tmpfd, o->tmp, 0);
    }
    o->sink.fd = -1;
}

/* Finishes the object: into the batch, or dropped when an identical one exists. */
static int objw_finish(fy_store_writer *w, objw *o, fy_store_objref *ref, char *err,
                       size_t err_size)
{
    if (st_enc_finish(&o->enc, ref) < 0) {
        int e = o->enc.err;
        objw_drop(w, o);
        return poison(w, st_fail_errno(err, err_size, FY_STORE_ERR_IO, e,
                                       "cannot write an object to %s", w->rel));
    }
    st_enc_end(&o->enc);
    o->enc_open = false;
    fy_store_objref have;
    if (find_existing(w, ref->id, ref->size, &have)) {
        objw_drop(w, o);
        *ref = have;
        return FY_STORE_OK;
    }
    w->s->io->sync(w->s->io->ctx, o->sink.fd, FY_STORE_SYNC_START);
    pending *p = &w->batch[w->n_batch++];
    p->fd = o->sink.fd;
    memcpy(p->tmp, o->tmp, sizeof p->tmp);
    p->ref = *ref;
    o->sink.fd = -1;
    w->batch_bytes += ref->stored_size;
    if (w->n_batch == BATCH_MAX || w->batch_bytes >= BATCH_BYTES)
        return flush_batch(w, err, err_size);
    return FY_STORE_OK;
}

int fy_store_put_mem(fy_store_writer *w, const void *data, size_t n, fy_store_objref *ref,
                     char *err, size_t err_size)
{
    int rc = check_usable(w, err, err_size);
    if (rc) return rc;
    if ((rc = fy_store_heartbeat(w, err, err_size))) return rc;
    uint8_t id[32];
    st_content_id(&w->keys, data, n, id);
    if (find_existing(w, id, n, ref)) return FY_STORE_OK;
    objw o;
    if ((rc = objw_begin(w, &o, err, err_size))) {
        objw_drop(w, &o);
        return rc;
    }
    if (st_enc_update(&o.enc, data, n) < 0) {
        int e = o.enc.err;
        objw_drop(w, &o);
        return poison(w, st_fail_errno(err, err_size, FY_STORE_ERR_IO, e,
                                       "cannot write an object to %s", w->rel));
    }
    return objw_finish(w, &o, ref, err, err_size);
}

int fy_store_put_fd(fy_store_writer *w, int fd, fy_store_objref *ref, char *err, size_t err_size)
{
    int rc = check_usable(w, err, err_size);
    if (rc) return rc;
    if (!w->rbuf) w->rbuf = fy_xmalloc(SMALL_OBJECT);
    uint8_t *buf = w->rbuf;
    size_t have = 0;
    bool eof = false;
    while (have < SMALL_OBJECT) {
        ssize_t k = read(fd, buf + have, SMALL_OBJECT - have);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_SOURCE, errno, "cannot read the input");
            goto out;
        }
        if (k == 0) {
            eof = true;
            break;
        }
        have += (size_t)k;
    }
    if (eof) {
        rc = fy_store_put_mem(w, buf, have, ref, err, err_size);
        goto out;
    }
    /* A big file: stream it, constant memory, and drop the copy afterwards if it turns out to
     * be stored already (the id is known only at the end). */
    objw o;
    if ((rc = objw_begin(w, &o, err, err_size))) {
        objw_drop(w, &o);
        goto out;
    }
    uint64_t since_beat = 0;
    while (true) {
        if (have && st_enc_update(&o.enc, buf, have) < 0) {
            int e = o.enc.err;
            objw_drop(w, &o);
            rc = poison(w, st_fail_errno(err, err_size, FY_STORE_ERR_IO, e,
                                         "cannot write an object to %s", w->rel));
            goto out;
        }
        since_beat += have;
        if (since_beat >= (8u << 20)) {
            since_beat = 0;
            if ((rc = fy_store_heartbeat(w, err, err_size))) {
                objw_drop(w, &o);
                goto out;
            }
        }
        ssize_t k;
        do
            k = read(fd, buf, READ_SLICE);
        while (k < 0 && errno == EINTR);
        if (k < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_SOURCE, errno, "cannot read the input");
            objw_drop(w, &o);
            goto out;
        }
        if (k == 0) break;
        have = (size_t)k;
    }
    rc = objw_finish(w, &o, ref, err, err_size);
    if (!rc) rc = fy_store_heartbeat(w, err, err_size);
out:
    if (w->keys.enc) sodium_memzero(buf, SMALL_OBJECT);
    return rc;
}

bool fy_store_prev_file(fy_store_writer *w, const char *path, const fy_store_file **out)
{
    const fy_store_file *f = path ? prev_find(&w->prev, path) : NULL;
    if (out) *out = f;
    return f != NULL;
}

static bool text_ok(const char *s)
{
    return s && fy_utf8_valid(s, strlen(s));
}

int fy_store_add_file(fy_store_writer *w, const fy_store_file *f, char *err, size_t err_size)
{
    int rc = check_usable(w, err, err_size);
    if (rc) return rc;
    if (!f || !fy_store_path_safe(f->path))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "unsafe or malformed path \"%s\"",
                       f && f->path ? f->path : "(null)");
    if (f->attributes & FY_STORE_ATTR_REPARSE_POINT)
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "%s is a link: links are not stored",
                       f->path);
    bool dir = f->attributes & FY_STORE_ATTR_DIRECTORY;
    if (dir == f->has_content || (f->has_content && f->content.size != f->size))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE,
                       "%s: a folder has no content, a file has content of its size", f->path);
    if (f->dest && !fy_store_path_safe(f->dest))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "unsafe destination \"%s\"", f->dest);
    for (size_t i = 0; i < f->n_ads; i++)
        if (!f->ads[i].name || !st_ads_name_safe(f->ads[i].name, strlen(f->ads[i].name)))
            return st_fail(err, err_size, FY_STORE_ERR_USAGE, "%s: unsafe stream name", f->path);
    return poison(w, st_catw_file(&w->cat, f, err, err_size));
}

int fy_store_add_reg(fy_store_writer *w, const fy_store_reg *r, char *err, size_t err_size)
{
    int rc = check_usable(w, err, err_size);
    if (rc) return rc;
    if (!r || !fy_store_regkey_safe(r->key))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE,
                       "bad registry key \"%s\" (HKCU\\... or HKLM\\...)",
                       r && r->key ? r->key : "(null)");
    if (r->value && !text_ok(r->value))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "%s: value name is not UTF-8", r->key);
    if (r->value && r->len && !r->data)
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "%s: data missing", r->key);
    fy_store_reg c = *r;
    c.data_is_object = false;
    if (r->value && r->len > FY_STORE_REG_INLINE_MAX) {
        if ((rc = fy_store_put_mem(w, r->data, r->len, &c.data_ref, err, err_size))) return rc;
        c.data_is_object = true;
    }
    return poison(w, st_catw_reg(&w->cat, &c, err, err_size));
}

int fy_store_set_program(fy_store_writer *w, const void *fyb, size_t n, char *err, size_t err_size)
{
    int rc = fy_store_put_mem(w, fyb, n, &w->program, err, err_size);
    if (!rc) w->has_program = true;
    return rc;
}

static bool log_name_ok(const char *s)
{
    return s && s[0] != '.' && st_ads_name_safe(s, strlen(s)) && strlen(s) < 200;
}

int fy_store_note_log(fy_store_writer *w, const char *name, char *err, size_t err_size)
{
    int rc = check_usable(w, err, err_size);
    if (rc) return rc;
    if (!log_name_ok(name))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "bad log name \"%s\"",
                       name ? name : "(null)");
    w->logs = fy_xrealloc(w->logs, (w->n_logs + 1) * sizeof *w->logs);
    w->logs[w->n_logs++] = fy_xstrdup(name);
    return FY_STORE_OK;
}

static int sync_touched(fy_store_writer *w, char *err, size_t err_size)
{
    for (unsigned i = 0; i < 256; i++) {
        if (!(w->fan_touched[i / 8] & (1u << (i % 8)))) continue;
        char fan[3];
        snprintf(fan, sizeof fan, "%02x", i);
        if (st_sync_dir(w->s, w->objfd, fan) < 0)
            return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno,
                                 "cannot sync objects/%s in %s", fan, w->rel);
    }
    memset(w->fan_touched, 0, sizeof w->fan_touched);
    if (w->objdir_dirty && st_sync(w->s, w->objfd, FY_STORE_SYNC_FULL) < 0)
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot sync objects/ in %s",
                             w->rel);
    w->objdir_dirty = false;
    return FY_STORE_OK;
}

int fy_store_commit(fy_store_writer *w, const fy_store_meta *meta, uint32_t *generation, char *err,
                    size_t err_size)
{
    int rc = check_usable(w, err, err_size);
    if (rc) return rc;
    fy_store_meta m = {0};
    if (meta) m = *meta;
    if (!m.time) m.time = st_now();
    if (!m.tool_version) m.tool_version = FERRY_VERSION;
    m.logs = (const char *const *)w->logs;
    m.n_logs = w->n_logs;
    m.has_program = w->has_program;
    m.program = w->program;
    const char *texts[] = {m.user,       m.sid,          m.computer,    m.os_name,
                           m.os_version, m.program_hash, m.tool_version};
    for (size_t i = 0; i < FY_ARRAY_LEN(texts); i++)
        if (texts[i] && !text_ok(texts[i]))
            return st_fail(err, err_size, FY_STORE_ERR_USAGE, "metadata is not UTF-8");
    if ((rc = fy_store_heartbeat(w, err, err_size))) return rc;
    /* 1. objects durable and visible; their folders synced */
    if ((rc = flush_batch(w, err, err_size))) return rc;
    if ((rc = sync_touched(w, err, err_size))) return poison(w, rc);
    /* 2. the catalogue, then its name */
    uint8_t hash[32];
    if ((rc = st_catw_finish(&w->cat, &m, hash, err, err_size))) return poison(w, rc);
    st_gen g = {0};
    g.number = w->generation;
    g.time = m.time;
    g.n_files = w->cat.n_files;
    g.n_reg = w->cat.n_reg;
    g.bytes = w->cat.bytes;
    memcpy(g.hash, hash, 32);
    st_catalog_name(g.number, g.catalog);
    if (st_rename(w->s, w->tmpfd, w->cat.name, w->genfd, g.catalog) < 0 ||
        st_sync(w->s, w->genfd, FY_STORE_SYNC_FULL) < 0)
        return poison(w, st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno,
                                       "cannot store the catalogue of %s", w->rel));
    w->cat_open = false;
    /* 3. the index: the one step that makes the generation visible */
    st_index *nx = &w->next;
    nx->next = w->generation + 1;
    size_t keep = w->fresh ? 0 : w->old.n_gens;
    nx->gens = fy_xmalloc((keep + 1) * sizeof *nx->gens);
    if (keep) memcpy(nx->gens, w->old.gens, keep * sizeof *nx->gens);
    nx->gens[keep] = g;
    nx->n_gens = keep + 1;
    fy_buf b = {0};
    st_index_format(nx, &b);
    rc = st_lock_check(w->s, &w->lock, err, err_size);
    if (!rc) rc = st_write_atomic(w->s, w->tmpfd, w->pfd, "index", b.data, b.len, err, err_size);
    fy_buf_free(&b);
    if (rc) return poison(w, rc);
    w->committed = true;
    if (generation) *generation = w->generation;
    /* 4. an overwrite drops what the older generations held (a crash here is finished by
     * the next writer: st_gc_due) */
    if (w->had_old && w->fresh) st_gc(w->s, w->pfd, nx, NULL, 0);
    return FY_STORE_OK;
}

void fy_store_writer_free(fy_store_writer *w)
{
    if (!w) return;
    const fy_store *s = w->s;
    for (size_t i = 0; i < w->n_batch; i++) {
        st_close(s, w->batch[i].fd);
        if (w->batch[i].tmp[0]) st_unlink(s, w->tmpfd, w->batch[i].tmp, 0);
    }
    if (w->cat_open) st_catw_abort(&w->cat);
    if (w->lock.held) st_lock_release(s, &w->lock);
    st_close(s, w->lock.fd);
    st_keys_wipe(&w->keys);
    prev_free(&w->prev);
    st_index_free(&w->old);
    st_index_free(&w->next);
    for (size_t i = 0; i < w->n_logs; i++)
        free(w->logs[i]);
    free(w->logs);
    free(w->rbuf);
    int fds[] = {w->objfd, w->genfd, w->tmpfd, w->logfd, w->pfd};
    for (size_t i = 0; i < FY_ARRAY_LEN(fds); i++)
        st_close(s, fds[i]);
    canon_free(&w->names);
    free(w->rel);
    free(w);
}

/* ---- logs ---- */
static int add_log(const fy_store *s, int pfd, const st_keys *k, const char *rel, const char *name,
                   int in, char *err, size_t err_size)
{
    if (!log_name_ok(name))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "bad log name \"%s\"",
                       name ? name : "(null)");
    int logfd = -1, tmpfd = -1, rc = FY_STORE_OK;
    objw o;
    memset(&o, 0, sizeof o);
    o.sink.fd = -1;
    o.sink.s = s;
    /* The temporary file lives in logs/ itself, as a dot file that listings skip: a reader
     * (inject, restore) adds its log without the lock, and a writer starting meanwhile
     * empties tmp/, never logs/. */
    if (st_mkdir(s, pfd, "logs") < 0 || (logfd = st_open_dir(s, pfd, "logs")) < 0 ||
        (tmpfd = dup(logfd)) < 0) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot open %s/logs", rel);
        goto out;
    }
    st_tmpname(o.tmp, ".log");
    o.sink.fd = st_open(s, tmpfd, o.tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (o.sink.fd < 0) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write a log to %s", rel);
        goto out;
    }
    bool enc = k->enc;
    if (enc) {
        if (st_enc_begin(&o.enc, k, s->o.zlib_level, sink_obj, &o.sink) < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, o.enc.err,
                               "cannot write a log to %s", rel);
            goto out;
        }
        o.enc_open = true;
    }
    uint8_t buf[65536];
    while (true) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_SOURCE, errno, "cannot read the log");
            goto out;
        }
        if (r == 0) break;
        int w = enc ? st_enc_update(&o.enc, buf, (size_t)r)
                    : st_write_all(s, o.sink.fd, buf, (size_t)r);
        if (w < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, enc ? o.enc.err : errno,
                               "cannot write a log to %s", rel);
            goto out;
        }
    }
    fy_store_objref ref;
    if (enc && st_enc_finish(&o.enc, &ref) < 0) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, o.enc.err, "cannot write a log to %s",
                           rel);
        goto out;
    }
    if (st_sync(s, o.sink.fd, FY_STORE_SYNC_DATA) < 0) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write a log to %s", rel);
        goto out;
    }
    /* a free name: name, name-2, name-3... (the suffix goes before the extension) */
    char final[300];
    const char *dot = strrchr(name, '.');
    size_t stem = dot ? (size_t)(dot - name) : strlen(name);
    for (int i = 1;; i++) {
        if (i == 1)
            snprintf(final, sizeof final, "%s%s", name, enc ? ".fyenc" : "");
        else
            snprintf(final, sizeof final, "%.*s-%d%s%s", (int)stem, name, i, dot ? dot : "",
                     enc ? ".fyenc" : "");
        struct stat st;
        if (fstatat(logfd, final, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) break;
        if (i > 1000) {
            rc = st_fail(err, err_size, FY_STORE_ERR_IO, "too many logs named %s in %s", name, rel);
            goto out;
        }
    }
    if (st_rename(s, tmpfd, o.tmp, logfd, final) < 0 || st_sync(s, logfd, FY_STORE_SYNC_FULL) < 0) {
        rc =
            st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot store the log in %s", rel);
        goto out;
    }
    o.tmp[0] = 0;
out:
    if (o.enc_open) st_enc_end(&o.enc);
    if (o.sink.fd >= 0) st_close(s, o.sink.fd);
    if (o.tmp[0] && tmpfd >= 0) st_unlink(s, tmpfd, o.tmp, 0);
    st_close(s, logfd);
    st_close(s, tmpfd);
    return rc;
}

int fy_store_add_log(fy_store_writer *w, const char *name, int fd, char *err, size_t err_size)
{
    if (w->failed) return check_usable(w, err, err_size);
    return add_log(w->s, w->pfd, &w->keys, w->rel, name, fd, err, err_size);
}

/* ---- the reader ---- */
struct fy_store_reader {
    fy_store *s;
    int pfd, objfd;
    char *rel, *domain, *user, *computer;
    st_index ix;
    st_keys keys;
    fy_store_gen_info *gens;
};

struct fy_store_gen {
    fy_store_reader *r;
    int fd;
    st_catr cat;
};

/* The computer of the user's personality with the latest generation. */
static int latest_computer(const fy_store *s, const canon *c, char out[256], char *err,
                           size_t err_size)
{
    char f1[256], f2[256];
    int d1 = -1, d2 = -1, rc = FY_STORE_ERR_NOT_FOUND;
    int64_t best = INT64_MIN;
    if (open_level(s, s->rootfd, c->domain, false, &d1, f1) ||
        open_level(s, d1, c->user, false, &d2, f2))
        goto out;
    int fd = dup(d2);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        int pfd = st_open_dir(s, d2, de->d_name);
        if (pfd < 0) continue;
        st_index ix;
        if (st_index_load(s, pfd, &ix, NULL, 0) == FY_STORE_OK) {
            int64_t t = ix.n_gens ? ix.gens[ix.n_gens - 1].time : INT64_MIN + 1;
            if (t > best) {
                best = t;
                snprintf(out, 256, "%s", de->d_name);
                rc = FY_STORE_OK;
            }
            st_index_free(&ix);
        }
        st_close(s, pfd);
    }
    closedir(d);
out:
    st_close(s, d1);
    st_close(s, d2);
    if (rc)
        return st_fail(err, err_size, rc, "no personality of %s\\%s in the store %s", c->domain,
                       c->user, s->root);
    return rc;
}

int fy_store_reader_open(fy_store *s, const fy_store_id *id, const char *password,
                         size_t password_len, fy_store_reader **out, char *err, size_t err_size)
{
    *out = NULL;
    canon c;
    int rc = canon_id(id, false, &c, err, err_size);
    if (rc) return rc;
    fy_store_reader *r = fy_xcalloc(1, sizeof *r);
    r->s = s;
    r->pfd = r->objfd = -1;
    if (!c.computer) {
        char comp[256];
        if ((rc = latest_computer(s, &c, comp, err, err_size))) goto fail;
        c.computer = fy_xstrdup(comp);
    }
    if ((rc = st_pers_open(s, c.domain, c.user, c.computer, &r->pfd, &r->rel, err, err_size)))
        goto fail;
    rc = st_index_load(s, r->pfd, &r->ix, err, err_size);
    if (rc == FY_STORE_ERR_NOT_FOUND) {
        rc = st_fail(err, err_size, rc, "%s holds no finished generation", r->rel);
        goto fail;
    }
    if (rc) {
        char m[300];
        snprintf(m, sizeof m, "%s", err ? err : "");
        rc = st_fail(err, err_size, rc, "%s: %s", r->rel, m);
        goto fail;
    }
    if ((rc = unlock_keys(&r->ix, password, password_len, &r->keys, err, err_size, r->rel)))
        goto fail;
    r->objfd = st_open_dir(s, r->pfd, "objects");
    if (r->objfd < 0 && r->ix.n_gens) {
        rc = st_fail_errno(err, err_size, errno == ENOENT ? FY_STORE_ERR_CORRUPT : FY_STORE_ERR_IO,
                           errno, "cannot open %s/objects", r->rel);
        goto fail;
    }
    char *p1 = strchr(r->rel, '/'), *p2 = strchr(p1 + 1, '/');
    r->domain = fy_xstrndup(r->rel, (size_t)(p1 - r->rel));
    r->user = fy_xstrndup(p1 + 1, (size_t)(p2 - p1 - 1));
    r->computer = fy_xstrdup(p2 + 1);
    r->gens = fy_xcalloc(r->ix.n_gens + 1, sizeof *r->gens);
    for (size_t i = 0; i < r->ix.n_gens; i++) {
        const st_gen *g = &r->ix.gens[i];
        r->gens[i] = (fy_store_gen_info){g->number, g->time, g->n_files, g->n_reg, g->bytes};
    }
    canon_free(&c);
    *out = r;
    return FY_STORE_OK;
fail:
    canon_free(&c);
    fy_store_reader_close(r);
    return rc;
}

void fy_store_reader_close(fy_store_reader *r)
{
    if (!r) return;
    st_close(r->s, r->pfd);
    st_close(r->s, r->objfd);
    st_keys_wipe(&r->keys);
    st_index_free(&r->ix);
    free(r->gens);
    free(r->rel);
    free(r->domain);
    free(r->user);
    free(r->computer);
    free(r);
}

const char *fy_store_reader_domain(const fy_store_reader *r)
{
    return r->domain;
}
const char *fy_store_reader_user(const fy_store_reader *r)
{
    return r->user;
}
const char *fy_store_reader_computer(const fy_store_reader *r)
{
    return r->computer;
}
bool fy_store_reader_encrypted(const fy_store_reader *r)
{
    return r->ix.enc;
}

const fy_store_gen_info *fy_store_reader_gens(const fy_store_reader *r, size_t *n)
{
    *n = r->ix.n_gens;
    return r->gens;
}

int fy_store_reader_find_time(const fy_store_reader *r, int64_t t, uint32_t *generation, char *err,
                              size_t err_size)
{
    const st_gen *best = NULL;
    for (size_t i = 0; i < r->ix.n_gens; i++)
        if (r->ix.gens[i].time <= t && (!best || r->ix.gens[i].time >= best->time))
            best = &r->ix.gens[i];
    if (!best)
        return st_fail(err, err_size, FY_STORE_ERR_NOT_FOUND,
                       "%s has no generation at or before the time asked for", r->rel);
    *generation = best->number;
    return FY_STORE_OK;
}

int fy_store_gen_open(fy_store_reader *r, uint32_t number, fy_store_gen **out, char *err,
                      size_t err_size)
{
    *out = NULL;
    const st_gen *g = NULL;
    if (number == 0 && r->ix.n_gens) g = &r->ix.gens[r->ix.n_gens - 1];
    for (size_t i = 0; i < r->ix.n_gens && !g; i++)
        if (r->ix.gens[i].number == number) g = &r->ix.gens[i];
    if (!g)
        return st_fail(err, err_size, FY_STORE_ERR_NOT_FOUND, "%s has no generation %u", r->rel,
                       number);
    fy_store_gen *gen = fy_xcalloc(1, sizeof *gen);
    gen->r = r;
    int rc = FY_STORE_OK;
    char path[64];
    snprintf(path, sizeof path, "generations/%s", g->catalog);
    gen->fd = st_open(r->s, r->pfd, path, O_RDONLY | O_NOFOLLOW, 0);
    struct stat st;
    if (gen->fd < 0 || fstat(gen->fd, &st) < 0) {
        rc = st_fail_errno(err, err_size, errno == ENOENT ? FY_STORE_ERR_CORRUPT : FY_STORE_ERR_IO,
                           errno, "cannot open %s/%s", r->rel, path);
        goto fail;
    }
    st_src src = {r->s, gen->fd, NULL, (uint64_t)st.st_size};
    if ((rc = st_catr_open(&gen->cat, src, &r->keys, 0, err, err_size))) goto fail;
    if (memcmp(gen->cat.hash, g->hash, 32) != 0 || gen->cat.generation != g->number ||
        memcmp(gen->cat.puid, r->ix.uid, ST_UID_LEN) != 0) {
        rc = st_fail(err, err_size, FY_STORE_ERR_CORRUPT,
                     "%s/%s is not the catalogue the index lists", r->rel, path);
        goto fail;
    }
    *out = gen;
    return FY_STORE_OK;
fail:
    fy_store_gen_close(gen);
    return rc;
}

void fy_store_gen_close(fy_store_gen *g)
{
    if (!g) return;
    st_catr_close(&g->cat);
    st_close(g->r->s, g->fd);
    free(g);
}

const fy_store_meta *fy_store_gen_meta(const fy_store_gen *g)
{
    return &g->cat.meta;
}

int fy_store_gen_next(fy_store_gen *g, fy_store_entry *e, char *err, size_t err_size)
{
    return st_catr_next(&g->cat, e, err, err_size);
}

static int sink_out_fd(void *ctx, const void *p, size_t n)
{
    int fd = *(int *)ctx;
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int sink_buf(void *ctx, const void *p, size_t n)
{
    fy_buf *b = ctx;
    fy_buf_put(b, p, n);
    return 0;
}

int fy_store_read_object(fy_store_reader *r, const fy_store_objref *ref, int out_fd, char *err,
                         size_t err_size)
{
    char rel[68], path[80];
    st_obj_relpath(ref->id, rel);
    snprintf(path, sizeof path, "%s", rel);
    return st_obj_read(r->s, r->objfd, path, &r->keys, true, ref, sink_out_fd, &out_fd, NULL, NULL,
                       err, err_size);
}

int fy_store_read_object_mem(fy_store_reader *r, const fy_store_objref *ref, size_t max,
                             uint8_t **out, size_t *len, char *err, size_t err_size)
{
    *out = NULL;
    *len = 0;
    if (ref->size > max)
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "object too big for memory (%llu bytes)",
                       (unsigned long long)ref->size);
    char rel[68];
    st_obj_relpath(ref->id, rel);
    fy_buf b = {0};
    fy_buf_reserve(&b, (size_t)ref->size + 1);
    int rc = st_obj_read(r->s, r->objfd, rel, &r->keys, true, ref, sink_buf, &b, NULL, NULL, err,
                         err_size);
    if (rc) {
        fy_buf_free(&b);
        return rc;
    }
    *out = b.data;
    *len = b.len;
    return FY_STORE_OK;
}

int fy_store_gen_program(fy_store_gen *g, uint8_t **out, size_t *len, char *err, size_t err_size)
{
    *out = NULL;
    *len = 0;
    if (!g->cat.meta.has_program)
        return st_fail(err, err_size, FY_STORE_ERR_NOT_FOUND, "%s: generation %u holds no program",
                       g->r->rel, g->cat.generation);
    return fy_store_read_object_mem(g->r, &g->cat.meta.program, PROGRAM_MAX, out, len, err,
                                    err_size);
}

int fy_store_reader_add_log(fy_store_reader *r, const char *name, int fd, char *err,
                            size_t err_size)
{
    return add_log(r->s, r->pfd, &r->keys, r->rel, name, fd, err, err_size);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fy_store_reader_logs(fy_store_reader *r, char ***names, size_t *n, char *err, size_t err_size)
{
    *names = NULL;
    *n = 0;
    int fd = st_open_dir(r->s, r->pfd, "logs");
    if (fd < 0) {
        if (errno == ENOENT) return FY_STORE_OK;
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot open %s/logs", r->rel);
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        st_close(r->s, fd);
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot open %s/logs", r->rel);
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        size_t l = strlen(de->d_name);
        bool e = l > 6 && strcmp(de->d_name + l - 6, ".fyenc") == 0;
        if (e != r->ix.enc) continue; /* a plain log in an encrypted personality: not ours */
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *names = fy_xrealloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = fy_xstrndup(de->d_name, e ? l - 6 : l);
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
    return FY_STORE_OK;
}

int fy_store_reader_read_log(fy_store_reader *r, const char *name, int out_fd, char *err,
                             size_t err_size)
{
    if (!log_name_ok(name))
        return st_fail(err, err_size, FY_STORE_ERR_USAGE, "bad log name \"%s\"",
                       name ? name : "(null)");
    char path[300];
    snprintf(path, sizeof path, "logs/%s%s", name, r->ix.enc ? ".fyenc" : "");
    if (r->ix.enc)
        return st_obj_read(r->s, r->pfd, path, &r->keys, true, NULL, sink_out_fd, &out_fd, NULL,
                           NULL, err, err_size);
    int fd = st_open(r->s, r->pfd, path, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0)
        return st_fail_errno(err, err_size,
                             errno == ENOENT ? FY_STORE_ERR_NOT_FOUND : FY_STORE_ERR_IO, errno,
                             "cannot open %s/%s", r->rel, path);
    uint8_t buf[65536];
    int rc = FY_STORE_OK;
    while (true) {
        ssize_t k = r->s->io->read(r->s->io->ctx, fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot read %s/%s", r->rel,
                               path);
            break;
        }
        if (k == 0) break;
        if (sink_out_fd(&out_fd, buf, (size_t)k) < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write the log");
            break;
        }
    }
    st_close(r->s, fd);
    return rc;
}

void fy_store_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- list ---- */
static char **subdirs(int dirfd, size_t *n)
{
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            v = fy_xrealloc(v, cap * sizeof *v);
        }
        v[(*n)++] = fy_xstrdup(de->d_name);
    }
    closedir(d);
    if (*n) qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

int fy_store_list(fy_store *s, fy_store_personality **out, size_t *n, char *err, size_t err_size)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0, nd = 0;
    char **doms = subdirs(s->rootfd, &nd);
    for (size_t i = 0; i < nd; i++) {
        int d1 = st_open_dir(s, s->rootfd, doms[i]);
        size_t nu = 0;
        char **users = d1 >= 0 ? subdirs(d1, &nu) : NULL;
        for (size_t j = 0; j < nu; j++) {
            int d2 = st_open_dir(s, d1, users[j]);
            size_t nc = 0;
            char **comps = d2 >= 0 ? subdirs(d2, &nc) : NULL;
            for (size_t k = 0; k < nc; k++) {
                int pfd = st_open_dir(s, d2, comps[k]);
                struct stat st;
                if (pfd < 0 || fstatat(pfd, "index", &st, AT_SYMLINK_NOFOLLOW) < 0) {
                    st_close(s, pfd);
                    continue;
                }
                if (*n == cap) {
                    cap = cap ? cap * 2 : 8;
                    *out = fy_xrealloc(*out, cap * sizeof **out);
                }
                fy_store_personality *p = &(*out)[(*n)++];
                memset(p, 0, sizeof *p);
                p->domain = fy_xstrdup(doms[i]);
                p->user = fy_xstrdup(users[j]);
                p->computer = fy_xstrdup(comps[k]);
                p->dir = fy_xasprintf("%s/%s/%s", doms[i], users[j], comps[k]);
                st_index ix;
                char e[256];
                if (st_index_load(s, pfd, &ix, e, sizeof e) == FY_STORE_OK) {
                    p->encrypted = ix.enc;
                    p->n_gens = ix.n_gens;
                    p->gens = fy_xcalloc(ix.n_gens + 1, sizeof *p->gens);
                    for (size_t g = 0; g < ix.n_gens; g++)
                        p->gens[g] = (fy_store_gen_info){ix.gens[g].number, ix.gens[g].time,
                                                         ix.gens[g].n_files, ix.gens[g].n_reg,
                                                         ix.gens[g].bytes};
                    st_index_free(&ix);
                } else {
                    p->error = fy_xstrdup(e);
                }
                st_lockinfo li;
                bool stale;
                st_lock_inspect(s, pfd, &li, &stale);
                p->locked = li.present;
                p->lock_stale = li.present && stale;
                if (li.parsed) {
                    p->lock_host = fy_xstrdup(li.host);
                    p->lock_pid = li.pid;
                    p->lock_heartbeat = li.heartbeat;
                }
                st_close(s, pfd);
            }
            fy_store_strv_free(comps, nc);
            st_close(s, d2);
        }
        fy_store_strv_free(users, nu);
        st_close(s, d1);
    }
    fy_store_strv_free(doms, nd);
    (void)err;
    (void)err_size;
    return FY_STORE_OK;
}

void fy_store_list_free(fy_store_personality *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].domain);
        free(v[i].user);
        free(v[i].computer);
        free(v[i].dir);
        free(v[i].lock_host);
        free(v[i].gens);
        free(v[i].error);
    }
    free(v);
}
