/* Zip-slip defence for catalogue paths, and time conversions. The placement layer checks
 * again against the real target; this check keeps a doctored catalogue from ever handing
 * it a path that climbs out (.., absolute, another drive syntax, a stream or device name). */
#include "fy_store_int.h"
#include "fy_tokens.h"

#include <string.h>

#define PATH_MAX_BYTES 65536

/* The token whose canonical name is exactly s[0..n), or -1. Catalogues store only canonical
 * spellings, so an exact compare (no alias table, no case folding) is enough and cheap. */
static int canonical_token(const char *s, size_t n)
{
    for (int t = 0; t < FY_TOK_COUNT; t++) {
        const char *c = fy_tokens[t].canonical;
        if (strlen(c) == n && memcmp(c, s, n) == 0) return t;
    }
    return -1;
}

/* One component between separators: non-empty; not made only of dots and spaces (Windows
 * strips trailing dots and spaces, so ". ." would become ".."); no control characters and
 * none of / : * ? " | < > except the text tokens <User Name> and <User Domain>. */
static bool component_ok(const char *s, size_t n)
{
    if (n == 0 || n > 1024) return false;
    bool all_dots = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '.' && c != ' ') all_dots = false;
        if (c < 0x20 || c == 0x7f || c == '/' || c == ':' || c == '*' || c == '?' || c == '"' ||
            c == '|' || c == '>')
            return false;
        if (c == '<') {
            const char *e = memchr(s + i + 1, '>', n - i - 1);
            if (!e) return false;
            int t = canonical_token(s + i + 1, (size_t)(e - s - i - 1));
            if (t < 0 || fy_tokens[t].is_folder) return false;
            i = (size_t)(e - s);
            all_dots = false;
        }
    }
    return !all_dots;
}

bool fy_store_path_safe(const char *p)
{
    if (!p) return false;
    size_t n = strlen(p);
    if (n == 0 || n > PATH_MAX_BYTES || !fy_utf8_valid(p, n)) return false;
    size_t i;
    if (p[0] == '<') {
        const char *e = memchr(p + 1, '>', n - 1);
        if (!e) return false;
        size_t tl = (size_t)(e - p - 1);
        int t = canonical_token(p + 1, tl);
        if (t < 0 || !fy_tokens[t].is_folder) return false;
        i = tl + 2;
    } else if (n >= 2 && p[0] >= 'A' && p[0] <= 'Z' && p[1] == ':') {
        i = 2;
    } else {
        return false; /* absolute (/etc, \x), UNC, relative, lower-case or wildcard drive */
    }
    if (i == n) return true; /* the folder itself */
    if (p[i] != '\\') return false;
    i++;
    while (true) {
        size_t s = i;
        while (i < n && p[i] != '\\')
            i++;
        if (!component_ok(p + s, i - s)) return false;
        if (i == n) return true;
        i++; /* a trailing '\\' leaves an empty last component: refused above */
    }
}

bool fy_store_regkey_safe(const char *key)
{
    if (!key) return false;
    size_t n = strlen(key);
    if (n < 4 || n > PATH_MAX_BYTES || !fy_utf8_valid(key, n)) return false;
    if (memcmp(key, "HKCU", 4) != 0 && memcmp(key, "HKLM", 4) != 0) return false;
    if (n == 4) return true;
    if (key[4] != '\\') return false;
    size_t i = 5;
    while (true) {
        size_t s = i;
        while (i < n && key[i] != '\\')
            i++;
        if (i == s || i - s > 512) return false;
        if (i == n) return true;
        i++;
    }
}

/* 1601-01-01 to 1970-01-01: 11644473600 seconds. */
#define FT_EPOCH_DIFF 116444736000000000LL

uint64_t fy_store_filetime_from_unix_ns(int64_t ns)
{
    int64_t t = ns / 100 + FT_EPOCH_DIFF;
    if (ns < 0 && ns % 100) t--; /* floor */
    return t < 0 ? 0 : (uint64_t)t;
}

int64_t fy_store_filetime_to_unix_ns(uint64_t ft)
{
    if (ft > (uint64_t)INT64_MAX) ft = (uint64_t)INT64_MAX;
    int64_t t = (int64_t)ft - FT_EPOCH_DIFF;
    if (t > INT64_MAX / 100) return INT64_MAX;
    if (t < INT64_MIN / 100) return INT64_MIN;
    return t * 100;
}
