/* Where the project's own appdefs/ folder is, for ferryc and for ferry/se --config. */
#include "fy_ir.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fy_default_appdefs_dir(void)
{
    const char *env = getenv("FERRY_APPDEFS");
    if (env && *env) return fy_xstrdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    /* a build folder inside the source tree; an installed prefix; a nested build folder */
    const char *cands[] = {"/../appdefs", "/../share/ferry/appdefs", "/../../appdefs"};
    for (size_t i = 0; i < FY_ARRAY_LEN(cands); i++) {
        char *p = fy_xasprintf("%s%s", exe, cands[i]);
        struct stat st;
        char *real = stat(p, &st) == 0 && S_ISDIR(st.st_mode) ? realpath(p, NULL) : NULL;
        free(p);
        if (real) return real;
    }
    return NULL;
}
