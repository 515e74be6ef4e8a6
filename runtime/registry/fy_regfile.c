/* .reg files: parser (to a list of ops), applier (ops -> an fy_reg root) and writer. */
#include "fy_regfile.h"

#include "fy_reg_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ERRORS 50
#define MAX_KEY_DEPTH 520    /* Windows allows 512 levels below a root key; + the prefix */
#define MAX_KEY_NAME 255     /* UTF-16 units */
#define MAX_VALUE_NAME 16383 /* UTF-16 units */

static const char V5_HEADER[] = "Windows Registry Editor Version 5.00";
static const char R4_HEADER[] = "REGEDIT4";

/* ================================================================ decoding */

/* Windows-1252 bytes 0x80..0x9F (the rest of the code page is Latin-1). */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static void put_utf8(fy_buf *b, uint32_t cp)
{
    uint8_t t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (uint8_t)cp, n = 1;
    } else if (cp < 0x800) {
        t[0] = (uint8_t)(0xC0 | (cp >> 6)), t[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
    } else {
        t[0] = (uint8_t)(0xE0 | (cp >> 12)), t[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
    }
    fy_buf_put(b, t, n);
}

static char *cp1252_to_utf8(const uint8_t *in, size_t n, size_t *out_len)
{
    fy_buf b = {0};
    fy_buf_reserve(&b, n + n / 2);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        put_utf8(&b, c < 0x80 ? c : c < 0xA0 ? cp1252_hi[c - 0x80] : c);
    }
    *out_len = b.len;
    return fy_buf_cstr(&b);
}

/* "ANSI" bytes of a REGEDIT4 file (hex(2)/hex(7) data) -> UTF-16LE: UTF-8 when they are
 * valid UTF-8, else Windows-1252. */
static uint8_t *ansi_to_utf16(const uint8_t *in, size_t n, size_t *out_len)
{
    if (fy_utf8_valid((const char *)in, n)) return fy_utf8_to_utf16le((const char *)in, n, out_len);
    size_t ul;
    char *u = cp1252_to_utf8(in, n, &ul);
    uint8_t *r = fy_utf8_to_utf16le(u, ul, out_len);
    free(u);
    return r;
}

static bool starts_ci(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && strncasecmp(s, lit, l) == 0;
}

static void position_of(const uint8_t *in, size_t at, uint32_t *line, uint32_t *col)
{
    size_t ls = 0;
    *line = 1;
    for (size_t i = 0; i < at; i++)
        if (in[i] == '\n') (*line)++, ls = i + 1;
    *col = (uint32_t)fy_utf8_count((const char *)in + ls, at - ls) + 1;
}

static int decode_input(const uint8_t *in, size_t n, const char *file, char **text, size_t *len,
                        bool *utf16, fy_diags *d)
{
    const char *msg;
    *utf16 = n >= 2 && ((in[0] == 0xFF && in[1] == 0xFE) || (in[0] == 0xFE && in[1] == 0xFF));
    if (fy_text_decode(in, n, text, len, &msg) == 0) return 0;
    if (*utf16) {
        fy_diag_add(d, FY_DIAG_ERROR, file, 0, 0, "reg-encoding", "%s", msg);
        return -1;
    }
    size_t skip = n >= 3 && in[0] == 0xEF && in[1] == 0xBB && in[2] == 0xBF ? 3 : 0;
    const uint8_t *s = in + skip;
    size_t sn = n - skip;
    if (memchr(s, 0, sn)) {
        fy_diag_add(d, FY_DIAG_ERROR, file, 1, 1, "reg-encoding",
                    "NUL bytes in the file: a UTF-16 .reg file needs its byte-order mark "
                    "(FF FE); save it again with regedit or as UTF-8");
        return -1;
    }
    if (starts_ci((const char *)s, sn, R4_HEADER)) {
        /* REGEDIT4 files are in the machine's ANSI code page. */
        *text = cp1252_to_utf8(s, sn, len);
        return 0;
    }
    size_t i = 0;
    while (i < sn) {
        uint32_t cp;
        size_t l = fy_utf8_next((const char *)s + i, sn - i, &cp);
        if (l == 1 && s[i] >= 0x80) break;
        i += l;
    }
    uint32_t line, col;
    position_of(s, i, &line, &col);
    fy_diag_add(d, FY_DIAG_ERROR, file, line, col, "reg-encoding",
                "not valid UTF-8; save the file as Unicode (UTF-16, as regedit writes) or "
                "UTF-8");
    return -1;
}

/* ================================================================ parser */

typedef struct parser {
    const char *file;
    fy_diags *d;
    fy_regfile *f;
    const char *next, *end; /* next line's start, end of text */
    const char *ls, *le;    /* current line, without its line break */
    uint32_t line;
    size_t errors;
    const char *key; /* current [KEY], NULL before the first or after a bad one */
    bool key_deleted, key_failed;
    fy_buf tmp;
} parser;

static bool next_line(parser *p)
{
    if (p->next >= p->end) return false;
    p->ls = p->next;
    const char *nl = memchr(p->ls, '\n', (size_t)(p->end - p->ls));
    p->le = nl ? nl : p->end;
    p->next = nl ? nl + 1 : p->end;
    if (p->le > p->ls && p->le[-1] == '\r') p->le--;
    p->line++;
    return true;
}

static uint32_t col_of(const parser *p, const char *at)
{
    return (uint32_t)fy_utf8_count(p->ls, (size_t)(at - p->ls)) + 1;
}

