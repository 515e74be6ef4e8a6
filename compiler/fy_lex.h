/* The line and field tokenizer that the legacy front ends (SE.cfg, SE.rul, SE.ptt) share.
 *
 * A source is first loaded and decoded to UTF-8 (fy_lex_load: UTF-8 with or without BOM,
 * UTF-16LE/BE with BOM), then cut into lines (a line ends at "\n", "\r\n" or a lone "\r")
 * and each line into fields. Every position is a byte offset into its line; fy_lex_col turns
 * it into the 1-based column in characters (code points) that diagnostics print.
 *
 * Ownership: fy_lex_load returns a malloc'd buffer the caller frees. fy_line and fy_field
 * point into that buffer and own nothing. fy_fields owns its array (fy_fields_free). */
#ifndef FY_LEX_H
#define FY_LEX_H

#include "fy_common.h"

/* Largest source file read (a template is a few KB; this only stops runaway input). */
#define FY_LEX_MAX_FILE (16u * 1024u * 1024u)

/* Reads and decodes a source file. On failure adds one diagnostic to diags (check
 * "unreadable" when the file cannot be opened or read, "encoding" when its bytes are not
 * UTF-8 / UTF-16 text, with the line and column of the first bad character) and returns
 * -1. `name` is the file name diagnostics carry. *text is NUL-terminated, malloc'd. */
int fy_lex_load(const char *path, const char *name, fy_diags *diags, char **text, size_t *len);

/* Finds where decoding of in[0..n) fails, as fy_text_decode would: the 1-based line and
 * column (characters) of the first undecodable unit, counted like the decoded text. */
void fy_lex_locate_bad(const uint8_t *in, size_t n, uint32_t *line, uint32_t *col);

/* ---- lines ---- */
typedef struct fy_line {
    const char *s; /* first byte; the line is s[0..n), not NUL-terminated */
    size_t n;      /* bytes, line end excluded */
    uint32_t no;   /* 1-based line number */
} fy_line;

typedef struct fy_lexer {
    const char *text;
    size_t len, off;
    uint32_t no;
} fy_lexer;

void fy_lex_init(fy_lexer *lx, const char *text, size_t len);
/* Next line, or false at the end of the text. */
bool fy_lex_next(fy_lexer *lx, fy_line *out);
/* 1-based column in characters of byte offset off (0..n) in the line. */
uint32_t fy_lex_col(const fy_line *l, size_t off);

/* ---- comments ---- */
typedef enum {
    /* '#' or ';' starts a comment only where a field could start: at the start of the line
     * or after white space (or right after a closing quote). "C#" stays a name. (SE.rul,
     * SE.ptt) */
    FY_LEX_COMMENT_FIELD = 0,
    /* '#' or ';' starts a comment anywhere outside double quotes. (SE.cfg) */
    FY_LEX_COMMENT_ANYWHERE = 1,
} fy_comment_style;

/* Byte offset where the line's comment starts (n when none), skipping over double-quoted
 * text. Returns -1 when a double quote is not closed, with *err_off at that quote. */
int fy_lex_comment(const fy_line *l, fy_comment_style style, size_t *start, size_t *err_off);

/* ---- fields ---- */
typedef struct fy_field {
    const char *s; /* content, quotes removed: s[0..n) */
    size_t n;
    size_t off;  /* byte offset in the line of the field's first byte (the quote if quoted) */
    size_t coff; /* byte offset in the line of the content's first byte */
    size_t end;  /* byte offset just past the field (past the closing quote) */
    bool quoted;
} fy_field;

typedef struct fy_fields {
    fy_field *v;
    size_t n, cap;
} fy_fields;

/* Splits the line (up to its comment, FY_LEX_COMMENT_FIELD style) into fields separated by
 * spaces and tabs; a double-quoted field may hold spaces and has no escapes. Clears f
 * first. Returns 0, or -1 with a static message in *err and the byte offset of the fault
 * in *err_off (an unclosed quote, text glued to a closing quote); the fields before the
 * fault are in f. */
int fy_lex_fields(const fy_line *l, fy_fields *f, const char **err, size_t *err_off);
void fy_fields_free(fy_fields *f);

/* True when c is a blank (space or tab). */
static inline bool fy_lex_blank(char c)
{
    return c == ' ' || c == '\t';
}
/* Trims blanks from both ends of s[*b..*e). */
void fy_lex_trim(const char *s, size_t *b, size_t *e);

/* ---- helpers for the front ends ---- */
/* Adds a diagnostic at byte offset off of line l of file. */
void fy_lex_diag(fy_diags *d, fy_diag_level level, const char *file, const fy_line *l, size_t off,
                 const char *check, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* The lint check a path-normalisation error from fy_path.c belongs to: "unknown-token" for
 * an unknown or unterminated token, else "bad-path". */
const char *fy_lex_path_check(const char *err);
/* Index of the candidate closest to s[0..n) (case-insensitive edit distance), or -1 when
 * none is close enough to be a likely typo. For "did you mean" hints. */
int fy_lex_nearest(const char *s, size_t n, const char *const *cands, size_t ncands);

#endif
