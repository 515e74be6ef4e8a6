/* `ferry reg export|import`: a hive file to and from .reg text. */
#include "fy_cli.h"

#include "fy_common.h"
#include "registry/fy_reg.h"
#include "registry/fy_regfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char USAGE[] =
    "Usage: ferry reg export HIVEFILE [KEY] [-o FILE.reg] [--prefix PREFIX]\n"
    "       ferry reg import HIVEFILE FILE.reg [--create] [--prefix PREFIX]\n"
    "\n"
    "export  writes KEY (relative to the hive's root, any case; default: the whole hive)\n"
    "        and everything below it as a regedit v5 .reg file (UTF-16LE), to FILE.reg or\n"
    "        to standard output.\n"
    "import  applies FILE.reg (regedit v5 or REGEDIT4) to the hive and writes the hive back.\n"
    "\n"
    "  -o, --output FILE   write the .reg file here (atomically) instead of standard output\n"
    "  --prefix PREFIX     the .reg key that stands for the hive's root, e.g.\n"
    "                      HKEY_CURRENT_USER; default: from the hive's kind (NTUSER.DAT ->\n"
    "                      HKEY_CURRENT_USER, SOFTWARE -> HKEY_LOCAL_MACHINE\\SOFTWARE, ...)\n"
    "  --create            import: make a new, empty hive when HIVEFILE does not exist\n"
    "\n"
    "Exit codes: 0 done; 1 done, but damaged keys or values were skipped; 2 wrong command\n"
    "line; 3 errors in FILE.reg; 6 the hive is unreadable or damaged, or KEY is not in it;\n"
    "7 the output could not be written (nothing is left half-written).\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("ferry reg: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    fputs(USAGE, stderr);
    return FY_EXIT_USAGE;
}

static void print_diags(const fy_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const fy_diag *g = &d->v[i];
        if (g->file && g->line)
            fprintf(stderr, "%s:%u:%u: %s: %s [%s]\n", g->file, g->line, g->col,
                    fy_diag_level_name(g->level), g->message, g->check);
        else
            fprintf(stderr, "%s: %s: %s [%s]\n", g->file ? g->file : "ferry",
                    fy_diag_level_name(g->level), g->message, g->check);
    }
}

static size_t count_check(const fy_diags *d, const char *check)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += strcmp(d->v[i].check, check) == 0;
    return n;
}

typedef struct args {
    const char *pos[3];
    size_t npos;
    const char *output, *prefix;
    bool create, help;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    bool opts = true;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (opts && strcmp(s, "--") == 0) {
            opts = false;
        } else if (opts && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)) {
            a->help = true;
        } else if (opts && (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0)) {
            if (++i >= argc) return usage_error("%s needs a file name", s);
            a->output = argv[i];
        } else if (opts && strncmp(s, "--output=", 9) == 0) {
            a->output = s + 9;
        } else if (opts && strcmp(s, "--prefix") == 0) {
            if (++i >= argc) return usage_error("%s needs a key path", s);
            a->prefix = argv[i];
        } else if (opts && strncmp(s, "--prefix=", 9) == 0) {
            a->prefix = s + 9;
        } else if (opts && strcmp(s, "--create") == 0) {
            a->create = true;
        } else if (opts && s[0] == '-' && s[1]) {
            return usage_error("unknown option %s", s);
        } else {
            if (a->npos == FY_ARRAY_LEN(a->pos)) return usage_error("unexpected argument %s", s);
            a->pos[a->npos++] = s;
        }
    }
    return 0;
}

static const char *strip_prefix(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    while (n && prefix[n - 1] == '\\')
        n--;
    if (!n || strlen(key) < n || fy_strcasecmp_u8(key, n, prefix, n) != 0) return NULL;
    if (key[n] == 0) return key + n;
    return key[n] == '\\' ? key + n + 1 : NULL;
}

