/* The registry interface (fy_reg.h) and its two tree-keeping backends: hive files and .reg
 * files. Both hold the whole registry root as an fy_regtree in memory and differ only in
 * how it is loaded and committed. */
#include "fy_reg.h"

#include "fy_hive.h"
#include "fy_hive_read.h"
#include "fy_reg_backend.h"
#include "fy_regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEY_NAME 255     /* UTF-16 units, as Windows limits key names */
#define MAX_VALUE_NAME 16383 /* UTF-16 units */

fy_reg *fy_reg_alloc(const fy_reg_backend *be, const char *path)
{
    fy_reg *r = fy_xcalloc(1, sizeof(*r));
    r->be = be;
    r->path = fy_xstrdup(path ? path : "");
    return r;
}

/* ---- generic entry points: dispatch to the backend ---- */

void fy_reg_close(fy_reg *r)
{
    if (!r) return;
    if (r->be->destroy) r->be->destroy(r);
    fy_regtree_free(r->tree);
    free(r->default_prefix);
    free(r->path);
    free(r);
}

int fy_reg_commit(fy_reg *r, char *err, size_t err_size)
{
    if (!r->changed && !r->created) return 0;
    if (r->be->commit(r, err, err_size) != 0) return -1;
    r->changed = r->created = false;
    return 0;
}

const char *fy_reg_path(const fy_reg *r)
{
    return r->path;
}

const char *fy_reg_backend_name(const fy_reg *r)
{
    return r->be->name;
}

bool fy_reg_changed(const fy_reg *r)
{
    return r->changed;
}

const fy_regtree *fy_reg_tree(const fy_reg *r)
{
    return r->tree;
}

int fy_reg_set_root_security(fy_reg *r, const void *sd, uint32_t len)
{
    if (!r->tree || !len) return -1;
    fy_regkey *root = r->tree->root;
    free(root->sd);
    root->sd = fy_xmalloc(len);
    memcpy(root->sd, sd, len);
    root->sd_len = len;
    r->changed = true;
    return 0;
}

fy_reg_key *fy_reg_root(fy_reg *r)
{
    return r->be->root(r);
}

fy_reg_key *fy_reg_key_open(fy_reg *r, fy_reg_key *base, const char *path)
{
    return r->be->key_open(r, base, path ? path : "");
}

fy_reg_key *fy_reg_key_create(fy_reg *r, fy_reg_key *base, const char *path, char *err,
                              size_t err_size)
{
    fy_reg_key *k = r->be->key_create(r, base, path ? path : "", err, err_size);
    if (k) r->changed = true;
    return k;
}

void fy_reg_key_close(fy_reg *r, fy_reg_key *k)
{
    if (k && r->be->key_close) r->be->key_close(r, k);
}

const char *fy_reg_key_name(fy_reg *r, fy_reg_key *k)
{
    return r->be->key_name(r, k);
}

uint64_t fy_reg_key_last_write(fy_reg *r, fy_reg_key *k)
{
    return r->be->key_last_write(r, k);
}

size_t fy_reg_subkey_count(fy_reg *r, fy_reg_key *k)
{
    return r->be->subkey_count(r, k);
}

const char *fy_reg_subkey_name(fy_reg *r, fy_reg_key *k, size_t i)
{
    return r->be->subkey_name(r, k, i);
}

size_t fy_reg_value_count(fy_reg *r, fy_reg_key *k)
{
    return r->be->value_count(r, k);
}

int fy_reg_value_at(fy_reg *r, fy_reg_key *k, size_t i, fy_reg_value *out)
{
    return r->be->value_at(r, k, i, out);
}

int fy_reg_get_value(fy_reg *r, fy_reg_key *k, const char *name, fy_reg_value *out)
{
    return r->be->value_get(r, k, name ? name : "", out);
}

int fy_reg_set_value(fy_reg *r, fy_reg_key *k, const char *name, uint32_t type, const void *data,
                     uint32_t len, char *err, size_t err_size)
{
    int rc = r->be->value_set(r, k, name ? name : "", type, data, len, err, err_size);
    if (rc == 0) r->changed = true;
    return rc;
}

