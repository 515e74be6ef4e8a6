#include "fy_regtree.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int fy_regname_cmp(const char *a, const char *b)
{
    return fy_strcasecmp_u8(a, strlen(a), b, strlen(b));
}

static uint64_t filetime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

static fy_regkey *key_new(const char *name)
{
    fy_regkey *k = fy_xcalloc(1, sizeof(*k));
    k->name = fy_xstrdup(name);
    k->last_write = filetime_now();
    return k;
}

fy_regtree *fy_regtree_new(const char *root_name)
{
    fy_regtree *t = fy_xcalloc(1, sizeof(*t));
    t->root = key_new(root_name ? root_name : "ROOT");
    return t;
}

static void key_free(fy_regkey *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->nsub; i++) key_free(k->sub[i]);
    free(k->sub);
    for (size_t i = 0; i < k->nval; i++) {
        free(k->val[i].name);
        free(k->val[i].data);
    }
    free(k->val);
    free(k->name);
    free(k->sd);
    free(k->class_name);
    free(k);
}

void fy_regtree_free(fy_regtree *t)
{
    if (!t) return;
    key_free(t->root);
    free(t->hive_name);
    free(t);
}

/* Binary search; returns the index of name or the insertion point (and *found). */
static size_t child_index(const fy_regkey *k, const char *name, bool *found)
{
    size_t lo = 0, hi = k->nsub;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = fy_regname_cmp(k->sub[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

fy_regkey *fy_regkey_child(const fy_regkey *k, const char *name)
{
    bool found;
    size_t i = child_index(k, name, &found);
    return found ? k->sub[i] : NULL;
}

fy_regkey *fy_regkey_child_create(fy_regkey *k, const char *name)
{
    bool found;
    size_t i = child_index(k, name, &found);
    if (found) return k->sub[i];
    if (k->nsub == k->sub_cap) {
        k->sub_cap = k->sub_cap ? k->sub_cap * 2 : 4;
        k->sub = fy_xrealloc(k->sub, k->sub_cap * sizeof(*k->sub));
    }
    memmove(k->sub + i + 1, k->sub + i, (k->nsub - i) * sizeof(*k->sub));
    fy_regkey *c = key_new(name);
    c->parent = k;
    k->sub[i] = c;
    k->nsub++;
    return c;
}

static fy_regkey *walk(fy_regkey *k, const char *path, bool create)
{
    const char *p = path;
    while (k && *p) {
        while (*p == '\\') p++;
        if (!*p) break;
        const char *e = strchr(p, '\\');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *name = fy_xstrndup(p, n);
        k = create ? fy_regkey_child_create(k, name) : fy_regkey_child(k, name);
        free(name);
        p += n;
    }
    return k;
}

fy_regkey *fy_regkey_find(const fy_regkey *k, const char *path)
{
    return walk((fy_regkey *)k, path, false);
}

fy_regkey *fy_regkey_create_path(fy_regkey *k, const char *path)
{
    return walk(k, path, true);
}

int fy_regkey_delete_child(fy_regkey *k, const char *name)
{
    bool found;
    size_t i = child_index(k, name, &found);
    if (!found) return -1;
    key_free(k->sub[i]);
    memmove(k->sub + i, k->sub + i + 1, (k->nsub - i - 1) * sizeof(*k->sub));
    k->nsub--;
    return 0;
}

void fy_regkey_delete(fy_regkey *k)
{
    if (k->parent) fy_regkey_delete_child(k->parent, k->name);
}

fy_regval *fy_regkey_value(const fy_regkey *k, const char *name)
{
    for (size_t i = 0; i < k->nval; i++)
        if (fy_regname_cmp(k->val[i].name, name) == 0) return &k->val[i];
    return NULL;
}

fy_regval *fy_regkey_set_value(fy_regkey *k, const char *name, uint32_t type, const void *data,
                               uint32_t len)
{
    /* Copy first: data may point into the value being replaced. */
    uint8_t *copy = fy_xmalloc(len ? len : 1);
    if (len) memcpy(copy, data, len);
    fy_regval *v = fy_regkey_value(k, name);
    if (!v) {
        if (k->nval == k->val_cap) {
            k->val_cap = k->val_cap ? k->val_cap * 2 : 4;
            k->val = fy_xrealloc(k->val, k->val_cap * sizeof(*k->val));
        }
        v = &k->val[k->nval++];
        v->name = fy_xstrdup(name);
    } else {
        free(v->data);
    }
    v->type = type;
    v->len = len;
    v->data = copy;
    return v;
}

int fy_regkey_delete_value(fy_regkey *k, const char *name)
{
    for (size_t i = 0; i < k->nval; i++) {
        if (fy_regname_cmp(k->val[i].name, name) == 0) {
            free(k->val[i].name);
            free(k->val[i].data);
            memmove(k->val + i, k->val + i + 1, (k->nval - i - 1) * sizeof(*k->val));
            k->nval--;
            return 0;
        }
    }
    return -1;
}

static void path_into(const fy_regkey *k, fy_buf *b)
{
    if (!k->parent) return;
    path_into(k->parent, b);
    if (b->len) fy_buf_putc(b, '\\');
    fy_buf_puts(b, k->name);
}

char *fy_regkey_path(const fy_regkey *k)
{
    fy_buf b = {0};
    path_into(k, &b);
    return fy_buf_cstr(&b);
}

fy_regkey *fy_regkey_clone(const fy_regkey *k)
{
    fy_regkey *c = key_new(k->name);
    c->last_write = k->last_write;
    c->nk_flags = k->nk_flags;
    if (k->sd) {
        c->sd = fy_xmalloc(k->sd_len);
        memcpy(c->sd, k->sd, k->sd_len);
        c->sd_len = k->sd_len;
    }
    if (k->class_name) {
        c->class_name = fy_xmalloc(k->class_len);
        memcpy(c->class_name, k->class_name, k->class_len);
        c->class_len = k->class_len;
    }
    for (size_t i = 0; i < k->nval; i++)
        fy_regkey_set_value(c, k->val[i].name, k->val[i].type, k->val[i].data, k->val[i].len);
    c->sub = fy_xcalloc(k->nsub ? k->nsub : 1, sizeof(*c->sub));
    c->sub_cap = k->nsub ? k->nsub : 1;
    for (size_t i = 0; i < k->nsub; i++) {
        c->sub[i] = fy_regkey_clone(k->sub[i]);
        c->sub[i]->parent = c;
    }
    c->nsub = k->nsub;
    return c;
}

void fy_regkey_count(const fy_regkey *k, size_t *keys, size_t *values)
{
    *keys += 1;
    *values += k->nval;
    for (size_t i = 0; i < k->nsub; i++) fy_regkey_count(k->sub[i], keys, values);
}
