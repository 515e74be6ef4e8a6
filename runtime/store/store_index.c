/* The index: a personality's "current generations" pointer, a short text file that an
 * administrator can read with cat, replaced as a whole by rename. Format:
 * docs/store-format.md, "The index". */
#include "fy_store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MAX (64u << 20)
#define GENS_MAX 1000000u

void st_catalog_name(uint32_t number, char out[32])
{
    snprintf(out, 32, "%08" PRIu32 ".cat", number);
}

static void put_esc(fy_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '%')
            fy_buf_printf(b, "%%%02X", c);
        else
            fy_buf_putc(b, c);
    }
}

void st_index_format(const st_index *ix, fy_buf *b)
{
    char hex[2 * ST_KCV_LEN + 1];
    fy_buf_puts(b, "ferry-personality 1\n");
    st_hex(ix->uid, ST_UID_LEN, hex);
    fy_buf_printf(b, "uid %s\n", hex);
    fy_buf_puts(b, "domain ");
    put_esc(b, ix->domain);
    fy_buf_puts(b, "\nuser ");
    put_esc(b, ix->user);
    fy_buf_puts(b, "\ncomputer ");
    put_esc(b, ix->computer);
    fy_buf_putc(b, '\n');
    if (ix->enc) {
        fy_buf_printf(b, "crypto argon2id13-xchacha20poly1305 ops=%" PRIu64 " mem=%" PRIu64,
                      ix->kdf_ops, ix->kdf_mem);
        st_hex(ix->salt, ST_SALT_LEN, hex);
        fy_buf_printf(b, " salt=%s", hex);
        st_hex(ix->kcv, ST_KCV_LEN, hex);
        fy_buf_printf(b, " check=%s\n", hex);
    } else {
        fy_buf_puts(b, "crypto none\n");
    }
    fy_buf_printf(b, "next %" PRIu32 "\n", ix->next);
    for (size_t i = 0; i < ix->n_gens; i++) {
        const st_gen *g = &ix->gens[i];
        st_hex(g->hash, 32, hex);
        fy_buf_printf(b,
                      "gen %" PRIu32 " time=%" PRId64 " files=%" PRIu64 " reg=%" PRIu64
                      " bytes=%" PRIu64 " hash=%s\n",
                      g->number, g->time, g->n_files, g->n_reg, g->bytes, hex);
    }
    uint8_t h[32];
    crypto_generichash(h, 32, b->data, b->len, NULL, 0);
    st_hex(h, 32, hex);
    fy_buf_printf(b, "end %s\n", hex);
}

void st_index_free(st_index *ix)
{
    free(ix->domain);
    free(ix->user);
    free(ix->computer);
    free(ix->gens);
    memset(ix, 0, sizeof *ix);
}

typedef struct line {
    const char *p;
    size_t n;
} line;

/* Splits the next line; false at the end or when the last line lacks its '\n'. */
static bool next_line(const uint8_t *p, size_t n, size_t *pos, line *l)
{
    if (*pos >= n) return false;
    const uint8_t *e = memchr(p + *pos, '\n', n - *pos);
    if (!e) return false;
    l->p = (const char *)p + *pos;
    l->n = (size_t)(e - (p + *pos));
    *pos = (size_t)(e - p) + 1;
    return true;
}

/* Matches "word " at the start of l and advances past it. */
static bool take_word(line *l, const char *w)
{
    size_t k = strlen(w);
    if (l->n < k + 1 || memcmp(l->p, w, k) != 0 || l->p[k] != ' ') return false;
    l->p += k + 1;
    l->n -= k + 1;
    return true;
}

