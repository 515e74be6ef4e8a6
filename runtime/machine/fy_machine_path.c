/* Paths on the machine model: canonical Windows paths, case-insensitive resolution onto
 * the host, known-folder tokens (normalise / denormalise) and %VARIABLE% expansion. */
#include "fy_machine_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static bool is_sep(char c)
{
    return c == '\\' || c == '/';
}

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Appends the components of s to b as "\\comp", dropping empty and "." components and
 * letting ".." remove the last one, never below `floor` bytes of b. */
static void put_components(fy_buf *b, const char *s, size_t floor)
{
    size_t i = 0, n = strlen(s);
    while (i < n) {
        while (i < n && is_sep(s[i]))
            i++;
        size_t st = i;
        while (i < n && !is_sep(s[i]))
            i++;
        size_t len = i - st;
        if (len == 0 || (len == 1 && s[st] == '.')) continue;
        if (len == 2 && s[st] == '.' && s[st + 1] == '.') {
            while (b->len > floor && b->data[b->len - 1] != '\\')
                b->len--;
            if (b->len > floor) b->len--; /* the '\\' itself */
            continue;
        }
        fy_buf_putc(b, '\\');
        fy_buf_put(b, s + st, len);
    }
}

/* "\\server\share\rest" from s (just after the leading separators): server and share are
 * kept as written, ".." in the rest never climbs above the share (as Windows does). */
static char *canon_unc(const char *s)
{
    fy_buf b = {0};
    size_t i = 0;
    fy_buf_putc(&b, '\\');
    for (int part = 0; part < 2; part++) {
        while (is_sep(s[i]))
            i++;
        size_t st = i;
        while (s[i] && !is_sep(s[i]))
            i++;
        if (i == st) break;
        if ((i - st == 1 && s[st] == '.') || (i - st == 2 && s[st] == '.' && s[st + 1] == '.')) {
            fy_buf_free(&b);
            return NULL;
        }
        fy_buf_putc(&b, '\\');
        fy_buf_put(&b, s + st, i - st);
    }
    if (b.len < 2) {
        fy_buf_free(&b);
        return NULL;
    }
    put_components(&b, s + i, b.len);
    return fy_buf_cstr(&b);
}

char *fy_machine_canon_path(const char *winpath)
{
    if (!winpath) return NULL;
    const char *s = winpath;
    /* Win32 long-path prefixes: \\?\C:\x and \\?\UNC\server\share */
    if (is_sep(s[0]) && is_sep(s[1]) && (s[2] == '?' || s[2] == '.') && is_sep(s[3])) {
        s += 4;
        if (strncasecmp(s, "UNC", 3) == 0 && is_sep(s[3])) return canon_unc(s + 4);
    }
    if (is_sep(s[0]) && is_sep(s[1])) return canon_unc(s + 2);
    if (!is_letter(s[0]) || s[1] != ':' || (s[2] && !is_sep(s[2]))) return NULL;
    fy_buf b = {0};
    fy_buf_putc(&b, (uint8_t)(s[0] & ~0x20));
    fy_buf_putc(&b, ':');
    put_components(&b, s + 2, 2);
    return fy_buf_cstr(&b);
}

/* ---- resolution onto the host ---- */

/* The entry of folder `dir` named like comp (len bytes) case-insensitively: an exact
 * match first, else the first in byte order. malloc'd, or NULL. */
static char *find_ci(const char *dir, const char *comp, size_t len)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *best = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        size_t el = strlen(e->d_name);
        if (fy_strcasecmp_u8(e->d_name, el, comp, len) != 0) continue;
        if (el == len && memcmp(e->d_name, comp, len) == 0) {
            free(best);
            best = fy_xstrdup(e->d_name);
            break;
        }
        if (!best || strcmp(e->d_name, best) < 0) {
            free(best);
            best = fy_xstrdup(e->d_name);
        }
    }
    closedir(d);
    return best;
}

int fy_mach_resolve_under(const char *root, const char *winrel, char **out, size_t *missing_at)
{
    fy_buf b = {0};
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    fy_buf_put(&b, root, rl);
    bool exists = true;
    size_t i = 0, n = strlen(winrel), miss = n;
    while (i < n) {
        while (i < n && is_sep(winrel[i]))
            i++;
        if (i >= n) break;
        size_t st = i;
        while (i < n && !is_sep(winrel[i]))
            i++;
        const char *comp = winrel + st;
        size_t len = i - st;
        if (b.len == 0 || b.data[b.len - 1] != '/') fy_buf_putc(&b, '/');
        size_t at = b.len;
        if (!exists) {
            fy_buf_put(&b, comp, len);
            continue;
        }
        fy_buf_put(&b, comp, len);
        struct stat st_;
        if (lstat(fy_buf_cstr(&b), &st_) != 0) {
            b.len = at;
            char *dir = fy_xstrndup((const char *)b.data, at > 1 ? at - 1 : at);
            char *name = find_ci(dir, comp, len);
            free(dir);
            if (name) {
                fy_buf_puts(&b, name);
                free(name);
                if (lstat(fy_buf_cstr(&b), &st_) != 0) {
                    exists = false;
                    miss = st;
                    continue;
                }
            } else {
                fy_buf_put(&b, comp, len);
                exists = false;
                miss = st;
                continue;
            }
        }
        /* A link is not looked into: what lies "below" it is not on this volume. */
        if (S_ISLNK(st_.st_mode) || (!S_ISDIR(st_.st_mode) && i < n)) {
            exists = false;
            /* the next component is the first one missing */
            size_t j = i;
            while (j < n && is_sep(winrel[j]))
                j++;
            miss = j < n ? j : n;
            if (j >= n) exists = true; /* the link (or file) itself is the last component */
        }
    }
    if (missing_at) *missing_at = miss;
    *out = fy_buf_cstr(&b);
    return exists ? 1 : 0;
}

