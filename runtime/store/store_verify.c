/* verify (re-read everything, report damage per object), garbage collection of what an
 * overwrite or a crash left unreferenced, and import of a personality folder. None of this
 * needs the password: object references and stored hashes are plaintext. */
#include "fy_store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool listed(const st_index *ix, const char *name)
{
    for (size_t i = 0; i < ix->n_gens; i++)
        if (strcmp(ix->gens[i].catalog, name) == 0) return true;
    return false;
}

static bool is_catalog_name(const char *n)
{
    return strlen(n) == 12 && strcmp(n + 8, ".cat") == 0 && strspn(n, "0123456789") == 8;
}

bool st_gc_due(const fy_store *s, int pfd, const st_index *ix)
{
    int gfd = st_open_dir(s, pfd, "generations");
    if (gfd < 0) return false;
    int fd = dup(gfd);
    st_close(s, gfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return false;
    }
    bool due = false;
    struct dirent *de;
    while (!due && (de = readdir(d)))
        if (is_catalog_name(de->d_name) && !listed(ix, de->d_name)) due = true;
    closedir(d);
    return due;
}

/* Opens pfd/generations/<name> as a catalogue (no key: references only). */
static int open_cat(const fy_store *s, int pfd, const char *name, const st_keys *k, int *fd,
                    st_catr *c, char *err, size_t err_size)
{
    char path[64];
    snprintf(path, sizeof path, "generations/%s", name);
    *fd = st_open(s, pfd, path, O_RDONLY | O_NOFOLLOW, 0);
    struct stat st;
    if (*fd < 0 || fstat(*fd, &st) < 0) {
        int e = errno;
        memset(c, 0, sizeof *c);
        return st_fail_errno(err, err_size, e == ENOENT ? FY_STORE_ERR_CORRUPT : FY_STORE_ERR_IO, e,
                             "cannot open %s", path);
    }
    st_src src = {s, *fd, NULL, (uint64_t)st.st_size};
    return st_catr_open(c, src, k, 0, err, err_size);
}

/* Every object id the listed catalogues refer to. */
static int referenced(const fy_store *s, int pfd, const st_index *ix, st_idset *set, char *err,
                      size_t err_size)
{
    st_keys none = {.enc = ix->enc, .have = false};
    for (size_t i = 0; i < ix->n_gens; i++) {
        int fd;
        st_catr c;
        int rc = open_cat(s, pfd, ix->gens[i].catalog, &none, &fd, &c, err, err_size);
        for (uint64_t j = 0; !rc && j < c.n_refs; j++) {
            fy_store_objref r;
            if (!(rc = st_catr_ref(&c, j, &r, err, err_size))) st_idset_add(set, r.id);
        }
        st_catr_close(&c);
        st_close(s, fd);
        if (rc) return rc;
    }
    return FY_STORE_OK;
}

int st_gc(const fy_store *s, int pfd, const st_index *ix, char *err, size_t err_size)
{
    st_idset set = {0};
    /* Never delete on doubt: a catalogue that cannot be read stops the collection. */
    int rc = referenced(s, pfd, ix, &set, err, err_size);
    int objfd = -1;
    if (rc) goto out;
    objfd = st_open_dir(s, pfd, "objects");
    for (unsigned i = 0; objfd >= 0 && i < 256; i++) {
        char fan[3];
        snprintf(fan, sizeof fan, "%02x", i);
        int ffd = st_open_dir(s, objfd, fan);
        if (ffd < 0) continue;
        int dfd = dup(ffd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
            if (dfd >= 0) close(dfd);
            st_close(s, ffd);
            continue;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            uint8_t id[32];
            char hex[65];
            if (strlen(de->d_name) != 62) continue;
            memcpy(hex, fan, 2);
            memcpy(hex + 2, de->d_name, 63);
            if (!st_unhex(hex, 64, id, 32) || st_idset_has(&set, id)) continue;
            st_unlink(s, ffd, de->d_name, 0);
        }
        closedir(d);
        st_close(s, ffd);
    }
    /* catalogues last: while one is left, the collection is known to be due */
    int gfd = st_open_dir(s, pfd, "generations");
    if (gfd >= 0) {
        int dfd = dup(gfd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)))
                if (is_catalog_name(de->d_name) && !listed(ix, de->d_name))
                    st_unlink(s, gfd, de->d_name, 0);
            closedir(d);
        } else if (dfd >= 0) {
            close(dfd);
        }
        st_sync(s, gfd, FY_STORE_SYNC_FULL);
        st_close(s, gfd);
    }