/* "key=value" field up to the next space; value returned in v/vn. */
static bool take_field(line *l, const char *key, const char **v, size_t *vn)
{
    size_t k = strlen(key);
    if (l->n < k + 1 || memcmp(l->p, key, k) != 0 || l->p[k] != '=') return false;
    const char *s = l->p + k + 1;
    const char *end = l->p + l->n;
    const char *e = memchr(s, ' ', (size_t)(end - s));
    if (!e) e = end;
    *v = s;
    *vn = (size_t)(e - s);
    size_t used = (size_t)(e - l->p) + (e < end ? 1 : 0);
    l->p += used;
    l->n -= used;
    return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (n > 1 && s[0] == '0') return false;
    *out = v;
    return true;
}

static bool field_u64(line *l, const char *key, uint64_t *out)
{
    const char *v;
    size_t vn;
    return take_field(l, key, &v, &vn) && parse_u64(v, vn, out);
}

static char *unesc(const char *s, size_t n)
{
    fy_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            uint8_t v;
            char h[2];
            if (i + 2 >= n) {
                fy_buf_free(&b);
                return NULL;
            }
            h[0] = (char)(s[i + 1] | 0x20);
            h[1] = (char)(s[i + 2] | 0x20);
            if (!st_unhex(h, 2, &v, 1) || v == 0) {
                fy_buf_free(&b);
                return NULL;
            }
            fy_buf_putc(&b, v);
            i += 2;
        } else if (c <= 0x20 || c == 0x7f) {
            fy_buf_free(&b);
            return NULL;
        } else {
            fy_buf_putc(&b, c);
        }
    }
    char *r = fy_xstrdup(fy_buf_cstr(&b));
    fy_buf_free(&b);
    return r;
}

static int bad(char *err, size_t n, const char *what)
{
    return st_fail(err, n, FY_STORE_ERR_CORRUPT, "index damaged: %s", what);
}

