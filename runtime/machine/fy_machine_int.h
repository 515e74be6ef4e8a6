/* Internals shared by fy_machine.c (reading the volume) and fy_machine_path.c (paths,
 * tokens, expansion). Not for other modules. */
#ifndef FY_MACHINE_INT_H
#define FY_MACHINE_INT_H

#include "fy_machine.h"

/* Resolves the canonical components of `winrel` ("Windows\\System32", no drive, '\\'
 * separated; may be "") beneath host folder `root`, case-insensitively (see
 * fy_machine_host_path). *out malloc'd. Returns 1 (all exists), 0 (a tail is missing).
 * *missing_at (may be NULL) gets the byte offset in winrel of the first missing
 * component (strlen(winrel) when all exist). */
int fy_mach_resolve_under(const char *root, const char *winrel, char **out, size_t *missing_at);

/* When the components of `folder` (a canonical Windows path) are a leading part of those of
 * `path` (canonical), compared case-insensitively one by one: the number of components of
 * folder, and *rest = the offset in path just after them (at '\\' or the end). Else 0. */
size_t fy_mach_prefix(const char *folder, const char *path, size_t *rest);

/* Expansion used while the model is being built: like fy_machine_expand, but *unknown
 * (may be NULL) is set to true when a %VARIABLE% could not be expanded. */
char *fy_mach_expand(const fy_machine *m, const fy_machine_user *u, const char *text,
                     bool *unknown);

#endif