int fy_reg_delete_key(fy_reg *r, fy_reg_key *base, const char *path, char *err, size_t err_size)
{
    int rc = r->be->key_delete(r, base, path ? path : "", err, err_size);
    if (rc == 0) r->changed = true;
    return rc;
}

int fy_reg_delete_value(fy_reg *r, fy_reg_key *k, const char *name)
{
    int rc = r->be->value_delete(r, k, name ? name : "");
    if (rc == 0) r->changed = true;
    return rc;
}

char **fy_reg_list_subkeys(fy_reg *r, fy_reg_key *k, size_t *n)
{
    *n = fy_reg_subkey_count(r, k);
    char **v = fy_xcalloc(*n ? *n : 1, sizeof(*v));
    for (size_t i = 0; i < *n; i++)
        v[i] = fy_xstrdup(fy_reg_subkey_name(r, k, i));
    return v;
}

char **fy_reg_list_values(fy_reg *r, fy_reg_key *k, size_t *n)
{
    *n = fy_reg_value_count(r, k);
    char **v = fy_xcalloc(*n ? *n : 1, sizeof(*v));
    for (size_t i = 0; i < *n; i++) {
        fy_reg_value val;
        v[i] = fy_xstrdup(fy_reg_value_at(r, k, i, &val) == 0 ? val.name : "");
    }
    return v;
}

void fy_reg_strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- the tree operations both backends share ---- */

#define TK(k) ((fy_regkey *)(k))
#define HK(k) ((fy_reg_key *)(k))

static uint64_t filetime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

static size_t utf16_units(const char *s, size_t n)
{
    size_t i = 0, u = 0;
    while (i < n) {
        uint32_t cp;
        i += fy_utf8_next(s + i, n - i, &cp);
        u += cp >= 0x10000 ? 2 : 1;
    }
    return u;
}

static fy_reg_key *tree_root(fy_reg *r)
{
    return HK(r->tree->root);
}

static fy_reg_key *tree_key_open(fy_reg *r, fy_reg_key *base, const char *path)
{
    return HK(fy_regkey_find(base ? TK(base) : r->tree->root, path));
}

static fy_reg_key *tree_key_create(fy_reg *r, fy_reg_key *base, const char *path, char *err,
                                   size_t err_size)
{
    fy_regkey *k = base ? TK(base) : r->tree->root;
    const char *p = path;
    /* Check every component first, so a bad path creates nothing. */
    for (const char *q = p; *q;) {
        const char *e = strchr(q, '\\');
        size_t n = e ? (size_t)(e - q) : strlen(q);
        if (n == 0 && (e || q == p)) {
            snprintf(err, err_size, "key path \"%s\" has an empty key name", path);
            return NULL;
        }
        if (!fy_utf8_valid(q, n)) {
            snprintf(err, err_size, "key path \"%s\" is not valid UTF-8", path);
            return NULL;
        }
        if (utf16_units(q, n) > MAX_KEY_NAME) {
            snprintf(err, err_size, "key name \"%.*s...\" is longer than %d characters", 40, q,
                     MAX_KEY_NAME);
            return NULL;
        }
        q += n;
        if (*q) q++;
    }
    while (*p) {
        const char *e = strchr(p, '\\');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *name = fy_xstrndup(p, n);
        fy_regkey *c = fy_regkey_child(k, name);
        if (!c) {
            c = fy_regkey_child_create(k, name);
            k->last_write = filetime_now();
        }
        free(name);
        k = c;
        p += n;
        if (*p) p++;
    }
    return HK(k);
}

static const char *tree_key_name(fy_reg *r, fy_reg_key *k)
{
    (void)r;
    return TK(k)->name;
}

static uint64_t tree_key_last_write(fy_reg *r, fy_reg_key *k)
{
    (void)r;
    return TK(k)->last_write;
}

static size_t tree_subkey_count(fy_reg *r, fy_reg_key *k)
{
    (void)r;
    return TK(k)->nsub;
}

static const char *tree_subkey_name(fy_reg *r, fy_reg_key *k, size_t i)
{
    (void)r;
    return i < TK(k)->nsub ? TK(k)->sub[i]->name : NULL;
}

static size_t tree_value_count(fy_reg *r, fy_reg_key *k)
{
    (void)r;
    return TK(k)->nval;
}