static const fy_machine_drive *drive_of(const fy_machine *m, char letter)
{
    for (size_t i = 0; i < m->ndrives; i++)
        if (m->drives[i].letter == letter) return &m->drives[i];
    return NULL;
}

int fy_machine_host_path(const fy_machine *m, const char *winpath, char **hostpath)
{
    *hostpath = NULL;
    char *c = fy_machine_canon_path(winpath);
    if (!c || c[0] == '\\') {
        free(c);
        return -1;
    }
    const fy_machine_drive *d = drive_of(m, c[0]);
    if (!d) {
        free(c);
        return -1;
    }
    int rc = fy_mach_resolve_under(d->root, c + 2, hostpath, NULL);
    free(c);
    return rc;
}

char *fy_machine_win_path(const fy_machine *m, const char *hostpath)
{
    const fy_machine_drive *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < m->ndrives; i++) {
        const char *r = m->drives[i].root;
        size_t rl = strcmp(r, "/") == 0 ? 0 : strlen(r);
        if (strncmp(hostpath, r, rl) != 0 || (hostpath[rl] && hostpath[rl] != '/')) continue;
        if (!best || rl > best_len) {
            best = &m->drives[i];
            best_len = rl;
        }
    }
    if (!best) return NULL;
    fy_buf b = {0};
    fy_buf_putc(&b, (uint8_t)best->letter);
    fy_buf_putc(&b, ':');
    put_components(&b, hostpath + best_len, 2);
    return fy_buf_cstr(&b);
}

/* ---- tokens ---- */

size_t fy_mach_prefix(const char *folder, const char *path, size_t *rest)
{
    size_t i = 0, j = 0, fn = strlen(folder), pn = strlen(path), count = 0;
    for (;;) {
        while (i < fn && folder[i] == '\\')
            i++;
        if (i >= fn) break;
        size_t fs = i;
        while (i < fn && folder[i] != '\\')
            i++;
        while (j < pn && path[j] == '\\')
            j++;
        size_t ps = j;
        while (j < pn && path[j] != '\\')
            j++;
        if (ps == j || fy_strcasecmp_u8(folder + fs, i - fs, path + ps, j - ps) != 0) return 0;
        count++;
    }
    if (rest) *rest = j;
    return count;
}

const fy_machine_folder *fy_machine_folder_of(const fy_machine *m, const fy_machine_user *u,
                                              fy_token_id id)
{
    const fy_token_info *t = fy_token_info_of(id);
    if (!t || !t->is_folder) return NULL;
    if (t->per_user) return u ? &u->folders[id] : NULL;
    return &m->folders[id];
}

const char *fy_machine_token_path(const fy_machine *m, const fy_machine_user *u, fy_token_id id)
{
    const fy_machine_folder *f = fy_machine_folder_of(m, u, id);
    return f && f->state != FY_FOLDER_NONE ? f->path : NULL;
}

char *fy_machine_normalise(const fy_machine *m, const fy_machine_user *u, const char *winpath)
{
    char *c = fy_machine_canon_path(winpath);
    if (!c || c[0] == '\\') {
        free(c);
        return NULL;
    }
    int best = -1;
    size_t best_count = 0, best_rest = 0;
    for (int id = 0; id < FY_TOK_COUNT; id++) {
        if (id == FY_TOK_SYSTEM_DRIVE) continue;
        const fy_machine_folder *f = fy_machine_folder_of(m, u, (fy_token_id)id);
        if (!f || (f->state != FY_FOLDER_DEFAULT && f->state != FY_FOLDER_REDIRECTED)) continue;
        size_t rest;
        size_t cnt = fy_mach_prefix(f->path, c, &rest);
        if (cnt > best_count) {
            best = id;
            best_count = cnt;
            best_rest = rest;
        }
    }
    if (best < 0) return c;
    char *r = fy_xasprintf("<%s>%s", fy_tokens[best].canonical, c + best_rest);
    free(c);
    return r;
}

