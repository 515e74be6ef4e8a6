/* Zip-slip end to end: a store doctored to hold "..\..\etc\x", an absolute path or a drive
 * path with ".." is refused when `ferry inject` reads it (exit 4), and nothing outside the
 * target volume is written. The catalogue is rewritten with the store's own catalogue
 * writer (bypassing the checks fy_store_add_file makes), the way an attacker with write
 * access to a share could. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fy_common.h"
#include "store/fy_store.h"
#include "store/fy_store_int.h"

static char *tmp;

static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    if (vasprintf(&cmd, fmt, ap) < 0) abort();
    va_end(ap);
    int rc = system(cmd);
    free(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A personality OLDCORP\jsmith from OLDPC01 holding one good file, then its catalogue
 * rewritten with `evil` added. */
static void doctored_store(const char *store, const char *evil)
{
    char err[512];
    fy_store_opts so = fy_store_opts_default();
    so.create = true;
    fy_store *s;
    assert_int_equal(fy_store_open(store, &so, &s, err, sizeof err), 0);
    fy_store_id id = {"OLDCORP", "jsmith", "OLDPC01"};
    fy_store_write_opts wo = {0};
    fy_store_writer *w;
    assert_int_equal(fy_store_writer_begin(s, &id, &wo, &w, err, sizeof err), 0);
    fy_store_file good = {.path = "<My Documents>\\ok.txt", .size = 3, .has_content = true};
    assert_int_equal(fy_store_put_mem(w, "ok\n", 3, &good.content, err, sizeof err), 0);
    fy_store_file bad = good;
    bad.path = evil;
    assert_int_equal(fy_store_add_file(w, &good, err, sizeof err), 0);
    fy_store_meta meta = {.user = "OLDCORP\\jsmith", .computer = "OLDPC01"};
    assert_int_equal(fy_store_commit(w, &meta, NULL, err, sizeof err), 0);
    fy_store_writer_free(w);

    /* rewrite generation 1 with the good entry and the evil one */
    char *pdir = fy_xasprintf("%s/OLDCORP/jsmith/OLDPC01", store);
    char *gdir = fy_xasprintf("%s/generations", pdir);
    int pfd = open(pdir, O_RDONLY | O_DIRECTORY), gfd = open(gdir, O_RDONLY | O_DIRECTORY);
    assert_true(pfd >= 0 && gfd >= 0);
    st_index ix;
    assert_int_equal(st_index_load(s, pfd, &ix, err, sizeof err), 0);
    st_keys k = {.enc = false, .have = true};
    st_catw c;
    assert_int_equal(st_catw_begin(&c, s, gfd, &k, 3, 1, ix.uid, err, sizeof err), 0);
    assert_int_equal(st_catw_file(&c, &good, err, sizeof err), 0);
    assert_int_equal(st_catw_file(&c, &bad, err, sizeof err), 0);
    uint8_t hash[32];
    assert_int_equal(st_catw_finish(&c, &meta, hash, err, sizeof err), 0);
    assert_int_equal(renameat(gfd, c.name, gfd, "00000001.cat"), 0);
    memcpy(ix.gens[0].hash, hash, 32);
    ix.gens[0].n_files = c.n_files;
    fy_buf b = {0};
    st_index_format(&ix, &b);
    int fd = openat(pfd, "index", O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    fy_buf_free(&b);
    st_index_free(&ix);
    close(pfd);
    close(gfd);
    free(pdir);
    free(gdir);
    fy_store_close(s);
}

static void test_zip_slip_inject(void **state)
{
    (void)state;
    const char *src = getenv("FERRY_SOURCE_DIR"), *bin = getenv("FERRY_BUILD_DIR");
    assert_non_null(src);
    assert_non_null(bin);
    assert_int_equal(sh("FERRY_BIN='%s/ferry' bash '%s/scripts/make-sample-machines.sh' '%s/m' >/dev/null 2>&1", bin,
                        src, tmp),
                     0);
    assert_int_equal(sh("mkdir -p '%s/snap'", tmp), 0);
    assert_int_equal(sh("'%s/ferryc' compile -A '%s/appdefs' -o '%s/SE.fyb' '%s/rules/SE.cfg' 2>/dev/null", bin, src,
                        tmp, src),
                     0);
    const char *evil[] = {"..\\..\\etc\\ferry-zip-slip", "<My Documents>\\..\\..\\..\\..\\ferry-zip-slip",
                          "C:\\..\\ferry-zip-slip", "/tmp/ferry-zip-slip"};
    for (size_t i = 0; i < FY_ARRAY_LEN(evil); i++) {
        char *store = fy_xasprintf("%s/store%zu", tmp, i);
        doctored_store(store, evil[i]);
        /* snapshot of the folder holding the target volume (everything outside it) */
        assert_int_equal(sh("cd '%s' && find . -path ./m/win10 -prune -o -path ./logs -prune -o -path ./snap -prune -o "
                            "-print | sort > snap/before", tmp),
                         0);
        int rc = sh("'%s/ferry' inject --machine '%s/m/win10' --store '%s' --program '%s/SE.fyb' "
                    "--domain OLDCORP:NEWCORP --log-dir '%s/logs' --hide-status >/dev/null 2>&1",
                    bin, tmp, store, tmp, tmp);
        assert_int_equal(rc, FY_EXIT_STORE);
        assert_int_equal(sh("cd '%s' && find . -path ./m/win10 -prune -o -path ./logs -prune -o -path ./snap -prune -o "
                            "-print | sort > snap/after", tmp),
                         0);
        assert_int_equal(sh("cmp -s '%s/snap/before' '%s/snap/after'", tmp, tmp), 0);
        struct stat st;
        assert_int_not_equal(stat("/etc/ferry-zip-slip", &st), 0);
        assert_int_not_equal(stat("/tmp/ferry-zip-slip", &st), 0);
        free(store);
    }
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    tmp = fy_xasprintf("%s/fyzipXXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("FERRY_KEEP")) sh("rm -rf '%s'", tmp);
    free(tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_zip_slip_inject)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
