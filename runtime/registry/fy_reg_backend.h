/* For registry backends only (callers use fy_reg.h): the operations a backend provides and
 * the root object every backend shares. A new backend (say, Win32 RegOpenKeyEx & co. for a
 * live machine) fills a fy_reg_backend, allocates a fy_reg with fy_reg_alloc, and offers an
 * fy_reg_open_* function; nothing else changes.
 *
 * Ownership: a backend owns whatever it hangs on `priv` and frees it in `destroy`;
 * fy_reg_close frees the fy_reg itself, its path and its tree. */
#ifndef FY_REG_BACKEND_H
#define FY_REG_BACKEND_H

#include "fy_reg.h"

typedef struct fy_reg_backend {
    const char *name;
    fy_reg_key *(*root)(fy_reg *r);
    fy_reg_key *(*key_open)(fy_reg *r, fy_reg_key *base, const char *path);
    fy_reg_key *(*key_create)(fy_reg *r, fy_reg_key *base, const char *path, char *err,
                              size_t err_size);
    void (*key_close)(fy_reg *r, fy_reg_key *k);
    const char *(*key_name)(fy_reg *r, fy_reg_key *k);
    uint64_t (*key_last_write)(fy_reg *r, fy_reg_key *k);
    size_t (*subkey_count)(fy_reg *r, fy_reg_key *k);
    const char *(*subkey_name)(fy_reg *r, fy_reg_key *k, size_t i);
    size_t (*value_count)(fy_reg *r, fy_reg_key *k);
    int (*value_at)(fy_reg *r, fy_reg_key *k, size_t i, fy_reg_value *out);
    int (*value_get)(fy_reg *r, fy_reg_key *k, const char *name, fy_reg_value *out);
    int (*value_set)(fy_reg *r, fy_reg_key *k, const char *name, uint32_t type, const void *data,
                     uint32_t len, char *err, size_t err_size);
    int (*value_delete)(fy_reg *r, fy_reg_key *k, const char *name);
    int (*key_delete)(fy_reg *r, fy_reg_key *base, const char *path, char *err, size_t err_size);
    int (*commit)(fy_reg *r, char *err, size_t err_size);
    void (*destroy)(fy_reg *r); /* frees priv; may be NULL */
} fy_reg_backend;

struct fy_reg {
    const fy_reg_backend *be;
    char *path;
    fy_regtree *tree;       /* tree-keeping backends, else NULL */
    bool changed;           /* set by the fy_reg_* mutators on success */
    bool created;           /* the file did not exist: commit must write it */
    const fy_reg_map *maps; /* .reg prefixes of this root (static table), or NULL */
    size_t nmaps;
    char *default_prefix; /* what export writes */
    void *priv;
};

fy_reg *fy_reg_alloc(const fy_reg_backend *be, const char *path);
/* True for .reg roots, whose keys carry absolute paths (HKEY_...\\...). */
bool fy_reg_is_regfile(const fy_reg *r);

#endif