/* Replaces <User Name> / <User Domain> (any alias spelling between < >) in s. */
static void put_text_tokens(fy_buf *b, const char *s, const fy_machine_user *u)
{
    while (*s) {
        if (*s == '<' && u) {
            const char *e = strchr(s + 1, '>');
            if (e) {
                int t = fy_token_lookup(s + 1, (size_t)(e - s - 1));
                if (t == FY_TOK_USER_NAME || t == FY_TOK_USER_DOMAIN) {
                    fy_buf_puts(b, t == FY_TOK_USER_NAME ? u->name : u->domain);
                    s = e + 1;
                    continue;
                }
            }
        }
        fy_buf_putc(b, (uint8_t)*s++);
    }
}

char *fy_machine_denormalise(const fy_machine *m, const fy_machine_user *u, const char *norm)
{
    if (!norm) return NULL;
    fy_buf b = {0};
    char *res = NULL;
    if (norm[0] == '<') {
        const char *e = strchr(norm + 1, '>');
        if (!e || (e[1] && !is_sep(e[1]))) goto out;
        int t = fy_token_lookup(norm + 1, (size_t)(e - norm - 1));
        if (t < 0) goto out;
        const fy_machine_folder *f = fy_machine_folder_of(m, u, (fy_token_id)t);
        if (!f) goto out;
        const char *base = NULL;
        if (f->state == FY_FOLDER_DEFAULT || f->state == FY_FOLDER_REDIRECTED)
            base = f->path;
        else if (f->state == FY_FOLDER_UNREACHABLE)
            base = f->default_path; /* injection uses the OS default (templates.md) */
        if (!base) goto out;
        fy_buf_puts(&b, base);
        put_text_tokens(&b, e + 1, u);
    } else {
        put_text_tokens(&b, norm, u);
    }
    res = fy_machine_canon_path(fy_buf_cstr(&b));
    if (res && res[0] == '\\' && norm[0] != '<') {
        free(res);
        res = NULL;
    }
out:
    fy_buf_free(&b);
    return res;
}

/* ---- %VARIABLE% expansion ---- */

static const char *var_value(const fy_machine *m, const fy_machine_user *u, const char *name,
                             size_t n, char *tmp, size_t tmp_size)
{
#define IS(lit) (fy_strcasecmp_u8(name, n, lit, strlen(lit)) == 0)
    if (IS("SystemDrive")) {
        snprintf(tmp, tmp_size, "%c:", m->system_drive ? m->system_drive : 'C');
        return tmp;
    }
    if (IS("SystemRoot") || IS("windir")) return m->system_root;
    if (IS("ProgramFiles") || IS("ProgramW6432"))
        return fy_machine_token_path(m, NULL, FY_TOK_PROGRAM_FILES);
    if (IS("ProgramFiles(x86)")) return fy_machine_token_path(m, NULL, FY_TOK_PROGRAM_FILES_X86);
    if (IS("ProgramData")) return fy_machine_token_path(m, NULL, FY_TOK_PROGRAM_DATA);
    if (IS("ALLUSERSPROFILE")) return fy_machine_token_path(m, NULL, FY_TOK_ALL_USERS);
    if (IS("PUBLIC")) return m->public_profile;
    if (IS("COMPUTERNAME")) return m->computer_name && *m->computer_name ? m->computer_name : NULL;
    if (!u) return NULL;
    if (IS("USERPROFILE")) return u->profile;
    if (IS("USERNAME")) return u->name;
    if (IS("USERDOMAIN")) return u->domain;
    if (IS("APPDATA")) return fy_machine_token_path(m, u, FY_TOK_APPDATA);
    if (IS("LOCALAPPDATA")) return fy_machine_token_path(m, u, FY_TOK_LOCAL_APPDATA);
    if (IS("HOMEDRIVE") || IS("HOMEPATH")) {
        /* Without a recorded home folder, Windows sets them from the profile. */
        const char *p = u->profile;
        if (!p || !p[0] || p[1] != ':') return NULL;
        if (IS("HOMEDRIVE")) {
            snprintf(tmp, tmp_size, "%c:", p[0]);
            return tmp;
        }
        return p[2] ? p + 2 : "\\";
    }
    return NULL;
#undef IS
}

char *fy_mach_expand(const fy_machine *m, const fy_machine_user *u, const char *text, bool *unknown)
{
    fy_buf b = {0};
    char tmp[16];
    if (unknown) *unknown = false;
    const char *s = text;
    while (*s) {
        if (*s == '%') {
            const char *e = strchr(s + 1, '%');
            if (e && e > s + 1) {
                const char *v = var_value(m, u, s + 1, (size_t)(e - s - 1), tmp, sizeof tmp);
                if (v) {
                    fy_buf_puts(&b, v);
                } else {
                    fy_buf_put(&b, s, (size_t)(e - s + 1));
                    if (unknown) *unknown = true;
                }
                s = e + 1;
                continue;
            }
        }
        fy_buf_putc(&b, (uint8_t)*s++);
    }
    return fy_buf_cstr(&b);
}

char *fy_machine_expand(const fy_machine *m, const fy_machine_user *u, const char *text)
{
    return fy_mach_expand(m, u, text, NULL);
}