out:
    st_close(s, objfd);
    st_idset_free(&set);
    return rc;
}

/* ---- verify ---- */
typedef struct vctx {
    const fy_store *s;
    const char *rel;
    fy_store_damage_fn fn;
    void *ctx;
    fy_store_verify_stats *st;
    uint64_t damaged;
    int objfd;
    const st_keys *k;
    st_idset checked;
    char first[300]; /* the first damage's message (for import) */
} vctx;

static void report(vctx *v, uint32_t gen, const char *path, const uint8_t *id, const char *file,
                   fy_store_damage_kind kind, const char *msg)
{
    char hex[65];
    if (id) st_hex(id, 32, hex);
    fy_store_damage d = {v->rel, gen, path, id ? hex : NULL, file, kind, msg};
    if (!v->damaged) {
        /* a long message is cut: this is only the first line of the report */
        char *t = fy_xasprintf("%s%s%s", file ? file : "", file ? ": " : "", msg);
        snprintf(v->first, sizeof v->first, "%.*s", (int)sizeof v->first - 1, t);
        free(t);
    }
    v->damaged++;
    if (v->st) v->st->damaged++;
    if (v->fn) v->fn(v->ctx, &d);
}

static void check_object(vctx *v, uint32_t gen, const fy_store_objref *ref, const char *path,
                         bool decode)
{
    if (!st_idset_add(&v->checked, ref->id)) return; /* each object once */
    char rel[68], file[80];
    st_obj_relpath(ref->id, rel);
    snprintf(file, sizeof file, "objects/%s", rel);
    fy_store_damage_kind kind = 0;
    char msg[300];
    int rc = v->objfd < 0 ? st_fail(msg, sizeof msg, FY_STORE_ERR_CORRUPT, "objects/ is missing")
                          : st_obj_read(v->s, v->objfd, rel, v->k, decode, ref, NULL, NULL, NULL,
                                        &kind, msg, sizeof msg);
    if (v->objfd < 0) kind = FY_STORE_DMG_MISSING;
    if (v->st) {
        v->st->objects++;
        v->st->bytes += ref->stored_size;
    }
    if (rc) report(v, gen, path, ref->id, file, kind ? kind : FY_STORE_DMG_IO, msg);
}

static void verify_entries(vctx *v, uint32_t gen, st_catr *c, const char *file)
{
    char msg[300], where[600];
    if (c->have_meta && c->meta.has_program)
        check_object(v, gen, &c->meta.program, "(program image)", true);
    fy_store_entry e;
    int rc;
    while ((rc = st_catr_next(c, &e, msg, sizeof msg)) == 1) {
        if (e.kind == FY_STORE_ENTRY_FILE) {
            if (e.file.has_content) check_object(v, gen, &e.file.content, e.file.path, true);
            for (size_t i = 0; i < e.file.n_ads; i++) {
                snprintf(where, sizeof where, "%s:%s", e.file.path, e.file.ads[i].name);
                check_object(v, gen, &e.file.ads[i].ref, where, true);
            }
        } else if (e.reg.data_is_object) {
            snprintf(where, sizeof where, "%s [%s]", e.reg.key, e.reg.value);
            check_object(v, gen, &e.reg.data_ref, where, true);
        }
    }
    if (rc < 0) report(v, gen, NULL, NULL, file, FY_STORE_DMG_CATALOG, msg);
}

/* Checks one generation. Objects are found through the decoded entries when the catalogue
 * can be read (so damage names the path), and through the plaintext reference list
 * otherwise (no password, or a damaged block); every listed object is checked either way. */
