/* Helpers for the hive tests; see hive_testutil.h. */
#include "hive_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hivex.h>
#include <poll.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <unistd.h>

extern char **environ;

char *th_mkdtemp(void)
{
    const char *t = getenv("TMPDIR");
    char *p = fy_xasprintf("%s/fy-hive-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(p)) {
        fprintf(stderr, "mkdtemp %s: %s\n", p, strerror(errno));
        abort();
    }
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void th_rmtree(const char *dir)
{
    if (dir) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int th_read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fy_buf b = {0};
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        fy_buf_put(&b, tmp, n);
    fclose(f);
    fy_buf_reserve(&b, 1);
    *data = b.data;
    *len = b.len;
    return 0;
}

int th_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

int th_copy(const char *from, const char *to)
{
    uint8_t *d;
    size_t n;
    if (th_read_file(from, &d, &n) < 0) return -1;
    int rc = th_write_file(to, d, n);
    free(d);
    return rc;
}

void th_sha256_file(const char *path, uint8_t out[32])
{
    uint8_t *d = NULL;
    size_t n = 0;
    memset(out, 0, 32);
    if (th_read_file(path, &d, &n) < 0) return;
    crypto_hash_sha256(out, d, n);
    free(d);
}

/* Reads both pipes until the child closes them (no deadlock on big outputs). */
int th_run(const char *const argv[], char **out, char **err)
{
    int po[2], pe[2];
    if (pipe(po) < 0) return -1;
    if (pipe(pe) < 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    /* C.UTF-8 so that tools print non-ASCII names instead of complaining about them. */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **env = fy_xcalloc(ne + 3, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) && strncmp(environ[i], "LANG=", 5))
            env[k++] = environ[i];
    env[k++] = "LC_ALL=C.UTF-8";
    env[k++] = "LANG=C.UTF-8";
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(po[1]);
    close(pe[1]);
    fy_buf bo = {0}, be = {0};
    if (rc == 0) {
        struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
        int open_fds = 2;
        while (open_fds) {
            if (poll(p, 2, -1) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            for (int i = 0; i < 2; i++) {
                if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                char tmp[65536];
                ssize_t n = read(p[i].fd, tmp, sizeof tmp);
                if (n <= 0) {
                    p[i].fd = -1;
                    open_fds--;
                } else {
                    fy_buf_put(i ? &be : &bo, tmp, (size_t)n);
                }
            }
        }
    }
    close(po[0]);
    close(pe[0]);
    int status = -1;
    if (rc == 0) {
        int ws;
        if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws)) status = WEXITSTATUS(ws);
    }
    char *so = fy_buf_cstr(&bo), *se = fy_buf_cstr(&be);
    if (out)
        *out = so;
    else
        free(so);
    if (err)
        *err = se;
    else
        free(se);
    return status;
}

char *th_fixture(const char *dir, const char *xz_name, const char *out_name)
{
    const char *shared = getenv("FERRY_SHARED_DIR");
    if (!shared) return NULL;
    char *src = fy_xasprintf("%s/fixtures/hives/%s", shared, xz_name);
    char *dst = fy_xasprintf("%s/%s", dir, out_name);
    const char *argv[] = {"xz", "-dc", src, NULL};
    int ok = -1;
    if (access(src, R_OK) == 0) {
        pid_t pid;
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_adddup2(&fa, fd, 1);
            if (posix_spawnp(&pid, "xz", &fa, NULL, (char *const *)argv, environ) == 0) {
                int ws;
                if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0) ok = 0;
            }
            posix_spawn_file_actions_destroy(&fa);
            close(fd);
        }
    }
    free(src);
    if (ok < 0) {
        unlink(dst);
        free(dst);
        return NULL;
    }
    return dst;
}

/* ---- hivex into a tree ---- */

typedef struct {
    hive_h *h;
    const uint8_t *file;
    size_t len;
    char *err;
    size_t err_size;
    bool failed;
} rd;

/* The cell data at a relative offset, with at least need bytes, or NULL. */
static const uint8_t *raw_cell(const rd *r, uint32_t rel, size_t need)
{
    uint64_t off = 4096ull + rel + 4;
    if (rel == 0xFFFFFFFFu || off + need > r->len) return NULL;
    return r->file + off;
}

