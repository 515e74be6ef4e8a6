/* libFuzzer target: opening a hive file through the hive backend (log recovery, then the
 * libhivex read into a tree), then exporting what was read as .reg text, which must parse.
 * The input is written to a temporary file, as the backend reads files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fy_common.h"
#include "registry/fy_reg.h"
#include "registry/fy_regfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/ferry-fuzz-hive-XXXXXX", base);
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fd);

    fy_diags d = {0};
    fy_reg *r = NULL;
    char err[512];
    if (off == size && fy_reg_open_hive(path, 0, &d, &r, err, sizeof err) == 0) {
        fy_buf out = {0};
        fy_regfile_writer *w = fy_regfile_writer_mem(&out, FY_REGFILE_V5);
        fy_regfile_write_header(w);
        fy_regfile_write_tree(w, fy_reg_tree(r)->root, fy_reg_default_prefix(r), &d);
        if (fy_regfile_writer_close(w, err, sizeof err) != 0) __builtin_trap();
        fy_regfile *f = NULL;
        /* The writer skips names a .reg file cannot hold: what it writes must parse. */
        if (fy_regfile_parse(out.data, out.len, "export.reg", &f, &d) != 0) __builtin_trap();
        fy_regfile_free(f);
        fy_buf_free(&out);
        fy_reg_close(r);
    }
    fy_diags_free(&d);
    unlink(path);
    return 0;
}