/* KEY of the command line -> a key of the hive: relative to the root, or spelt with the
 * prefix the export writes or any prefix the hive's kind maps ("HKEY_CURRENT_USER\x",
 * "HKCU\x"). */
static fy_reg_key *find_key(fy_reg *r, const char *key, const char *prefix)
{
    while (*key == '\\')
        key++;
    fy_reg_key *k = fy_reg_key_open(r, NULL, key);
    if (k) return k;
    const char *e = strchr(key, '\\');
    const char *root = fy_reg_root_key_name(key, e ? (size_t)(e - key) : strlen(key));
    char *full = root ? fy_xasprintf("%s%s", root, e ? e : "") : fy_xstrdup(key);
    const fy_reg_map *maps;
    size_t n = fy_reg_maps(r, &maps);
    const char *rest;
    if ((rest = strip_prefix(full, prefix)) || (rest = strip_prefix(key, prefix))) {
        k = fy_reg_key_open(r, NULL, rest);
    } else if ((rest = strip_prefix(full, fy_reg_default_prefix(r)))) {
        k = fy_reg_key_open(r, NULL, rest);
    } else {
        for (size_t i = 0; i < n && !k; i++) {
            if (!(rest = strip_prefix(full, maps[i].prefix))) continue;
            char *p =
                *maps[i].subpath ? fy_xasprintf("%s\\%s", maps[i].subpath, rest) : fy_xstrdup(rest);
            k = fy_reg_key_open(r, NULL, p);
            free(p);
        }
    }
    free(full);
    return k;
}

static int cmd_export(const args *a)
{
    if (a->create) return usage_error("%s is for import only", "--create");
    if (a->npos < 2) return usage_error("%s: which hive file?", "export");
    if (a->npos > 3) return usage_error("%s: too many arguments", "export");
    const char *hive = a->pos[1], *key = a->npos > 2 ? a->pos[2] : "";
    int rc = FY_EXIT_OK;
    char err[1024];
    fy_diags d = {0};
    fy_reg *r = NULL;
    fy_regfile_writer *w = NULL;
    char *kpath = NULL, *path = NULL;

    if (fy_reg_open_hive(hive, 0, &d, &r, err, sizeof err) != 0) {
        print_diags(&d);
        fprintf(stderr, "ferry reg: %s\n", err);
        rc = FY_EXIT_MACHINE;
        goto done;
    }
    const fy_regtree *t = fy_reg_tree(r);
    const char *prefix = a->prefix ? a->prefix : fy_reg_default_prefix(r);
    fy_reg_key *k = find_key(r, key, prefix);
    if (!k || !t) {
        print_diags(&d);
        fprintf(stderr,
                "ferry reg: %s: no key \"%s\" in this hive (KEY is relative to the "
                "hive's root, e.g. Software\\Microsoft)\n",
                hive, key);
        rc = FY_EXIT_MACHINE;
        goto done;
    }
    /* The stored spelling of the key's path, as regedit shows it. */
    kpath = fy_regkey_path((const fy_regkey *)k);
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '\\')
        pl--;
    if (pl == 0)
        path = fy_xasprintf("\\%s", kpath); /* relative, as hivexregedit writes */
    else if (*kpath)
        path = fy_xasprintf("%.*s\\%s", (int)pl, prefix, kpath);
    else
        path = fy_xasprintf("%.*s", (int)pl, prefix);

    if (a->output) {
        w = fy_regfile_writer_file(a->output, FY_REGFILE_V5, err, sizeof err);
        if (!w) {
            print_diags(&d);
            fprintf(stderr, "ferry reg: %s\n", err);
            rc = FY_EXIT_IO;
            goto done;
        }
    } else {
        w = fy_regfile_writer_fd(STDOUT_FILENO, FY_REGFILE_V5);
    }
    fy_regfile_write_header(w);
    size_t skipped = fy_regfile_write_tree(w, (const fy_regkey *)k, path, &d);
    int wrc = fy_regfile_writer_close(w, err, sizeof err);
    w = NULL;
    print_diags(&d);
    if (wrc != 0) {
        fprintf(stderr, "ferry reg: %s\n", err);
        rc = FY_EXIT_IO;
    } else if (skipped || count_check(&d, "hive-damaged")) {
        rc = FY_EXIT_PARTIAL;
    }
