/* Diagnostics: collected, sorted, printed by the caller in the format it wants. */
#include "fy_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

void fy_diag_vadd(fy_diags *d, fy_diag_level level, const char *file, uint32_t line, uint32_t col,
                  const char *check, const char *fmt, va_list ap)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = fy_xrealloc(d->v, d->cap * sizeof(*d->v));
    }
    fy_diag *g = &d->v[d->n++];
    g->level = level;
    g->file = file ? fy_xstrdup(file) : NULL;
    g->line = line;
    g->col = col;
    g->check = fy_xstrdup(check ? check : "error");
    if (vasprintf(&g->message, fmt, ap) < 0) g->message = fy_xstrdup("(message lost)");
    if (level == FY_DIAG_ERROR) d->errors++;
    if (level == FY_DIAG_WARNING) d->warnings++;
}

void fy_diag_add(fy_diags *d, fy_diag_level level, const char *file, uint32_t line, uint32_t col,
                 const char *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(d, level, file, line, col, check, fmt, ap);
    va_end(ap);
}

void fy_diags_sort(fy_diags *d)
{
    /* Insertion sort: diagnostics are few, and it is stable, so equal positions keep the
     * order in which the checks reported them. */
    size_t n = d->n;
    if (n < 2) return;
    for (size_t i = 1; i < n; i++) {
        fy_diag t = d->v[i];
        size_t j = i;
        while (j > 0) {
            fy_diag *p = &d->v[j - 1];
            int c = strcmp(p->file ? p->file : "", t.file ? t.file : "");
            if (!c) c = p->line != t.line ? (p->line < t.line ? -1 : 1) : 0;
            if (!c) c = p->col != t.col ? (p->col < t.col ? -1 : 1) : 0;
            if (c <= 0) break;
            d->v[j] = *p;
            j--;
        }
        d->v[j] = t;
    }
}

void fy_diags_free(fy_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].check);
        free(d->v[i].message);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

const char *fy_diag_level_name(fy_diag_level l)
{
    switch (l) {
    case FY_DIAG_ERROR: return "error";
    case FY_DIAG_WARNING: return "warning";
    default: return "note";
    }
}

int fy_fail(char *err, size_t err_size, int e, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    errno = e;
    return -1;
}
