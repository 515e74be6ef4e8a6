/* ferryc: compiles, lints, disassembles and verifies ferry rule programs.
 * Exit codes (docs/agent.md): 0 fine, 2 wrong command line, 3 errors in the input. */
#include "fy_codegen.h"
#include "fy_common.h"
#include "fy_ir.h"
#include "fy_program.h"
#include "fy_report.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: ferryc compile [-A APPDEF_DIR]... [-o OUT.fyb] [--sign KEYFILE] TEMPLATE.cfg | APPDEF.yaml ...\n"
    "       ferryc lint    [-A APPDEF_DIR]... [--format text|json|sarif] [--werror] PATH ...\n"
    "       ferryc disasm  [--trusted-key PUBFILE] PROGRAM.fyb\n"
    "       ferryc verify  [--trusted-key PUBFILE] PROGRAM.fyb\n"
    "       ferryc keygen  -o KEYFILE        (writes KEYFILE and KEYFILE.pub, Ed25519)\n"
    "       ferryc --help | --version\n"
    "\n"
    "-A adds a folder of application definitions; without -A the project's appdefs/ folder is\n"
    "used. Exit codes: 0 no errors, 3 errors (or warnings with --werror) or a program that\n"
    "does not load, 2 a wrong command line.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "ferryc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    return FY_EXIT_USAGE;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && fy_streq_ci(s + n - m, suffix);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

typedef struct opts {
    const char **appdef_dirs;
    size_t nappdef_dirs;
    const char *out;
    const char *sign_key;
    const char *trusted_key;
    fy_report_format format;
    bool werror;
} opts;

/* Loads the -A folders, or the project's appdefs when there are none and `use_default`. */
static int load_appdefs(fy_ir *ir, const opts *o, bool use_default, fy_diags *d)
{
    int rc = 0;
    if (o->nappdef_dirs) {
        for (size_t i = 0; i < o->nappdef_dirs; i++) rc |= fy_fe_appdef_dir(ir, o->appdef_dirs[i], d);
        return rc;
    }
    if (!use_default) return 0;
    char *def = fy_default_appdefs_dir();
    if (def) rc = fy_fe_appdef_dir(ir, def, d);
    free(def);
    return rc;
}

/* Is `file` inside one of the -A folders (already loaded)? */
static bool in_appdef_dirs(const opts *o, const char *file)
{
    char *rf = realpath(file, NULL);
    bool found = false;
    if (rf) {
        char *slash = strrchr(rf, '/');
        if (slash) *slash = 0;
        for (size_t i = 0; i < o->nappdef_dirs && !found; i++) {
            char *rd = realpath(o->appdef_dirs[i], NULL);
            found = rd && strcmp(rd, rf) == 0;
            free(rd);
        }
    }
    free(rf);
    return found;
}

static void print_diags(fy_diags *d, fy_report_format fmt, FILE *out)
{
    fy_diags_sort(d);
    fy_report_print(out, fmt, d);
}

static int read_key(const char *path, uint8_t *key, size_t len, const char *what)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ferryc: %s: cannot open %s: %s\n", path, what, strerror(errno));
        return -1;
    }
    size_t n = fread(key, 1, len, f);
    int extra = fgetc(f);
    fclose(f);
    if (n != len || extra != EOF) {
        fprintf(stderr, "ferryc: %s: not a %s (expected %zu bytes)\n", path, what, len);
        return -1;
    }
    return 0;
}

static char *default_output(const char *input)
{
    const char *dot = strrchr(input, '.');
    const char *slash = strrchr(input, '/');
    size_t base = (dot && (!slash || dot > slash)) ? (size_t)(dot - input) : strlen(input);
    return fy_xasprintf("%.*s.fyb", (int)base, input);
}

