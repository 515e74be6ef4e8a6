/* libFuzzer target: the .reg parser. Whatever parses must also survive the rest of the
 * pipeline: written back as v5 it parses to the very same ops (a trap otherwise), written as
 * REGEDIT4 it parses again, and applied to an in-memory hive it exports and re-parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fy_common.h"
#include "registry/fy_reg.h"
#include "registry/fy_regfile.h"

static fy_regfile *reparse(fy_regfile *f, fy_regfile_format fmt)
{
    fy_buf out = {0};
    fy_regfile_writer *w = fy_regfile_writer_mem(&out, fmt);
    fy_regfile_write_header(w);
    fy_regfile_write_ops(w, f);
    char err[256];
    if (fy_regfile_writer_close(w, err, sizeof err) != 0) __builtin_trap();
    fy_diags d = {0};
    fy_regfile *g = NULL;
    if (fy_regfile_parse(out.data, out.len, "again.reg", &g, &d) != 0) __builtin_trap();
    fy_diags_free(&d);
    fy_buf_free(&out);
    return g;
}

static void same_ops(const fy_regfile *a, const fy_regfile *b)
{
    if (a->nops != b->nops) __builtin_trap();
    for (size_t i = 0; i < a->nops; i++) {
        const fy_regop *x = &a->ops[i], *y = &b->ops[i];
        if (x->kind != y->kind || strcmp(x->key, y->key) != 0) __builtin_trap();
        if (x->kind == FY_REGOP_VALUE || x->kind == FY_REGOP_DELETE_VALUE)
            if (strcmp(x->name, y->name) != 0) __builtin_trap();
        if (x->kind != FY_REGOP_VALUE) continue;
        if (x->type != y->type || x->len != y->len) __builtin_trap();
        if (x->len && memcmp(x->data, y->data, x->len) != 0) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fy_diags d = {0};
    fy_regfile *f = NULL;
    if (fy_regfile_parse(data, size, "fuzz.reg", &f, &d) == 0) {
        fy_regfile *g = reparse(f, FY_REGFILE_V5);
        same_ops(f, g);
        fy_regfile_free(g);
        fy_regfile_free(reparse(f, FY_REGFILE_REGEDIT4));

        /* Into a hive that exists only in memory (never committed). */
        fy_reg *r = NULL;
        char err[512];
        if (fy_reg_open_hive("/nonexistent-ferry-fuzz/NTUSER.DAT", FY_REG_OPEN_CREATE, &d, &r, err,
                             sizeof err) == 0) {
            if (fy_regfile_apply(f, r, NULL, "fuzz.reg", &d) == 0) {
                fy_buf out = {0};
                fy_regfile_writer *w = fy_regfile_writer_mem(&out, FY_REGFILE_V5);
                fy_regfile_write_header(w);
                fy_regfile_write_tree(w, fy_reg_tree(r)->root, "HKEY_CURRENT_USER", NULL);
                if (fy_regfile_writer_close(w, err, sizeof err) != 0) __builtin_trap();
                fy_regfile *h = NULL;
                if (fy_regfile_parse(out.data, out.len, "export.reg", &h, &d) != 0)
                    __builtin_trap();
                fy_regfile_free(h);
                fy_buf_free(&out);
            }
            fy_reg_close(r);
        }
        fy_regfile_free(f);
    }
    fy_diags_free(&d);
    return 0;
}
