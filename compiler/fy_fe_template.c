/* A Migrate7 template: SE.cfg, then SE.rul and SE.ptt with the same base name in the same
 * folder. The siblings are matched case-insensitively (the files come from Windows, where
 * SE.RUL and se.rul are one file); a missing .rul or .ptt means "none". */
#include "fy_ir.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Finds the file in dir named base + ext, ignoring case. Prefers the spelling whose base
 * is written exactly as the .cfg's, then the smallest name in byte order, so the choice
 * never depends on readdir order; warns when more than one file matches. Returns a
 * malloc'd path or NULL. */
static char *find_sibling(const char *dir, size_t dir_len, const char *base, size_t base_len,
                          const char *ext, const char *cfg_path, fy_diags *diags)
{
    char *dpath = dir_len ? fy_xstrndup(dir, dir_len) : fy_xstrdup(".");
    DIR *d = opendir(dpath);
    free(dpath);
    if (!d) return NULL;
    char *best = NULL, *other = NULL;
    bool best_exact = false;
    size_t ext_len = strlen(ext);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t n = strlen(nm);
        if (n != base_len + ext_len) continue;
        if (fy_strcasecmp_u8(nm, base_len, base, base_len) != 0) continue;
        if (fy_strcasecmp_u8(nm + base_len, ext_len, ext, ext_len) != 0) continue;
        bool exact = memcmp(nm, base, base_len) == 0;
        if (!best || (exact && !best_exact) || (exact == best_exact && strcmp(nm, best) < 0)) {
            if (best) {
                free(other);
                other = best;
            }
            best = fy_xstrdup(nm);
            best_exact = exact;
        } else if (!other || strcmp(nm, other) < 0) {
            free(other);
            other = fy_xstrdup(nm);
        }
    }
    closedir(d);
    char *res = NULL;
    if (best) {
        if (other)
            fy_diag_add(diags, FY_DIAG_WARNING, cfg_path, 0, 0, "ambiguous-file",
                        "both '%s' and '%s' are beside this template; using '%s' (Windows would "
                        "see them as one file: delete or rename one)",
                        best, other, best);
        res = fy_xasprintf("%.*s%s", (int)dir_len, dir, best);
    }
    free(best);
    free(other);
    return res;
}

int fy_fe_template(fy_ir *ir, const char *cfg_path, fy_diags *diags)
{
    int rc = fy_fe_cfg(ir, cfg_path, diags);
    struct stat st;
    /* No template file here at all (missing, or a folder): nothing beside it to read. */
    if (rc != 0 && (stat(cfg_path, &st) != 0 || !S_ISREG(st.st_mode))) return -1;

    const char *slash = strrchr(cfg_path, '/');
    size_t dir_len = slash ? (size_t)(slash - cfg_path) + 1 : 0;
    const char *name = cfg_path + dir_len;
    const char *dot = strrchr(name, '.');
    size_t base_len = dot && dot != name ? (size_t)(dot - name) : strlen(name);

    static const char *const exts[] = {".rul", ".ptt"};
    for (size_t i = 0; i < FY_ARRAY_LEN(exts); i++) {
        char *p = find_sibling(cfg_path, dir_len, name, base_len, exts[i], cfg_path, diags);
        if (!p) continue;
        int r = i == 0 ? fy_fe_rul(ir, p, diags) : fy_fe_ptt(ir, p, diags);
        if (r != 0) rc = -1;
        free(p);
    }
    return rc;
}