static void diag_at(parser *p, fy_diag_level lvl, const char *at, const char *check,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void diag_at(parser *p, fy_diag_level lvl, const char *at, const char *check,
                    const char *fmt, ...)
{
    if (lvl == FY_DIAG_ERROR && ++p->errors > MAX_ERRORS) return;
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(p->d, lvl, p->file, p->line, col_of(p, at), check, fmt, ap);
    va_end(ap);
}

#define ERR(p, at, ...) diag_at((p), FY_DIAG_ERROR, (at), "reg-syntax", __VA_ARGS__)

static const char *skip_ws(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t utf16_units(const char *s, size_t n)
{
    size_t i = 0, u = 0;
    while (i < n) {
        uint32_t cp;
        i += fy_utf8_next(s + i, n - i, &cp);
        u += cp >= 0x10000 ? 2 : 1;
    }
    return u;
}

static fy_regop *add_op(parser *p, fy_regop_kind kind, uint32_t line, uint32_t col)
{
    fy_regfile *f = p->f;
    if (f->nops == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->ops = fy_xrealloc(f->ops, f->cap * sizeof(*f->ops));
    }
    fy_regop *op = &f->ops[f->nops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->line = line;
    op->col = col;
    return op;
}

/* Rest of the line after a complete item: blanks, then nothing or a ; comment. */
static bool at_line_end(parser *p, const char *s)
{
    s = skip_ws(s, p->le);
    return s == p->le || *s == ';';
}

static void parse_key(parser *p, const char *s)
{
    const char *rb = NULL;
    for (const char *q = p->le; q > s + 1; q--)
        if (q[-1] == ']') {
            rb = q - 1;
            break;
        }
    if (!rb) {
        ERR(p, p->le,
            "missing ']' at the end of the key line; a key line looks like "
            "[HKEY_CURRENT_USER\\Software\\Vendor]");
        p->key = NULL, p->key_failed = true;
        return;
    }
    if (!at_line_end(p, rb + 1)) {
        ERR(p, skip_ws(rb + 1, p->le),
            "unexpected text after ']'; put only the key path between [ and ]");
        p->key = NULL, p->key_failed = true;
        return;
    }
    const char *b = s + 1, *e = rb;
    bool del = b < e && *b == '-';
    if (del) b++;
    while (e > b + 1 && e[-1] == '\\')
        e--; /* [HKCU\Software\] = [HKCU\Software] */
    if (b == e) {
        ERR(p, s, "empty key path between [ and ]");
        p->key = NULL, p->key_failed = true;
        return;
    }
    /* Components: a leading '\' alone means "relative to the hive's root". */
    const char *c = b;
    if (*c == '\\') c++;
    size_t depth = 0;
    while (c < e) {
        const char *sep = memchr(c, '\\', (size_t)(e - c));
        const char *ce = sep ? sep : e;
        if (ce == c) {
            ERR(p, c, "empty key name (two backslashes in a row) in the key path");
            p->key = NULL, p->key_failed = true;
            return;
        }
        if (utf16_units(c, (size_t)(ce - c)) > MAX_KEY_NAME) {
            ERR(p, c, "key name longer than %d characters; Windows does not allow it",
                MAX_KEY_NAME);
            p->key = NULL, p->key_failed = true;
            return;
        }
        if (++depth > MAX_KEY_DEPTH) {
            ERR(p, c, "key path deeper than %d levels; Windows does not allow it", MAX_KEY_DEPTH);
            p->key = NULL, p->key_failed = true;
            return;
        }
        c = sep ? sep + 1 : e;
    }
    fy_regop *op = add_op(p, del ? FY_REGOP_DELETE_KEY : FY_REGOP_KEY, p->line, col_of(p, s));
    op->key = fy_arena_strndup(&p->f->arena, b, (size_t)(e - b));
    p->key = op->key;
    p->key_deleted = del;
    p->key_failed = false;
}

/* A "quoted" string starting at q; its unescaped text goes to p->tmp. Returns the position
 * after the closing quote, or NULL (error reported). */
static const char *parse_quoted(parser *p, const char *q)
{
    p->tmp.len = 0;
    const char *s = q + 1;
    while (s < p->le) {
        if (*s == '"') return s + 1;
        if (*s == '\\' && s + 1 < p->le && (s[1] == '\\' || s[1] == '"')) {
            fy_buf_putc(&p->tmp, (uint8_t)s[1]);
            s += 2;
            continue;
        }
        if (*s == '\\' && s + 1 < p->le)
            diag_at(p, FY_DIAG_WARNING, s, "reg-escape",
                    "unknown escape '\\%c' kept as it is; write a backslash in a string as "
                    "\\\\",
                    s[1]);
        fy_buf_putc(&p->tmp, (uint8_t)*s);
        s++;
    }
    ERR(p, q, "unterminated string: add the closing '\"' (write a '\"' inside a string as \\\")");
    return NULL;
}

/* After an error in a hex list that continues over lines, the continuation lines would
 * each look like a new (bad) line: skip them. */
static void skip_continuation(parser *p)
{
    for (;;) {
        const char *e = p->le;
        while (e > p->ls && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e == p->ls || e[-1] != '\\' || !next_line(p)) return;
    }
}

/* Comma-separated hex bytes from s, over continuation lines; bytes go to p->tmp. Returns
 * the position after the list on the (possibly later) current line, or NULL. */
static const char *parse_hex(parser *p, const char *s)
{
    p->tmp.len = 0;
    const char *c = s;
    for (;;) {
        c = skip_ws(c, p->le);
        if (c == p->le || *c == ';') return c;
        if (*c == '\\') {
            if (skip_ws(c + 1, p->le) != p->le) {
                ERR(p, c, "'\\' continues a hex list only at the end of a line");
                skip_continuation(p);
                return NULL;
            }
            if (!next_line(p)) {
                ERR(p, c, "the hex list continues with '\\' but the file ends here");
                return NULL;
            }
            c = p->ls;
            continue;
        }
        int h1 = hexval(c[0]), h2 = c + 1 < p->le ? hexval(c[1]) : -1;
        if (h1 < 0 || h2 < 0 || (c + 2 < p->le && hexval(c[2]) >= 0)) {
            const char *e = c;
            while (e < p->le && *e != ',' && *e != ' ' && *e != '\t' && e - c < 12)
                e++;
            ERR(p, c,
                "bad hex byte \"%.*s\": hex data is bytes of two hex digits separated by "
                "commas, e.g. hex:01,ff,3c",
                (int)(e - c), c);
            skip_continuation(p);
            return NULL;
        }
        fy_buf_putc(&p->tmp, (uint8_t)(h1 << 4 | h2));
        c = skip_ws(c + 2, p->le);
        if (c < p->le && *c == ',') {
            c++;
            continue;
        }
        if (c == p->le || *c == ';' || *c == '\\') continue;
        ERR(p, c, "expected ',' between hex bytes, found '%c'", *c);
        skip_continuation(p);
        return NULL;
    }
}

static void parse_value(parser *p, const char *s)
{
    if (!p->key) {
        if (!p->key_failed) /* else the bad key line above has been reported */
            ERR(p, s,
                "value outside a key: put a [KEY] line before it (values belong to the "
                "last key above them)");
        return;
    }
    /* Where the value starts: a hex list may move the parser to later lines. */
    uint32_t line0 = p->line, col0 = col_of(p, s);
    const char *name;
    const char *c;
    if (*s == '@') {
        name = "";
        c = s + 1;
    } else {
        c = parse_quoted(p, s);
        if (!c) return;
        if (utf16_units((const char *)p->tmp.data, p->tmp.len) > MAX_VALUE_NAME) {
            ERR(p, s, "value name longer than %d characters", MAX_VALUE_NAME);
            return;
        }
        name = fy_arena_strndup(&p->f->arena, (const char *)p->tmp.data, p->tmp.len);
    }
    c = skip_ws(c, p->le);
    if (c == p->le || *c != '=') {
        ERR(p, c, "expected '=' after the value name (\"name\"=value or @=value)");
        return;
    }
    c = skip_ws(c + 1, p->le);
    const char *data_at = c;
    uint32_t type;
    bool del = false;
    const uint8_t *data = NULL;
    size_t len = 0;
    uint8_t dw[4];
    uint8_t *conv = NULL;

    if (c < p->le && *c == '-' && at_line_end(p, c + 1)) {
        del = true;
        c++;
    } else if (c < p->le && *c == '"') {
        c = parse_quoted(p, c);
        if (!c) return;
        conv = fy_utf8_to_utf16le((const char *)p->tmp.data, p->tmp.len, &len);
        conv = fy_xrealloc(conv, len + 2);
        conv[len] = conv[len + 1] = 0;
        len += 2;
        data = conv;
        type = FY_REG_SZ;
    } else if (starts_ci(c, (size_t)(p->le - c), "dword:")) {
        const char *h = c + 6, *e = h;
        uint32_t v = 0;
        while (e < p->le && hexval(*e) >= 0 && e - h < 9)
            v = v << 4 | (uint32_t)hexval(*e++);
        if (e == h || e - h > 8 || !at_line_end(p, e)) {
            ERR(p, data_at,
                "bad dword value: write up to 8 hex digits after dword:, e.g. "
                "dword:0000001f");
            return;
        }
        fy_put_le32(dw, v);
        data = dw;
        len = 4;
        type = FY_REG_DWORD;
        c = e;
    } else if (starts_ci(c, (size_t)(p->le - c), "hex:") ||
               starts_ci(c, (size_t)(p->le - c), "hex(")) {
        const char *h = c + 4;
        if (c[3] == ':') {
            type = FY_REG_BINARY;
        } else {
            uint64_t t = 0;
            const char *e = h;
            while (e < p->le && hexval(*e) >= 0 && e - h < 9)
                t = t << 4 | (uint64_t)hexval(*e++);
            if (e == h || e - h > 8 || e + 1 >= p->le || e[0] != ')' || e[1] != ':') {
                ERR(p, data_at,
                    "bad value type: write hex(N): with N the type number in hex, e.g. "
                    "hex(7): for REG_MULTI_SZ");
                return;
            }
            type = (uint32_t)t;
            h = e + 2;
        }
        c = parse_hex(p, h);
        if (!c) return;
        data = p->tmp.data;
        len = p->tmp.len;
        if (p->f->format == FY_REGFILE_REGEDIT4 &&
            (type == FY_REG_EXPAND_SZ || type == FY_REG_MULTI_SZ)) {
            conv = ansi_to_utf16(data, len, &len);
            data = conv;
        }
    } else {
        ERR(p, data_at,
            "unknown value: expected \"string\", dword:xxxxxxxx, hex:bytes, hex(N):bytes "
            "or - (delete)");
        return;
    }
    if (!at_line_end(p, c)) {
        ERR(p, skip_ws(c, p->le), "unexpected text after the value; start a comment with ;");
        free(conv);
        return;
    }
    if (p->key_deleted) {
        fy_diag_add(p->d, FY_DIAG_WARNING, p->file, line0, col0, "reg-syntax",
                    "value under a [-KEY] line (a key being deleted) is ignored");
        free(conv);
        return;
    }
    fy_regop *op = add_op(p, del ? FY_REGOP_DELETE_VALUE : FY_REGOP_VALUE, line0, col0);
    op->key = p->key;
    op->name = name;
    if (!del) {
        if (len > UINT32_MAX) len = UINT32_MAX;
        uint8_t *copy = fy_arena_alloc(&p->f->arena, len ? len : 1);
        if (len) memcpy(copy, data, len);
        op->type = type;
        op->data = copy;
        op->len = (uint32_t)len;
    }
    free(conv);
}

static bool parse_header(parser *p)
{
    if (!next_line(p)) {
        fy_diag_add(p->d, FY_DIAG_ERROR, p->file, 1, 1, "reg-syntax",
                    "empty file: a .reg file starts with the line \"%s\"", V5_HEADER);
        p->errors++;
        return false;
    }
    const char *e = p->le;
    while (e > p->ls && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - p->ls);
    if (n == strlen(V5_HEADER) && memcmp(p->ls, V5_HEADER, n) == 0) {
        p->f->format = FY_REGFILE_V5;
        return true;
    }
    if (n == strlen(R4_HEADER) && strncasecmp(p->ls, R4_HEADER, n) == 0) {
        p->f->format = FY_REGFILE_REGEDIT4;
        return true;
    }
    ERR(p, p->ls, "unknown header \"%.*s\": the first line of a .reg file must be \"%s\" or \"%s\"",
        (int)(n > 60 ? 60 : n), p->ls, V5_HEADER, R4_HEADER);
    return false;
}

int fy_regfile_parse(const uint8_t *bytes, size_t n, const char *file, fy_regfile **out,
                     fy_diags *d)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    bool utf16 = false;
    if (decode_input(bytes, n, file, &text, &len, &utf16, d) != 0) return -1;
    fy_regfile *f = fy_xcalloc(1, sizeof(*f));
    f->utf16 = utf16;
    parser p = {.file = file, .d = d, .f = f, .next = text, .end = text + len};
    if (parse_header(&p)) {
        while (p.errors <= MAX_ERRORS && next_line(&p)) {
            const char *s = skip_ws(p.ls, p.le);
            if (s == p.le || *s == ';') continue;
            if (*s == '[')
                parse_key(&p, s);
            else if (*s == '"' || *s == '@')
                parse_value(&p, s);
            else
                ERR(&p, s,
                    "unexpected text: expected a [KEY] line, \"name\"=value, @=value or a "
                    "; comment");
        }
        if (p.errors > MAX_ERRORS)
            fy_diag_add(d, FY_DIAG_ERROR, file, p.line, 0, "reg-syntax",
                        "too many errors; stopped reading here");
    }
    fy_buf_free(&p.tmp);
    free(text);
    if (p.errors) {
        fy_regfile_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

int fy_regfile_load(const char *path, fy_regfile **out, fy_diags *d)
{
    *out = NULL;
    fy_buf b = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fy_diag_add(d, FY_DIAG_ERROR, path, 0, 0, "reg-io", "cannot read the file (%s)",
                    strerror(errno));
        return -1;
    }
    for (;;) {
        fy_buf_reserve(&b, 65536);
        ssize_t got = read(fd, b.data + b.len, b.cap - b.len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            fy_diag_add(d, FY_DIAG_ERROR, path, 0, 0, "reg-io", "cannot read the file (%s)",
                        strerror(errno));
            close(fd);
            fy_buf_free(&b);
            return -1;
        }
        if (got == 0) break;
        b.len += (size_t)got;
    }
    close(fd);
    int rc = fy_regfile_parse(b.data, b.len, path, out, d);
    fy_buf_free(&b);
    return rc;
}

void fy_regfile_free(fy_regfile *f)
{
    if (!f) return;
    free(f->ops);
    fy_arena_free(&f->arena);
    free(f);
}

/* ================================================================ applying */

bool fy_regfile_key_is_relative(const char *key)
{
    if (key[0] == '\\') return true;
    const char *e = strchr(key, '\\');
    return !fy_reg_root_key_name(key, e ? (size_t)(e - key) : strlen(key));
}

/* An absolute path with its root key spelt out (HKLM\x -> HKEY_LOCAL_MACHINE\x). */
static char *normalise_abs(const char *key)
{
    const char *e = strchr(key, '\\');
    size_t n = e ? (size_t)(e - key) : strlen(key);
    const char *full = fy_reg_root_key_name(key, n);
    return fy_xasprintf("%s%s", full ? full : "", full ? key + n : key);
}

/* When `prefix` is a leading run of whole components of `path`, the rest ("" or what
 * follows the backslash); else NULL. Case-insensitive. */
static const char *under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    while (n && prefix[n - 1] == '\\')
        n--;
    if (n == 0) return path;
    if (strlen(path) < n || fy_strcasecmp_u8(path, n, prefix, n) != 0) return NULL;
    if (path[n] == 0) return path + n;
    if (path[n] == '\\') return path + n + 1;
    return NULL;
}

typedef struct mapping {
    char *prefix;
    const char *subpath;
} mapping;

static const fy_regop *first_abs_not_under(const fy_regfile *f, const mapping *m, size_t nm)
{
    for (size_t i = 0; i < f->nops; i++) {
        const fy_regop *op = &f->ops[i];
        if (op->kind != FY_REGOP_KEY && op->kind != FY_REGOP_DELETE_KEY) continue;
        if (fy_regfile_key_is_relative(op->key)) continue;
        char *k = normalise_abs(op->key);
        bool ok = false;
        for (size_t j = 0; j < nm && !ok; j++)
            ok = under(k, m[j].prefix) != NULL;
        free(k);
        if (!ok) return op;
    }
    return NULL;
}

/* Cuts `common` to the leading whole components it shares with k (case-insensitive). */
static void common_prefix(char *common, const char *k)
{
    size_t a = 0, b = 0, keep = 0;
    while (common[a] && k[b]) {
        size_t ae = a, be = b;
        while (common[ae] && common[ae] != '\\')
            ae++;
        while (k[be] && k[be] != '\\')
            be++;
        if (fy_strcasecmp_u8(common + a, ae - a, k + b, be - b) != 0) break;
        keep = ae;
        if (!common[ae] || !k[be]) break;
        a = ae + 1, b = be + 1;
    }
    common[keep] = 0;
}

static void free_mappings(mapping *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].prefix);
    free(m);
}