static int cmd_compile(const opts *o, int argc, char **argv)
{
    if (argc < 1) return usage_error("%s", "compile needs a template (.cfg) or appdefs (.yaml)");
    int ncfg = 0;
    for (int i = 0; i < argc; i++) {
        if (ends_with_ci(argv[i], ".cfg")) ncfg++;
        else if (!ends_with_ci(argv[i], ".yaml") && !ends_with_ci(argv[i], ".yml"))
            return usage_error("%s: not a template (.cfg) or an appdef (.yaml)", argv[i]);
    }
    if (ncfg > 1) return usage_error("%s", "compile takes one template at a time");
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    if (o->sign_key && read_key(o->sign_key, sk, sizeof sk, "secret key")) return FY_EXIT_USAGE;

    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    if (ncfg) load_appdefs(&ir, o, true, &d);
    for (int i = 0; i < argc; i++) {
        if (ends_with_ci(argv[i], ".cfg"))
            fy_fe_template(&ir, argv[i], &d);
        else
            fy_fe_appdef(&ir, argv[i], &d);
    }
    int rc = FY_EXIT_OK;
    uint8_t *img = NULL;
    size_t img_size = 0;
    if (!d.errors) fy_check(&ir, &d);
    if (d.errors || (o->werror && d.warnings)) {
        rc = FY_EXIT_PROGRAM;
    } else {
        fy_codegen *cg = fy_codegen_run(&ir, &d);
        if (!cg || fy_program_serialize(fy_codegen_program(cg), o->sign_key ? sk : NULL, &img,
                                        &img_size)) {
            fy_diag_add(&d, FY_DIAG_ERROR, NULL, 0, 0, "internal", "could not build the program");
            rc = FY_EXIT_PROGRAM;
        }
        fy_codegen_free(cg);
    }
    print_diags(&d, FY_REPORT_TEXT, stderr);
    if (rc == FY_EXIT_OK) {
        /* Load what we made before writing it: the compiler never ships a program the
         * agent would refuse. */
        char err[512];
        fy_program *p = NULL;
        if (fy_program_load(img, img_size, NULL, &p, err, sizeof err)) {
            fprintf(stderr, "ferryc: internal error: the compiled program does not verify: %s\n", err);
            rc = FY_EXIT_PROGRAM;
        }
        fy_program_free(p);
    }
    if (rc == FY_EXIT_OK) {
        char *out = o->out ? fy_xstrdup(o->out) : default_output(argv[0]);
        FILE *f = NULL;
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s.tmp-%d", out, (int)getpid());
        f = fopen(tmp, "wb");
        if (!f || fwrite(img, 1, img_size, f) != img_size || fflush(f) || fsync(fileno(f)) ||
            fclose(f) || rename(tmp, out)) {
            fprintf(stderr, "ferryc: %s: cannot write: %s\n", out, strerror(errno));
            unlink(tmp);
            rc = FY_EXIT_PROGRAM;
        } else {
            fprintf(stderr, "ferryc: wrote %s (%zu bytes)\n", out, img_size);
        }
        free(out);
    }
    sodium_memzero(sk, sizeof sk);
    free(img);
    fy_diags_free(&d);
    fy_ir_free(&ir);
    return rc;
}

/* Collects lint inputs: templates and appdefs, from files or (recursively) folders. */
static void collect(const char *path, char ***cfgs, size_t *ncfg, char ***yamls, size_t *nyaml,
                    char ***others, size_t *nother)
{
    if (is_dir(path)) {
        struct dirent **ents;
        int n = scandir(path, &ents, NULL, alphasort);
        for (int i = 0; i < n; i++) {
            if (ents[i]->d_name[0] != '.') {
                char *p = fy_xasprintf("%s/%s", path, ents[i]->d_name);
                if (is_dir(p) || ends_with_ci(p, ".cfg") || ends_with_ci(p, ".yaml") ||
                    ends_with_ci(p, ".yml"))
                    collect(p, cfgs, ncfg, yamls, nyaml, others, nother);
                free(p);
            }
            free(ents[i]);
        }
        free(ents);
        return;
    }
    char ***v = ends_with_ci(path, ".cfg") ? cfgs : (ends_with_ci(path, ".yaml") || ends_with_ci(path, ".yml")) ? yamls : others;
    size_t *c = v == cfgs ? ncfg : v == yamls ? nyaml : nother;
    *v = fy_xrealloc(*v, (*c + 1) * sizeof(char *));
    (*v)[(*c)++] = fy_xstrdup(path);
}