static void fill_value(const fy_regval *v, fy_reg_value *out)
{
    out->name = v->name;
    out->type = v->type;
    out->data = v->data;
    out->len = v->len;
}

static int tree_value_at(fy_reg *r, fy_reg_key *k, size_t i, fy_reg_value *out)
{
    (void)r;
    if (i >= TK(k)->nval) return -1;
    fill_value(&TK(k)->val[i], out);
    return 0;
}

static int tree_value_get(fy_reg *r, fy_reg_key *k, const char *name, fy_reg_value *out)
{
    (void)r;
    const fy_regval *v = fy_regkey_value(TK(k), name);
    if (!v) return -1;
    fill_value(v, out);
    return 0;
}

static int tree_value_set(fy_reg *r, fy_reg_key *k, const char *name, uint32_t type,
                          const void *data, uint32_t len, char *err, size_t err_size)
{
    (void)r;
    size_t n = strlen(name);
    if (!fy_utf8_valid(name, n)) {
        snprintf(err, err_size, "value name is not valid UTF-8");
        return -1;
    }
    if (utf16_units(name, n) > MAX_VALUE_NAME) {
        snprintf(err, err_size, "value name \"%.40s...\" is longer than %d characters", name,
                 MAX_VALUE_NAME);
        return -1;
    }
    /* fy_regkey_set_value frees the old data before copying the new: data borrowed from
     * the value being replaced (get, then set) must be copied first. */
    const fy_regval *old = fy_regkey_value(TK(k), name);
    void *copy = NULL;
    if (old && len && (const uint8_t *)data >= old->data &&
        (const uint8_t *)data < old->data + old->len) {
        copy = fy_xmalloc(len);
        memcpy(copy, data, len);
        data = copy;
    }
    fy_regkey_set_value(TK(k), name, type, data, len);
    free(copy);
    TK(k)->last_write = filetime_now();
    return 0;
}

static int tree_value_delete(fy_reg *r, fy_reg_key *k, const char *name)
{
    (void)r;
    if (fy_regkey_delete_value(TK(k), name) != 0) return -1;
    TK(k)->last_write = filetime_now();
    return 0;
}

static int tree_key_delete(fy_reg *r, fy_reg_key *base, const char *path, char *err,
                           size_t err_size)
{
    fy_regkey *k = fy_regkey_find(base ? TK(base) : r->tree->root, path);
    if (!k) {
        snprintf(err, err_size, "no key \"%s\"", path);
        return -1;
    }
    if (!k->parent) {
        snprintf(err, err_size, "the root key cannot be deleted");
        return -1;
    }
    k->parent->last_write = filetime_now();
    fy_regkey_delete(k);
    return 0;
}

/* ---- hive backend ---- */

static int hive_commit(fy_reg *r, char *err, size_t err_size)
{
    if (fy_hive_write_file(r->tree, r->path, err, err_size) != 0) return -1;
    /* Windows would replay logs left beside the new file onto it. */
    if (fy_hive_remove_logs(r->path) != 0) {
        snprintf(err, err_size,
                 "%s: written, but its old transaction logs (.LOG1/.LOG2) could not be "
                 "removed (%s); delete them before Windows loads the hive",
                 r->path, strerror(errno));
        return -1;
    }
    return 0;
}

static const fy_reg_backend hive_backend = {
    .name = "hive",
    .root = tree_root,
    .key_open = tree_key_open,
    .key_create = tree_key_create,
    .key_name = tree_key_name,
    .key_last_write = tree_key_last_write,
    .subkey_count = tree_subkey_count,
    .subkey_name = tree_subkey_name,
    .value_count = tree_value_count,
    .value_at = tree_value_at,
    .value_get = tree_value_get,
    .value_set = tree_value_set,
    .value_delete = tree_value_delete,
    .key_delete = tree_key_delete,
    .commit = hive_commit,
};

static void set_hive_prefix(fy_reg *r)
{
    r->nmaps = fy_reg_maps_for_names(r->tree->hive_name, r->path, &r->maps);
    if (r->nmaps) {
        r->default_prefix = fy_xstrdup(r->maps[0].prefix);
    } else {
        /* As regedit's "Load Hive" would mount it: under HKLM, by its file name. */
        const char *base = strrchr(r->path, '/');
        base = base ? base + 1 : r->path;
        char *up = fy_xstrdup(*base ? base : "HIVE");
        for (char *c = up; *c; c++) {
            if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 32);
            if (*c == '\\') *c = '_';
        }
        r->default_prefix = fy_xasprintf("HKEY_LOCAL_MACHINE\\%s", up);
        free(up);
    }
}

