/* Small shared pieces every module uses: an arena, growable buffers and vectors,
 * diagnostics with source positions, text decoding and case-insensitive matching.
 *
 * Ownership: memory from an arena belongs to the arena and is freed with it; a fy_buf
 * and a fy_diags own their storage and are freed with their _free function. */
#ifndef FY_COMMON_H
#define FY_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FY_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FY_NONE UINT32_MAX /* "no index" in every u32 index field */

/* ---- exit codes shared by all three programs (docs/agent.md) ---- */
enum {
    FY_EXIT_OK = 0,
    FY_EXIT_PARTIAL = 1,
    FY_EXIT_USAGE = 2,
    FY_EXIT_PROGRAM = 3,
    FY_EXIT_STORE = 4,
    FY_EXIT_PASSWORD = 5,
    FY_EXIT_MACHINE = 6,
    FY_EXIT_IO = 7,
    FY_EXIT_CANCELLED = 8,
};

/* ---- arena: bump allocator; everything is freed at once ---- */
typedef struct fy_arena_block fy_arena_block;
typedef struct fy_arena {
    fy_arena_block *head;
} fy_arena;

void *fy_arena_alloc(fy_arena *a, size_t n); /* zeroed; aborts on out of memory */
char *fy_arena_strdup(fy_arena *a, const char *s);
char *fy_arena_strndup(fy_arena *a, const char *s, size_t n);
char *fy_arena_printf(fy_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows an array allocated in the arena to hold at least need elements (doubling). */
void *fy_arena_grow(fy_arena *a, void *ptr, size_t elem, size_t *cap, size_t need);
void fy_arena_free(fy_arena *a);

/* Append one element to an arena array: FY_APUSH(arena, arr, n, cap) = value; */
#define FY_APUSH(arena, arr, n, cap)                                                           \
    (*((arr) = fy_arena_grow((arena), (arr), sizeof(*(arr)), &(cap), (n) + 1), &(arr)[(n)++]))

/* ---- heap helpers that abort on out of memory (a CLI tool cannot do better) ---- */
void *fy_xmalloc(size_t n);
void *fy_xcalloc(size_t n, size_t m);
void *fy_xrealloc(void *p, size_t n);
char *fy_xstrdup(const char *s);
char *fy_xstrndup(const char *s, size_t n);
char *fy_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- growable byte buffer ---- */
typedef struct fy_buf {
    uint8_t *data;
    size_t len, cap;
} fy_buf;

void fy_buf_reserve(fy_buf *b, size_t extra);
void fy_buf_put(fy_buf *b, const void *p, size_t n);
void fy_buf_putc(fy_buf *b, uint8_t c);
void fy_buf_puts(fy_buf *b, const char *s);
void fy_buf_printf(fy_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fy_buf_u16(fy_buf *b, uint16_t v); /* little-endian */
void fy_buf_u32(fy_buf *b, uint32_t v);
void fy_buf_u64(fy_buf *b, uint64_t v);
char *fy_buf_cstr(fy_buf *b); /* NUL-terminates (not counted in len) and returns data */
void fy_buf_free(fy_buf *b);

static inline uint16_t fy_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t fy_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t fy_le64(const uint8_t *p)
{
    return (uint64_t)fy_le32(p) | ((uint64_t)fy_le32(p + 4) << 32);
}
static inline void fy_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void fy_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void fy_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes a message into err (when err and err_size), sets errno to e, returns -1: the one-line
 * failure of every function with an (err, err_size) out-parameter. */
int fy_fail(char *err, size_t err_size, int e, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The folder of the running program (/proc/self/exe), malloc'd; NULL when unknown. */
char *fy_exe_dir(void);

/* ---- diagnostics ---- */
typedef enum { FY_DIAG_ERROR, FY_DIAG_WARNING, FY_DIAG_NOTE } fy_diag_level;

typedef struct fy_diag {
    fy_diag_level level;
    char *file;    /* may be NULL (command line, whole program) */
    uint32_t line; /* 1-based; 0 = unknown */
    uint32_t col;  /* 1-based, in characters of the decoded line; 0 = unknown */
    char *check;   /* lint check name, e.g. "unknown-token"; never NULL */
    char *message;
} fy_diag;

typedef struct fy_diags {
    fy_diag *v;
    size_t n, cap;
    size_t errors, warnings;
} fy_diags;

void fy_diag_add(fy_diags *d, fy_diag_level level, const char *file, uint32_t line, uint32_t col,
                 const char *check, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void fy_diag_vadd(fy_diags *d, fy_diag_level level, const char *file, uint32_t line, uint32_t col,
                  const char *check, const char *fmt, va_list ap);
/* Sorts by file, line, column (stable). */
void fy_diags_sort(fy_diags *d);
void fy_diags_free(fy_diags *d);
const char *fy_diag_level_name(fy_diag_level l); /* "error", "warning", "note" */

/* ---- text ---- */
/* Decodes a source file's bytes into UTF-8: UTF-8 with or without BOM, UTF-16LE with BOM
 * (and UTF-16BE with BOM). CRLF is kept (parsers treat \r\n as a line end). Returns 0, or -1
 * with a message in *err (static string) for invalid UTF-8 / UTF-16. *out is malloc'd,
 * NUL-terminated. */
int fy_text_decode(const uint8_t *in, size_t n, char **out, size_t *out_len, const char **err);
/* UTF-16LE (n bytes) to UTF-8, malloc'd. Unpaired surrogates become U+FFFD. Stops at the
 * first NUL code unit when stop_at_nul. */
char *fy_utf16le_to_utf8(const uint8_t *in, size_t n, bool stop_at_nul, size_t *out_len);
/* UTF-8 to UTF-16LE, malloc'd; *out_len in bytes, no terminator added. NULL on invalid UTF-8. */
uint8_t *fy_utf8_to_utf16le(const char *in, size_t n, size_t *out_len);
bool fy_utf8_valid(const char *s, size_t n);
/* Number of code points in s[0..n): columns are counted in characters. */
size_t fy_utf8_count(const char *s, size_t n);

/* Case folding as NTFS compares names: ASCII and Latin-1/Latin Extended-A/Greek/Cyrillic
 * simple upper-casing. Returns the upper-case code point. */
uint32_t fy_fold_cp(uint32_t cp);
/* Reads one code point; returns its byte length (1 for invalid bytes, cp = byte). */
size_t fy_utf8_next(const char *s, size_t n, uint32_t *cp);
/* Case-insensitive comparison of UTF-8 strings: <0, 0, >0. */
int fy_strcasecmp_u8(const char *a, size_t an, const char *b, size_t bn);
bool fy_streq_ci(const char *a, const char *b);
/* Case-insensitive wildcard match: '*' matches any run (including '\\' only when
 * star_crosses_sep), '?' one character. Patterns are UTF-8; "^*" "^?" are literal. No
 * allocation, no recursion blow-up (linear backtracking). */
bool fy_glob_match(const char *pat, size_t pn, const char *s, size_t sn, bool star_crosses_sep);
/* True when the pattern has no wildcard. */
bool fy_glob_is_literal(const char *pat, size_t pn);

/* Upper-cases UTF-8 with fy_fold_cp; malloc'd, NUL-terminated. */
char *fy_upper_utf8(const char *s, size_t n);

/* FNV-1a 32-bit over case-folded UTF-8 (for dispatch hash buckets). */
uint32_t fy_hash_ci(const char *s, size_t n);

#endif
