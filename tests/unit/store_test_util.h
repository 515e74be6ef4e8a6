/* Helpers shared by the test_store*.c programs (each includes this once): temporary
 * folders, files with known content, tree snapshots, simple personalities. */
#ifndef STORE_TEST_UTIL_H
#define STORE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fy_common.h"
#include "store/fy_store.h"

static inline char *tu_mkdtemp(void)
{
    const char *t = getenv("TMPDIR");
    char *p = fy_xasprintf("%s/fystoreXXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

static inline int tu_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static inline void tu_rmrf(const char *p)
{
    if (p) nftw(p, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Deterministic pseudo-random bytes. */
static inline void tu_fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* An anonymous in-memory file holding data; returns an fd positioned at 0. */
static inline int tu_memfd(const void *data, size_t n)
{
    int fd = memfd_create("store-test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    const uint8_t *b = data;
    while (n) {
        ssize_t k = write(fd, b, n);
        assert_true(k > 0);
        b += k;
        n -= (size_t)k;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* Reads everything from fd (from 0). */
static inline uint8_t *tu_slurp_fd(int fd, size_t *n)
{
    fy_buf b = {0};
    lseek(fd, 0, SEEK_SET);
    uint8_t tmp[65536];
    ssize_t k;
    while ((k = read(fd, tmp, sizeof tmp)) > 0)
        fy_buf_put(&b, tmp, (size_t)k);
    *n = b.len;
    if (!b.data) b.data = fy_xmalloc(1);
    return b.data;
}

/* Counts regular files under dir/sub (recursively). */
static inline size_t tu_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = fy_xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                n += tu_count_files(p);
            else if (S_ISREG(st.st_mode))
                n++;
        }
        free(p);
    }
    closedir(d);
    return n;
}

/* A snapshot of a tree: every path with its size and a hash of its bytes, sorted. */
static inline void tu_snap_rec(const char *root, const char *rel, fy_buf *out)
{
    char *dir = rel[0] ? fy_xasprintf("%s/%s", root, rel) : fy_xstrdup(root);
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        names = fy_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = fy_xstrdup(de->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) > 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    for (size_t i = 0; i < n; i++) {
        char *r = rel[0] ? fy_xasprintf("%s/%s", rel, names[i]) : fy_xstrdup(names[i]);
        char *p = fy_xasprintf("%s/%s", root, r);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                fy_buf_printf(out, "D %s\n", r);
                tu_snap_rec(root, r, out);
            } else {
                int fd = open(p, O_RDONLY);
                size_t len = 0;
                uint8_t *data = fd >= 0 ? tu_slurp_fd(fd, &len) : NULL;
                if (fd >= 0) close(fd);
                uint8_t h[16];
                char hex[33];
                crypto_generichash(h, sizeof h, data, len, NULL, 0);
                for (int k = 0; k < 16; k++)
                    sprintf(hex + 2 * k, "%02x", h[k]);
                fy_buf_printf(out, "F %s %zu %s\n", r, len, hex);
                free(data);
            }
        }
        free(p);
        free(r);
        free(names[i]);
    }
    free(names);
    free(dir);
}

static inline char *tu_snapshot(const char *root)
{
    fy_buf b = {0};
    tu_snap_rec(root, "", &b);
    char *r = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return r;
}

/* True when needle occurs in any file under root. */
static inline bool tu_grep_tree(const char *root, const void *needle, size_t nn)
{
    DIR *d = opendir(root);
    if (!d) return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (memmem(de->d_name, strlen(de->d_name), needle, nn)) found = true;
        char *p = fy_xasprintf("%s/%s", root, de->d_name);
        struct stat st;
        if (!found && lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                found = tu_grep_tree(p, needle, nn);
            } else {
                int fd = open(p, O_RDONLY);
                size_t len = 0;
                uint8_t *data = fd >= 0 ? tu_slurp_fd(fd, &len) : NULL;
                if (fd >= 0) close(fd);
                if (data && memmem(data, len, needle, nn)) found = true;
                free(data);
            }
        }
        free(p);
    }
    closedir(d);
    return found;
}