static void read_node(rd *r, hive_node_h n, fy_regkey *k, int depth)
{
    if (r->failed || depth > 600) return;
    k->last_write = (uint64_t)hivex_node_timestamp(r->h, n);
    if (n + 4 + 80 <= r->len) {
        const uint8_t *nk = r->file + n + 4;
        k->nk_flags = fy_le16(nk + 2) & 0x0398;
        uint32_t skoff = fy_le32(nk + 44), cls = fy_le32(nk + 48);
        uint16_t cls_len = fy_le16(nk + 74);
        const uint8_t *sk = raw_cell(r, skoff, 20);
        if (sk && memcmp(sk, "sk", 2) == 0) {
            uint32_t sl = fy_le32(sk + 16);
            const uint8_t *sd = raw_cell(r, skoff, 20 + (size_t)sl);
            if (sd && sl) {
                k->sd = fy_xmalloc(sl);
                memcpy(k->sd, sd + 20, sl);
                k->sd_len = sl;
            }
        }
        const uint8_t *c = cls_len ? raw_cell(r, cls, cls_len) : NULL;
        if (c) {
            k->class_name = fy_xmalloc(cls_len);
            memcpy(k->class_name, c, cls_len);
            k->class_len = cls_len;
        }
    }
    hive_value_h *vals = hivex_node_values(r->h, n);
    if (!vals) {
        snprintf(r->err, r->err_size, "hivex_node_values: %s", strerror(errno));
        r->failed = true;
        return;
    }
    for (size_t i = 0; vals[i]; i++) {
        char *key = hivex_value_key(r->h, vals[i]);
        hive_type t;
        size_t len;
        char *data = hivex_value_value(r->h, vals[i], &t, &len);
        if (!key || !data) {
            snprintf(r->err, r->err_size, "hivex could not read a value: %s", strerror(errno));
            r->failed = true;
            free(key);
            free(data);
            break;
        }
        fy_regkey_set_value(k, key, (uint32_t)t, data, (uint32_t)len);
        free(key);
        free(data);
    }
    free(vals);
    hive_node_h *ch = hivex_node_children(r->h, n);
    if (!ch) {
        if (!r->failed) snprintf(r->err, r->err_size, "hivex_node_children: %s", strerror(errno));
        r->failed = true;
        return;
    }
    for (size_t i = 0; ch[i] && !r->failed; i++) {
        char *name = hivex_node_name(r->h, ch[i]);
        if (!name) {
            snprintf(r->err, r->err_size, "hivex_node_name: %s", strerror(errno));
            r->failed = true;
            break;
        }
        fy_regkey *c = fy_regkey_child_create(k, name);
        free(name);
        read_node(r, ch[i], c, depth + 1);
    }
    free(ch);
}

fy_regtree *th_read_hive(const char *path, char *err, size_t err_size)
{
    rd r = {.err = err, .err_size = err_size};
    uint8_t *file;
    size_t len;
    if (th_read_file(path, &file, &len) < 0) {
        snprintf(err, err_size, "cannot read %s", path);
        return NULL;
    }
    r.file = file;
    r.len = len;
    r.h = hivex_open(path, 0);
    if (!r.h) {
        snprintf(err, err_size, "hivex_open %s: %s", path, strerror(errno));
        free(file);
        return NULL;
    }
    hive_node_h root = hivex_root(r.h);
    char *rn = hivex_node_name(r.h, root);
    fy_regtree *t = fy_regtree_new(rn ? rn : "");
    free(rn);
    if (len >= 112) {
        /* The base block's name field, for completeness. */
        t->hive_name = fy_utf16le_to_utf8(file + 48, 64, true, NULL);
    }
    read_node(&r, root, t->root, 0);
    hivex_close(r.h);
    free(file);
    if (r.failed) {
        fy_regtree_free(t);
        return NULL;
    }
    return t;
}

long th_hivex_count_keys(const char *path)
{
    hive_h *h = hivex_open(path, 0);
    if (!h) return -1;
    long n = 0;
    size_t cap = 1024, sp = 0;
    hive_node_h *stack = fy_xmalloc(cap * sizeof(*stack));
    stack[sp++] = hivex_root(h);
    while (sp) {
        hive_node_h x = stack[--sp];
        n++;
        hive_node_h *ch = hivex_node_children(h, x);
        if (!ch) {
            n = -1;
            break;
        }
        for (size_t i = 0; ch[i]; i++) {
            if (sp == cap) stack = fy_xrealloc(stack, (cap *= 2) * sizeof(*stack));
            stack[sp++] = ch[i];
        }
        free(ch);
    }
    free(stack);
    hivex_close(h);
    return n;
}

