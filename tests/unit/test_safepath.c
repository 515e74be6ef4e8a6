/* runtime/io/fy_safepath: path checks; case-insensitive resolution (and its listing cache);
 * opens, folder creation and atomic placement beneath a root; links (in the middle, at the
 * end, dangling, absolute, reached case-insensitively) and hard links refused, with nothing
 * outside the root changed; read-only roots; attributes, creation times and streams through
 * the side file (written, flushed, read back, bad lines reported); the policy helpers (free
 * name, newer); NTFS time conversions. Link and escape cases run with openat2 and with the
 * component walk. The ntfs-3g xattr path runs emulated (FY_SAFE_EMULATE_NTFS3G: the same
 * layout under user.ferrytest.*), skipped where the file system has no user xattrs; a real
 * ntfs-3g or ntfs3 mount is not available to the tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fy_common.h"
#include "io/fy_safepath.h"
#include "io/fy_safepath_int.h"

typedef struct fx {
    char base[256];
    char root[300];
    char outside[300];
} fx;

static void xmkdir(const char *base, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    assert_int_equal(mkdir(p, 0777), 0);
}

static void xfile(const char *base, const char *rel, const char *content)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static char *xread(const char *base, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "r");
    if (!f) return NULL;
    fy_buf b = {0};
    char tmp[4096];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        fy_buf_put(&b, tmp, k);
    fclose(f);
    char *s = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return s;
}

static void xlink(const char *base, const char *rel, const char *target)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    assert_int_equal(symlink(target, p), 0);
}

static bool exists(const char *base, const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", base, rel);
    return lstat(p, &st) == 0;
}

/* Sets a folder's times to a fixed old instant, so that a listing taken now and a change
 * made later can never share a time stamp (coarse file-system clocks). */
static void age(const char *base, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    struct timespec t[2] = {{946684800, 0}, {946684800, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, t, AT_SYMLINK_NOFOLLOW), 0);
}