static void verify_gen(vctx *v, int pfd, const st_index *ix, const st_gen *g)
{
    char file[64], msg[300];
    snprintf(file, sizeof file, "generations/%s", g->catalog);
    int fd;
    st_catr c;
    int rc = open_cat(v->s, pfd, g->catalog, v->k, &fd, &c, msg, sizeof msg);
    if (rc) {
        report(v, g->number, NULL, NULL, file, FY_STORE_DMG_CATALOG, msg);
        goto out;
    }
    uint8_t h[32];
    if ((rc = st_catr_check_hash(&c, h, msg, sizeof msg)))
        report(v, g->number, NULL, NULL, file, FY_STORE_DMG_CATALOG, msg);
    else if (memcmp(h, g->hash, 32) != 0 || c.generation != g->number ||
             memcmp(c.puid, ix->uid, ST_UID_LEN) != 0)
        report(v, g->number, NULL, NULL, file, FY_STORE_DMG_CATALOG,
               "not the catalogue the index lists (its hash, number or personality differ)");
    if (v->st) v->st->generations++;
    /* entries (or, without a key, the block structure) */
    verify_entries(v, g->number, &c, file);
    /* the reference list: objects not reached above (none when all went well) */
    bool decode = !ix->enc || v->k->have;
    for (uint64_t j = 0; j < c.n_refs; j++) {
        fy_store_objref r;
        if (st_catr_ref(&c, j, &r, msg, sizeof msg)) {
            report(v, g->number, NULL, NULL, file, FY_STORE_DMG_CATALOG, msg);
            break;
        }
        if (st_idset_has(&v->checked, r.id)) continue;
        /* The list holds id and stored hash but not the size: the content is checked
         * against the id alone (when decodable). */
        fy_store_objref e = r;
        e.size = ST_SIZE_ANY;
        st_idset_add(&v->checked, r.id);
        char rel[68], of[80];
        st_obj_relpath(r.id, rel);
        snprintf(of, sizeof of, "objects/%s", rel);
        fy_store_damage_kind kind = 0;
        int orc = v->objfd < 0 ? FY_STORE_ERR_CORRUPT
                               : st_obj_read(v->s, v->objfd, rel, v->k, decode, &e, NULL, NULL,
                                             NULL, &kind, msg, sizeof msg);
        if (v->objfd < 0) {
            kind = FY_STORE_DMG_MISSING;
            snprintf(msg, sizeof msg, "objects/ is missing");
        }
        if (v->st) {
            v->st->objects++;
            v->st->bytes += r.stored_size;
        }
        if (orc) report(v, g->number, NULL, r.id, of, kind ? kind : FY_STORE_DMG_IO, msg);
    }
out:
    st_catr_close(&c);
    st_close(v->s, fd);
}

static int verify_one(const fy_store *s, int pfd, const char *rel, const char *pw, size_t pwlen,
                      fy_store_damage_fn fn, void *ctx, fy_store_verify_stats *st,
                      uint64_t *damaged, char *first, size_t first_size, char *err, size_t err_size)
{
    vctx v = {0};
    v.s = s;
    v.rel = rel;
    v.fn = fn;
    v.ctx = ctx;
    v.st = st;
    v.objfd = -1;
    st_index ix;
    char msg[300];
    int rc = FY_STORE_OK;
    if (st) st->personalities++;
    int lrc = st_index_load(s, pfd, &ix, msg, sizeof msg);
    if (lrc == FY_STORE_ERR_NOT_FOUND) return FY_STORE_OK; /* never finished: nothing to check */
    if (lrc) {
        report(&v, 0, NULL, NULL, "index", FY_STORE_DMG_INDEX, msg);
        goto out_noindex;
    }
    st_keys k = {.enc = ix.enc, .have = !ix.enc};
    if (ix.enc && pw) {
        if (st_kdf(pw, pwlen, ix.salt, ix.kdf_ops, ix.kdf_mem, &k, msg, sizeof msg)) {
            report(&v, 0, NULL, NULL, "index", FY_STORE_DMG_INDEX, msg);
            k = (st_keys){.enc = true, .have = false};
        } else if (!st_kcv_check(&k, ix.uid, ix.kcv)) {
            rc = st_fail(err, err_size, FY_STORE_ERR_PASSWORD,
                         "wrong password for %s: checked without it (stored hashes only)", rel);
            st_keys_wipe(&k);
            k = (st_keys){.enc = true, .have = false};
        }
    }
    v.k = &k;
    v.objfd = st_open_dir(s, pfd, "objects");
    for (size_t i = 0; i < ix.n_gens; i++)
        verify_gen(&v, pfd, &ix, &ix.gens[i]);
    st_close(s, v.objfd);
    st_keys_wipe(&k);
    st_index_free(&ix);
out_noindex:
    st_idset_free(&v.checked);
    *damaged += v.damaged;
    if (first && !first[0] && v.damaged) snprintf(first, first_size, "%s", v.first);
    return rc;
}

