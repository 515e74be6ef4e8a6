/* A one-line progress bar on a terminal: files, bytes, rate, ETA, redrawn with '\r' at most
 * ten times a second. Nothing at all when the output is not a TTY or --hide-status is given.
 *
 * Ownership: fy_progress_new returns a bar the caller frees with fy_progress_free (which
 * clears the line). The bar does not own its fd. Not thread-safe: one thread updates it
 * (fy_log serialises its own fy_progress_clear calls). */
#ifndef FY_PROGRESS_H
#define FY_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fy_progress fy_progress;

/* What the bar shows. A total of 0 means "not known yet" (no ETA, no percentage). */
typedef struct fy_progress_state {
    uint64_t files_done, files_total;
    uint64_t bytes_done, bytes_total;
    double elapsed; /* seconds since the start */
} fy_progress_state;

/* Formats the bar into buf (at most width columns, never more than size-1 bytes), e.g.
 * "[#######.............]  35%  120/342 files  1.2/3.4 GiB  45.6 MiB/s  ETA 0:00:51".
 * Pure: no clock, no terminal. Returns the length written. */
size_t fy_progress_format(char *buf, size_t size, const fy_progress_state *s, unsigned width);

/* A bar on fd (normally 2). Enabled only when !hide and isatty(fd). label (may be NULL) is
 * shown first, e.g. "Extracting". */
fy_progress *fy_progress_new(int fd, bool hide, const char *label);
bool fy_progress_enabled(const fy_progress *p);
void fy_progress_set_total(fy_progress *p, uint64_t files, uint64_t bytes);
/* Records progress; redraws when 100 ms have passed since the last drawing. */
void fy_progress_update(fy_progress *p, uint64_t files_done, uint64_t bytes_done);
/* Erases the bar (before other output on the terminal); the next update redraws it. */
void fy_progress_clear(fy_progress *p);
/* Draws the final state, ends the line and frees (NULL is fine). */
void fy_progress_free(fy_progress *p);

/* Human sizes, e.g. "1.2 GiB", "512 B" (pure). */
void fy_progress_bytes(char *buf, size_t size, double bytes);

#endif
