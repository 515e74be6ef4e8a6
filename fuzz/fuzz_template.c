/* libFuzzer target for the template front ends (SE.cfg, SE.rul, SE.ptt) and the report
 * printers: the first byte picks the front end, the rest is the file. Every input must end in
 * diagnostics, never in a crash; the printers must turn any diagnostics into output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fy_ir.h"
#include "fy_report.h"

static char *dir_path;

static void remove_dir(void)
{
    if (dir_path) rmdir(dir_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (!dir_path) {
        char tmpl[] = "/tmp/ferry-fuzz-XXXXXX";
        if (!mkdtemp(tmpl)) abort();
        dir_path = strdup(tmpl);
        atexit(remove_dir);
    }
    static const char *const names[] = {"SE.cfg", "SE.rul", "SE.ptt"};
    int which = data[0] % 3;
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir_path, names[which]);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size > 1) fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    if (which == 0)
        fy_fe_cfg(&ir, path, &d);
    else if (which == 1)
        fy_fe_rul(&ir, path, &d);
    else
        fy_fe_ptt(&ir, path, &d);
    fy_buf b = {0};
    fy_report_write(&b, (fy_report_format)(data[0] / 3 % 3), &d);
    fy_buf_free(&b);
    unlink(path);
    fy_diags_free(&d);
    fy_ir_free(&ir);
    return 0;
}