int fy_store_verify(fy_store *s, const fy_store_id *id, const char *password, size_t password_len,
                    fy_store_damage_fn fn, void *ctx, fy_store_verify_stats *stats, char *err,
                    size_t err_size)
{
    fy_store_verify_stats local = {0};
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    uint64_t damaged = 0;
    int rc = FY_STORE_OK, prc = FY_STORE_OK;
    char perr[300] = "";
    if (id) {
        if (!id->domain || !id->user)
            return st_fail(err, err_size, FY_STORE_ERR_USAGE, "verify needs a domain and a user");
        char *dom = st_name_upper(id->domain), *usr = st_name_lower(id->user);
        char *comp = id->computer ? st_name_upper(id->computer) : NULL;
        if (!dom || !usr || (id->computer && !comp)) {
            free(dom);
            free(usr);
            free(comp);
            return st_fail(err, err_size, FY_STORE_ERR_USAGE, "invalid personality name");
        }
        char f1[256], f2[256];
        int d1 = -1, d2 = -1;
        size_t found = 0;
        if (st_find_ci(s->rootfd, dom, f1) && (d1 = st_open_dir(s, s->rootfd, f1)) >= 0 &&
            st_find_ci(d1, usr, f2) && (d2 = st_open_dir(s, d1, f2)) >= 0) {
            int fd = dup(d2);
            DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
            struct dirent *de;
            while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.' || (comp && !fy_streq_ci(de->d_name, comp))) continue;
                int pfd = st_open_dir(s, d2, de->d_name);
                struct stat st;
                if (pfd < 0) continue;
                if (fstatat(pfd, "index", &st, AT_SYMLINK_NOFOLLOW) == 0) {
                    found++;
                    char *rel = fy_xasprintf("%s/%s/%s", f1, f2, de->d_name);
                    int r = verify_one(s, pfd, rel, password, password_len, fn, ctx, stats,
                                       &damaged, NULL, 0, perr, sizeof perr);
                    if (r) prc = r;
                    free(rel);
                }
                st_close(s, pfd);
            }
            if (d)
                closedir(d);
            else if (fd >= 0)
                close(fd);
        }
        st_close(s, d1);
        st_close(s, d2);
        free(dom);
        free(usr);
        if (!found) {
            rc = st_fail(err, err_size, FY_STORE_ERR_NOT_FOUND, "no personality %s\\%s%s%s in %s",
                         id->domain, id->user, comp ? " from " : "", comp ? comp : "", s->root);
            free(comp);
            return rc;
        }
        free(comp);
    } else {
        fy_store_personality *v;
        size_t n;
        if ((rc = fy_store_list(s, &v, &n, err, err_size))) return rc;
        for (size_t i = 0; i < n; i++) {
            int pfd = -1;
            char path[800];
            snprintf(path, sizeof path, "%s", v[i].dir);
            pfd = st_open_dir(s, s->rootfd, path);
            if (pfd < 0) continue;
            int r = verify_one(s, pfd, v[i].dir, password, password_len, fn, ctx, stats, &damaged,
                               NULL, 0, perr, sizeof perr);
            if (r) prc = r;
            st_close(s, pfd);
        }
        fy_store_list_free(v, n);
    }
    if (prc == FY_STORE_ERR_PASSWORD) return st_fail(err, err_size, prc, "%s", perr);
    if (damaged)
        return st_fail(err, err_size, FY_STORE_ERR_CORRUPT, "%llu damaged item(s) found",
                       (unsigned long long)damaged);
    return FY_STORE_OK;
}