int fy_reg_open_hive(const char *path, unsigned flags, fy_diags *warnings, fy_reg **out, char *err,
                     size_t err_size)
{
    int rc = -1;
    char *recovered = NULL;
    fy_regtree *t = NULL;
    fy_diags own = {0};
    fy_diags *w = warnings ? warnings : &own;
    *out = NULL;

    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && (flags & FY_REG_OPEN_CREATE)) {
            fy_reg *r = fy_reg_alloc(&hive_backend, path);
            r->tree = fy_regtree_new(NULL);
            r->created = true;
            set_hive_prefix(r);
            *out = r;
            return 0;
        }
        snprintf(err, err_size, "%s: cannot read the hive (%s)", path, strerror(errno));
        goto done;
    }
    fy_hive_state state = FY_HIVE_CLEAN;
    size_t warned = w->warnings;
    char rerr[512] = "";
    if (fy_hive_recover(path, NULL, &state, &recovered, w, rerr, sizeof rerr) != 0) {
        snprintf(err, err_size, "%s: not a registry hive or damaged (%s)", path, rerr);
        goto done;
    }
    if (state == FY_HIVE_STALE && w->warnings == warned)
        fy_diag_add(w, FY_DIAG_WARNING, path, 0, 0, "hive-dirty",
                    "the hive is dirty and its transaction logs (.LOG1/.LOG2) are missing: "
                    "read as it stands, the newest changes may be absent");
    int read_rc = fy_hive_read(recovered ? recovered : path, path, &t, w, err, err_size);
    if (recovered) unlink(recovered);
    if (read_rc != 0) goto done;
    fy_reg *r = fy_reg_alloc(&hive_backend, path);
    r->tree = t;
    t = NULL;
    set_hive_prefix(r);
    /* A recovered hive differs from the file: committing writes the recovered state. */
    r->changed = state == FY_HIVE_RECOVERED;
    *out = r;
    rc = 0;
done:
    fy_regtree_free(t);
    free(recovered);
    fy_diags_free(&own);
    return rc;
}

/* ---- .reg backend ---- */

static int regfile_commit(fy_reg *r, char *err, size_t err_size)
{
    fy_regfile_writer *w = fy_regfile_writer_file(r->path, FY_REGFILE_V5, err, err_size);
    if (!w) return -1;
    fy_regfile_write_header(w);
    /* The root is virtual: its subkeys are the HKEY_* keys, written with full paths. */
    for (size_t i = 0; i < r->tree->root->nsub; i++)
        fy_regfile_write_tree(w, r->tree->root->sub[i], r->tree->root->sub[i]->name, NULL);
    return fy_regfile_writer_close(w, err, err_size);
}

static const fy_reg_backend regfile_backend = {
    .name = "regfile",
    .root = tree_root,
    .key_open = tree_key_open,
    .key_create = tree_key_create,
    .key_name = tree_key_name,
    .key_last_write = tree_key_last_write,
    .subkey_count = tree_subkey_count,
    .subkey_name = tree_subkey_name,
    .value_count = tree_value_count,
    .value_at = tree_value_at,
    .value_get = tree_value_get,
    .value_set = tree_value_set,
    .value_delete = tree_value_delete,
    .key_delete = tree_key_delete,
    .commit = regfile_commit,
};

bool fy_reg_is_regfile(const fy_reg *r)
{
    return r->be == &regfile_backend;
}

int fy_reg_open_regfile(const char *path, unsigned flags, fy_diags *diags, fy_reg **out, char *err,
                        size_t err_size)
{
    fy_diags own = {0};
    fy_diags *d = diags ? diags : &own;
    fy_regfile *f = NULL;
    int rc = -1;
    *out = NULL;
    fy_reg *r = fy_reg_alloc(&regfile_backend, path);
    r->tree = fy_regtree_new("");
    r->default_prefix = fy_xstrdup("");
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT && (flags & FY_REG_OPEN_CREATE)) {
        r->created = true;
        *out = r;
        r = NULL;
        rc = 0;
        goto done;
    }
    size_t errors = d->errors;
    if (fy_regfile_load(path, &f, d) != 0) {
        snprintf(err, err_size, "%s: %zu error(s) in the .reg file", path, d->errors - errors);
        goto done;
    }
    if (fy_regfile_apply(f, r, NULL, path, d) != 0) {
        snprintf(err, err_size, "%s: %zu error(s) in the .reg file", path, d->errors - errors);
        goto done;
    }
    r->changed = false;
    *out = r;
    r = NULL;
    rc = 0;