static inline fy_store *tu_open(const char *root, const fy_store_opts *o)
{
    fy_store *s = NULL;
    char err[512];
    fy_store_opts d = fy_store_opts_default();
    d.create = true;
    int rc = fy_store_open(root, o ? o : &d, &s, err, sizeof err);
    if (rc) fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, 0);
    return s;
}

static const fy_store_id TU_ID = {"CONTOSO", "alice", "PC-01"};

/* Adds a file entry with the given content. */
static inline int tu_add(fy_store_writer *w, const char *path, const void *data, size_t n,
                         uint64_t mtime, char *err, size_t es)
{
    fy_store_file f = {0};
    f.path = path;
    f.size = n;
    f.mtime = mtime;
    f.ctime = mtime - 1;
    f.attributes = 0x20;
    f.has_content = true;
    int rc = fy_store_put_mem(w, data, n, &f.content, err, es);
    if (rc) return rc;
    return fy_store_add_file(w, &f, err, es);
}

/* Writes one generation of n small files "<My Documents>\fK.txt" with content "file K vV". */
static inline int tu_write_gen(fy_store *s, const fy_store_id *id, const fy_store_write_opts *wo,
                               int n, int version, int64_t time, char *err, size_t es)
{
    fy_store_writer *w;
    int rc = fy_store_writer_begin(s, id, wo, &w, err, es);
    if (rc) return rc;
    for (int i = 0; i < n && !rc; i++) {
        char path[64], data[64];
        snprintf(path, sizeof path, "<My Documents>\\f%d.txt", i);
        snprintf(data, sizeof data, "file %d v%d", i, version);
        rc = tu_add(w, path, data, strlen(data), 130000000000000000ull + (uint64_t)i, err, es);
    }
    fy_store_meta m = {0};
    m.user = "CONTOSO\\alice";
    m.time = time;
    if (!rc) rc = fy_store_commit(w, &m, NULL, err, es);
    fy_store_writer_free(w);
    return rc;
}

/* Counts the entries of a generation and checks each small file's content "file K vV". */
static inline int tu_check_gen(fy_store *s, const fy_store_id *id, const char *pw, uint32_t gen,
                               int *n_files)
{
    fy_store_reader *r;
    fy_store_gen *g;
    char err[512];
    int rc = fy_store_reader_open(s, id, pw, pw ? strlen(pw) : 0, &r, err, sizeof err);
    if (rc) return rc;
    rc = fy_store_gen_open(r, gen, &g, err, sizeof err);
    if (rc) {
        fy_store_reader_close(r);
        return rc;
    }
    fy_store_entry e;
    *n_files = 0;
    while ((rc = fy_store_gen_next(g, &e, err, sizeof err)) == 1) {
        if (e.kind != FY_STORE_ENTRY_FILE) continue;
        (*n_files)++;
        uint8_t *data;
        size_t len;
        rc = fy_store_read_object_mem(r, &e.file.content, 1 << 20, &data, &len, err, sizeof err);
        if (rc) break;
        int k;
        if (sscanf(e.file.path, "<My Documents>\\f%d.txt", &k) == 1) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "file %d v", k);
            size_t pl = strlen(prefix);
            if (len <= pl || memcmp(data, prefix, pl)) rc = FY_STORE_ERR_CORRUPT;
            for (size_t i = pl; i < len; i++)
                if (data[i] < '0' || data[i] > '9') rc = FY_STORE_ERR_CORRUPT;
        }
        free(data);
        if (rc) break;
    }
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    return rc;
}

static inline void tu_damage_print(void *ctx, const fy_store_damage *d)
{
    int *n = ctx;
    (*n)++;
    fprintf(stderr, "  damage: %s gen %u %s %s %s: %s\n", d->personality, d->generation,
            d->path ? d->path : "-", d->object ? d->object : "-", d->file ? d->file : "-",
            d->message);
}

static inline int tu_verify(fy_store *s, const fy_store_id *id, const char *pw, int *damages)
{
    char err[512];
    int n = 0;
    int rc =
        fy_store_verify(s, id, pw, pw ? strlen(pw) : 0, tu_damage_print, &n, NULL, err, sizeof err);
    if (damages) *damages = n;
    if (rc) fprintf(stderr, "verify: %s\n", err);
    return rc;
}

#endif
