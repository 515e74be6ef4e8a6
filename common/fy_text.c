/* Text decoding (UTF-8 / UTF-16), case folding and wildcard matching. */
#include "fy_common.h"

#include <stdlib.h>
#include <string.h>

size_t fy_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const uint8_t *u = (const uint8_t *)s;
    if (n == 0) {
        *cp = 0;
        return 0;
    }
    uint8_t c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = c;
        return 1;
    }
    if (len > n) {
        *cp = c;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = (v << 6) | (u[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = c;
        return 1;
    }
    *cp = v;
    return len;
}

bool fy_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = fy_utf8_next(s + i, n - i, &cp);
        if (l == 1 && (uint8_t)s[i] >= 0x80) return false;
        i += l;
    }
    return true;
}

size_t fy_utf8_count(const char *s, size_t n)
{
    size_t i = 0, c = 0;
    while (i < n) {
        uint32_t cp;
        i += fy_utf8_next(s + i, n - i, &cp);
        c++;
    }
    return c;
}

static void put_utf8(fy_buf *b, uint32_t cp)
{
    uint8_t t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (uint8_t)cp, n = 1;
    } else if (cp < 0x800) {
        t[0] = (uint8_t)(0xC0 | (cp >> 6)), t[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        t[0] = (uint8_t)(0xE0 | (cp >> 12)), t[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        t[0] = (uint8_t)(0xF0 | (cp >> 18)), t[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), t[3] = (uint8_t)(0x80 | (cp & 0x3F)), n = 4;
    }
    fy_buf_put(b, t, n);
}

static char *utf16_to_utf8(const uint8_t *in, size_t n, bool be, bool stop_at_nul, size_t *out_len,
                           bool *bad)
{
    fy_buf b = {0};
    size_t units = n / 2;
    for (size_t i = 0; i < units; i++) {
        uint32_t u = be ? (uint32_t)((in[2 * i] << 8) | in[2 * i + 1]) : fy_le16(in + 2 * i);
        if (u == 0 && stop_at_nul) break;
        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units) {
            uint32_t l = be ? (uint32_t)((in[2 * i + 2] << 8) | in[2 * i + 3]) : fy_le16(in + 2 * i + 2);
            if (l >= 0xDC00 && l <= 0xDFFF) {
                put_utf8(&b, 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00));
                i++;
                continue;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF) {
            if (bad) *bad = true;
            u = 0xFFFD;
        }
        put_utf8(&b, u);
    }
    if (out_len) *out_len = b.len;
    fy_buf_cstr(&b);
    return (char *)b.data;
}

char *fy_utf16le_to_utf8(const uint8_t *in, size_t n, bool stop_at_nul, size_t *out_len)
{
    return utf16_to_utf8(in, n, false, stop_at_nul, out_len, NULL);
}

uint8_t *fy_utf8_to_utf16le(const char *in, size_t n, size_t *out_len)
{
    if (!fy_utf8_valid(in, n)) return NULL;
    fy_buf b = {0};
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        i += fy_utf8_next(in + i, n - i, &cp);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            fy_buf_u16(&b, (uint16_t)(0xD800 + (cp >> 10)));
            fy_buf_u16(&b, (uint16_t)(0xDC00 + (cp & 0x3FF)));
        } else {
            fy_buf_u16(&b, (uint16_t)cp);
        }
    }
    *out_len = b.len;
    fy_buf_reserve(&b, 2);
    return b.data;
}

int fy_text_decode(const uint8_t *in, size_t n, char **out, size_t *out_len, const char **err)
{
    if (n >= 2 && ((in[0] == 0xFF && in[1] == 0xFE) || (in[0] == 0xFE && in[1] == 0xFF))) {
        bool be = in[0] == 0xFE, bad = false;
        if (n % 2) {
            *err = "UTF-16 file has an odd number of bytes (truncated?)";
            return -1;
        }
        char *s = utf16_to_utf8(in + 2, n - 2, be, false, out_len, &bad);
        if (bad || memchr(s, 0, *out_len)) {
            free(s);
            *err = bad ? "invalid UTF-16 (unpaired surrogate); save the file as UTF-8 or UTF-16"
                       : "NUL character in text file";
            return -1;
        }
        *out = s;
        return 0;
    }
    if (n >= 3 && in[0] == 0xEF && in[1] == 0xBB && in[2] == 0xBF) in += 3, n -= 3;
    if (!fy_utf8_valid((const char *)in, n)) {
        *err = "not valid UTF-8; save the file as UTF-8 or as Unicode (UTF-16 with BOM)";
        return -1;
    }
    if (memchr(in, 0, n)) {
        *err = "NUL byte in text file (UTF-16 without a byte-order mark?)";
        return -1;
    }
    *out = fy_xstrndup((const char *)in, n);
    *out_len = n;
    return 0;
}