/* ---- import ---- */
/* Copies src/name (under the source personality folder) to dst/name through tmp. */
static int copy_file(const fy_store *s, int sdir, const char *spath, int tmpfd, int ddir,
                     const char *dpath, char *err, size_t err_size)
{
    int in = st_open(s, sdir, spath, O_RDONLY | O_NOFOLLOW, 0);
    if (in < 0)
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot read %s", spath);
    char tmp[64];
    st_tmpname(tmp, "imp");
    int out = st_open(s, tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    int rc = FY_STORE_OK;
    if (out < 0) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write into the store");
        goto out;
    }
    uint8_t *buf = fy_xmalloc(65536);
    while (true) {
        ssize_t k = st_read_full(s, in, buf, 65536);
        if (k < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot read %s", spath);
            break;
        }
        if (k == 0) break;
        if (st_write_all(s, out, buf, (size_t)k) < 0) {
            rc =
                st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write into the store");
            break;
        }
    }
    free(buf);
    if (!rc && st_sync(s, out, FY_STORE_SYNC_DATA) < 0)
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write into the store");
    if (!rc) {
        int fd = out;
        out = -1;
        if (s->io->close(s->io->ctx, fd) < 0)
            rc =
                st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write into the store");
    }
    if (!rc && st_rename(s, tmpfd, tmp, ddir, dpath) < 0)
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot write into the store");
    if (!rc) tmp[0] = 0;
out:
    st_close(s, in);
    st_close(s, out);
    if (tmp[0] && rc) st_unlink(s, tmpfd, tmp, 0);
    return rc;
}

static const st_gen *gen_in(const st_index *ix, const st_gen *g)
{
    for (size_t i = 0; i < ix->n_gens; i++)
        if (ix->gens[i].number == g->number) return &ix->gens[i];
    return NULL;
}

