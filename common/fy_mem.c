/* Arena, abort-on-OOM heap helpers and growable buffers. */
#include "fy_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

struct fy_arena_block {
    fy_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

static void oom(void)
{
    fputs("ferry: out of memory\n", stderr);
    abort();
}

void *fy_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *fy_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) oom();
    return p;
}

void *fy_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) oom();
    return p;
}

char *fy_xstrdup(const char *s)
{
    return fy_xstrndup(s, strlen(s));
}

char *fy_xstrndup(const char *s, size_t n)
{
    char *p = fy_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *fy_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) oom();
    va_end(ap);
    return s;
}

void *fy_arena_alloc(fy_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    fy_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = fy_xmalloc(sizeof(*b) + cap);
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *fy_arena_strndup(fy_arena *a, const char *s, size_t n)
{
    char *p = fy_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    return p;
}

char *fy_arena_strdup(fy_arena *a, const char *s)
{
    return s ? fy_arena_strndup(a, s, strlen(s)) : NULL;
}

char *fy_arena_printf(fy_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) oom();
    va_end(ap);
    char *r = fy_arena_strdup(a, s);
    free(s);
    return r;
}

void *fy_arena_grow(fy_arena *a, void *ptr, size_t elem, size_t *cap, size_t need)
{
    if (need <= *cap) return ptr;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need) ncap *= 2;
    void *p = fy_arena_alloc(a, ncap * elem);
    if (ptr) memcpy(p, ptr, *cap * elem);
    *cap = ncap;
    return p;
}

void fy_arena_free(fy_arena *a)
{
    fy_arena_block *b = a->head;
    while (b) {
        fy_arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
}

void fy_buf_reserve(fy_buf *b, size_t extra)
{
    if (b->cap - b->len > extra) return;
    size_t ncap = b->cap ? b->cap * 2 : 64;
    while (ncap - b->len <= extra) ncap *= 2;
    b->data = fy_xrealloc(b->data, ncap);
    b->cap = ncap;
}

void fy_buf_put(fy_buf *b, const void *p, size_t n)
{
    fy_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

void fy_buf_putc(fy_buf *b, uint8_t c)
{
    fy_buf_put(b, &c, 1);
}

void fy_buf_puts(fy_buf *b, const char *s)
{
    fy_buf_put(b, s, strlen(s));
}

void fy_buf_printf(fy_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        fy_buf_reserve(b, (size_t)n + 1);
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void fy_buf_u16(fy_buf *b, uint16_t v)
{
    uint8_t t[2];
    fy_put_le16(t, v);
    fy_buf_put(b, t, 2);
}

void fy_buf_u32(fy_buf *b, uint32_t v)
{
    uint8_t t[4];
    fy_put_le32(t, v);
    fy_buf_put(b, t, 4);
}

void fy_buf_u64(fy_buf *b, uint64_t v)
{
    uint8_t t[8];
    fy_put_le64(t, v);
    fy_buf_put(b, t, 8);
}

char *fy_buf_cstr(fy_buf *b)
{
    fy_buf_reserve(b, 1);
    b->data[b->len] = 0;
    return (char *)b->data;
}

void fy_buf_free(fy_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *fy_exe_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    return fy_xstrdup(exe);
}
