/* Line and field tokenizer shared by the legacy front ends (see fy_lex.h). */
#include "fy_lex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tracks line and column over a stream of code points, ending lines as fy_lex_next does. */
typedef struct {
    uint32_t line, col;
    bool after_cr;
} pos_tracker;

static void track(pos_tracker *t, uint32_t cp)
{
    if (cp == '\n' && t->after_cr) {
        t->after_cr = false; /* second half of "\r\n" */
        return;
    }
    t->after_cr = cp == '\r';
    if (cp == '\n' || cp == '\r') {
        t->line++;
        t->col = 1;
    } else {
        t->col++;
    }
}

void fy_lex_locate_bad(const uint8_t *in, size_t n, uint32_t *line, uint32_t *col)
{
    pos_tracker t = {1, 1, false};
    if (n >= 2 && ((in[0] == 0xFF && in[1] == 0xFE) || (in[0] == 0xFE && in[1] == 0xFF))) {
        bool be = in[0] == 0xFE;
        size_t units = (n - 2) / 2;
        const uint8_t *u = in + 2;
        for (size_t i = 0; i < units; i++) {
            uint32_t c = be ? (uint32_t)((u[2 * i] << 8) | u[2 * i + 1]) : fy_le16(u + 2 * i);
            if (c == 0) goto out;
            if (c >= 0xD800 && c <= 0xDBFF && i + 1 < units) {
                uint32_t lo =
                    be ? (uint32_t)((u[2 * i + 2] << 8) | u[2 * i + 3]) : fy_le16(u + 2 * i + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    i++;
                    track(&t, 0x10000);
                    continue;
                }
            }
            if (c >= 0xD800 && c <= 0xDFFF) goto out;
            track(&t, c);
        }
        goto out; /* odd length: the fault is the last, incomplete unit */
    }
    size_t i = 0;
    if (n >= 3 && in[0] == 0xEF && in[1] == 0xBB && in[2] == 0xBF) i = 3;
    while (i < n) {
        uint32_t cp;
        size_t l = fy_utf8_next((const char *)in + i, n - i, &cp);
        if ((l == 1 && in[i] >= 0x80) || in[i] == 0) break;
        track(&t, cp);
        i += l;
    }
out:
    *line = t.line;
    *col = t.col;
}

int fy_lex_load(const char *path, const char *name, fy_diags *diags, char **text, size_t *len)
{
    int rc = -1;
    uint8_t *data = NULL;
    const char *err = NULL;
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fy_diag_add(diags, FY_DIAG_ERROR, name, 0, 0, "unreadable", "cannot open: %s",
                    strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fy_diag_add(diags, FY_DIAG_ERROR, name, 0, 0, "unreadable", "cannot read: %s",
                    strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fy_diag_add(diags, FY_DIAG_ERROR, name, 0, 0, "unreadable",
                    S_ISDIR(st.st_mode) ? "is a folder, not a file" : "is not a regular file");
        goto out;
    }
    if ((uint64_t)st.st_size > FY_LEX_MAX_FILE) {
        fy_diag_add(diags, FY_DIAG_ERROR, name, 0, 0, "unreadable",
                    "file is larger than %u MiB; is this really a template?",
                    FY_LEX_MAX_FILE / (1024u * 1024u));
        goto out;
    }
    /* Read to the end rather than trusting st_size: the file may change under us. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    data = fy_xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap > FY_LEX_MAX_FILE) {
                fy_diag_add(diags, FY_DIAG_ERROR, name, 0, 0, "unreadable",
                            "file is larger than %u MiB; is this really a template?",
                            FY_LEX_MAX_FILE / (1024u * 1024u));
                goto out;
            }
            cap *= 2;
            data = fy_xrealloc(data, cap);
        }
        ssize_t r = read(fd, data + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fy_diag_add(diags, FY_DIAG_ERROR, name, 0, 0, "unreadable", "cannot read: %s",
                        strerror(errno));
            goto out;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (fy_text_decode(data, n, text, len, &err) != 0) {
        uint32_t line, col;
        fy_lex_locate_bad(data, n, &line, &col);
        fy_diag_add(diags, FY_DIAG_ERROR, name, line, col, "encoding", "%s", err);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    free(data);
    return rc;
}

void fy_lex_init(fy_lexer *lx, const char *text, size_t len)
{
    lx->text = text;
    lx->len = len;
    lx->off = 0;
    lx->no = 0;
}

bool fy_lex_next(fy_lexer *lx, fy_line *out)
{
    if (lx->off >= lx->len) return false;
    size_t s = lx->off, e = s;
    while (e < lx->len && lx->text[e] != '\n' && lx->text[e] != '\r')
        e++;
    out->s = lx->text + s;
    out->n = e - s;
    out->no = ++lx->no;
    if (e < lx->len && lx->text[e] == '\r') {
        e++;
        if (e < lx->len && lx->text[e] == '\n') e++; /* "\r\n" is one line end */
    } else if (e < lx->len) {
        e++; /* '\n' */
    }
    lx->off = e;
    return true;
}