/* The mappings to use for f on r (see docs/registry.md); NULL with an error in d. An
 * empty list (n = 0) when every key is relative. */
static mapping *choose(const fy_regfile *f, const fy_reg *r, const char *prefix, const char *file,
                       fy_diags *d, size_t *nout)
{
    *nout = 0;
    mapping *m = NULL;
    if (prefix) {
        m = fy_xcalloc(1, sizeof(*m));
        m->prefix = normalise_abs(prefix);
        size_t n = strlen(m->prefix);
        while (n && m->prefix[n - 1] == '\\')
            m->prefix[--n] = 0;
        m->subpath = "";
        *nout = 1;
        return m;
    }
    /* Common leading path of all absolute keys. */
    char *common = NULL;
    const fy_regop *first = NULL;
    for (size_t i = 0; i < f->nops; i++) {
        const fy_regop *op = &f->ops[i];
        if (op->kind != FY_REGOP_KEY && op->kind != FY_REGOP_DELETE_KEY) continue;
        if (fy_regfile_key_is_relative(op->key)) continue;
        char *k = normalise_abs(op->key);
        if (!common) {
            common = k;
            first = op;
            continue;
        }
        common_prefix(common, k);
        free(k);
    }
    if (!common) {
        free(common);
        return fy_xcalloc(1, sizeof(mapping)); /* all relative */
    }
    const fy_reg_map *maps;
    size_t nmaps = fy_reg_maps(r, &maps);
    if (nmaps) {
        m = fy_xcalloc(nmaps, sizeof(*m));
        for (size_t i = 0; i < nmaps; i++) {
            m[i].prefix = fy_xstrdup(maps[i].prefix);
            m[i].subpath = maps[i].subpath;
        }
        const fy_regop *bad = first_abs_not_under(f, m, nmaps);
        if (!bad) {
            *nout = nmaps;
            free(common);
            return m;
        }
        fy_diag_add(d, FY_DIAG_ERROR, file, bad->line, bad->col, "reg-prefix",
                    "key \"%s\" is not under %s, where the keys of %s belong; give --prefix "
                    "to say which key of the .reg file is the hive's root",
                    bad->key, maps[0].prefix, fy_reg_path(r));
        free_mappings(m, nmaps);
        free(common);
        return NULL;
    }
    /* Unknown kind of hive: the longest known root prefix (or the one its file name gives)
     * that leads all the file's keys. */
    const char *best = NULL;
    size_t best_len = 0;
    const char *cands[16];
    size_t nc = 0;
    cands[nc++] = fy_reg_default_prefix(r);
    static const char *const probe[] = {"ntuser.dat", "usrclass.dat", "software", "system",
                                        "sam",        "security",     "default",  "components",
                                        "drivers",    "bcd"};
    for (size_t i = 0; i < FY_ARRAY_LEN(probe) && nc < FY_ARRAY_LEN(cands); i++) {
        size_t k = fy_reg_maps_for_names(NULL, probe[i], &maps);
        for (size_t j = 0; j < k && nc < FY_ARRAY_LEN(cands); j++)
            cands[nc++] = maps[j].prefix;
    }
    for (size_t i = 0; i < nc; i++) {
        if (!*cands[i] || !under(common, cands[i])) continue;
        size_t l = strlen(cands[i]);
        if (l > best_len) best = cands[i], best_len = l;
    }
    if (!best) {
        fy_diag_add(d, FY_DIAG_ERROR, file, first->line, first->col, "reg-prefix",
                    "cannot tell which key of the .reg file is the root of %s (its keys are "
                    "under \"%s\"); give --prefix, e.g. --prefix \"%s\"",
                    fy_reg_path(r), common, common);
        free(common);
        return NULL;
    }
    m = fy_xcalloc(1, sizeof(*m));
    m->prefix = fy_xstrdup(best);
    m->subpath = "";
    *nout = 1;
    free(common);
    return m;
}

