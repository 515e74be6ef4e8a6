/* Helpers for the hive tests (test_hive_write.c, test_hive_log.c): temporary folders, the
 * shared fixtures, file hashing, running the independent readers, and reading a hive with
 * libhivex into an fy_regtree so that trees can be compared.
 *
 * Ownership: every char * and buffer returned is malloc'd; the caller frees it. */
#ifndef HIVE_TESTUTIL_H
#define HIVE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "fy_common.h"
#include "registry/fy_regtree.h"

/* A new folder under $TMPDIR (or /tmp); aborts the test program on failure. */
char *th_mkdtemp(void);
/* Removes a folder and everything in it. */
void th_rmtree(const char *dir);
/* Decompresses $FERRY_SHARED_DIR/fixtures/hives/<xz_name> into dir/<out_name>; returns the
 * path, or NULL when the fixture is not there. */
char *th_fixture(const char *dir, const char *xz_name, const char *out_name);
int th_read_file(const char *path, uint8_t **data, size_t *len);
int th_write_file(const char *path, const void *data, size_t len);
int th_copy(const char *from, const char *to);
void th_sha256_file(const char *path, uint8_t out[32]);

/* Runs argv (no shell) with the locale set to C.UTF-8; captures stdout and stderr.
 * Returns the exit status, or -1 when it could not run. */
int th_run(const char *const argv[], char **out, char **err);

/* Reads a hive with libhivex into a tree: names and values through hivex, and from the raw
 * cells what hivex does not expose (class names, security descriptors, nk flags). */
fy_regtree *th_read_hive(const char *path, char *err, size_t err_size);

enum {
    TH_CMP_TIMES = 1, /* last-write times */
    TH_CMP_SD = 2,    /* effective security descriptors (inherited where NULL) */
    TH_CMP_CLASS = 4, /* class names */
    TH_CMP_FLAGS = 8, /* kept nk flags */
};
/* NULL when the trees are equal, else a description of the first difference. */
char *th_compare(const fy_regtree *a, const fy_regtree *b, unsigned what);

/* Counts keys in a hive through libhivex (root included); -1 on error. */
long th_hivex_count_keys(const char *path);

/* Walks the cells of a serialized hive: calls fn for every cell (allocated or not) with its
 * relative offset, size (positive) and data. Returns -1 when the bins are malformed. */
int th_each_cell(const uint8_t *hive, size_t len,
                 void (*fn)(void *ctx, uint32_t off, uint32_t size, bool used, const uint8_t *data),
                 void *ctx);

#endif