int st_index_parse(const uint8_t *p, size_t n, unsigned flags, st_index *ix, char *err,
                   size_t err_size)
{
    memset(ix, 0, sizeof *ix);
    size_t pos = 0, gens_cap = 0;
    line l;
    int rc = FY_STORE_OK;
    if (!next_line(p, n, &pos, &l)) return bad(err, err_size, "empty or truncated");
    if (l.n != 19 || memcmp(l.p, "ferry-personality ", 18) != 0)
        return bad(err, err_size, "not a ferry personality index");
    if (l.p[18] != '1')
        return st_fail(err, err_size, FY_STORE_ERR_CORRUPT,
                       "index format %c is not supported by this ferry (it reads 1)", l.p[18]);
    if (!next_line(p, n, &pos, &l) || !take_word(&l, "uid") ||
        !st_unhex(l.p, l.n, ix->uid, ST_UID_LEN)) {
        rc = bad(err, err_size, "bad uid line");
        goto fail;
    }
    static const char *const names[] = {"domain", "user", "computer"};
    char **dst[] = {&ix->domain, &ix->user, &ix->computer};
    for (int i = 0; i < 3; i++) {
        if (!next_line(p, n, &pos, &l) || !take_word(&l, names[i]) ||
            !(*dst[i] = unesc(l.p, l.n)) || !**dst[i]) {
            rc = bad(err, err_size, "bad identity line");
            goto fail;
        }
    }
    if (!next_line(p, n, &pos, &l) || !take_word(&l, "crypto")) {
        rc = bad(err, err_size, "bad crypto line");
        goto fail;
    }
    if (l.n == 4 && memcmp(l.p, "none", 4) == 0) {
        ix->enc = false;
    } else {
        const char *v;
        size_t vn;
        if (!take_word(&l, "argon2id13-xchacha20poly1305") || !field_u64(&l, "ops", &ix->kdf_ops) ||
            !field_u64(&l, "mem", &ix->kdf_mem) || !take_field(&l, "salt", &v, &vn) ||
            !st_unhex(v, vn, ix->salt, ST_SALT_LEN) || !take_field(&l, "check", &v, &vn) ||
            !st_unhex(v, vn, ix->kcv, ST_KCV_LEN) || l.n != 0) {
            rc = bad(err, err_size, "bad crypto line");
            goto fail;
        }
        ix->enc = true;
    }
    uint64_t next;
    if (!next_line(p, n, &pos, &l) || !take_word(&l, "next") || !parse_u64(l.p, l.n, &next) ||
        next == 0 || next > UINT32_MAX) {
        rc = bad(err, err_size, "bad next line");
        goto fail;
    }
    ix->next = (uint32_t)next;
    while (true) {
        size_t line_start = pos;
        if (!next_line(p, n, &pos, &l)) {
            rc = bad(err, err_size, "truncated (no end line)");
            goto fail;
        }
        if (take_word(&l, "end")) {
            uint8_t want[32], h[32];
            if (!st_unhex(l.p, l.n, want, 32) || pos != n) {
                rc = bad(err, err_size, "bad end line");
                goto fail;
            }
            crypto_generichash(h, 32, p, line_start, NULL, 0);
            if (!(flags & FY_STORE_CHECK_NO_CHECKSUMS) && memcmp(h, want, 32) != 0) {
                rc = bad(err, err_size, "checksum mismatch");
                goto fail;
            }
            break;
        }
        if (!take_word(&l, "gen") || ix->n_gens >= GENS_MAX) {
            rc = bad(err, err_size, "bad generation line");
            goto fail;
        }
        st_gen g = {0};
        const char *sp = memchr(l.p, ' ', l.n);
        uint64_t num, t;
        const char *v;
        size_t vn;
        if (!sp || !parse_u64(l.p, (size_t)(sp - l.p), &num) || num == 0 || num >= ix->next ||
            (ix->n_gens && num <= ix->gens[ix->n_gens - 1].number)) {
            rc = bad(err, err_size, "bad generation number");
            goto fail;
        }
        l.n -= (size_t)(sp - l.p) + 1;
        l.p = sp + 1;
        if (!field_u64(&l, "time", &t) || t > (uint64_t)INT64_MAX ||
            !field_u64(&l, "files", &g.n_files) || !field_u64(&l, "reg", &g.n_reg) ||
            !field_u64(&l, "bytes", &g.bytes) || !take_field(&l, "hash", &v, &vn) ||
            !st_unhex(v, vn, g.hash, 32) || l.n != 0) {
            rc = bad(err, err_size, "bad generation line");
            goto fail;
        }
        g.number = (uint32_t)num;
        g.time = (int64_t)t;
        st_catalog_name(g.number, g.catalog);
        if (ix->n_gens == gens_cap) {
            gens_cap = gens_cap ? gens_cap * 2 : 8;
            ix->gens = fy_xrealloc(ix->gens, gens_cap * sizeof *ix->gens);
        }
        ix->gens[ix->n_gens++] = g;
    }
    return FY_STORE_OK;
fail:
    st_index_free(ix);
    return rc;
}

int st_index_load(const fy_store *s, int pfd, st_index *ix, char *err, size_t err_size)
{
    uint8_t *p;
    size_t n;
    memset(ix, 0, sizeof *ix);
    if (st_read_small(s, pfd, "index", INDEX_MAX, &p, &n) < 0) {
        if (errno == ENOENT) return st_fail(err, err_size, FY_STORE_ERR_NOT_FOUND, "no index");
        if (errno == EFBIG || errno == EINVAL)
            return bad(err, err_size, "not a small regular file");
        return st_fail_errno(err, err_size, FY_STORE_ERR_IO, errno, "cannot read the index");
    }
    int rc = st_index_parse(p, n, 0, ix, err, err_size);
    free(p);
    return rc;
}

int fy_store_index_check_mem(const uint8_t *data, size_t n, unsigned flags, char *err,
                             size_t err_size)
{
    st_index ix;
    int rc = st_index_parse(data, n, flags, &ix, err, err_size);
    if (!rc) st_index_free(&ix);
    return rc;
}