char *fy_regfile_choose_prefix(const fy_regfile *f, const fy_reg *r, const char *file, fy_diags *d)
{
    if (fy_reg_is_regfile(r)) return fy_xstrdup("");
    size_t n;
    mapping *m = choose(f, r, NULL, file, d, &n);
    if (!m) return NULL;
    char *s = fy_xstrdup(n ? m[0].prefix : "");
    free_mappings(m, n);
    return s;
}

/* The path under r for an op's key, malloc'd; NULL with an error when it is outside. */
static char *target_path(const fy_regop *op, const fy_reg *r, const mapping *m, size_t nm,
                         const char *file, fy_diags *d)
{
    if (fy_regfile_key_is_relative(op->key))
        return fy_xstrdup(op->key[0] == '\\' ? op->key + 1 : op->key);
    char *k = normalise_abs(op->key);
    if (fy_reg_is_regfile(r)) return k;
    for (size_t i = 0; i < nm; i++) {
        const char *rest = under(k, m[i].prefix);
        if (!rest) continue;
        char *t;
        if (!*m[i].subpath)
            t = fy_xstrdup(rest);
        else if (!*rest)
            t = fy_xstrdup(m[i].subpath);
        else
            t = fy_xasprintf("%s\\%s", m[i].subpath, rest);
        free(k);
        return t;
    }
    fy_diag_add(d, FY_DIAG_ERROR, file, op->line, op->col, "reg-prefix",
                "key \"%s\" is outside %s, the key of the .reg file that stands for the root "
                "of %s",
                op->key, nm ? m[0].prefix : "(none)", fy_reg_path(r));
    free(k);
    return NULL;
}

