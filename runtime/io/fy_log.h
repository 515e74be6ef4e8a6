/* One log per operation (extract, inject, backup, restore), as docs/agent.md "Logs" says:
 * named <COMPUTER>_<YYYY-MM-DD>_<HH-MM-SS>_<Ext|Inj|Bak|Res>.log (UTC), written to --log-dir
 * (default /var/log/ferry) from the start and to the personality folder once it is known
 * (fy_log_attach copies what was written so far). Text or CMTrace lines; sections as
 * Migration Manager's logs have; every line filtered by level except section lines.
 * Nothing written to a log ever holds a password: the command line is masked
 * (fy_log_mask_argv) and every registered secret is replaced by ******** in every line.
 * Format details: docs/agent-io.md.
 *
 * Ownership: fy_log_open returns a log the caller frees with fy_log_close. Strings returned
 * by fy_log_mask_argv and fy_log_file_name are malloc'd and the caller frees them; paths
 * returned by fy_log_path belong to the log. A log is safe to use from several threads. */
#ifndef FY_LOG_H
#define FY_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct fy_progress;

typedef enum {
    FY_LOG_ERROR = 1,
    FY_LOG_WARNING = 2,
    FY_LOG_INFO = 3, /* "Informational" */
    FY_LOG_VERBOSE = 4,
    FY_LOG_TRACE = 5,
} fy_log_level;

typedef enum { FY_LOG_TEXT = 0, FY_LOG_CMTRACE = 1 } fy_log_format;

typedef enum { FY_OP_EXTRACT, FY_OP_INJECT, FY_OP_BACKUP, FY_OP_RESTORE } fy_log_op;

#define FY_LOG_DEFAULT_DIR "/var/log/ferry"

typedef struct fy_log_opts {
    const char *computer; /* for the file name; sanitised, upper-cased; NULL = "UNKNOWN" */
    fy_log_op op;
    fy_log_level level; /* lines above it are dropped; 0 = FY_LOG_INFO */
    fy_log_format format;
    const char *log_dir; /* NULL = FY_LOG_DEFAULT_DIR; "" = no log-dir copy */
    const char *program; /* header: "ferry" */
    const char *version; /* header: FERRY_VERSION */
    int argc;            /* header: the command line, masked with fy_log_mask_argv */
    char *const *argv;
    FILE *echo; /* NULL = none; else lines at or below echo_level also go here */
    fy_log_level echo_level;
    /* The clock (CLOCK_REALTIME when NULL): tests make names and lines reproducible. */
    struct timespec (*clock)(void *ctx);
    void *clock_ctx;
} fy_log_opts;

typedef struct fy_log fy_log;

/* Opens the log and writes the Header section (program, version, masked command line).
 * When the log folder cannot be made or written, a warning goes to stderr (or o->echo) and
 * the log goes on in memory until fy_log_attach gives it a file. Fails only for bad
 * options (-1 with a message). */
int fy_log_open(const fy_log_opts *o, fy_log **out, char *err, size_t err_size);

/* Adds a second (third, ...) copy in dir, e.g. the personality folder; the lines written so
 * far are copied into it first. The same file name is used (a "-2", "-3" suffix if it is
 * taken); a folder that already holds a copy is left as it is. -1 with a message when the
 * file cannot be made; the log goes on without it. */
int fy_log_attach(fy_log *l, const char *dir, char *err, size_t err_size);

/* Every later line has each occurrence of secret replaced by ********. Copies secret. */
void fy_log_add_secret(fy_log *l, const char *secret);

/* Section lines, written whatever the level: "==== title ====" and "  name: value". */
void fy_log_section(fy_log *l, const char *title);
void fy_log_item(fy_log *l, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The Time section's start line (the end and the duration come with fy_log_close). */
void fy_log_time_section(fy_log *l);

/* A line at a level; dropped when above the log's level, counted when Error or Warning
 * (whether or not it is written). Multi-line text gives one log line per line. */
void fy_log_msg(fy_log *l, fy_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fy_log_vmsg(fy_log *l, fy_log_level lv, const char *fmt, va_list ap);
/* Changes the level from here on (the agent learns the template's Log Level only once it
 * has loaded a personality's program). */
void fy_log_set_level(fy_log *l, fy_log_level lv);
bool fy_log_enabled(const fy_log *l, fy_log_level lv);

size_t fy_log_errors(const fy_log *l);
size_t fy_log_warnings(const fy_log *l);
/* Path of the copy in the log folder, or of the first attached copy; NULL when none. */
const char *fy_log_path(const fy_log *l);

/* Clears the progress bar before echoing a line to the terminal (NULL = none). */
void fy_log_set_progress(fy_log *l, struct fy_progress *p);

/* Writes the Summary section (end, duration, errors, warnings, exit code), syncs and closes
 * every copy, frees the log. Returns -1 when some line could not be written to some copy
 * (the message names it). NULL is fine. */
int fy_log_close(fy_log *l, int exit_code, char *err, size_t err_size);

/* ---- helpers (pure; exposed for the programs and the tests) ---- */

/* The command line as one string, each argument quoted when needed, with the value of
 * --password / -password / /PASSWORD (any case; next argument, or after '=' or ':')
 * replaced by ********. */
char *fy_log_mask_argv(int argc, char *const *argv);
/* "<COMPUTER>_<YYYY-MM-DD>_<HH-MM-SS>_<Ext|Inj|Bak|Res>.log" for t (UTC). */
char *fy_log_file_name(const char *computer, fy_log_op op, time_t t);
/* One formatted line (with '\n') for message msg at time t (UTC) into buf; returns its
 * length (truncating like snprintf). pid is CMTrace's thread field. */
size_t fy_log_format_line(char *buf, size_t size, fy_log_format f, fy_log_level lv,
                          struct timespec t, long pid, const char *msg);
const char *fy_log_level_name(fy_log_level lv); /* "Error", ..., "Informational" */
/* Parses "error|warning|info|informational|verbose|trace" (any case). -1 when unknown. */
int fy_log_level_parse(const char *s, fy_log_level *lv);

#endif