uint32_t fy_lex_col(const fy_line *l, size_t off)
{
    if (off > l->n) off = l->n;
    return (uint32_t)fy_utf8_count(l->s, off) + 1;
}

void fy_lex_trim(const char *s, size_t *b, size_t *e)
{
    while (*b < *e && fy_lex_blank(s[*b]))
        (*b)++;
    while (*e > *b && fy_lex_blank(s[*e - 1]))
        (*e)--;
}

int fy_lex_comment(const fy_line *l, fy_comment_style style, size_t *start, size_t *err_off)
{
    const char *s = l->s;
    size_t n = l->n;
    bool field_start = true; /* a comment may begin here (FY_LEX_COMMENT_FIELD) */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            const char *q = memchr(s + i + 1, '"', n - i - 1);
            if (!q) {
                *err_off = i;
                return -1;
            }
            i = (size_t)(q - s);
            field_start = true;
            continue;
        }
        if ((c == '#' || c == ';') && (style == FY_LEX_COMMENT_ANYWHERE || field_start)) {
            *start = i;
            return 0;
        }
        field_start = fy_lex_blank(c);
    }
    *start = n;
    return 0;
}

int fy_lex_fields(const fy_line *l, fy_fields *f, const char **err, size_t *err_off)
{
    f->n = 0;
    const char *s = l->s;
    size_t n = l->n, i = 0;
    while (i < n) {
        while (i < n && fy_lex_blank(s[i]))
            i++;
        if (i >= n || s[i] == '#' || s[i] == ';') return 0;
        fy_field fd = {0};
        fd.off = i;
        if (s[i] == '"') {
            const char *q = memchr(s + i + 1, '"', n - i - 1);
            if (!q) {
                *err = "double quote not closed";
                *err_off = i;
                return -1;
            }
            fd.quoted = true;
            fd.coff = i + 1;
            fd.s = s + i + 1;
            fd.n = (size_t)(q - s) - i - 1;
            i = (size_t)(q - s) + 1;
            if (i < n && !fy_lex_blank(s[i]) && s[i] != '#' && s[i] != ';') {
                *err = "white space expected after the closing double quote";
                *err_off = i;
                return -1;
            }
        } else {
            fd.coff = i;
            fd.s = s + i;
            while (i < n && !fy_lex_blank(s[i])) {
                if (s[i] == '"') {
                    *err = "a double quote may only begin a field; quote the whole field";
                    *err_off = i;
                    return -1;
                }
                i++;
            }
            fd.n = i - fd.coff;
        }
        fd.end = i;
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 8;
            f->v = fy_xrealloc(f->v, f->cap * sizeof(*f->v));
        }
        f->v[f->n++] = fd;
    }
    return 0;
}

void fy_fields_free(fy_fields *f)
{
    free(f->v);
    memset(f, 0, sizeof(*f));
}

void fy_lex_diag(fy_diags *d, fy_diag_level level, const char *file, const fy_line *l, size_t off,
                 const char *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(d, level, file, l->no, fy_lex_col(l, off), check, fmt, ap);
    va_end(ap);
}

const char *fy_lex_path_check(const char *err)
{
    return strstr(err, "unknown token") || strstr(err, "unterminated") ? "unknown-token"
                                                                       : "bad-path";
}

static char fold_ascii(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

int fy_lex_nearest(const char *s, size_t n, const char *const *cands, size_t ncands)
{
    enum { MAXLEN = 64 };
    if (n == 0 || n >= MAXLEN) return -1;
    int best = -1;
    size_t best_d = SIZE_MAX;
    for (size_t k = 0; k < ncands; k++) {
        const char *c = cands[k];
        size_t m = strlen(c);
        if (m >= MAXLEN) continue;
        /* Levenshtein distance, one row at a time. */
        size_t row[MAXLEN + 1];
        for (size_t j = 0; j <= m; j++)
            row[j] = j;
        for (size_t i = 1; i <= n; i++) {
            size_t diag = row[0];
            row[0] = i;
            for (size_t j = 1; j <= m; j++) {
                size_t up = row[j];
                size_t cost = fold_ascii(s[i - 1]) == fold_ascii(c[j - 1]) ? 0 : 1;
                size_t v = diag + cost;
                if (row[j] + 1 < v) v = row[j] + 1;
                if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
                row[j] = v;
                diag = up;
            }
        }
        if (row[m] < best_d) {
            best_d = row[m];
            best = (int)k;
        }
    }
    if (best < 0) return -1;
    /* A likely typo: at most about a quarter of the longer name differs. */
    size_t m = strlen(cands[best]), longer = n > m ? n : m;
    return best_d <= (longer + 3) / 4 ? best : -1;
}