done:
    fy_regfile_free(f);
    fy_reg_close(r);
    fy_diags_free(&own);
    return rc;
}

int fy_reg_open(const char *path, unsigned flags, fy_diags *diags, fy_reg **out, char *err,
                size_t err_size)
{
    uint8_t head[4] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && (flags & FY_REG_OPEN_CREATE)) {
            size_t n = strlen(path);
            if (n >= 4 && fy_streq_ci(path + n - 4, ".reg"))
                return fy_reg_open_regfile(path, flags, diags, out, err, err_size);
            return fy_reg_open_hive(path, flags, diags, out, err, err_size);
        }
        *out = NULL;
        snprintf(err, err_size, "%s: cannot open (%s)", path, strerror(errno));
        return -1;
    }
    ssize_t got = read(fd, head, sizeof head);
    close(fd);
    if (got == 4 && memcmp(head, "regf", 4) == 0)
        return fy_reg_open_hive(path, flags, diags, out, err, err_size);
    return fy_reg_open_regfile(path, flags, diags, out, err, err_size);
}

/* ---- root prefixes ---- */

typedef struct hive_kind {
    const char *names[3]; /* file names (any case) */
    const char *contains; /* or a file name containing this (NTUSER_with_x.DAT) */
    fy_reg_map maps[2];
    size_t nmaps;
} hive_kind;

static const hive_kind kinds[] = {
    {{"ntuser.dat", "ntuser.man"}, "ntuser", {{"HKEY_CURRENT_USER", ""}}, 1},
    {{"usrclass.dat"},
     "usrclass",
     {{"HKEY_CURRENT_USER\\Software\\Classes", ""}, {"HKEY_CLASSES_ROOT", ""}},
     2},
    {{"software"},
     NULL,
     {{"HKEY_LOCAL_MACHINE\\SOFTWARE", ""}, {"HKEY_CLASSES_ROOT", "Classes"}},
     2},
    {{"system"}, NULL, {{"HKEY_LOCAL_MACHINE\\SYSTEM", ""}}, 1},
    {{"sam"}, NULL, {{"HKEY_LOCAL_MACHINE\\SAM", ""}}, 1},
    {{"security"}, NULL, {{"HKEY_LOCAL_MACHINE\\SECURITY", ""}}, 1},
    {{"default"}, NULL, {{"HKEY_USERS\\.DEFAULT", ""}}, 1},
    {{"components"}, NULL, {{"HKEY_LOCAL_MACHINE\\COMPONENTS", ""}}, 1},
    {{"drivers"}, NULL, {{"HKEY_LOCAL_MACHINE\\DRIVERS", ""}}, 1},
    {{"bcd"}, NULL, {{"HKEY_LOCAL_MACHINE\\BCD00000000", ""}}, 1},
};

static const char *base_name(const char *p, char sep)
{
    const char *s = strrchr(p, sep);
    return s ? s + 1 : p;
}

static const hive_kind *kind_by_exact_name(const char *name)
{
    for (size_t i = 0; i < FY_ARRAY_LEN(kinds); i++)
        for (size_t j = 0; j < FY_ARRAY_LEN(kinds[i].names) && kinds[i].names[j]; j++)
            if (fy_streq_ci(name, kinds[i].names[j])) return &kinds[i];
    return NULL;
}

static bool contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (strncasecmp(s, needle, n) == 0) return true;
    return false;
}