int fy_regfile_apply(const fy_regfile *f, fy_reg *r, const char *prefix, const char *file,
                     fy_diags *d)
{
    size_t nm = 0, errors = d->errors;
    mapping *m = NULL;
    if (!fy_reg_is_regfile(r)) {
        m = choose(f, r, prefix, file, d, &nm);
        if (!m) return -1;
    }
    fy_reg_key *cur = NULL;
    char err[512];
    for (size_t i = 0; i < f->nops; i++) {
        const fy_regop *op = &f->ops[i];
        if (op->kind == FY_REGOP_KEY || op->kind == FY_REGOP_DELETE_KEY) {
            cur = NULL;
            char *path = target_path(op, r, m, nm, file, d);
            if (!path) continue;
            if (op->kind == FY_REGOP_KEY) {
                cur = fy_reg_key_create(r, NULL, path, err, sizeof err);
                if (!cur)
                    fy_diag_add(d, FY_DIAG_ERROR, file, op->line, op->col, "reg-import", "%s", err);
            } else if (!*path) {
                fy_diag_add(d, FY_DIAG_ERROR, file, op->line, op->col, "reg-import",
                            "[-%s] would delete the root key of %s; delete its subkeys "
                            "instead",
                            op->key, fy_reg_path(r));
            } else if (fy_reg_key_open(r, NULL, path) &&
                       fy_reg_delete_key(r, NULL, path, err, sizeof err) != 0) {
                fy_diag_add(d, FY_DIAG_ERROR, file, op->line, op->col, "reg-import", "%s", err);
            }
            free(path);
            continue;
        }
        if (!cur) continue; /* its key failed and was reported */
        if (op->kind == FY_REGOP_DELETE_VALUE) {
            fy_reg_delete_value(r, cur, op->name);
        } else if (fy_reg_set_value(r, cur, op->name, op->type, op->data, op->len, err,
                                    sizeof err) != 0) {
            fy_diag_add(d, FY_DIAG_ERROR, file, op->line, op->col, "reg-import", "%s", err);
        }
    }
    free_mappings(m, nm);
    return d->errors > errors ? -1 : 0;
}