done:
    fy_regfile_writer_abort(w);
    free(kpath);
    free(path);
    fy_reg_close(r);
    fy_diags_free(&d);
    return rc;
}

static int cmd_import(const args *a)
{
    if (a->output) return usage_error("%s is for export only", "-o");
    if (a->npos != 3) return usage_error("%s needs HIVEFILE and FILE.reg", "import");
    const char *hive = a->pos[1], *regpath = a->pos[2];
    int rc = FY_EXIT_OK;
    char err[1024];
    fy_diags d = {0};
    fy_regfile *f = NULL;
    fy_reg *r = NULL;
    char *prefix = NULL;

    /* The .reg file first: a bad one must leave the hive untouched. */
    if (fy_regfile_load(regpath, &f, &d) != 0) {
        print_diags(&d);
        fprintf(stderr, "ferry reg: %s: nothing imported; fix the errors above\n", regpath);
        rc = FY_EXIT_PROGRAM;
        goto done;
    }
    struct stat st;
    if (!a->create && stat(hive, &st) != 0 && errno == ENOENT) {
        print_diags(&d);
        fprintf(stderr, "ferry reg: %s: no such hive file (give --create to make a new one)\n",
                hive);
        rc = FY_EXIT_MACHINE;
        goto done;
    }
    if (fy_reg_open_hive(hive, a->create ? FY_REG_OPEN_CREATE : 0, &d, &r, err, sizeof err) != 0) {
        print_diags(&d);
        fprintf(stderr, "ferry reg: %s\n", err);
        rc = FY_EXIT_MACHINE;
        goto done;
    }
    prefix = a->prefix ? fy_xstrdup(a->prefix) : fy_regfile_choose_prefix(f, r, regpath, &d);
    if (!prefix || fy_regfile_apply(f, r, a->prefix, regpath, &d) != 0) {
        print_diags(&d);
        fprintf(stderr, "ferry reg: %s: nothing imported into %s; fix the errors above\n", regpath,
                hive);
        rc = FY_EXIT_PROGRAM;
        goto done;
    }
    print_diags(&d);
    if (fy_reg_commit(r, err, sizeof err) != 0) {
        fprintf(stderr, "ferry reg: %s: %s\n", hive, err);
        rc = FY_EXIT_IO;
        goto done;
    }
    size_t keys = 0, values = 0;
    for (size_t i = 0; i < f->nops; i++) {
        keys += f->ops[i].kind == FY_REGOP_KEY || f->ops[i].kind == FY_REGOP_DELETE_KEY;
        values += f->ops[i].kind == FY_REGOP_VALUE || f->ops[i].kind == FY_REGOP_DELETE_VALUE;
    }
    fprintf(stderr,
            "ferry reg: imported %s into %s (%s = the hive's root): %zu keys, %zu "
            "values\n",
            regpath, hive, *prefix ? prefix : "relative keys", keys, values);
done:
    free(prefix);
    fy_regfile_free(f);
    fy_reg_close(r);
    fy_diags_free(&d);
    return rc;
}

int fy_cmd_reg(int argc, char **argv)
{
    args a = {0};
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc) return rc;
    if (a.help) {
        fputs(USAGE, stdout);
        return FY_EXIT_OK;
    }
    if (a.npos == 0) return usage_error("%s", "export or import?");
    if (strcmp(a.pos[0], "export") == 0) return cmd_export(&a);
    if (strcmp(a.pos[0], "import") == 0) return cmd_import(&a);
    return usage_error("unknown action \"%s\" (export or import)", a.pos[0]);
}
