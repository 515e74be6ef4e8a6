/* libFuzzer target: arbitrary relative paths through fy_safe_resolve, fy_safe_open(O_RDONLY)
 * and fy_safe_get_meta on a small tree whose links point outside the root (relative,
 * absolute, to "/", a loop). Aborts when anything resolves or opens outside the root: an
 * opened fd's /proc path must lie beneath the root, and a resolved path must be a valid
 * relative path with no link before its last component. Runs with openat2 and with the
 * component walk, on read-only roots (nothing is ever written). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fy_common.h"
#include "io/fy_safepath.h"

static char g_base[256], g_root[PATH_MAX];
static fy_safe_root *g_roots[2];

static void cleanup(void)
{
    for (int i = 0; i < 2; i++)
        fy_safe_root_close(g_roots[i], NULL, 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_base);
    if (system(cmd) != 0) fprintf(stderr, "fuzz_safepath: could not remove %s\n", g_base);
}

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_safepath setup: %s: %s\n", what, strerror(errno));
        abort();
    }
}

static void put(const char *rel, const char *content)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", g_base, rel);
    FILE *f = fopen(p, "w");
    must(f != NULL, p);
    fputs(content, f);
    fclose(f);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_base, sizeof g_base, "%s/fuzz_safepath_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    must(mkdtemp(g_base) != NULL, "mkdtemp");
    char p[PATH_MAX], q[PATH_MAX];
    static const char *const dirs[] = {"outside",  "root",      "root/a",
                                       "root/a/b", "root/Docs", "root/Docs/Sub"};
    for (size_t i = 0; i < FY_ARRAY_LEN(dirs); i++) {
        snprintf(p, sizeof p, "%s/%s", g_base, dirs[i]);
        must(mkdir(p, 0777) == 0, p);
    }
    put("outside/secret", "outside");
    put("root/a/b/file", "in");
    put("root/File", "F");
    put("root/file", "f");
    put("root/Docs/Sub/R\xC3\xA9sum\xC3\xA9.txt", "r");
    static const char *const links[][2] = {
        {"root/a/up", "../.."},     {"root/a/b/up2", "../../../outside"},
        {"root/abs", "/"},          {"root/a/self", "."},
        {"root/Docs/loop", "loop"}, {"root/Docs/secret", "../../outside/secret"},
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(links); i++) {
        snprintf(p, sizeof p, "%s/%s", g_base, links[i][0]);
        must(symlink(links[i][1], p) == 0, p);
    }
    snprintf(p, sizeof p, "%s/root/out", g_base);
    snprintf(q, sizeof q, "%s/outside", g_base);
    must(symlink(q, p) == 0, p);
    snprintf(p, sizeof p, "%s/root", g_base);
    must(realpath(p, g_root) != NULL, "realpath");
    char err[256];
    must(fy_safe_root_open(g_root, FY_SAFE_READ_ONLY, &g_roots[0], err, sizeof err) == 0, err);
    must(fy_safe_root_open(g_root, FY_SAFE_READ_ONLY | FY_SAFE_NO_OPENAT2, &g_roots[1], err,
                           sizeof err) == 0,
         err);
    atexit(cleanup);
}

static void check_fd_inside(int fd, const char *input)
{
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return;
    target[n] = '\0';
    size_t rl = strlen(g_root);
    if (strncmp(target, g_root, rl) != 0 || (target[rl] != '\0' && target[rl] != '/')) {
        fprintf(stderr, "ESCAPE: input \"%s\" opened %s (root %s)\n", input, target, g_root);
        abort();
    }
}

/* A resolved path is a valid relative path, and nothing before its last component is a
 * link (so using it can never leave the root). */
static void check_actual(const char *actual, const char *input)
{
    if (fy_safe_check_path(actual, strlen(actual), NULL, 0) < 0) {
        fprintf(stderr, "BAD RESOLUTION: input \"%s\" gave \"%s\"\n", input, actual);
        abort();
    }
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", g_root, actual);
    size_t rl = strlen(g_root);
    for (char *s = p + rl + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode)) {
            fprintf(stderr, "LINK CROSSED: input \"%s\" gave \"%s\" through %s\n", input, actual,
                    p);
            abort();
        }
        *s = '/';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_roots[0]) setup();
    if (size > 2048) return 0;
    fy_safe_check_path((const char *)data, size, NULL, 0);
    char *s = fy_xstrndup((const char *)data, size); /* stops at a NUL */
    for (int i = 0; i < 2; i++) {
        fy_safe_root *r = g_roots[i];
        char *actual = NULL, err[256];
        int rc = fy_safe_resolve(r, s, &actual, err, sizeof err);
        if (rc >= 0) {
            if (!actual) abort();
            if (*actual) check_actual(actual, s);
        } else if (actual) {
            abort();
        }
        free(actual);
        int fd = fy_safe_open(r, s, O_RDONLY, 0, err, sizeof err);
        if (fd >= 0) {
            check_fd_inside(fd, s);
            close(fd);
        }
        fd = fy_safe_open(r, s, O_RDONLY | O_DIRECTORY, 0, err, sizeof err);
        if (fd >= 0) {
            check_fd_inside(fd, s);
            close(fd);
        }
        /* writes are refused on a read-only root, whatever the path */
        fd = fy_safe_open(r, s, O_WRONLY | O_CREAT, 0644, err, sizeof err);
        if (fd >= 0) abort();
        fy_meta m;
        fy_safe_get_meta(r, s, &m, err, sizeof err);
        fy_meta_free(&m);
    }
    free(s);
    return 0;
}