/* ================================================================ writer */

struct fy_regfile_writer {
    fy_regfile_format fmt;
    int fd;
    fy_buf *mem;
    char *path, *tmp; /* file writer */
    uint8_t *buf;
    size_t len, cap;
    int err; /* errno of the first failure; later output is dropped */
};

#define WBUF (256 * 1024)

static fy_regfile_writer *writer_new(fy_regfile_format fmt)
{
    fy_regfile_writer *w = fy_xcalloc(1, sizeof(*w));
    w->fmt = fmt;
    w->fd = -1;
    w->cap = WBUF;
    w->buf = fy_xmalloc(w->cap);
    return w;
}

static void flush(fy_regfile_writer *w)
{
    if (w->mem) {
        fy_buf_put(w->mem, w->buf, w->len);
    } else if (!w->err) {
        size_t off = 0;
        while (off < w->len) {
            ssize_t n = write(w->fd, w->buf + off, w->len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                w->err = n < 0 ? errno : EIO;
                break;
            }
            off += (size_t)n;
        }
    }
    w->len = 0;
}

static uint8_t *space(fy_regfile_writer *w, size_t n)
{
    if (w->cap - w->len < n) {
        flush(w);
        if (w->cap < n) {
            w->cap = n;
            w->buf = fy_xrealloc(w->buf, w->cap);
        }
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void out_ascii(fy_regfile_writer *w, const char *s, size_t n)
{
    if (w->fmt == FY_REGFILE_REGEDIT4) {
        memcpy(space(w, n), s, n);
        return;
    }
    uint8_t *p = space(w, 2 * n);
    for (size_t i = 0; i < n; i++)
        p[2 * i] = (uint8_t)s[i], p[2 * i + 1] = 0;
}

static void out_lit(fy_regfile_writer *w, const char *s)
{
    out_ascii(w, s, strlen(s));
}

static void put_unit(uint8_t **p, uint32_t u)
{
    (*p)[0] = (uint8_t)u, (*p)[1] = (uint8_t)(u >> 8);
    *p += 2;
}

/* UTF-8 text, with \ and " escaped when `escape`; returns its length in UTF-16 units
 * (escapes included), which is how regedit counts columns. */
static size_t out_text(fy_regfile_writer *w, const char *s, size_t n, bool escape)
{
    size_t units = 0;
    if (w->fmt == FY_REGFILE_REGEDIT4) {
        uint8_t *p = space(w, 2 * n), *p0 = p;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t l = fy_utf8_next(s + i, n - i, &cp);
            if (escape && (cp == '\\' || cp == '"')) *p++ = '\\', units++;
            memcpy(p, s + i, l);
            p += l;
            units += cp >= 0x10000 ? 2 : 1;
            i += l;
        }
        w->len -= 2 * n - (size_t)(p - p0);
        return units;
    }
    uint8_t *p = space(w, 4 * n), *p0 = p;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += fy_utf8_next(s + i, n - i, &cp);
        if (escape && (cp == '\\' || cp == '"')) put_unit(&p, '\\');
        if (cp >= 0x10000) {
            put_unit(&p, 0xD800 + ((cp - 0x10000) >> 10));
            put_unit(&p, 0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            put_unit(&p, cp);
        }
    }
    w->len -= 4 * n - (size_t)(p - p0);
    return (size_t)(p - p0) / 2;
}

/* REG_SZ data that "text" gives back exactly: even length, one NUL at the very end and
 * none before, no line breaks, no unpaired surrogates. */
static bool sz_is_clean(const uint8_t *d, uint32_t len)
{
    if (len < 2 || len % 2 || fy_le16(d + len - 2) != 0) return false;
    size_t units = len / 2 - 1;
    for (size_t i = 0; i < units; i++) {
        uint16_t u = fy_le16(d + 2 * i);
        if (u == 0 || u == '\r' || u == '\n') return false;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 1 >= units) return false;
            uint16_t l = fy_le16(d + 2 * i + 2);
            if (l < 0xDC00 || l > 0xDFFF) return false;
            i++;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            return false;
        }
    }
    return true;
}

