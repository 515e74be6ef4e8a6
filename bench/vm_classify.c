/* Classification throughput over one million synthetic paths with 10, 100 and 1,000 rules.
 * The dispatch tree should keep 1,000 rules within a small factor of 10 rules; the same run
 * also measures the plain scan (every rule tried) as the peer, so the figure shows what the
 * dispatch structure buys. Usage: bench_vm_classify [objects] */
#include "fy_codegen.h"
#include "fy_ir.h"
#include "fy_vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *tokens[] = {"<My Documents>", "<Desktop>", "<Application Data>",
                               "<Local Application Data>", "<Favorites>", "<My Pictures>", "C:"};
static const char *words[] = {"Projects", "Reports", "2009", "Archive", "Clients", "Finance",
                              "Photos", "Drafts", "Old", "Shared", "Team", "Budget", "Misc",
                              "Scans", "Temp", "Notes"};
static const char *exts[] = {"doc", "docx", "xls", "xlsx", "ppt", "pptx", "pdf", "txt", "jpg",
                             "png", "mp3", "wav", "avi", "zip", "pst", "ini", "dat", "log",
                             "tmp", "bak", "csv", "xml", "htm", "url", "lnk", "vsd", "mpp",
                             "one", "msg", "rtf"};

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

#define NT (sizeof tokens / sizeof *tokens)
#define NW (sizeof words / sizeof *words)
#define NE (sizeof exts / sizeof *exts)

static fy_program *build(int nrules)
{
    fy_ir ir;
    fy_ir_init(&ir);
    for (int i = 0; i < nrules; i++) {
        char pat[300];
        int depth = (int)rnd(3);
        int n = snprintf(pat, sizeof pat, "%s", tokens[rnd(NT)]);
        for (int d = 0; d < depth; d++) n += snprintf(pat + n, sizeof pat - (size_t)n, "\\%s", words[rnd(NW)]);
        uint32_t shape = rnd(10);
        if (shape < 7)
            snprintf(pat + n, sizeof pat - (size_t)n, "\\* [*.%s]", exts[rnd(NE)]);
        else if (shape < 9)
            snprintf(pat + n, sizeof pat - (size_t)n, "\\* [*]");
        else
            snprintf(pat + n, sizeof pat - (size_t)n, "\\* [%s*]", words[rnd(NW)]);
        fy_ir_rule *r = &FY_APUSH(&ir.arena, ir.rules, ir.nrules, ir.rules_cap);
        r->stage = FY_STAGE_TEMPLATE;
        r->action = rnd(3) ? FY_ACT_INCLUDE : FY_ACT_EXCLUDE;
        r->app = r->component = -1;
        const char *err;
        size_t off;
        if (fy_parse_pattern(&ir.arena, FY_OBJ_FILE, pat, strlen(pat), &r->pat, &err, &off)) {
            fprintf(stderr, "bad pattern %s: %s\n", pat, err);
            exit(1);
        }
        if (rnd(4) == 0) {
            fy_ir_cond *c = &FY_APUSH(&ir.arena, r->conds, r->nconds, r->conds_cap);
            c->kind = FY_COND_SIZE;
            c->cmp = FY_CMP_GT;
            c->value = 1024 * (int64_t)rnd(100000);
        }
    }
    fy_diags d = {0};
    uint8_t *img;
    size_t n;
    if (fy_compile_image(&ir, &d, &img, &n)) {
        fprintf(stderr, "compile failed\n");
        exit(1);
    }
    fy_program *p;
    char err[256];
    if (fy_program_load(img, n, NULL, &p, err, sizeof err)) {
        fprintf(stderr, "load failed: %s\n", err);
        exit(1);
    }
    free(img);
    fy_diags_free(&d);
    fy_ir_free(&ir);
    return p;
}

typedef struct obj {
    char folder[200];
    char name[64];
} obj;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t nobj = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    obj *objs = malloc(nobj * sizeof *objs);
    for (size_t i = 0; i < nobj; i++) {
        int n = snprintf(objs[i].folder, sizeof objs[i].folder, "%s", tokens[rnd(NT)]);
        int depth = (int)rnd(6);
        for (int d = 0; d < depth; d++)
            n += snprintf(objs[i].folder + n, sizeof objs[i].folder - (size_t)n, "\\%s", words[rnd(NW)]);
        snprintf(objs[i].name, sizeof objs[i].name, "%s%u.%s", words[rnd(NW)], rnd(1000), exts[rnd(NE)]);
    }
    printf("%zu synthetic paths\n", nobj);
    printf("%8s %14s %14s %10s %12s\n", "rules", "dispatch/s", "scan-all/s", "included", "vs 10 rules");
    double base = 0;
    int counts[] = {10, 100, 1000};
    for (int c = 0; c < 3; c++) {
        fy_program *p = build(counts[c]);
        fy_vm *vm = fy_vm_new(p, NULL);
        fy_verdict v;
        size_t inc = 0;
        double t0 = now_s();
        for (size_t i = 0; i < nobj; i++) {
            fy_object o = {.kind = FY_OBJ_KIND_FILE, .folder = objs[i].folder,
                           .folder_len = strlen(objs[i].folder), .name = objs[i].name,
                           .name_len = strlen(objs[i].name), .size = i % 5000000};
            fy_vm_classify(vm, &o, &v);
            inc += v.decision == FY_DECIDE_INCLUDE;
        }
        double t1 = now_s();
        size_t nscan = nobj / 10; /* the scan is slow; a tenth of the objects is enough */
        for (size_t i = 0; i < nscan; i++) {
            fy_object o = {.kind = FY_OBJ_KIND_FILE, .folder = objs[i].folder,
                           .folder_len = strlen(objs[i].folder), .name = objs[i].name,
                           .name_len = strlen(objs[i].name), .size = i % 5000000};
            fy_vm_classify_all(vm, &o, &v);
        }
        double t2 = now_s();
        double rate = (double)nobj / (t1 - t0), scan = (double)nscan / (t2 - t1);
        if (c == 0) base = rate;
        printf("%8d %14.0f %14.0f %10zu %11.2fx\n", counts[c], rate, scan, inc, base / rate);
        fy_vm_free(vm);
        fy_program_free(p);
    }
    free(objs);
    return 0;
}