static int cmd_lint(const opts *o, int argc, char **argv)
{
    if (argc < 1) return usage_error("%s", "lint needs a file or a folder");
    char **cfgs = NULL, **yamls = NULL, **others = NULL;
    size_t ncfg = 0, nyaml = 0, nother = 0;
    for (int i = 0; i < argc; i++) {
        if (access(argv[i], F_OK)) return usage_error("%s: no such file or folder", argv[i]);
        collect(argv[i], &cfgs, &ncfg, &yamls, &nyaml, &others, &nother);
    }
    fy_diags d = {0};
    /* The appdefs: those named, plus -A folders (or the project's), checked once. */
    /* Appdefs named on the command line are the ones under review: the project's own are
     * then not loaded beside them (they would clash by id); -A folders still are. */
    fy_ir base;
    fy_ir_init(&base);
    load_appdefs(&base, o, nyaml == 0, &d);
    for (size_t i = 0; i < nyaml; i++)
        if (!in_appdef_dirs(o, yamls[i])) fy_fe_appdef(&base, yamls[i], &d);
    fy_check(&base, &d);
    fy_ir_free(&base);
    /* Each template against those appdefs; appdef diagnostics were reported above. */
    for (size_t t = 0; t < ncfg + nother; t++) {
        const char *path = t < ncfg ? cfgs[t] : others[t - ncfg];
        fy_ir ir;
        fy_ir_init(&ir);
        fy_diags quiet = {0};
        load_appdefs(&ir, o, nyaml == 0, &quiet);
        for (size_t i = 0; i < nyaml; i++)
            if (!in_appdef_dirs(o, yamls[i])) fy_fe_appdef(&ir, yamls[i], &quiet);
        fy_diags_free(&quiet);
        if (ends_with_ci(path, ".cfg")) {
            fy_fe_template(&ir, path, &d);
        } else if (ends_with_ci(path, ".rul")) {
            fy_fe_rul(&ir, path, &d);
        } else if (ends_with_ci(path, ".ptt")) {
            ir.have_template = true;
            fy_fe_ptt(&ir, path, &d);
        } else {
            fy_diag_add(&d, FY_DIAG_ERROR, path, 0, 0, "unreadable",
                        "not a template (.cfg, .rul, .ptt) or an appdef (.yaml)");
        }
        fy_check(&ir, &d);
        fy_ir_free(&ir);
    }
    int rc = (d.errors || (o->werror && d.warnings)) ? FY_EXIT_PROGRAM : FY_EXIT_OK;
    print_diags(&d, o->format, stdout);
    fy_diags_free(&d);
    for (size_t i = 0; i < ncfg; i++) free(cfgs[i]);
    for (size_t i = 0; i < nyaml; i++) free(yamls[i]);
    for (size_t i = 0; i < nother; i++) free(others[i]);
    free(cfgs);
    free(yamls);
    free(others);
    return rc;
}

static int load_program(const opts *o, const char *path, fy_program **p)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    fy_load_opts lo = {0};
    if (o->trusted_key) {
        if (read_key(o->trusted_key, pk, sizeof pk, "public key")) return FY_EXIT_USAGE;
        lo.trusted_key = pk;
    }
    char err[512];
    if (fy_program_load_file(path, &lo, p, err, sizeof err)) {
        fprintf(stderr, "ferryc: %s: %s\n", path, err);
        return FY_EXIT_PROGRAM;
    }
    return FY_EXIT_OK;
}