static void out_sz(fy_regfile_writer *w, const uint8_t *d, uint32_t len)
{
    size_t units = len / 2 - 1;
    out_lit(w, "\"");
    if (w->fmt == FY_REGFILE_REGEDIT4) {
        size_t n;
        char *s = fy_utf16le_to_utf8(d, units * 2, false, &n);
        out_text(w, s, n, true);
        free(s);
    } else {
        uint8_t *p = space(w, 4 * units), *p0 = p;
        for (size_t i = 0; i < units; i++) {
            uint16_t u = fy_le16(d + 2 * i);
            if (u == '\\' || u == '"') put_unit(&p, '\\');
            put_unit(&p, u);
        }
        w->len -= 4 * units - (size_t)(p - p0);
    }
    out_lit(w, "\"\r\n");
}

/* regedit's layout: bytes as "xx," while the line, counted from its first column, stays
 * under 77 characters; past that, "\", a line break and a two-space indent. */
static void out_hex(fy_regfile_writer *w, size_t line_len, const uint8_t *d, size_t len)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        char t[3] = {hx[d[i] >> 4], hx[d[i] & 15], ','};
        if (i + 1 == len) {
            out_ascii(w, t, 2);
            break;
        }
        out_ascii(w, t, 3);
        line_len += 3;
        if (line_len >= 77) {
            out_ascii(w, "\\\r\n  ", 5);
            line_len = 2;
        }
    }
    out_lit(w, "\r\n");
}

/* A name the parser takes back: no line break, within Windows' length limit. */
static bool name_writable(const char *s, size_t max_units)
{
    return !strpbrk(s, "\r\n") && utf16_units(s, strlen(s)) <= max_units;
}

fy_regfile_writer *fy_regfile_writer_fd(int fd, fy_regfile_format fmt)
{
    fy_regfile_writer *w = writer_new(fmt);
    w->fd = fd;
    return w;
}

fy_regfile_writer *fy_regfile_writer_mem(fy_buf *out, fy_regfile_format fmt)
{
    fy_regfile_writer *w = writer_new(fmt);
    w->mem = out;
    return w;
}

fy_regfile_writer *fy_regfile_writer_file(const char *path, fy_regfile_format fmt, char *err,
                                          size_t err_size)
{
    char *tmp = fy_xasprintf("%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot create (%s)", path, strerror(errno));
        free(tmp);
        return NULL;
    }
    /* mkstemp makes 0600; a .reg file is not secret: keep an existing file's mode, else
     * the usual 0666 & ~umask. */
    struct stat st;
    mode_t mode;
    if (stat(path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t um = umask(0);
        umask(um);
        mode = 0666 & ~um;
    }
    if (fchmod(fd, mode) != 0) mode = 0; /* not fatal: the file is still written */
    fy_regfile_writer *w = writer_new(fmt);
    w->fd = fd;
    w->path = fy_xstrdup(path);
    w->tmp = tmp;
    return w;
}

void fy_regfile_write_header(fy_regfile_writer *w)
{
    if (w->fmt == FY_REGFILE_REGEDIT4) {
        out_lit(w, R4_HEADER);
    } else {
        uint8_t *p = space(w, 2);
        p[0] = 0xFF, p[1] = 0xFE;
        out_lit(w, V5_HEADER);
    }
    out_lit(w, "\r\n");
}

void fy_regfile_write_key(fy_regfile_writer *w, const char *path, bool delete)
{
    out_lit(w, delete ? "\r\n[-" : "\r\n[");
    out_text(w, path, strlen(path), false);
    out_lit(w, "]\r\n");
}

static size_t out_name(fy_regfile_writer *w, const char *name)
{
    if (!*name) {
        out_lit(w, "@=");
        return 2;
    }
    out_lit(w, "\"");
    size_t n = out_text(w, name, strlen(name), true);
    out_lit(w, "\"=");
    return n + 3;
}