uint32_t fy_fold_cp(uint32_t c)
{
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32; /* Latin-1 */
    if (c == 0xFF) return 0x178;
    if (c >= 0x100 && c <= 0x17F) { /* Latin Extended-A: pairs */
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
        if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
        return (c & 1) ? c - 1 : c;
    }
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32; /* Greek */
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x430 && c <= 0x44F) return c - 32; /* Cyrillic */
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

/* ASCII is by far the common case in paths: these read one code point with a fast path. */
static inline size_t next_cp(const char *s, size_t n, uint32_t *cp)
{
    unsigned char c = (unsigned char)*s;
    if (c < 0x80) {
        *cp = (c >= 'a' && c <= 'z') ? c - 32u : c;
        return 1;
    }
    size_t l = fy_utf8_next(s, n, cp);
    *cp = fy_fold_cp(*cp);
    return l;
}

int fy_strcasecmp_u8(const char *a, size_t an, const char *b, size_t bn)
{
    /* ASCII prefix: a table-free fold, no decoding. */
    size_t m = an < bn ? an : bn, k = 0;
    for (; k < m; k++) {
        unsigned char x = (unsigned char)a[k], y = (unsigned char)b[k];
        if ((x | y) & 0x80) break;
        if (x >= 'a' && x <= 'z') x -= 32;
        if (y >= 'a' && y <= 'z') y -= 32;
        if (x != y) return x < y ? -1 : 1;
    }
    if (k == m) return an < bn ? -1 : an > bn;
    a += k, an -= k, b += k, bn -= k;
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        uint32_t x, y;
        if (a[i] == b[j] && (unsigned char)a[i] < 0x80) {
            i++, j++;
            continue;
        }
        i += next_cp(a + i, an - i, &x);
        j += next_cp(b + j, bn - j, &y);
        if (x != y) return x < y ? -1 : 1;
    }
    if (i < an) return 1;
    if (j < bn) return -1;
    return 0;
}

bool fy_streq_ci(const char *a, const char *b)
{
    return fy_strcasecmp_u8(a, strlen(a), b, strlen(b)) == 0;
}

bool fy_glob_is_literal(const char *pat, size_t pn)
{
    for (size_t i = 0; i < pn; i++) {
        if (pat[i] == '^' && i + 1 < pn) {
            i++;
            continue;
        }
        if (pat[i] == '*' || pat[i] == '?') return false;
    }
    return true;
}

/* Iterative glob with single-star backtracking: O(pn * sn) worst case, no recursion.
 * When '*' may not cross '\\', a mismatch after a separator cannot be retried by an earlier
 * star beyond that separator, which the star_ok check enforces. */
bool fy_glob_match(const char *pat, size_t pn, const char *s, size_t sn, bool star_crosses_sep)
{
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;
    while (i < sn) {
        if (p < pn) {
            char pc = pat[p];
            if (pc == '*') {
                star_p = ++p;
                star_i = i;
                continue;
            }
            uint32_t c, q;
            size_t sl = next_cp(s + i, sn - i, &c);
            if (pc == '?' && !(c == '\\' && !star_crosses_sep)) {
                p++;
                i += sl;
                continue;
            }
            size_t pl;
            if (pc == '^' && p + 1 < pn) {
                pl = 1 + next_cp(pat + p + 1, pn - p - 1, &q);
            } else {
                pl = next_cp(pat + p, pn - p, &q);
            }
            if (pc != '?' && q == c) {
                p += pl;
                i += sl;
                continue;
            }
        }
        if (star_p != SIZE_MAX) {
            uint32_t c;
            size_t sl = next_cp(s + star_i, sn - star_i, &c);
            if (c == '\\' && !star_crosses_sep) return false;
            star_i += sl;
            i = star_i;
            p = star_p;
            continue;
        }
        return false;
    }
    while (p < pn && pat[p] == '*') p++;
    return p == pn;
}

uint32_t fy_hash_ci(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        i += fy_utf8_next(s + i, n - i, &cp);
        cp = fy_fold_cp(cp);
        for (int k = 0; k < 4; k++) {
            h ^= (cp >> (8 * k)) & 0xFF;
            h *= 16777619u;
        }
    }
    return h;
}

char *fy_upper_utf8(const char *s, size_t n)
{
    fy_buf b = {0};
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = fy_utf8_next(s + i, n - i, &cp);
        if (l == 1 && (uint8_t)s[i] >= 0x80) {
            fy_buf_putc(&b, (uint8_t)s[i]); /* invalid byte: keep as is */
        } else {
            put_utf8(&b, fy_fold_cp(cp));
        }
        i += l;
    }
    return fy_buf_cstr(&b);
}
