/* Path normalisation and USMT encoded-location patterns, shared by every front end.
 * The normalised forms are described in fy_ir.h. */
#include "fy_ir.h"
#include "fy_tokens.h"

#include <string.h>

static bool is_sep(char c)
{
    return c == '\\' || c == '/';
}

/* Appends the components of in[i..n) to b, '\\'-separated, dropping empty and "."
 * components; ".." is an error. %USERNAME%-style text tokens become <User Name>. */
static int append_components(fy_buf *b, const char *in, size_t i, size_t n, const char **err,
                             size_t *err_off)
{
    while (i < n) {
        while (i < n && is_sep(in[i])) i++;
        if (i >= n) break;
        size_t s = i;
        while (i < n && !is_sep(in[i])) i++;
        size_t len = i - s;
        if (len == 1 && in[s] == '.') continue;
        if (len == 2 && in[s] == '.' && in[s + 1] == '.') {
            *err = "'..' is not allowed in a path";
            *err_off = s;
            return -1;
        }
        fy_buf_putc(b, '\\');
        for (size_t j = s; j < i; j++) {
            char open = in[j];
            if (open == '%' || open == '<') {
                char close = open == '%' ? '%' : '>';
                const char *e = memchr(in + j + 1, close, i - j - 1);
                if (e) {
                    int t = fy_token_lookup(in + j + 1, (size_t)(e - in - j - 1));
                    if (t >= 0 && !fy_tokens[t].is_folder) {
                        fy_buf_printf(b, "<%s>", fy_tokens[t].canonical);
                        j = (size_t)(e - in);
                        continue;
                    }
                    if (t >= 0) {
                        *err = "a known-folder token may only begin a path";
                        *err_off = j;
                        return -1;
                    }
                    if (open == '<') {
                        *err = "unknown token";
                        *err_off = j;
                        return -1;
                    }
                }
            }
            fy_buf_putc(b, (uint8_t)in[j]);
        }
    }
    return 0;
}

char *fy_norm_file_path(fy_arena *a, const char *in, size_t n, const char **err, size_t *err_off)
{
    fy_buf b = {0};
    char *res = NULL;
    size_t i = 0;
    while (i < n && (in[i] == ' ' || in[i] == '\t')) i++;
    while (n > i && (in[n - 1] == ' ' || in[n - 1] == '\t')) n--;
    if (i == n) {
        *err = "empty path";
        *err_off = i;
        goto out;
    }
    if (n - i == 1 && in[i] == '*') {
        res = fy_arena_strdup(a, "*");
        goto out;
    }
    if (n - i >= 2 && is_sep(in[i]) && is_sep(in[i + 1])) {
        *err = "a UNC path (\\\\server\\share) cannot be reached on an offline volume; map "
               "the share to a drive or use a known-folder token";
        *err_off = i;
        goto out;
    }
    if (in[i] == '<' || in[i] == '%') {
        char close = in[i] == '<' ? '>' : '%';
        const char *e = memchr(in + i + 1, close, n - i - 1);
        if (!e) {
            *err = close == '>' ? "unterminated token: '>' missing" : "unterminated %TOKEN%";
            *err_off = i;
            goto out;
        }
        size_t tl = (size_t)(e - in) - i - 1;
        int t = fy_token_lookup(in + i + 1, tl);
        if (t < 0) {
            *err = "unknown token (see docs/templates.md for the known folders)";
            *err_off = i;
            goto out;
        }
        if (!fy_tokens[t].is_folder) {
            *err = "a location must begin with a folder, not with the user's name or domain";
            *err_off = i;
            goto out;
        }
        size_t j = (size_t)(e - in) + 1;
        if (j < n && !is_sep(in[j])) {
            *err = "a token must be followed by '\\'";
            *err_off = j;
            goto out;
        }
        fy_buf_printf(&b, "<%s>", fy_tokens[t].canonical);
        if (append_components(&b, in, j, n, err, err_off)) goto out;
    } else if (n - i >= 2 && in[i + 1] == ':' &&
               (in[i] == '*' || (in[i] | 0x20) >= 'a') && ((in[i] | 0x20) <= 'z' || in[i] == '*')) {
        if (n - i > 2 && !is_sep(in[i + 2])) {
            *err = "a drive must be followed by '\\' (C:\\Folder)";
            *err_off = i + 2;
            goto out;
        }
        fy_buf_putc(&b, (uint8_t)(in[i] == '*' ? '*' : (in[i] & ~0x20)));
        fy_buf_putc(&b, ':');
        if (append_components(&b, in, i + 2, n, err, err_off)) goto out;
    } else {
        *err = "a location must begin with a known-folder token (<My Documents>, %APPDATA%), a "
               "drive (C:\\) or *:\\ for every fixed disk";
        *err_off = i;
        goto out;
    }
    res = fy_arena_strndup(a, (const char *)b.data, b.len);
out:
    fy_buf_free(&b);
    return res;
}