void fy_regfile_write_value(fy_regfile_writer *w, const char *name, uint32_t type,
                            const uint8_t *data, uint32_t len)
{
    size_t line_len = out_name(w, name);
    if (type == FY_REG_SZ && sz_is_clean(data, len)) {
        out_sz(w, data, len);
        return;
    }
    if (type == FY_REG_DWORD && len == 4) {
        char t[16];
        snprintf(t, sizeof t, "dword:%08x", fy_le32(data));
        out_lit(w, t);
        out_lit(w, "\r\n");
        return;
    }
    char t[24];
    if (type == FY_REG_BINARY)
        snprintf(t, sizeof t, "hex:");
    else
        snprintf(t, sizeof t, "hex(%x):", type);
    out_lit(w, t);
    line_len += strlen(t);
    if (w->fmt == FY_REGFILE_REGEDIT4 && (type == FY_REG_EXPAND_SZ || type == FY_REG_MULTI_SZ)) {
        /* REGEDIT4 keeps these as ANSI bytes (UTF-8 here). */
        size_t n;
        char *s = fy_utf16le_to_utf8(data, len & ~1u, false, &n);
        out_hex(w, line_len, (const uint8_t *)s, n);
        free(s);
        return;
    }
    out_hex(w, line_len, data, len);
}

void fy_regfile_write_delete_value(fy_regfile_writer *w, const char *name)
{
    out_name(w, name);
    out_lit(w, "-\r\n");
}

static void skip_warn(fy_diags *warnings, const char *what, const fy_buf *path, const char *name)
{
    if (!warnings) return;
    fy_diag_add(warnings, FY_DIAG_WARNING, NULL, 0, 0, "reg-export",
                "%s \"%.80s\" under [%.*s] cannot be written in a .reg file (its name has a "
                "line break%s, or is longer than Windows allows); skipped",
                what, name, (int)path->len, (const char *)path->data,
                *what == 'k' ? ", a backslash or is empty" : "");
}

static void write_tree_rec(fy_regfile_writer *w, const fy_regkey *k, fy_buf *path,
                           fy_diags *warnings, size_t *skipped)
{
    fy_regfile_write_key(w, fy_buf_cstr(path), false);
    for (size_t i = 0; i < k->nval; i++) {
        const fy_regval *v = &k->val[i];
        if (!name_writable(v->name, MAX_VALUE_NAME)) {
            skip_warn(warnings, "value", path, v->name);
            (*skipped)++;
            continue;
        }
        fy_regfile_write_value(w, v->name, v->type, v->data, v->len);
    }
    for (size_t i = 0; i < k->nsub; i++) {
        const fy_regkey *c = k->sub[i];
        if (!*c->name || strchr(c->name, '\\') || !name_writable(c->name, MAX_KEY_NAME)) {
            skip_warn(warnings, "key", path, c->name);
            (*skipped)++;
            continue;
        }
        size_t mark = path->len;
        if (path->len && path->data[path->len - 1] != '\\') fy_buf_putc(path, '\\');
        fy_buf_puts(path, c->name);
        write_tree_rec(w, c, path, warnings, skipped);
        path->len = mark;
    }
}

size_t fy_regfile_write_tree(fy_regfile_writer *w, const fy_regkey *k, const char *path,
                             fy_diags *warnings)
{
    fy_buf pb = {0};
    size_t skipped = 0;
    fy_buf_puts(&pb, path);
    write_tree_rec(w, k, &pb, warnings, &skipped);
    fy_buf_free(&pb);
    return skipped;
}

void fy_regfile_write_ops(fy_regfile_writer *w, const fy_regfile *f)
{
    for (size_t i = 0; i < f->nops; i++) {
        const fy_regop *op = &f->ops[i];
        switch (op->kind) {
        case FY_REGOP_KEY:
            fy_regfile_write_key(w, op->key, false);
            break;
        case FY_REGOP_DELETE_KEY:
            fy_regfile_write_key(w, op->key, true);
            break;
        case FY_REGOP_VALUE:
            fy_regfile_write_value(w, op->name, op->type, op->data, op->len);
            break;
        case FY_REGOP_DELETE_VALUE:
            fy_regfile_write_delete_value(w, op->name);
            break;
        }
    }
}

static void writer_free(fy_regfile_writer *w)
{
    free(w->buf);
    free(w->path);
    free(w->tmp);
    free(w);
}

void fy_regfile_writer_abort(fy_regfile_writer *w)
{
    if (!w) return;
    if (w->tmp) {
        close(w->fd);
        unlink(w->tmp);
    }
    writer_free(w);
}

static int fsync_dir_of(const char *path)
{
    char *dir = fy_xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir) {
        d = "/";
    } else if (slash) {
        *slash = 0;
        d = dir;
    }
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int fy_regfile_writer_close(fy_regfile_writer *w, char *err, size_t err_size)
{
    out_lit(w, "\r\n");
    flush(w);
    const char *target = w->path ? w->path : "output";
    if (!w->err && w->tmp && fsync(w->fd) != 0) w->err = errno;
    if (w->tmp && close(w->fd) != 0 && !w->err) w->err = errno;
    if (!w->err && w->tmp && rename(w->tmp, w->path) != 0) w->err = errno;
    if (w->err) {
        snprintf(err, err_size, "%s: cannot write (%s)", target, strerror(w->err));
        if (w->tmp) unlink(w->tmp);
        errno = w->err;
        writer_free(w);
        return -1;
    }
    if (w->tmp) fsync_dir_of(w->path); /* best effort: the rename is done */
    writer_free(w);
    return 0;
}