size_t fy_reg_maps_for_names(const char *base_block_name, const char *file_path,
                             const fy_reg_map **maps)
{
    const hive_kind *k = NULL;
    /* The base block keeps the tail of the path Windows loaded the hive from, so it names
     * the kind even when the file was renamed when copied off the machine. */
    if (base_block_name && *base_block_name)
        k = kind_by_exact_name(base_name(base_block_name, '\\'));
    if (!k && file_path && *file_path) {
        const char *b = base_name(file_path, '/');
        k = kind_by_exact_name(b);
        for (size_t i = 0; !k && i < FY_ARRAY_LEN(kinds); i++)
            if (kinds[i].contains && contains_ci(b, kinds[i].contains)) k = &kinds[i];
    }
    *maps = k ? k->maps : NULL;
    return k ? k->nmaps : 0;
}

size_t fy_reg_maps(const fy_reg *r, const fy_reg_map **maps)
{
    *maps = r->maps;
    return r->nmaps;
}

const char *fy_reg_default_prefix(const fy_reg *r)
{
    return r->default_prefix ? r->default_prefix : "";
}

const char *fy_reg_root_key_name(const char *name, size_t n)
{
    static const char *const full[][2] = {
        {"HKEY_LOCAL_MACHINE", "HKLM"},  {"HKEY_CURRENT_USER", "HKCU"},
        {"HKEY_CLASSES_ROOT", "HKCR"},   {"HKEY_USERS", "HKU"},
        {"HKEY_CURRENT_CONFIG", "HKCC"}, {"HKEY_PERFORMANCE_DATA", NULL},
        {"HKEY_DYN_DATA", NULL},
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(full); i++)
        for (int j = 0; j < 2; j++)
            if (full[i][j] && strlen(full[i][j]) == n && strncasecmp(name, full[i][j], n) == 0)
                return full[i][0];
    return NULL;
}

/* ---- value helpers ---- */

const char *fy_reg_type_name(uint32_t type)
{
    static const char *const names[] = {
        "REG_NONE",
        "REG_SZ",
        "REG_EXPAND_SZ",
        "REG_BINARY",
        "REG_DWORD",
        "REG_DWORD_BIG_ENDIAN",
        "REG_LINK",
        "REG_MULTI_SZ",
        "REG_RESOURCE_LIST",
        "REG_FULL_RESOURCE_DESCRIPTOR",
        "REG_RESOURCE_REQUIREMENTS_LIST",
        "REG_QWORD",
    };
    return type < FY_ARRAY_LEN(names) ? names[type] : "REG_UNKNOWN";
}

char *fy_reg_sz_decode(const uint8_t *data, uint32_t len)
{
    return fy_utf16le_to_utf8(data, len & ~1u, true, NULL);
}

char **fy_reg_multi_sz_decode(const uint8_t *data, uint32_t len, size_t *n)
{
    size_t units = len / 2, cap = 4, cnt = 0;
    char **v = fy_xmalloc(cap * sizeof(*v));
    size_t start = 0;
    for (size_t i = 0; i <= units; i++) {
        bool end = i == units;
        if (!end && fy_le16(data + 2 * i) != 0) continue;
        /* The piece after the last NUL is an item only when it is not empty (data that
         * lacks its terminator). */
        if (end && i == start) break;
        if (cnt == cap) {
            cap *= 2;
            v = fy_xrealloc(v, cap * sizeof(*v));
        }
        v[cnt++] = fy_utf16le_to_utf8(data + 2 * start, 2 * (i - start), false, NULL);
        start = i + 1;
    }
    while (cnt && v[cnt - 1][0] == 0)
        free(v[--cnt]);
    *n = cnt;
    return v;
}

int fy_reg_sz_encode(const char *s, fy_buf *out)
{
    size_t n;
    uint8_t *u = fy_utf8_to_utf16le(s, strlen(s), &n);
    if (!u) return -1;
    fy_buf_put(out, u, n);
    fy_buf_u16(out, 0);
    free(u);
    return 0;
}

int fy_reg_multi_sz_encode(char *const *items, size_t n, fy_buf *out)
{
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        if (fy_reg_sz_encode(items[i], out) != 0) {
            out->len = start;
            return -1;
        }
    }
    fy_buf_u16(out, 0);
    return 0;
}

static void hex_join(fy_buf *b, const uint8_t *data, uint32_t len)
{
    static const char hx[] = "0123456789abcdef";
    for (uint32_t i = 0; i < len; i++) {
        char t[3] = {hx[data[i] >> 4], hx[data[i] & 15], ','};
        fy_buf_put(b, t, i + 1 < len ? 3 : 2);
    }
}