static const struct {
    const char *name;
    const char *norm;
} reg_roots[] = {
    {"HKCU", "HKCU"},
    {"HKEY_CURRENT_USER", "HKCU"},
    {"HKLM", "HKLM"},
    {"HKEY_LOCAL_MACHINE", "HKLM"},
    {"HKCR", "HKCU\\Software\\Classes"},
    {"HKEY_CLASSES_ROOT", "HKCU\\Software\\Classes"},
};

char *fy_norm_reg_key(fy_arena *a, const char *in, size_t n, const char **err, size_t *err_off)
{
    size_t i = 0;
    while (i < n && (in[i] == ' ' || in[i] == '\t')) i++;
    while (n > i && (in[n - 1] == ' ' || in[n - 1] == '\t')) n--;
    size_t e = i;
    while (e < n && !is_sep(in[e])) e++;
    const char *root = NULL;
    for (size_t k = 0; k < FY_ARRAY_LEN(reg_roots); k++) {
        const char *r = reg_roots[k].name;
        if (fy_strcasecmp_u8(r, strlen(r), in + i, e - i) == 0) root = reg_roots[k].norm;
    }
    if (!root) {
        *err = "a registry path must start with HKCU, HKLM or HKCR (HKEY_CURRENT_USER, "
               "HKEY_LOCAL_MACHINE, HKEY_CLASSES_ROOT)";
        *err_off = i;
        return NULL;
    }
    fy_buf b = {0};
    fy_buf_puts(&b, root);
    /* Registry key names may hold '/', so only '\\' separates here. */
    while (e < n) {
        while (e < n && in[e] == '\\') e++;
        if (e >= n) break;
        size_t s = e;
        while (e < n && in[e] != '\\') e++;
        fy_buf_putc(&b, '\\');
        fy_buf_put(&b, in + s, e - s);
    }
    char *res = fy_arena_strndup(a, (const char *)b.data, b.len);
    fy_buf_free(&b);
    return res;
}

/* Finds a trailing "[leaf]" (unescaped brackets); returns the offset of '[' or n. */
static size_t find_leaf(const char *in, size_t n, size_t *close)
{
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t')) n--;
    if (!n || in[n - 1] != ']' || (n >= 2 && in[n - 2] == '^')) return SIZE_MAX;
    for (size_t i = n - 1; i-- > 0;) {
        if (in[i] == '[' && !(i > 0 && in[i - 1] == '^')) {
            *close = n - 1;
            return i;
        }
    }
    return SIZE_MAX;
}

int fy_parse_pattern(fy_arena *a, fy_objkind kind, const char *in, size_t n, fy_ir_pattern *out,
                     const char **err, size_t *err_off)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    size_t close = 0, open = find_leaf(in, n, &close);
    size_t node_end = open == SIZE_MAX ? n : open;
    while (node_end && (in[node_end - 1] == ' ' || in[node_end - 1] == '\t')) node_end--;
    bool had_leaf = open != SIZE_MAX;
    const char *leaf = NULL;
    size_t leaf_len = 0;
    if (had_leaf) {
        leaf = in + open + 1;
        leaf_len = close - open - 1;
    } else if (kind == FY_OBJ_FILE) {
        /* A plain path: the last component is the file-name pattern. */
        size_t s = node_end;
        while (s && !is_sep(in[s - 1])) s--;
        if (s == 0) {
            *err = "a file pattern needs a folder and a name (<My Documents>\\*.doc)";
            *err_off = 0;
            return -1;
        }
        leaf = in + s;
        leaf_len = node_end - s;
        node_end = s;
    } else {
        leaf = "*";
        leaf_len = 1;
    }
    /* A node ending in "\*" means: this node and everything below it. A trailing
     * separator alone ("%APPDATA%\WinSCP\ [*.ini]") means that folder only; normalisation
     * drops it. */
    size_t ne = node_end;
    if (ne >= 2 && in[ne - 1] == '*' && is_sep(in[ne - 2])) {
        out->recurse = true;
        ne -= 2;
    }
    char *node = kind == FY_OBJ_FILE ? fy_norm_file_path(a, in, ne, err, err_off)
                                     : fy_norm_reg_key(a, in, ne, err, err_off);
    if (!node) return -1;
    out->node = node;
    out->leaf = fy_arena_strndup(a, leaf, leaf_len);
    if (kind == FY_OBJ_FILE && leaf_len == 0) {
        *err = "an empty file-name pattern [] selects nothing; write [*] for every file";
        *err_off = had_leaf ? open : node_end;
        return -1;
    }
    out->keys = kind == FY_OBJ_REG && (out->recurse || (leaf_len == 1 && leaf[0] == '*'));
    return 0;
}