int fy_store_import(fy_store *s, const char *folder, char *err, size_t err_size)
{
    int rc = FY_STORE_OK;
    int spfd = -1, dpfd = -1, tmpfd = -1, dobj = -1, dgen = -1, sobj = -1;
    st_index six = {0}, dix = {0};
    st_lock lock = {0};
    lock.fd = -1;
    char *rel = NULL;
    uint8_t *ixbytes = NULL;
    size_t ixlen = 0;
    spfd = st_open_dir(s, AT_FDCWD, folder);
    if (spfd < 0)
        return st_fail_errno(err, err_size,
                             errno == ENOENT ? FY_STORE_ERR_NOT_FOUND : FY_STORE_ERR_IO, errno,
                             "cannot open %s", folder);
    if (st_read_small(s, spfd, "index", 64u << 20, &ixbytes, &ixlen) < 0) {
        rc = st_fail_errno(err, err_size,
                           errno == ENOENT ? FY_STORE_ERR_NOT_FOUND : FY_STORE_ERR_IO, errno,
                           "%s is not a personality folder (no index; archives must be "
                           "unpacked first)",
                           folder);
        goto out;
    }
    char m[300];
    if ((rc = st_index_parse(ixbytes, ixlen, 0, &six, m, sizeof m))) {
        rc = st_fail(err, err_size, rc, "%s: %s", folder, m);
        goto out;
    }
    /* 1. the folder must be whole */
    uint64_t damaged = 0;
    char first[300] = "";
    fy_store_verify_stats vs = {0};
    if ((rc = verify_one(s, spfd, folder, NULL, 0, NULL, NULL, &vs, &damaged, first, sizeof first,
                         m, sizeof m)))
        goto out;
    if (damaged) {
        rc = st_fail(err, err_size, FY_STORE_ERR_CORRUPT,
                     "%s is damaged (%llu problem(s); first: %s); nothing imported", folder,
                     (unsigned long long)damaged, first);
        goto out;
    }
    /* 2. its place in this store */
    char *dom = st_name_upper(six.domain), *usr = st_name_lower(six.user),
         *comp = st_name_upper(six.computer);
    if (!dom || !usr || !comp) {
        free(dom);
        free(usr);
        free(comp);
        rc = st_fail(err, err_size, FY_STORE_ERR_CORRUPT, "%s: invalid identity in its index",
                     folder);
        goto out;
    }
    char f1[256], f2[256], f3[256];
    int d1 = -1, d2 = -1;
    bool made = false;
    /* find or make, keeping an existing folder's spelling */
    if (!st_find_ci(s->rootfd, dom, f1)) snprintf(f1, sizeof f1, "%s", dom);
    if (st_mkdir(s, s->rootfd, f1) < 0 || (d1 = st_open_dir(s, s->rootfd, f1)) < 0) made = true;
    if (!made && !st_find_ci(d1, usr, f2)) snprintf(f2, sizeof f2, "%s", usr);
    if (!made && (st_mkdir(s, d1, f2) < 0 || (d2 = st_open_dir(s, d1, f2)) < 0)) made = true;
    if (!made && !st_find_ci(d2, comp, f3)) snprintf(f3, sizeof f3, "%s", comp);
    if (!made && (st_mkdir(s, d2, f3) < 0 || (dpfd = st_open_dir(s, d2, f3)) < 0)) made = true;
    int e = errno;
    st_close(s, d1);
    st_close(s, d2);
    free(dom);
    free(usr);
    free(comp);
    if (made) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, e,
                           "cannot make the personality's folder");
        goto out;
    }
    rel = fy_xasprintf("%s/%s/%s", f1, f2, f3);
    struct stat a, b;
    if (fstat(spfd, &a) == 0 && fstat(dpfd, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        goto out; /* importing a personality onto itself */
    if ((rc = st_lock_acquire(s, dpfd, rel, &lock, err, err_size))) goto out;
    rc = st_index_load(s, dpfd, &dix, m, sizeof m);
    if (rc == FY_STORE_OK) {
        if (memcmp(dix.uid, six.uid, ST_UID_LEN) != 0) {
            rc = st_fail(err, err_size, FY_STORE_ERR_EXISTS,
                         "%s already holds a different personality (another uid: it was started "
                         "afresh, or comes from elsewhere); nothing imported",
                         rel);
            goto out;
        }
        for (size_t i = 0; i < dix.n_gens; i++) {
            const st_gen *sg = gen_in(&six, &dix.gens[i]);
            if (!sg || memcmp(sg->hash, dix.gens[i].hash, 32) != 0) {
                rc = st_fail(err, err_size, FY_STORE_ERR_EXISTS,
                             "%s holds generation %u, which the folder to import lacks or holds "
                             "differently; importing would lose it; nothing imported",
                             rel, dix.gens[i].number);
                goto out;
            }
        }
        if (dix.n_gens == six.n_gens && dix.next == six.next) goto out; /* already here */
    } else if (rc == FY_STORE_ERR_NOT_FOUND) {
        rc = FY_STORE_OK;
    } else {
        rc = st_fail(err, err_size, rc == FY_STORE_ERR_CORRUPT ? FY_STORE_ERR_EXISTS : rc,
                     "%s exists and its index cannot be read (%s); nothing imported", rel, m);
        goto out;
    }
    /* 3. copy: objects, catalogues, logs; the index last */
    static const char *const sub[] = {"objects", "generations", "tmp", "logs"};
    for (int i = 0; i < 4; i++)
        if (st_mkdir(s, dpfd, sub[i]) < 0) {
            rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot make %s/%s", rel,
                               sub[i]);
            goto out;
        }
    tmpfd = st_open_dir(s, dpfd, "tmp");
    dobj = st_open_dir(s, dpfd, "objects");
    dgen = st_open_dir(s, dpfd, "generations");
    sobj = st_open_dir(s, spfd, "objects");
    if (tmpfd < 0 || dobj < 0 || dgen < 0) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot open %s", rel);
        goto out;
    }
    st_clear_dir(s, tmpfd);
    st_keys none = {.enc = six.enc, .have = false};
    uint8_t fan_done[32] = {0};
    for (size_t i = 0; i < six.n_gens && !rc; i++) {
        const st_gen *g = &six.gens[i];
        if (gen_in(&dix, g)) continue;
        int fd;
        st_catr c;
        rc = open_cat(s, spfd, g->catalog, &none, &fd, &c, err, err_size);
        for (uint64_t j = 0; !rc && j < c.n_refs; j++) {
            fy_store_objref r;
            if ((rc = st_catr_ref(&c, j, &r, err, err_size))) break;
            char orel[68], fan[3];
            st_obj_relpath(r.id, orel);
            memcpy(fan, orel, 2);
            fan[2] = 0;
            struct stat ost;
            if (fstatat(dobj, orel, &ost, AT_SYMLINK_NOFOLLOW) == 0) continue;
            if (st_mkdir(s, dobj, fan) < 0) {
                rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot make objects/%s",
                                   fan);
                break;
            }
            rc = copy_file(s, sobj, orel, tmpfd, dobj, orel, err, err_size);
            unsigned fi = (unsigned)strtoul(fan, NULL, 16);
            fan_done[fi / 8] |= (uint8_t)(1u << (fi % 8));
        }
        st_catr_close(&c);
        st_close(s, fd);
        if (rc) goto out;
        for (unsigned fi = 0; fi < 256; fi++) {
            if (!(fan_done[fi / 8] & (1u << (fi % 8)))) continue;
            char fan[3];
            snprintf(fan, sizeof fan, "%02x", fi);
            if (st_sync_dir(s, dobj, fan) < 0) {
                rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot sync objects/%s",
                                   fan);
                goto out;
            }
        }
        memset(fan_done, 0, sizeof fan_done);
        char spath[64];
        snprintf(spath, sizeof spath, "generations/%s", g->catalog);
        if ((rc = copy_file(s, spfd, spath, tmpfd, dgen, g->catalog, err, err_size))) goto out;
    }
    if (st_sync(s, dobj, FY_STORE_SYNC_FULL) < 0 || st_sync(s, dgen, FY_STORE_SYNC_FULL) < 0) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot sync %s", rel);
        goto out;
    }
    /* logs: names the store does not have yet */
    int slog = st_open_dir(s, spfd, "logs"), dlog = st_open_dir(s, dpfd, "logs");
    if (slog >= 0 && dlog >= 0) {
        int fd = dup(slog);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        while (d && !rc && (de = readdir(d))) {
            struct stat lst;
            if (de->d_name[0] == '.' || fstatat(slog, de->d_name, &lst, AT_SYMLINK_NOFOLLOW) < 0 ||
                !S_ISREG(lst.st_mode) || fstatat(dlog, de->d_name, &lst, AT_SYMLINK_NOFOLLOW) == 0)
                continue;
            rc = copy_file(s, slog, de->d_name, tmpfd, dlog, de->d_name, err, err_size);
        }
        if (d)
            closedir(d);
        else if (fd >= 0)
            close(fd);
        if (!rc) st_sync(s, dlog, FY_STORE_SYNC_FULL);
    }
    st_close(s, slog);
    st_close(s, dlog);
    if (rc) goto out;
    if ((rc = st_lock_check(s, &lock, err, err_size))) goto out;
    rc = st_write_atomic(s, tmpfd, dpfd, "index", ixbytes, ixlen, err, err_size);
out:
    if (lock.held) st_lock_release(s, &lock);
    st_close(s, lock.fd);
    int fds[] = {spfd, dpfd, tmpfd, dobj, dgen, sobj};
    for (size_t i = 0; i < FY_ARRAY_LEN(fds); i++)
        st_close(s, fds[i]);
    st_index_free(&six);
    st_index_free(&dix);
    free(ixbytes);
    free(rel);
    return rc;
}
