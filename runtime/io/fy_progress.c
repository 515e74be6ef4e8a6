/* The terminal progress bar. Drawing is throttled by a monotonic clock; formatting is pure
 * (fy_progress_format), which is what the tests check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fy_common.h"
#include "io/fy_progress.h"

struct fy_progress {
    int fd;
    bool enabled;
    bool drawn; /* a bar is on the line now */
    char *label;
    fy_progress_state st;
    struct timespec start, last;
};

void fy_progress_bytes(char *buf, size_t size, double b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;
    while (b >= 1024.0 && u + 1 < FY_ARRAY_LEN(units)) {
        b /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%.0f B", b);
    else
        snprintf(buf, size, "%.1f %s", b, units[u]);
}

static void fmt_eta(char *buf, size_t size, double secs)
{
    if (secs > 359999.0) secs = 359999.0; /* 99:59:59 */
    unsigned long s = (unsigned long)(secs + 0.5);
    snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
}

size_t fy_progress_format(char *buf, size_t size, const fy_progress_state *s, unsigned width)
{
    if (!size) return 0;
    char parts[5][48];
    size_t np = 0;
    double frac = -1;
    if (s->bytes_total)
        frac = (double)s->bytes_done / (double)s->bytes_total;
    else if (s->files_total)
        frac = (double)s->files_done / (double)s->files_total;
    if (frac > 1) frac = 1;
    if (frac >= 0) snprintf(parts[np++], sizeof parts[0], "%3d%%", (int)(frac * 100));
    if (s->files_total)
        snprintf(parts[np++], sizeof parts[0], "%llu/%llu files", (unsigned long long)s->files_done,
                 (unsigned long long)s->files_total);
    else
        snprintf(parts[np++], sizeof parts[0], "%llu files", (unsigned long long)s->files_done);
    char a[24], b[24];
    fy_progress_bytes(a, sizeof a, (double)s->bytes_done);
    if (s->bytes_total) {
        fy_progress_bytes(b, sizeof b, (double)s->bytes_total);
        snprintf(parts[np++], sizeof parts[0], "%s/%s", a, b);
    } else {
        snprintf(parts[np++], sizeof parts[0], "%s", a);
    }
    double rate = s->elapsed > 0.05 ? (double)s->bytes_done / s->elapsed : 0;
    if (rate > 0) {
        fy_progress_bytes(a, sizeof a, rate);
        snprintf(parts[np++], sizeof parts[0], "%s/s", a);
    }
    if (s->bytes_total && rate > 0 && s->bytes_done <= s->bytes_total) {
        fmt_eta(a, sizeof a, (double)(s->bytes_total - s->bytes_done) / rate);
        snprintf(parts[np++], sizeof parts[0], "ETA %s", a);
    }
    /* The text first; a bar in front when there is room for at least ten cells. */
    char text[256];
    size_t tl = 0;
    for (size_t i = 0; i < np; i++) {
        int k = snprintf(text + tl, sizeof text - tl, "%s%s", i ? "  " : "", parts[i]);
        if (k < 0 || (size_t)k >= sizeof text - tl) break;
        tl += (size_t)k;
    }
    size_t w = width < size - 1 ? width : size - 1;
    size_t o = 0;
    if (frac >= 0 && w >= tl + 14) {
        size_t cells = w - tl - 3;
        if (cells > 40) cells = 40;
        size_t full = (size_t)(frac * (double)cells);
        buf[o++] = '[';
        for (size_t i = 0; i < cells; i++)
            buf[o++] = i < full ? '#' : '.';
        buf[o++] = ']';
        buf[o++] = ' ';
    }
    size_t k = tl < w - o ? tl : w - o;
    memcpy(buf + o, text, k);
    o += k;
    buf[o] = '\0';
    return o;
}

fy_progress *fy_progress_new(int fd, bool hide, const char *label)
{
    fy_progress *p = fy_xcalloc(1, sizeof *p);
    p->fd = fd;
    p->enabled = !hide && isatty(fd);
    p->label = label ? fy_xstrdup(label) : NULL;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    return p;
}

bool fy_progress_enabled(const fy_progress *p)
{
    return p && p->enabled;
}

void fy_progress_set_total(fy_progress *p, uint64_t files, uint64_t bytes)
{
    if (!p) return;
    p->st.files_total = files;
    p->st.bytes_total = bytes;
}

static double secs_between(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void draw(fy_progress *p, struct timespec t)
{
    unsigned width = 80;
    struct winsize ws;
    if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) width = ws.ws_col;
    p->st.elapsed = secs_between(p->start, t);
    char line[512];
    size_t o = 0;
    line[o++] = '\r';
    size_t ll = p->label ? strlen(p->label) + 2 : 0;
    if (ll && ll < 40 && width > ll + 30) {
        memcpy(line + o, p->label, ll - 2);
        memcpy(line + o + ll - 2, ": ", 2);
        o += ll;
        width -= (unsigned)ll;
    }
    /* one column spare: writing the last column moves some terminals to the next line */
    o += fy_progress_format(line + o, sizeof line - o - 8, &p->st, width - 1);
    memcpy(line + o, "\033[K", 3); /* erase what a longer earlier line left */
    o += 3;
    if (write(p->fd, line, o) < 0) p->enabled = false;
    p->drawn = true;
    p->last = t;
}

void fy_progress_update(fy_progress *p, uint64_t files_done, uint64_t bytes_done)
{
    if (!p) return;
    p->st.files_done = files_done;
    p->st.bytes_done = bytes_done;
    if (!p->enabled) return;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (p->drawn && secs_between(p->last, t) < 0.1) return;
    draw(p, t);
}

void fy_progress_clear(fy_progress *p)
{
    if (!p || !p->enabled || !p->drawn) return;
    if (write(p->fd, "\r\033[K", 4) < 0) p->enabled = false;
    p->drawn = false;
}

void fy_progress_free(fy_progress *p)
{
    if (!p) return;
    if (p->enabled) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        draw(p, t);
        if (write(p->fd, "\n", 1) < 0) p->enabled = false;
    }
    free(p->label);
    free(p);
}