char *fy_reg_value_text(uint32_t type, const uint8_t *data, uint32_t len)
{
    fy_buf b = {0};
    switch (type) {
    case FY_REG_SZ:
    case FY_REG_EXPAND_SZ:
    case FY_REG_LINK:
        return fy_reg_sz_decode(data, len);
    case FY_REG_DWORD:
        if (len != 4) break;
        return fy_xasprintf("%" PRIu32, fy_le32(data));
    case FY_REG_DWORD_BIG_ENDIAN:
        if (len != 4) break;
        return fy_xasprintf("%" PRIu32, (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                                            (uint32_t)data[2] << 8 | data[3]);
    case FY_REG_QWORD:
        if (len != 8) break;
        return fy_xasprintf("%" PRIu64, fy_le64(data));
    case FY_REG_MULTI_SZ: {
        size_t n;
        char **items = fy_reg_multi_sz_decode(data, len, &n);
        for (size_t i = 0; i < n; i++) {
            if (i) fy_buf_putc(&b, '\n');
            fy_buf_puts(&b, items[i]);
        }
        fy_reg_strv_free(items, n);
        return fy_buf_cstr(&b);
    }
    default:
        break;
    }
    hex_join(&b, data, len);
    return fy_buf_cstr(&b);
}

static int parse_uint(const char *text, uint64_t max, uint64_t *out)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) base = 16, p += 2;
    if (!*p) return -1;
    uint64_t v = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else if (*p == ' ' || *p == '\t') {
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p) return -1;
            break;
        } else
            return -1;
        if (v > (max - (uint64_t)d) / (uint64_t)base) return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int fy_reg_value_from_text(uint32_t type, const char *text, fy_buf *out, char *err, size_t err_size)
{
    uint64_t v;
    switch (type) {
    case FY_REG_SZ:
    case FY_REG_EXPAND_SZ:
    case FY_REG_LINK:
        if (fy_reg_sz_encode(text, out) == 0) return 0;
        snprintf(err, err_size, "text is not valid UTF-8");
        return -1;
    case FY_REG_DWORD:
    case FY_REG_DWORD_BIG_ENDIAN:
        if (parse_uint(text, UINT32_MAX, &v) != 0) {
            snprintf(err, err_size,
                     "\"%.40s\" is not a DWORD: give a number from 0 to 4294967295 "
                     "(or 0x0 to 0xffffffff)",
                     text);
            return -1;
        }
        if (type == FY_REG_DWORD) {
            fy_buf_u32(out, (uint32_t)v);
        } else {
            uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
            fy_buf_put(out, be, 4);
        }
        return 0;
    case FY_REG_QWORD:
        if (parse_uint(text, UINT64_MAX, &v) != 0) {
            snprintf(err, err_size,
                     "\"%.40s\" is not a QWORD: give a number from 0 to "
                     "18446744073709551615 (or 0x-hex)",
                     text);
            return -1;
        }
        fy_buf_u64(out, v);
        return 0;
    case FY_REG_MULTI_SZ: {
        size_t start = out->len;
        const char *p = text;
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            size_t ul;
            uint8_t *u = fy_utf8_to_utf16le(p, n, &ul);
            if (!u) {
                out->len = start;
                snprintf(err, err_size, "text is not valid UTF-8");
                return -1;
            }
            fy_buf_put(out, u, ul);
            fy_buf_u16(out, 0);
            free(u);
            p += n;
            if (*p) p++;
        }
        fy_buf_u16(out, 0);
        return 0;
    }
    default: {
        size_t start = out->len;
        const char *p = text;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            if (!*p) break;
            int hi = hexval(p[0]), lo = p[1] ? hexval(p[1]) : -1;
            if (hi < 0 || lo < 0 || (p[2] && p[2] != ',' && p[2] != ' ' && p[2] != '\t')) {
                out->len = start;
                snprintf(err, err_size,
                         "bad hex bytes \"%.20s\": write two hex digits per byte, e.g. "
                         "01,ff,3c",
                         p);
                return -1;
            }
            fy_buf_putc(out, (uint8_t)(hi << 4 | lo));
            p += 2;
        }
        return 0;
    }
    }
}