/* ---- comparing trees ---- */

static char *vdiff(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *vdiff(const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fy_xasprintf("key '%s': %s", path, msg);
}

static char *cmp_key(const fy_regkey *a, const fy_regkey *b, unsigned what, const uint8_t *asd,
                     uint32_t asl, const uint8_t *bsd, uint32_t bsl)
{
    char *path = fy_regkey_path(a), *d = NULL;
    if (a->sd) asd = a->sd, asl = a->sd_len;
    if (b->sd) bsd = b->sd, bsl = b->sd_len;
    if (strcmp(a->name, b->name)) {
        d = vdiff(path, "name '%s' vs '%s'", a->name, b->name);
        goto out;
    }
    if ((what & TH_CMP_TIMES) && a->last_write != b->last_write) {
        d = vdiff(path, "last write %llu vs %llu", (unsigned long long)a->last_write,
                  (unsigned long long)b->last_write);
        goto out;
    }
    /* (the root's flags are the writer's: HIVE_ENTRY | NO_DELETE) */
    if ((what & TH_CMP_FLAGS) && a->parent && a->nk_flags != b->nk_flags) {
        d = vdiff(path, "flags %#x vs %#x", a->nk_flags, b->nk_flags);
        goto out;
    }
    if ((what & TH_CMP_SD) && asd && (asl != bsl || !bsd || memcmp(asd, bsd, asl) != 0)) {
        d = vdiff(path, "security descriptors differ (%u vs %u bytes)", asl, bsl);
        goto out;
    }
    if (what & TH_CMP_CLASS) {
        uint32_t al = a->class_name ? a->class_len : 0, bl = b->class_name ? b->class_len : 0;
        if (al != bl || (al && memcmp(a->class_name, b->class_name, al))) {
            d = vdiff(path, "class names differ (%u vs %u bytes)", al, bl);
            goto out;
        }
    }
    if (a->nval != b->nval) {
        d = vdiff(path, "%zu values vs %zu", a->nval, b->nval);
        goto out;
    }
    for (size_t i = 0; i < a->nval; i++) {
        const fy_regval *x = &a->val[i], *y = &b->val[i];
        if (strcmp(x->name, y->name) || x->type != y->type || x->len != y->len ||
            memcmp(x->data, y->data, x->len)) {
            d = vdiff(path, "value #%zu '%s' (type %#x, %u bytes) vs '%s' (type %#x, %u bytes)", i,
                      x->name, x->type, x->len, y->name, y->type, y->len);
            goto out;
        }
    }
    if (a->nsub != b->nsub) {
        d = vdiff(path, "%zu subkeys vs %zu", a->nsub, b->nsub);
        goto out;
    }
    for (size_t i = 0; i < a->nsub && !d; i++)
        d = cmp_key(a->sub[i], b->sub[i], what, asd, asl, bsd, bsl);
out:
    free(path);
    return d;
}

char *th_compare(const fy_regtree *a, const fy_regtree *b, unsigned what)
{
    return cmp_key(a->root, b->root, what, NULL, 0, NULL, 0);
}

int th_each_cell(const uint8_t *hive, size_t len,
                 void (*fn)(void *ctx, uint32_t off, uint32_t size, bool used, const uint8_t *data),
                 void *ctx)
{
    if (len < 4096) return -1;
    uint32_t hbins = fy_le32(hive + 40);
    if (4096ull + hbins > len) return -1;
    for (uint32_t b = 0; b < hbins;) {
        const uint8_t *bin = hive + 4096 + b;
        uint32_t bsize = fy_le32(bin + 8);
        if (memcmp(bin, "hbin", 4) || fy_le32(bin + 4) != b || bsize < 4096 || bsize % 4096 ||
            (uint64_t)b + bsize > hbins)
            return -1;
        for (uint32_t c = 32; c < bsize;) {
            int32_t sz = (int32_t)fy_le32(bin + c);
            uint32_t size = sz < 0 ? (uint32_t)-sz : (uint32_t)sz;
            if (size < 8 || size % 8 || c + size > bsize) return -1;
            fn(ctx, b + c, size, sz < 0, bin + c + 4);
            c += size;
        }
        b += bsize;
    }
    return 0;
}