/* Everything under dir, recursively: names, kinds, sizes, contents, modification times. */
static void snapshot_rec(fy_buf *b, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
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
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    for (size_t i = 0; i < n; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        struct stat st;
        lstat(p, &st);
        fy_buf_printf(b, "%s %o %lld %lld.%09ld\n", p, st.st_mode, (long long)st.st_size,
                      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        if (S_ISDIR(st.st_mode)) snapshot_rec(b, p);
        if (S_ISREG(st.st_mode)) {
            char *c = xread(dir, names[i]);
            fy_buf_puts(b, c ? c : "?");
            free(c);
        }
        free(names[i]);
    }
    free(names);
}

static char *snapshot(const char *dir)
{
    fy_buf b = {0};
    snapshot_rec(&b, dir);
    char *s = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return s;
}

static void rm_rf(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    fx *f = fy_xcalloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->base, sizeof f->base, "%s/fy_safepath_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->base)) return -1;
    snprintf(f->root, sizeof f->root, "%s/root", f->base);
    snprintf(f->outside, sizeof f->outside, "%s/outside", f->base);
    mkdir(f->root, 0777);
    mkdir(f->outside, 0777);
    xfile(f->outside, "secret.txt", "outside");
    xmkdir(f->root, "users");
    xmkdir(f->root, "users/Howard");
    xmkdir(f->root, "users/Howard/documents");
    xfile(f->root, "users/Howard/documents/Report.DOCX", "report");
    xmkdir(f->root, "a");
    xlink(f->root, "a/evil", "../../outside");             /* a folder link, relative */
    xlink(f->root, "a/lnk", "../../outside/secret.txt");   /* a file link */
    xlink(f->root, "a/dangling", "../../outside/new.txt"); /* would create outside */
    xlink(f->root, "a/abs", f->outside);                   /* absolute */
    char p[1024], q[1024];
    snprintf(p, sizeof p, "%s/secret.txt", f->outside);
    snprintf(q, sizeof q, "%s/a/hard", f->root);
    assert_int_equal(link(p, q), 0); /* a hard link to a file outside */
    age(f->root, "users/Howard");
    age(f->root, "users");
    age(f->root, "a");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    rm_rf(f->base);
    free(f);
    return 0;
}

static fy_safe_root *open_root(const char *dir, unsigned flags)
{
    fy_safe_root *r = NULL;
    char err[256];
    assert_int_equal(fy_safe_root_open(dir, flags, &r, err, sizeof err), 0);
    return r;
}

static void close_root(fy_safe_root *r)
{
    char err[256];
    assert_int_equal(fy_safe_root_close(r, err, sizeof err), 0);
}

static void test_check_path(void **state)
{
    (void)state;
    char err[256];
    static const char *const good[] = {"",      "a",   "a/b",     "Users/Howard/My Documents/x.txt",
                                       "..a",   "a..", ".hidden", "a/...",
                                       "résumé"};
    for (size_t i = 0; i < FY_ARRAY_LEN(good); i++)
        assert_int_equal(fy_safe_check_path(good[i], strlen(good[i]), err, sizeof err), 0);
    static const char *const bad[] = {"/a",
                                      "a//b",
                                      "a/",
                                      "../a",
                                      "a/../b",
                                      ".",
                                      "..",
                                      "a/./b",
                                      "a\\b",
                                      "a/..",
                                      "./a",
                                      "/",
                                      ".ferry-attrs",
                                      "x/.ferry-streams/y",
                                      "x/.ferry-tmp-0001"};
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(fy_safe_check_path(bad[i], strlen(bad[i]), err, sizeof err), -1);
        assert_int_equal(errno, EINVAL);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(fy_safe_check_path("a\0b", 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = '\0';
    assert_int_equal(fy_safe_check_path(longname, 256, err, sizeof err), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(fy_safe_check_path(longname, 255, err, sizeof err), 0);
    assert_true(fy_safe_is_internal_name(".ferry-attrs"));
    assert_true(fy_safe_is_internal_name(".ferry-tmp-1234abcd"));
    assert_false(fy_safe_is_internal_name("ferry-attrs"));
}

static void test_resolve_case(void **state)
{
    fx *f = *state;
    fy_safe_root *r = open_root(f->root, 0);
    char err[256], *actual = NULL;
    assert_int_equal(
        fy_safe_resolve(r, "Users/HOWARD/Documents/report.docx", &actual, err, sizeof err), 0);
    assert_string_equal(actual, "users/Howard/documents/Report.DOCX");
    free(actual);
    assert_int_equal(fy_safe_resolve(r, "USERS/howard/Music/Song.mp3", &actual, err, sizeof err),
                     1);
    assert_string_equal(actual, "users/Howard/Music/Song.mp3");
    free(actual);
    assert_int_equal(fy_safe_resolve(r, "", &actual, err, sizeof err), 0);
    assert_string_equal(actual, "");
    free(actual);
    assert_int_equal(fy_safe_exists(r, "users/howard/DOCUMENTS", err, sizeof err), 1);
    assert_int_equal(fy_safe_exists(r, "users/howard/Pictures", err, sizeof err), 0);
    /* a file where a folder is needed */
    assert_int_equal(
        fy_safe_resolve(r, "users/Howard/documents/Report.DOCX/x", &actual, err, sizeof err), -1);
    assert_int_equal(errno, ENOTDIR);
    assert_null(actual);

    /* Exact case wins; otherwise the first case variant; non-ASCII letters fold too. */
    xmkdir(f->root, "cases");
    xfile(f->root, "cases/File", "1");
    xfile(f->root, "cases/file", "2");
    xfile(f->root, "cases/R\xC3\xA9sum\xC3\xA9.txt", "3");
    age(f->root, "cases");
    assert_int_equal(fy_safe_resolve(r, "cases/file", &actual, err, sizeof err), 0);
    assert_string_equal(actual, "cases/file");
    free(actual);
    assert_int_equal(fy_safe_resolve(r, "cases/FILE", &actual, err, sizeof err), 0);
    assert_string_equal(actual, "cases/File");
    free(actual);
    assert_int_equal(fy_safe_resolve(r, "CASES/R\xC3\x89SUM\xC3\x89.TXT", &actual, err, sizeof err),
                     0);
    assert_string_equal(actual, "cases/R\xC3\xA9sum\xC3\xA9.txt");
    free(actual);

    /* A listing is cached; a later change made by someone else is seen (the folder's time
     * moved), and so is a removal. */
    assert_int_equal(fy_safe_exists(r, "cases/NEWER", err, sizeof err), 0);
    xfile(f->root, "cases/Newer", "4");
    assert_int_equal(fy_safe_resolve(r, "cases/NEWER", &actual, err, sizeof err), 0);
    assert_string_equal(actual, "cases/Newer");
    free(actual);
    char p[1024];
    snprintf(p, sizeof p, "%s/cases/Newer", f->root);
    unlink(p);
    assert_int_equal(fy_safe_exists(r, "cases/NEWER", err, sizeof err), 0);
    close_root(r);
}

static void test_open_create(void **state)
{
    fx *f = *state;
    fy_safe_root *r = open_root(f->root, 0);
    char err[256];
    int fd = fy_safe_open(r, "USERS/HOWARD/Notes.txt", O_WRONLY | O_CREAT, 0644, err, sizeof err);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    char *c = xread(f->root, "users/Howard/Notes.txt");
    assert_non_null(c);
    assert_string_equal(c, "hello");
    free(c);
    /* O_CREAT on a case variant opens the existing file, never a second one */
    fd = fy_safe_open(r, "users/howard/NOTES.TXT", O_WRONLY | O_CREAT | O_TRUNC, 0644, err,
                      sizeof err);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "again", 5), 5);
    close(fd);
    assert_false(exists(f->root, "users/Howard/NOTES.TXT"));
    c = xread(f->root, "users/Howard/Notes.txt");
    assert_string_equal(c, "again");
    free(c);
    assert_int_equal(fy_safe_open(r, "users/howard/notes.txt", O_WRONLY | O_CREAT | O_EXCL, 0644,
                                  err, sizeof err),
                     -1);
    assert_int_equal(errno, EEXIST);
    /* missing parent, missing file */
    assert_int_equal(
        fy_safe_open(r, "users/Nobody/x.txt", O_WRONLY | O_CREAT, 0644, err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fy_safe_open(r, "users/Howard/none.txt", O_RDONLY, 0, err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    /* reading the root and a folder */
    fd = fy_safe_open(r, "", O_RDONLY | O_DIRECTORY, 0, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
    fd = fy_safe_open(r, "Users", O_RDONLY | O_DIRECTORY, 0, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fy_safe_open(r, "", O_WRONLY, 0, err, sizeof err), -1);
    assert_int_equal(fy_safe_open(r, "x", O_RDWR | O_TMPFILE, 0600, err, sizeof err), -1);
    close_root(r);
}

static void test_mkdirs(void **state)
{
    fx *f = *state;
    fy_safe_root *r = open_root(f->root, 0);
    char err[256], *actual = NULL;
    assert_int_equal(
        fy_safe_mkdirs(r, "Users/HOWARD/AppData/Roaming/Vendor", &actual, err, sizeof err), 0);
    assert_string_equal(actual, "users/Howard/AppData/Roaming/Vendor");
    free(actual);
    assert_true(exists(f->root, "users/Howard/AppData/Roaming/Vendor"));
    assert_false(exists(f->root, "Users"));
    /* again, in another case: nothing new */
    assert_int_equal(
        fy_safe_mkdirs(r, "users/howard/appdata/roaming/VENDOR", &actual, err, sizeof err), 0);
    assert_string_equal(actual, "users/Howard/AppData/Roaming/Vendor");
    free(actual);
    assert_int_equal(fy_safe_mkdirs(r, "", NULL, err, sizeof err), 0);
    assert_int_equal(fy_safe_mkdirs(r, "users/Howard/documents/Report.DOCX", NULL, err, sizeof err),
                     -1);
    assert_int_equal(errno, ENOTDIR);
    assert_int_equal(
        fy_safe_mkdirs(r, "users/Howard/documents/Report.DOCX/sub", NULL, err, sizeof err), -1);
    assert_int_equal(errno, ENOTDIR);
    close_root(r);
}

static void expect_link_refused(int rc, const char *err)
{
    assert_int_equal(rc, -1);
    assert_int_equal(errno, ELOOP);
    assert_non_null(strstr(err, "refusing to follow a link at"));
}

static void links_refused(fx *f, unsigned flags)
{
    char *before = snapshot(f->outside);
    fy_safe_root *r = open_root(f->root, flags);
    if (!(flags & FY_SAFE_NO_OPENAT2))
        assert_true(fy_safe_root_uses_openat2(r));
    else
        assert_false(fy_safe_root_uses_openat2(r));
    char err[256], *actual = NULL;
    static const char *const through[] = {"a/evil/secret.txt", "A/EVIL/SECRET.TXT",
                                          "a/evil/new.txt", "a/abs/secret.txt"};
    for (size_t i = 0; i < FY_ARRAY_LEN(through); i++) {
        const char *p = through[i];
        expect_link_refused(fy_safe_resolve(r, p, &actual, err, sizeof err), err);
        assert_null(actual);
        expect_link_refused(fy_safe_open(r, p, O_RDONLY, 0, err, sizeof err), err);
        expect_link_refused(fy_safe_open(r, p, O_WRONLY | O_CREAT | O_TRUNC, 0644, err, sizeof err),
                            err);
        expect_link_refused(fy_safe_place_data(r, p, "x", 1, NULL, NULL, err, sizeof err), err);
        expect_link_refused(fy_safe_mkdirs(r, p, NULL, err, sizeof err), err);
        fy_meta m;
        expect_link_refused(fy_safe_get_meta(r, p, &m, err, sizeof err), err);
        fy_meta_free(&m);
        struct stat st;
        expect_link_refused(fy_safe_stat(r, p, &st, err, sizeof err), err);
    }
    /* Links as the last component: named (resolve, stat, meta), never opened or written. */
    static const char *const last[] = {"a/lnk", "a/LNK", "a/dangling", "a/evil", "a/abs"};
    for (size_t i = 0; i < FY_ARRAY_LEN(last); i++) {
        const char *p = last[i];
        assert_int_equal(fy_safe_resolve(r, p, &actual, err, sizeof err), 0);
        free(actual);
        expect_link_refused(fy_safe_open(r, p, O_RDONLY, 0, err, sizeof err), err);
        expect_link_refused(fy_safe_open(r, p, O_WRONLY | O_CREAT, 0644, err, sizeof err), err);
        expect_link_refused(fy_safe_open(r, p, O_RDONLY | O_DIRECTORY, 0, err, sizeof err), err);
        expect_link_refused(fy_safe_place_data(r, p, "x", 1, NULL, NULL, err, sizeof err), err);
        expect_link_refused(fy_safe_mkdirs(r, p, NULL, err, sizeof err), err);
        expect_link_refused(fy_safe_unlink(r, p, err, sizeof err), err);
        fy_place_meta pm = {.set_attrs = true, .attrs = FY_ATTR_HIDDEN};
        expect_link_refused(fy_safe_set_meta(r, p, &pm, err, sizeof err), err);
        fy_buf b = {0};
        assert_int_equal(fy_safe_read_stream(r, p, "Zone.Identifier", &b, err, sizeof err), -1);
        fy_buf_free(&b);
        fy_meta m;
        assert_int_equal(fy_safe_get_meta(r, p, &m, err, sizeof err), 0);
        assert_int_equal(m.kind, FY_KIND_LINK);
        assert_non_null(m.link_target);
        fy_meta_free(&m);
        struct stat st;
        assert_int_equal(fy_safe_stat(r, p, &st, err, sizeof err), 0);
        assert_true(S_ISLNK(st.st_mode));
    }
    /* "..", absolute paths */
    static const char *const bad[] = {"../outside/secret.txt", "a/../../outside/secret.txt",
                                      "/etc/passwd", "a/evil/../../outside/secret.txt"};
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        assert_int_equal(fy_safe_open(r, bad[i], O_RDONLY, 0, err, sizeof err), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(fy_safe_place_data(r, bad[i], "x", 1, NULL, NULL, err, sizeof err), -1);
        assert_int_equal(errno, EINVAL);
    }
    /* A hard link to a file outside: never written through; replacing it swaps the name. */
    int fd = fy_safe_open(r, "a/hard", O_RDONLY, 0, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fy_safe_open(r, "a/hard", O_WRONLY | O_TRUNC, 0, err, sizeof err), -1);
    assert_int_equal(errno, EMLINK);
    assert_non_null(strstr(err, "hard link"));
    assert_int_equal(fy_safe_open(r, "a/HARD", O_RDWR, 0, err, sizeof err), -1);
    close_root(r);
    char *after = snapshot(f->outside);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_links_openat2(void **state)
{
    links_refused(*state, 0);
}

static void test_links_walk(void **state)
{
    links_refused(*state, FY_SAFE_NO_OPENAT2);
}

static void test_hardlink_replaced(void **state)
{
    fx *f = *state;
    char *before = snapshot(f->outside);
    fy_safe_root *r = open_root(f->root, 0);
    char err[256];
    assert_int_equal(fy_safe_place_data(r, "a/hard", "inside", 6, NULL, NULL, err, sizeof err), 0);
    close_root(r);
    char *c = xread(f->root, "a/hard");
    assert_string_equal(c, "inside");
    free(c);
    char *after = snapshot(f->outside);
    /* the outside file keeps its content; only its link count changed */
    c = xread(f->outside, "secret.txt");
    assert_string_equal(c, "outside");
    free(c);
    free(before);
    free(after);
}

static void test_read_only(void **state)
{
    fx *f = *state;
    fy_safe_root *r = open_root(f->root, FY_SAFE_READ_ONLY);
    char err[256];
    assert_int_equal(fy_safe_open(r, "users/howard/x", O_WRONLY | O_CREAT, 0644, err, sizeof err),
                     -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(
        fy_safe_open(r, "users/Howard/documents/Report.DOCX", O_RDWR, 0, err, sizeof err), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(fy_safe_place_data(r, "x.txt", "x", 1, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(fy_safe_mkdirs(r, "newdir", NULL, err, sizeof err), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(fy_safe_unlink(r, "users/Howard/documents/Report.DOCX", err, sizeof err), -1);
    assert_int_equal(errno, EROFS);
    fy_place_meta pm = {.set_attrs = true};
    assert_int_equal(fy_safe_set_meta(r, "users", &pm, err, sizeof err), -1);
    assert_int_equal(errno, EROFS);
    int fd = fy_safe_open(r, "users/howard/documents/report.docx", O_RDONLY, 0, err, sizeof err);
    assert_true(fd >= 0);
    char buf[16] = {0};
    assert_int_equal(read(fd, buf, sizeof buf - 1), 6);
    assert_string_equal(buf, "report");
    close(fd);
    assert_false(exists(f->root, "x.txt"));
    assert_false(exists(f->root, "newdir"));
    close_root(r);
}

static bool no_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return true;
    struct dirent *de;
    bool ok = true;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, ".ferry-tmp-", 11) == 0) ok = false;
    closedir(d);
    return ok;
}

static void test_place(void **state)
{
    fx *f = *state;
    fy_safe_root *r = open_root(f->root, FY_SAFE_FORCE_SIDEFILE);
    assert_int_equal(fy_safe_root_meta_mode(r), FY_META_SIDEFILE);
    char err[256], *placed = NULL;
    static const char zone[] = "[ZoneTransfer]\r\nZoneId=3\r\n";
    fy_stream_data sd[] = {{"Zone.Identifier", zone, sizeof zone - 1}, {"empty", NULL, 0}};
    fy_place_meta pm = {
        .set_mtime = true,
        .mtime = {1262304000, 123456700}, /* 2010-01-01 */
        .set_atime = true,
        .atime = {1262390400, 0},
        .set_crtime = true,
        .crtime = {1230768000, 500000000}, /* 2009-01-01 */
        .set_attrs = true,
        .attrs = FY_ATTR_HIDDEN | FY_ATTR_ARCHIVE | FY_ATTR_ENCRYPTED,
        .streams = sd,
        .nstreams = 2,
    };
    fy_place_opts o = {.meta = &pm};
    assert_int_equal(fy_safe_place_data(r, "USERS/HOWARD/Desktop/Plan\tA%.txt", "plan", 4, &o,
                                        &placed, err, sizeof err),
                     0);
    assert_string_equal(placed, "users/Howard/Desktop/Plan\tA%.txt");
    free(placed);
    assert_true(no_temp_files(f->root));
    char dp[1024];
    snprintf(dp, sizeof dp, "%s/users/Howard/Desktop", f->root);
    assert_true(no_temp_files(dp));

    /* (before reading the content, which moves the access time) */
    fy_meta m;
    assert_int_equal(fy_safe_get_meta(r, "users/howard/desktop/plan\ta%.TXT", &m, err, sizeof err),
                     0);
    assert_int_equal(m.kind, FY_KIND_FILE);
    assert_int_equal(m.size, 4);
    assert_int_equal(m.mtime.tv_sec, 1262304000);
    assert_int_equal(m.mtime.tv_nsec, 123456700);
    assert_int_equal(m.atime.tv_sec, 1262390400);
    assert_true(m.has_crtime);
    assert_int_equal(m.crtime.tv_sec, 1230768000);
    assert_int_equal(m.crtime.tv_nsec, 500000000);
    assert_true(m.has_attrs);
    /* only settable bits are written */
    assert_int_equal(m.attrs, FY_ATTR_HIDDEN | FY_ATTR_ARCHIVE);
    assert_int_equal(m.nstreams, 2);
    assert_null(m.warning);
    fy_meta_free(&m);
    char *c = xread(f->root, "users/Howard/Desktop/Plan\tA%.txt");
    assert_string_equal(c, "plan");
    free(c);
    fy_buf b = {0};
    assert_int_equal(fy_safe_read_stream(r, "users/Howard/Desktop/Plan\tA%.txt", "Zone.Identifier",
                                         &b, err, sizeof err),
                     0);
    assert_int_equal(b.len, sizeof zone - 1);
    assert_memory_equal(b.data, zone, b.len);
    b.len = 0;
    assert_int_equal(
        fy_safe_read_stream(r, "users/Howard/Desktop/Plan\tA%.txt", "nope", &b, err, sizeof err),
        -1);
    assert_int_equal(errno, ENODATA);
    fy_buf_free(&b);

    /* replace: new content, the old streams go unless given again */
    fy_place_meta pm2 = {.set_attrs = true, .attrs = FY_ATTR_READONLY};
    o.meta = &pm2;
    assert_int_equal(fy_safe_place_data(r, "users/Howard/Desktop/Plan\tA%.txt", "plan B", 6, &o,
                                        NULL, err, sizeof err),
                     0);
    assert_int_equal(fy_safe_get_meta(r, "users/Howard/Desktop/Plan\tA%.txt", &m, err, sizeof err),
                     0);
    assert_int_equal(m.size, 6);
    assert_int_equal(m.nstreams, 0);
    assert_int_equal(m.attrs, FY_ATTR_READONLY);
    fy_meta_free(&m);
    /* no_replace */
    fy_place_opts nr = {.no_replace = true};
    assert_int_equal(fy_safe_place_data(r, "users/howard/desktop/PLAN\ta%.txt", "C", 1, &nr, NULL,
                                        err, sizeof err),
                     -1);
    assert_int_equal(errno, EEXIST);
    c = xread(f->root, "users/Howard/Desktop/Plan\tA%.txt");
    assert_string_equal(c, "plan B");
    free(c);
    assert_int_equal(
        fy_safe_place_data(r, "users/Howard/Desktop/fresh.txt", "F", 1, &nr, NULL, err, sizeof err),
        0);
    /* over a folder */
    assert_int_equal(
        fy_safe_place_data(r, "users/Howard/Desktop", "x", 1, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(errno, EISDIR);
    assert_int_equal(fy_safe_place_data(r, "", "x", 1, NULL, NULL, err, sizeof err), -1);
    /* bad stream names */
    fy_stream_data badsd[] = {{"a:b", "x", 1}};
    fy_place_meta pm3 = {.streams = badsd, .nstreams = 1};
    o.meta = &pm3;
    assert_int_equal(
        fy_safe_place_data(r, "users/Howard/Desktop/s.txt", "x", 1, &o, NULL, err, sizeof err), -1);
    assert_int_equal(errno, EINVAL);
    assert_false(exists(f->root, "users/Howard/Desktop/s.txt"));

    /* keep_security: the old mode and side entry stay */
    char p[1024];
    snprintf(p, sizeof p, "%s/users/Howard/Desktop/fresh.txt", f->root);
    chmod(p, 0604);
    fy_place_meta pm4 = {.set_attrs = true, .attrs = FY_ATTR_SYSTEM};
    o.meta = &pm4;
    assert_int_equal(fy_safe_set_meta(r, "users/Howard/Desktop/fresh.txt", &pm4, err, sizeof err),
                     0);
    fy_place_opts ks = {.keep_security = true};
    assert_int_equal(
        fy_safe_place_data(r, "users/Howard/Desktop/fresh.txt", "G", 1, &ks, NULL, err, sizeof err),
        0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0604);
    assert_int_equal(fy_safe_get_meta(r, "users/Howard/Desktop/fresh.txt", &m, err, sizeof err), 0);
    assert_true(m.has_attrs);
    assert_int_equal(m.attrs, FY_ATTR_SYSTEM);
    fy_meta_free(&m);

    /* from an fd, from its current offset */
    char src[1024];
    snprintf(src, sizeof src, "%s/src.bin", f->base);
    FILE *sf = fopen(src, "w");
    for (int i = 0; i < 300000; i++)
        fputc('a' + i % 26, sf);
    fclose(sf);
    int sfd = open(src, O_RDONLY);
    assert_int_equal(lseek(sfd, 10, SEEK_SET), 10);
    assert_int_equal(fy_safe_place_fd(r, "big/one/two.bin", sfd, NULL, &placed, err, sizeof err),
                     0);
    close(sfd);
    assert_string_equal(placed, "big/one/two.bin");
    free(placed);
    assert_int_equal(stat(src, &st), 0);
    struct stat st2;
    snprintf(p, sizeof p, "%s/big/one/two.bin", f->root);
    assert_int_equal(stat(p, &st2), 0);
    assert_int_equal(st2.st_size, st.st_size - 10);
    assert_int_equal(fy_safe_place_fd(r, "big/x", -1, NULL, NULL, err, sizeof err), -1);

    /* the side file is written on flush, in the documented format */
    assert_int_equal(fy_safe_root_flush(r, err, sizeof err), 0);
    c = xread(f->root, "users/Howard/Desktop/.ferry-attrs");
    assert_non_null(c);
    assert_non_null(strstr(c, "\nPlan%09A%25.txt\t00000001\t-\n"));
    assert_non_null(strstr(c, "\nfresh.txt\t00000004\t-\n"));
    free(c);
    close_root(r);

    /* a new root reads it back */
    r = open_root(f->root, FY_SAFE_FORCE_SIDEFILE);
    assert_int_equal(fy_safe_get_meta(r, "users/Howard/Desktop/plan\ta%.txt", &m, err, sizeof err),
                     0);
    assert_int_equal(m.attrs, FY_ATTR_READONLY);
    fy_meta_free(&m);
    /* unlink drops the entry and the streams */
    assert_int_equal(fy_safe_unlink(r, "users/howard/desktop/plan\ta%.txt", err, sizeof err), 0);
    assert_false(exists(f->root, "users/Howard/Desktop/Plan\tA%.txt"));
    assert_int_equal(fy_safe_unlink(r, "users/howard/desktop/plan\ta%.txt", err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fy_safe_unlink(r, "users/howard/desktop", err, sizeof err), -1);
    assert_int_equal(errno, EISDIR);
    close_root(r);
    c = xread(f->root, "users/Howard/Desktop/.ferry-attrs");
    assert_null(strstr(c, "Plan"));
    free(c);
}

static ssize_t raw_get(const char *base, const char *rel, const char *name, void *buf, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    return lgetxattr(p, name, buf, n);
}

static void raw_set(const char *base, const char *rel, const char *name, const void *v, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    assert_int_equal(lsetxattr(p, name, v, n, 0), 0);
}

static void test_xattr_mode(void **state)
{
    fx *f = *state;
    xfile(f->root, "probe", "");
    char p[1024];
    snprintf(p, sizeof p, "%s/probe", f->root);
    if (setxattr(p, "user.ferrytest.probe", "1", 1, 0) < 0) {
        skip(); /* no user xattrs on this file system */
        return;
    }
    fy_safe_root *r = open_root(f->root, FY_SAFE_EMULATE_NTFS3G);
    assert_int_equal(fy_safe_root_meta_mode(r), FY_META_NTFS3G);
    char err[256];
    static const char zone[] = "[ZoneTransfer]\r\nZoneId=3\r\n";
    fy_stream_data sd[] = {{"Zone.Identifier", zone, sizeof zone - 1}, {"empty", NULL, 0}};
    fy_place_meta pm = {
        .set_mtime = true,
        .mtime = {1262304000, 0},
        .set_crtime = true,
        .crtime = {1230768000, 500000000},
        .set_attrs = true,
        .attrs = FY_ATTR_HIDDEN | FY_ATTR_ARCHIVE | FY_ATTR_ENCRYPTED,
        .streams = sd,
        .nstreams = 2,
    };
    fy_place_opts o = {.meta = &pm};
    assert_int_equal(
        fy_safe_place_data(r, "Users/Howard/dl.exe", "MZ", 2, &o, NULL, err, sizeof err), 0);
    /* what is on disk: ntfs-3g's layout */
    uint32_t a = 0;
    assert_int_equal(raw_get(f->root, "users/Howard/dl.exe", "user.ferrytest.ntfs_attrib", &a, 4),
                     4);
    assert_int_equal(a, FY_ATTR_HIDDEN | FY_ATTR_ARCHIVE);
    int64_t ft = 0;
    assert_int_equal(raw_get(f->root, "users/Howard/dl.exe", "user.ferrytest.ntfs_crtime", &ft, 8),
                     8);
    assert_int_equal(ft, fy_filetime_from_timespec(pm.crtime));
    char zb[64];
    assert_int_equal(raw_get(f->root, "users/Howard/dl.exe",
                             "user.ferrytest.stream.Zone.Identifier", zb, sizeof zb),
                     sizeof zone - 1);
    assert_false(exists(f->root, "users/Howard/.ferry-attrs"));
    assert_false(exists(f->root, "users/Howard/.ferry-streams"));
    /* read back */
    fy_meta m;
    assert_int_equal(fy_safe_get_meta(r, "users/howard/DL.EXE", &m, err, sizeof err), 0);
    assert_true(m.has_attrs);
    assert_int_equal(m.attrs, FY_ATTR_HIDDEN | FY_ATTR_ARCHIVE);
    assert_true(m.has_crtime);
    assert_int_equal(m.crtime.tv_sec, 1230768000);
    assert_int_equal(m.crtime.tv_nsec, 500000000);
    assert_int_equal(m.mtime.tv_sec, 1262304000);
    assert_int_equal(m.nstreams, 2);
    fy_meta_free(&m);
    fy_buf b = {0};
    assert_int_equal(
        fy_safe_read_stream(r, "users/howard/dl.exe", "Zone.Identifier", &b, err, sizeof err), 0);
    assert_int_equal(b.len, sizeof zone - 1);
    assert_memory_equal(b.data, zone, b.len);
    b.len = 0;
    assert_int_equal(fy_safe_read_stream(r, "users/howard/dl.exe", "none", &b, err, sizeof err),
                     -1);
    assert_int_equal(errno, ENODATA);
    fy_buf_free(&b);

    /* bits that are not ours to set are kept (ntfs3 applies the whole value it is given) */
    uint32_t v = FY_ATTR_COMPRESSED | FY_ATTR_READONLY;
    raw_set(f->root, "users/Howard/documents/Report.DOCX", "user.ferrytest.ntfs_attrib", &v, 4);
    fy_place_meta hid = {.set_attrs = true, .attrs = FY_ATTR_HIDDEN};
    assert_int_equal(
        fy_safe_set_meta(r, "users/howard/documents/report.docx", &hid, err, sizeof err), 0);
    assert_int_equal(
        raw_get(f->root, "users/Howard/documents/Report.DOCX", "user.ferrytest.ntfs_attrib", &a, 4),
        4);
    assert_int_equal(a, FY_ATTR_COMPRESSED | FY_ATTR_HIDDEN);
    /* a folder reports the directory bit */
    assert_int_equal(fy_safe_set_meta(r, "users/howard", &hid, err, sizeof err), 0);
    assert_int_equal(fy_safe_get_meta(r, "users/howard", &m, err, sizeof err), 0);
    assert_int_equal(m.attrs, FY_ATTR_HIDDEN | FY_ATTR_DIRECTORY);
    fy_meta_free(&m);

    /* keep_security: the security descriptor, attributes and creation time of the file
     * being replaced stay (a hive); without it they go */
    v = FY_ATTR_SYSTEM | FY_ATTR_ARCHIVE;
    xfile(f->root, "users/Howard/NTUSER.DAT", "old hive");
    raw_set(f->root, "users/Howard/NTUSER.DAT", "user.ferrytest.ntfs_attrib", &v, 4);
    raw_set(f->root, "users/Howard/NTUSER.DAT", "user.ferrytest.ntfs_acl", "SD-BYTES", 8);
    int64_t old_ct = 125000000000000000LL;
    raw_set(f->root, "users/Howard/NTUSER.DAT", "user.ferrytest.ntfs_crtime", &old_ct, 8);
    fy_place_meta only_mtime = {.set_mtime = true, .mtime = {1500000000, 0}};
    fy_place_opts ks = {.meta = &only_mtime, .keep_security = true};
    assert_int_equal(
        fy_safe_place_data(r, "users/howard/ntuser.dat", "new hive", 8, &ks, NULL, err, sizeof err),
        0);
    char sdb[16];
    assert_int_equal(
        raw_get(f->root, "users/Howard/NTUSER.DAT", "user.ferrytest.ntfs_acl", sdb, sizeof sdb), 8);
    assert_memory_equal(sdb, "SD-BYTES", 8);
    assert_int_equal(fy_safe_get_meta(r, "users/howard/ntuser.dat", &m, err, sizeof err), 0);
    assert_int_equal(m.attrs, FY_ATTR_SYSTEM | FY_ATTR_ARCHIVE);
    assert_int_equal(fy_filetime_from_timespec(m.crtime), old_ct);
    assert_int_equal(m.mtime.tv_sec, 1500000000);
    assert_int_equal(m.size, 8);
    fy_meta_free(&m);
    fy_place_opts plain = {0};
    assert_int_equal(
        fy_safe_place_data(r, "users/howard/ntuser.dat", "newer", 5, &plain, NULL, err, sizeof err),
        0);
    assert_true(raw_get(f->root, "users/Howard/NTUSER.DAT", "user.ferrytest.ntfs_acl", sdb,
                        sizeof sdb) < 0);
    assert_int_equal(fy_safe_get_meta(r, "users/howard/ntuser.dat", &m, err, sizeof err), 0);
    assert_false(m.has_attrs);
    fy_meta_free(&m);
    assert_int_equal(fy_safe_root_flush(r, err, sizeof err), 0);
    assert_false(exists(f->root, "users/Howard/.ferry-attrs"));
    close_root(r);
}

static void test_set_meta_folder(void **state)
{
    fx *f = *state;
    fy_safe_root *r = open_root(f->root, FY_SAFE_FORCE_SIDEFILE);
    char err[256];
    assert_int_equal(fy_safe_mkdirs(r, "users/Howard/AppData", NULL, err, sizeof err), 0);
    fy_place_meta pm = {
        .set_attrs = true, .attrs = FY_ATTR_HIDDEN, .set_mtime = true, .mtime = {1000000000, 0}};
    assert_int_equal(fy_safe_set_meta(r, "users/howard/appdata", &pm, err, sizeof err), 0);
    fy_meta m;
    assert_int_equal(fy_safe_get_meta(r, "Users/Howard/AppData", &m, err, sizeof err), 0);
    assert_int_equal(m.kind, FY_KIND_DIR);
    assert_true(m.has_attrs);
    assert_int_equal(m.attrs, FY_ATTR_HIDDEN | FY_ATTR_DIRECTORY);
    assert_int_equal(m.mtime.tv_sec, 1000000000);
    fy_meta_free(&m);
    /* the root's own metadata */
    assert_int_equal(fy_safe_get_meta(r, "", &m, err, sizeof err), 0);
    assert_int_equal(m.kind, FY_KIND_DIR);
    fy_meta_free(&m);
    assert_int_equal(fy_safe_get_meta(r, "users/none", &m, err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    fy_meta_free(&m);
    close_root(r);
}

static void test_side_file_read(void **state)
{
    fx *f = *state;
    xmkdir(f->root, "sample");
    xfile(f->root, "sample/desktop.ini", "[.ShellClassInfo]");
    xfile(f->root, "sample/Secret.efs", "x");
    xfile(f->root, "sample/cloud.docx", "");
    xfile(f->root, "sample/odd name.txt", "");
    xfile(f->root, "sample/bad.txt", "");
    xfile(f->root, "sample/.ferry-attrs",
          "# comment\r\n"
          "Desktop.ini\t00000026\t2019-03-04T10:20:30.1234567Z\r\n"
          "Secret.efs\t4020\t-\n"
          "cloud.docx\t00401020\t2021-02-28T23:59:59Z\n"
          "odd%20name.txt\t-\t1601-01-01T00:00:00.5Z\n"
          "bad.txt\tZZ\t-\n"
          "\n"
          "only two\tfields\n"
          "late.txt\t1\t2023-02-29T00:00:00Z\n");
    xmkdir(f->root, "sample/.ferry-streams");
    xfile(f->root, "sample/.ferry-streams/Secret.efs:Zone.Identifier", "[ZoneTransfer]");
    xfile(f->root, "sample/.ferry-streams/Secret.efs:bad:name", "x");
    xfile(f->root, "sample/.ferry-streams/Other:s", "x");
    fy_safe_root *r = open_root(f->root, FY_SAFE_READ_ONLY);
    assert_int_equal(fy_safe_root_meta_mode(r), FY_META_SIDEFILE); /* ext4/tmpfs: no NTFS xattrs */
    char err[256];
    fy_meta m;
    assert_int_equal(fy_safe_get_meta(r, "sample/desktop.ini", &m, err, sizeof err), 0);
    /* the first read of a folder's side file reports its first bad line */
    assert_non_null(m.warning);
    assert_non_null(strstr(m.warning, "line 6"));
    assert_true(m.has_attrs);
    assert_int_equal(m.attrs, FY_ATTR_HIDDEN | FY_ATTR_SYSTEM | FY_ATTR_ARCHIVE);
    assert_true(m.has_crtime);
    assert_int_equal(fy_filetime_from_timespec(m.crtime), 131961684301234567LL);
    fy_meta_free(&m);
    assert_int_equal(fy_safe_get_meta(r, "sample/secret.EFS", &m, err, sizeof err), 0);
    assert_null(m.warning);
    assert_int_equal(m.attrs, FY_ATTR_ENCRYPTED | FY_ATTR_ARCHIVE);
    assert_int_equal(m.nstreams, 1);
    assert_string_equal(m.streams[0], "Zone.Identifier");
    fy_meta_free(&m);
    assert_int_equal(fy_safe_get_meta(r, "sample/cloud.docx", &m, err, sizeof err), 0);
    assert_int_equal(m.attrs, FY_ATTR_RECALL_ON_DATA_ACCESS | FY_ATTR_OFFLINE | FY_ATTR_ARCHIVE);
    fy_meta_free(&m);
    assert_int_equal(fy_safe_get_meta(r, "sample/odd name.txt", &m, err, sizeof err), 0);
    assert_false(m.has_attrs);
    assert_int_equal(fy_filetime_from_timespec(m.crtime), 5000000);
    fy_meta_free(&m);
    assert_int_equal(fy_safe_get_meta(r, "sample/bad.txt", &m, err, sizeof err), 0);
    assert_false(m.has_attrs);
    fy_meta_free(&m);
    close_root(r);

    /* a side file that is a link is ignored, with a note */
    xmkdir(f->root, "sample2");
    xfile(f->root, "sample2/x.txt", "");
    char target[600];
    snprintf(target, sizeof target, "%s/sample/.ferry-attrs", f->root);
    xlink(f->root, "sample2/.ferry-attrs", target);
    r = open_root(f->root, FY_SAFE_READ_ONLY);
    assert_int_equal(fy_safe_get_meta(r, "sample2/x.txt", &m, err, sizeof err), 0);
    assert_non_null(m.warning);
    assert_non_null(strstr(m.warning, "link"));
    assert_false(m.has_attrs);
    fy_meta_free(&m);
    close_root(r);
}

static void test_time_text(void **state)
{
    (void)state;
    char t[40];
    fy_sm_format_time(0, t);
    assert_string_equal(t, "1601-01-01T00:00:00.0000000Z");
    fy_sm_format_time(116444736000000000LL, t);
    assert_string_equal(t, "1970-01-01T00:00:00.0000000Z");
    fy_sm_format_time(131961684301234567LL, t);
    assert_string_equal(t, "2019-03-04T10:20:30.1234567Z");
    int64_t ft;
    assert_int_equal(fy_sm_parse_time(t, strlen(t), &ft), 0);
    assert_int_equal(ft, 131961684301234567LL);
    static const char *const ok[] = {"2024-02-29T12:00:00Z", "2000-02-29T00:00:00.1Z",
                                     "9999-12-31T23:59:59.9999999Z"};
    for (size_t i = 0; i < FY_ARRAY_LEN(ok); i++) {
        assert_int_equal(fy_sm_parse_time(ok[i], strlen(ok[i]), &ft), 0);
        fy_sm_format_time(ft, t);
        int64_t back;
        assert_int_equal(fy_sm_parse_time(t, strlen(t), &back), 0);
        assert_int_equal(back, ft);
    }
    static const char *const bad[] = {
        "2023-02-29T00:00:00Z",  "1900-02-29T00:00:00Z",          "2019-13-01T00:00:00Z",
        "2019-00-01T00:00:00Z",  "2019-01-32T00:00:00Z",          "2019-01-01T24:00:00Z",
        "2019-01-01T00:60:00Z",  "2019-01-01 00:00:00Z",          "2019-01-01T00:00:00",
        "2019-01-01T00:00:00.Z", "2019-01-01T00:00:00.12345678Z", "1600-12-31T00:00:00Z",
        "2019-1-01T00:00:00Z",   "+019-01-01T00:00:00Z",          ""};
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++)
        assert_int_equal(fy_sm_parse_time(bad[i], strlen(bad[i]), &ft), -1);
}

static void test_filetime(void **state)
{
    (void)state;
    struct timespec ts = {0, 0};
    assert_int_equal(fy_filetime_from_timespec(ts), 116444736000000000LL);
    ts = fy_timespec_from_filetime(116444736000000000LL + 15);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 1500);
    ts = fy_timespec_from_filetime(0);
    assert_int_equal(ts.tv_sec, -11644473600LL);
    assert_int_equal(ts.tv_nsec, 0);
    ts = fy_timespec_from_filetime(116444736000000000LL - 1); /* just before 1970 */
    assert_int_equal(ts.tv_sec, -1);
    assert_int_equal(ts.tv_nsec, 999999900);
    assert_int_equal(fy_filetime_from_timespec(ts), 116444736000000000LL - 1);
    ts.tv_sec = (time_t)INT64_MAX / 2;
    assert_int_equal(fy_filetime_from_timespec(ts), INT64_MAX);
}

static void test_free_name_newer(void **state)
{
    fx *f = *state;
    xmkdir(f->root, "docs");
    xfile(f->root, "docs/report.docx", "r");
    xfile(f->root, "docs/.bashrc", "b");
    xfile(f->root, "docs/archive.tar.gz", "a");
    xfile(f->root, "docs/noext", "n");
    xmkdir(f->root, "docs/New folder.v2");
    age(f->root, "docs");
    fy_safe_root *r = open_root(f->root, 0);
    char err[256], *fn = NULL;
    assert_int_equal(fy_safe_free_name(r, "Docs/Report.docx", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "docs/Report (1).docx");
    free(fn);
    xfile(f->root, "docs/REPORT (1).DOCX", "r1");
    assert_int_equal(fy_safe_free_name(r, "docs/report.docx", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "docs/report (2).docx");
    free(fn);
    assert_int_equal(fy_safe_free_name(r, "docs/.bashrc", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "docs/.bashrc (1)");
    free(fn);
    assert_int_equal(fy_safe_free_name(r, "docs/archive.tar.gz", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "docs/archive.tar (1).gz");
    free(fn);
    assert_int_equal(fy_safe_free_name(r, "docs/noext", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "docs/noext (1)");
    free(fn);
    assert_int_equal(fy_safe_free_name(r, "docs/new folder.v2", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "docs/new folder.v2 (1)"); /* a folder: no extension */
    free(fn);
    assert_int_equal(fy_safe_free_name(r, "docs/free.txt", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "docs/free.txt");
    free(fn);
    assert_int_equal(fy_safe_free_name(r, "nowhere/free.txt", &fn, err, sizeof err), 0);
    assert_string_equal(fn, "nowhere/free.txt");
    free(fn);
    char longname[260];
    memset(longname, 'x', 250);
    strcpy(longname + 250, ".txt");
    char lp[300];
    snprintf(lp, sizeof lp, "docs/%s", longname);
    xfile(f->root, lp, "");
    assert_int_equal(fy_safe_free_name(r, lp, &fn, err, sizeof err), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_null(fn);
    assert_int_equal(fy_safe_free_name(r, "", &fn, err, sizeof err), -1);

    /* newer: compared in 100 ns units */
    char p[1024];
    snprintf(p, sizeof p, "%s/docs/report.docx", f->root);
    struct timespec t[2] = {{0, UTIME_OMIT}, {1500000000, 123456789}};
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    struct timespec older = {1400000000, 0}, same = {1500000000, 123456700},
                    later = {1600000000, 0};
    assert_int_equal(fy_safe_target_newer(r, "DOCS/report.docx", &older, err, sizeof err), 1);
    assert_int_equal(fy_safe_target_newer(r, "DOCS/report.docx", &same, err, sizeof err), 0);
    assert_int_equal(fy_safe_target_newer(r, "DOCS/report.docx", &later, err, sizeof err), 0);
    assert_int_equal(fy_safe_target_newer(r, "DOCS/none.docx", &older, err, sizeof err), 0);
    assert_int_equal(fy_safe_target_newer(r, "a/evil/secret.txt", &older, err, sizeof err), -1);
    close_root(r);
}

/* Many files into one folder: every one lands once, each found in any case afterwards. */
static void test_many_in_one_folder(void **state)
{
    fx *f = *state;
    fy_safe_root *r = open_root(f->root, 0);
    char err[256];
    for (int i = 0; i < 300; i++) {
        char p[64];
        snprintf(p, sizeof p, "Many/File%03d.TXT", i);
        assert_int_equal(fy_safe_place_data(r, p, p, strlen(p), NULL, NULL, err, sizeof err), 0);
    }
    for (int i = 0; i < 300; i++) {
        char p[64], *actual = NULL;
        snprintf(p, sizeof p, "many/file%03d.txt", i);
        assert_int_equal(fy_safe_resolve(r, p, &actual, err, sizeof err), 0);
        char want[64];
        snprintf(want, sizeof want, "Many/File%03d.TXT", i);
        assert_string_equal(actual, want);
        free(actual);
    }
    /* placing again in another case replaces, never duplicates */
    assert_int_equal(fy_safe_place_data(r, "MANY/FILE007.txt", "x", 1, NULL, NULL, err, sizeof err),
                     0);
    close_root(r);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/Many", f->root);
    DIR *d = opendir(dir);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    assert_int_equal(n, 302);
    char *c = xread(f->root, "Many/File007.TXT");
    assert_string_equal(c, "x");
    free(c);
}

static void test_root_errors(void **state)
{
    fx *f = *state;
    fy_safe_root *r = NULL;
    char err[256];
    char p[600];
    snprintf(p, sizeof p, "%s/none", f->base);
    assert_int_equal(fy_safe_root_open(p, 0, &r, err, sizeof err), -1);
    assert_null(r);
    assert_non_null(strstr(err, "none"));
    snprintf(p, sizeof p, "%s/secret.txt", f->outside);
    assert_int_equal(fy_safe_root_open(p, 0, &r, err, sizeof err), -1);
    assert_int_equal(fy_safe_root_close(NULL, err, sizeof err), 0);
    /* a root named through a link is the administrator's choice: fine */
    snprintf(p, sizeof p, "%s/rootlink", f->base);
    assert_int_equal(symlink(f->root, p), 0);
    r = open_root(p, 0);
    assert_int_equal(fy_safe_exists(r, "users", err, sizeof err), 1);
    close_root(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_path),
        cmocka_unit_test(test_time_text),
        cmocka_unit_test(test_filetime),
        cmocka_unit_test_setup_teardown(test_resolve_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_openat2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_meta_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xattr_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_side_file_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_name_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_in_one_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
