/* Hive file -> fy_regtree through libhivex. The walk is iterative (an explicit stack), so a
 * deep or looping hive cannot exhaust the C stack; a bitmap of visited nk cells stops
 * subkey lists that point back at an ancestor. */
#include "fy_hive_read.h"

#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 512          /* Windows refuses deeper key paths */
#define MAX_DAMAGE_WARNINGS 50 /* then one summary line */

typedef struct walk_item {
    hive_node_h node;
    fy_regkey *key;
    uint32_t depth;
} walk_item;

typedef struct reader {
    hive_h *h;
    const char *display;
    fy_diags *warnings;
    size_t damage;
    uint8_t *visited; /* one bit per 4-byte offset of the file */
    size_t visited_bits;
} reader;

static void damage(reader *r, const fy_regkey *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void damage(reader *r, const fy_regkey *k, const char *fmt, ...)
{
    r->damage++;
    if (!r->warnings || r->damage > MAX_DAMAGE_WARNINGS + 1) return;
    if (r->damage == MAX_DAMAGE_WARNINGS + 1) {
        fy_diag_add(r->warnings, FY_DIAG_WARNING, r->display, 0, 0, "hive-damaged",
                    "more damaged keys or values were skipped; not listed");
        return;
    }
    char *path = fy_regkey_path(k);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fy_diag_add(r->warnings, FY_DIAG_WARNING, r->display, 0, 0, "hive-damaged",
                "key \\%s: %s; skipped (the hive is damaged: check it with chkreg or "
                "restore it from a backup)",
                path, msg);
    free(path);
}

/* Marks a node visited; false when it was already (a loop or a shared subkey list). */
static bool visit(reader *r, hive_node_h node)
{
    size_t bit = node >> 2;
    if (bit >= r->visited_bits) return false;
    uint8_t mask = (uint8_t)(1u << (bit & 7));
    if (r->visited[bit >> 3] & mask) return false;
    r->visited[bit >> 3] |= mask;
    return true;
}

static int cmp_val_index(const void *a, const void *b, void *arg)
{
    const fy_regkey *k = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = fy_regname_cmp(k->val[i].name, k->val[j].name);
    if (c) return c;
    return i < j ? -1 : i > j;
}

/* Values are appended without a lookup each (keys with thousands of values exist); a
 * damaged hive could still list one name twice, so duplicates are found afterwards by
 * sorting indexes, and later copies dropped. */
static void drop_duplicate_values(reader *r, fy_regkey *k)
{
    if (k->nval < 2) return;
    size_t *idx = fy_xmalloc(k->nval * sizeof(*idx));
    for (size_t i = 0; i < k->nval; i++)
        idx[i] = i;
    qsort_r(idx, k->nval, sizeof(*idx), cmp_val_index, k);
    bool *drop = NULL;
    for (size_t i = 1; i < k->nval; i++) {
        if (fy_regname_cmp(k->val[idx[i - 1]].name, k->val[idx[i]].name) == 0) {
            if (!drop) drop = fy_xcalloc(k->nval, sizeof(*drop));
            drop[idx[i]] = true;
            damage(r, k, "value \"%s\" is listed twice", k->val[idx[i]].name);
        }
    }
    if (drop) {
        size_t o = 0;
        for (size_t i = 0; i < k->nval; i++) {
            if (drop[i]) {
                free(k->val[i].name);
                free(k->val[i].data);
            } else {
                k->val[o++] = k->val[i];
            }
        }
        k->nval = o;
        free(drop);
    }
    free(idx);
}

static void read_values(reader *r, hive_node_h node, fy_regkey *k)
{
    hive_value_h *vals = hivex_node_values(r->h, node);
    if (!vals) {
        damage(r, k, "cannot read its values (%s)", strerror(errno));
        return;
    }
    size_t n = 0;
    while (vals[n])
        n++;
    if (n) {
        k->val = fy_xrealloc(k->val, (k->nval + n) * sizeof(*k->val));
        k->val_cap = k->nval + n;
    }
    for (size_t i = 0; i < n; i++) {
        char *name = hivex_value_key(r->h, vals[i]);
        if (!name) {
            damage(r, k, "a value name cannot be read (%s)", strerror(errno));
            continue;
        }
        hive_type t;
        size_t len = 0;
        char *data = hivex_value_value(r->h, vals[i], &t, &len);
        if (!data || len > UINT32_MAX) {
            damage(r, k, "the data of value \"%s\" cannot be read (%s)", name,
                   data ? "too large" : strerror(errno));
            free(data);
            free(name);
            continue;
        }
        fy_regval *v = &k->val[k->nval++];
        v->name = name;
        v->type = (uint32_t)t;
        v->data = (uint8_t *)data;
        v->len = (uint32_t)len;
    }
    free(vals);
    drop_duplicate_values(r, k);
    /* Symbolic-link keys carry KEY_SYM_LINK in their nk cell, which libhivex does not
     * expose; their target is always in a REG_LINK value of this name. */
    fy_regval *link = fy_regkey_value(k, "SymbolicLinkValue");
    if (link && link->type == FY_REG_LINK) k->nk_flags |= 0x10;
}

static int walk(reader *r, hive_node_h root, fy_regkey *root_key)
{
    size_t n = 0, cap = 64;
    walk_item *stack = fy_xmalloc(cap * sizeof(*stack));
    stack[n++] = (walk_item){root, root_key, 0};
    visit(r, root);
    while (n) {
        walk_item it = stack[--n];
        int64_t ts = hivex_node_timestamp(r->h, it.node);
        it.key->last_write = ts >= 0 ? (uint64_t)ts : 0;
        read_values(r, it.node, it.key);

        hive_node_h *kids = hivex_node_children(r->h, it.node);
        if (!kids) {
            damage(r, it.key, "cannot read its subkeys (%s)", strerror(errno));
            continue;
        }
        for (size_t i = 0; kids[i]; i++) {
            if (it.depth + 1 >= MAX_DEPTH) {
                damage(r, it.key, "subkeys nested deeper than %d levels", MAX_DEPTH);
                break;
            }
            if (!visit(r, kids[i])) {
                damage(r, it.key, "a subkey list points back at a key already read");
                continue;
            }
            char *name = hivex_node_name(r->h, kids[i]);
            if (!name) {
                damage(r, it.key, "a subkey name cannot be read (%s)", strerror(errno));
                continue;
            }
            if (fy_regkey_child(it.key, name))
                damage(r, it.key, "subkey \"%s\" is listed twice; the two are merged", name);
            fy_regkey *c = fy_regkey_child_create(it.key, name);
            free(name);
            if (n == cap) {
                cap *= 2;
                stack = fy_xrealloc(stack, cap * sizeof(*stack));
            }
            stack[n++] = (walk_item){kids[i], c, it.depth + 1};
        }
        free(kids);
    }
    free(stack);
    return 0;
}

/* The base block keeps the last 31 characters of the path the hive was loaded from
 * (UTF-16LE at 0x30, 64 bytes): "\??\C:\Users\x\ntuser.dat", "\SystemRoot\...\SAM". */
static char *base_block_name(const uint8_t *b)
{
    size_t len;
    char *s = fy_utf16le_to_utf8(b + 0x30, 64, true, &len);
    if (!len) {
        free(s);
        return NULL;
    }
    return s;
}

int fy_hive_read(const char *path, const char *display, fy_regtree **out, fy_diags *warnings,
                 char *err, size_t err_size)
{
    int rc = -1;
    hive_h *h = NULL;
    fy_regtree *t = NULL;
    char *root_name = NULL;
    reader r = {0};
    if (!display) display = path;
    *out = NULL;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_size, "%s: cannot read the hive (%s)", display, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "%s: not a registry hive (not a regular file)", display);
        goto done;
    }
    /* libhivex opens a hive cut short and then fails key by key; a clean hive whose file is
     * shorter than its header says is refused here instead. (A dirty one may legitimately
     * be behind its header; it is read with damage warnings.) */
    uint8_t bb[0x70] = {0};
    if (pread(fd, bb, sizeof bb, 0) == (ssize_t)sizeof bb && memcmp(bb, "regf", 4) == 0 &&
        fy_le32(bb + 4) == fy_le32(bb + 8) &&
        (uint64_t)fy_le32(bb + 0x28) + 4096 > (uint64_t)st.st_size) {
        snprintf(err, err_size,
                 "%s: not a registry hive or damaged (truncated: its header says %llu bytes, "
                 "the file has %llu)",
                 display, (unsigned long long)fy_le32(bb + 0x28) + 4096,
                 (unsigned long long)st.st_size);
        goto done;
    }
    h = hivex_open(path, 0); /* no HIVEX_OPEN_WRITE: libhivex maps the file read-only */
    if (!h) {
        snprintf(err, err_size, "%s: not a registry hive or damaged (%s)", display,
                 strerror(errno));
        goto done;
    }
    hive_node_h root = hivex_root(h);
    if (!root || !(root_name = hivex_node_name(h, root))) {
        snprintf(err, err_size, "%s: not a registry hive or damaged (no readable root key)",
                 display);
        goto done;
    }
    t = fy_regtree_new(root_name);
    t->hive_name = base_block_name(bb);
    r.h = h;
    r.display = display;
    r.warnings = warnings;
    r.visited_bits = ((size_t)st.st_size >> 2) + 1;
    r.visited = fy_xcalloc((r.visited_bits + 7) / 8, 1);
    walk(&r, root, t->root);
    *out = t;
    t = NULL;
    rc = 0;
done:
    free(r.visited);
    free(root_name);
    fy_regtree_free(t);
    if (h) hivex_close(h);
    if (fd >= 0) close(fd);
    return rc;
}
