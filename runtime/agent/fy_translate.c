#include "fy_translate.h"

#include <stdlib.h>
#include <string.h>

static void add(fy_translate_pair **v, size_t *n, const char *from, const char *to)
{
    *v = fy_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n].from = fy_xstrdup(from);
    (*v)[*n].to = fy_xstrdup(to);
    (*n)++;
}

void fy_translate_add_path(fy_translate *t, const char *from, const char *to)
{
    /* Stored without a trailing separator: C:\Users\x, not C:\Users\x\. */
    size_t fl = strlen(from), tl = strlen(to);
    while (fl > 3 && from[fl - 1] == '\\') fl--;
    while (tl > 3 && to[tl - 1] == '\\') tl--;
    char *f = fy_xstrndup(from, fl), *o = fy_xstrndup(to, tl);
    if (fy_strcasecmp_u8(f, fl, o, tl) != 0 || strcmp(f, o) != 0) add(&t->paths, &t->npaths, f, o);
    free(f);
    free(o);
}

void fy_translate_add_domain(fy_translate *t, const char *from, const char *to)
{
    add(&t->domains, &t->ndomains, from, to);
}

void fy_translate_add_user(fy_translate *t, const char *from, const char *to)
{
    add(&t->users, &t->nusers, from, to);
}

static int longest_first(const void *a, const void *b)
{
    size_t x = strlen(((const fy_translate_pair *)a)->from);
    size_t y = strlen(((const fy_translate_pair *)b)->from);
    return x > y ? -1 : x < y;
}

void fy_translate_seal(fy_translate *t)
{
    if (t->npaths) qsort(t->paths, t->npaths, sizeof(*t->paths), longest_first);
    if (t->nusers) qsort(t->users, t->nusers, sizeof(*t->users), longest_first);
    if (t->ndomains) qsort(t->domains, t->ndomains, sizeof(*t->domains), longest_first);
}

static void free_pairs(fy_translate_pair *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].from);
        free(v[i].to);
    }
    free(v);
}

void fy_translate_free(fy_translate *t)
{
    free_pairs(t->paths, t->npaths);
    free_pairs(t->domains, t->ndomains);
    free_pairs(t->users, t->nusers);
    memset(t, 0, sizeof(*t));
}

/* Characters that end a folder name inside a longer string: a separator, quotes, list and
 * command-line punctuation. A letter, digit, space or dot continues it ("C:\Users\x" must
 * not match inside "C:\Users\xavier"). */
static bool path_ends(char c)
{
    return c == 0 || c == '\\' || c == '"' || c == ';' || c == ',' || c == '|' || c == '\'' ||
           c == '\n' || c == '\r' || c == '\t';
}

static bool word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || (unsigned char)c >= 0x80;
}

/* Generic rewriter: at each position, the first pair whose `from` matches (with the
 * boundary test) is replaced; scanning continues after the replacement. */
static bool rewrite(const fy_translate_pair *pairs, size_t n, const char *in, size_t len,
                    fy_buf *out, bool accounts)
{
    bool changed = false;
    out->len = 0;
    size_t i = 0;
    while (i < len) {
        const fy_translate_pair *hit = NULL;
        if (!accounts || i == 0 || !word_char(in[i - 1])) {
            for (size_t k = 0; k < n && !hit; k++) {
                size_t fl = strlen(pairs[k].from);
                if (fl == 0 || fl > len - i) continue;
                if (fy_strcasecmp_u8(in + i, fl, pairs[k].from, fl) != 0) continue;
                char next = i + fl < len ? in[i + fl] : 0;
                if (accounts) {
                    /* a domain ends at '\'; a whole account ends at a non-name character */
                    bool domain_only = !strchr(pairs[k].from, '\\');
                    if (domain_only ? next != '\\' : word_char(next)) continue;
                } else if (!path_ends(next)) {
                    continue;
                }
                hit = &pairs[k];
            }
        }
        if (hit) {
            fy_buf_puts(out, hit->to);
            i += strlen(hit->from);
            changed = true;
        } else {
            fy_buf_putc(out, (uint8_t)in[i++]);
        }
    }
    fy_buf_cstr(out);
    return changed;
}

bool fy_translate_paths_text(const fy_translate *t, const char *in, size_t n, fy_buf *out)
{
    return rewrite(t->paths, t->npaths, in, n, out, false);
}

bool fy_translate_accounts_text(const fy_translate *t, const char *in, size_t n, fy_buf *out)
{
    fy_buf mid = {0};
    bool a = rewrite(t->users, t->nusers, in, n, &mid, true);
    bool b = rewrite(t->domains, t->ndomains, (const char *)mid.data, mid.len, out, true);
    fy_buf_free(&mid);
    return a || b;
}

/* Splits UTF-16LE string data into strings (one for SZ, several for MULTI_SZ), translates
 * each, and re-encodes with the same terminators. */
bool fy_translate_regdata(const fy_translate *t, uint32_t type, fy_buf *data, bool paths,
                          bool accounts)
{
    if (type != 1 && type != 2 && type != 7) return false;
    if (data->len % 2) return false; /* not UTF-16: leave it exactly as it is */
    fy_buf out = {0}, tmp = {0}, tmp2 = {0};
    bool changed = false;
    size_t i = 0, n = data->len;
    const uint8_t *d = data->data;
    while (i < n) {
        size_t j = i;
        while (j + 1 < n && (d[j] | d[j + 1])) j += 2;
        size_t ul;
        char *s = fy_utf16le_to_utf8(d + i, j - i, false, &ul);
        const char *cur = s;
        size_t curl = ul;
        if (paths && fy_translate_paths_text(t, cur, curl, &tmp)) {
            changed = true;
            cur = (const char *)tmp.data, curl = tmp.len;
        }
        if (accounts && fy_translate_accounts_text(t, cur, curl, &tmp2)) {
            changed = true;
            cur = (const char *)tmp2.data, curl = tmp2.len;
        }
        size_t wl;
        uint8_t *w = fy_utf8_to_utf16le(cur, curl, &wl);
        if (w) fy_buf_put(&out, w, wl);
        free(w);
        free(s);
        if (j + 1 < n) fy_buf_put(&out, d + j, 2); /* the terminator as it was */
        else if (j < n) fy_buf_put(&out, d + j, n - j);
        i = j + 2;
    }
    if (changed) {
        fy_buf_free(data);
        *data = out;
    } else {
        fy_buf_free(&out);
    }
    fy_buf_free(&tmp);
    fy_buf_free(&tmp2);
    return changed;
}