static int cmd_verify(const opts *o, int argc, char **argv, bool disasm)
{
    if (argc != 1) return usage_error("%s", disasm ? "disasm takes one program" : "verify takes one program");
    fy_program *p = NULL;
    int rc = load_program(o, argv[0], &p);
    if (rc) return rc;
    if (disasm) {
        fy_buf b = {0};
        fy_program_disasm(p, &b);
        fwrite(b.data, 1, b.len, stdout);
        fy_buf_free(&b);
    } else {
        printf("%s: ok (%u instructions, %u rules, %u applications%s)\n", argv[0], p->ncode,
               p->nrules, p->napps, p->signed_ok ? ", signature verified" : "");
    }
    fy_program_free(p);
    return FY_EXIT_OK;
}

static int write_file_mode(const char *path, const void *data, size_t n, mode_t mode)
{
    FILE *f = fopen(path, "wbx");
    if (!f) return -1;
    int rc = fwrite(data, 1, n, f) == n ? 0 : -1;
    if (fclose(f)) rc = -1;
    if (rc == 0) rc = chmod(path, mode);
    return rc;
}

static int cmd_keygen(const opts *o, int argc)
{
    if (argc != 0 || !o->out) return usage_error("%s", "keygen takes -o KEYFILE and nothing else");
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    char *pub = fy_xasprintf("%s.pub", o->out);
    int rc = FY_EXIT_OK;
    if (write_file_mode(o->out, sk, sizeof sk, 0600) || write_file_mode(pub, pk, sizeof pk, 0644)) {
        fprintf(stderr, "ferryc: cannot write %s / %s: %s (existing keys are never overwritten)\n",
                o->out, pub, strerror(errno));
        rc = FY_EXIT_PROGRAM;
    }
    sodium_memzero(sk, sizeof sk);
    free(pub);
    return rc;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "ferryc: libsodium failed to initialise\n");
        return FY_EXIT_PROGRAM;
    }
    if (argc < 2) return usage_error("%s", "a command is needed");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ferryc %s (program format %d.%d)\n", FERRY_VERSION, FY_FORMAT_MAJOR, FY_FORMAT_MINOR);
        return 0;
    }
    const char *cmd = argv[1];
    opts o = {.format = FY_REPORT_TEXT};
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"werror", no_argument, NULL, 'W'},
        {"sign", required_argument, NULL, 's'},   {"trusted-key", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    optind = 2;
    int c;
    int rc = FY_EXIT_OK;
    while ((c = getopt_long(argc, argv, "A:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'A':
            o.appdef_dirs = fy_xrealloc(o.appdef_dirs, (o.nappdef_dirs + 1) * sizeof(char *));
            o.appdef_dirs[o.nappdef_dirs++] = optarg;
            break;
        case 'o': o.out = optarg; break;
        case 's': o.sign_key = optarg; break;
        case 't': o.trusted_key = optarg; break;
        case 'W': o.werror = true; break;
        case 'f':
            if (fy_report_parse_format(optarg, &o.format)) {
                rc = usage_error("--format takes text, json or sarif, not '%s'", optarg);
                goto out;
            }
            break;
        case 'h': fputs(usage_text, stdout); goto out;
        default: rc = usage_error("%s", "unknown option"); goto out;
        }
    }
    for (size_t i = 0; i < o.nappdef_dirs; i++) {
        if (!is_dir(o.appdef_dirs[i])) {
            rc = usage_error("-A %s: not a folder", o.appdef_dirs[i]);
            goto out;
        }
    }
    argc -= optind;
    argv += optind;
    if (!strcmp(cmd, "compile")) rc = cmd_compile(&o, argc, argv);
    else if (!strcmp(cmd, "lint")) rc = cmd_lint(&o, argc, argv);
    else if (!strcmp(cmd, "verify")) rc = cmd_verify(&o, argc, argv, false);
    else if (!strcmp(cmd, "disasm")) rc = cmd_verify(&o, argc, argv, true);
    else if (!strcmp(cmd, "keygen")) rc = cmd_keygen(&o, argc);
    else rc = usage_error("unknown command '%s'", cmd);
out:
    free(o.appdef_dirs);
    return rc;
}
