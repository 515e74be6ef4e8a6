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
    char *dir = fy_exe_dir();
    if (!dir) return NULL;
    /* a build folder inside the source tree; an installed prefix; a nested build folder */
    const char *cands[] = {"/../appdefs", "/../share/ferry/appdefs", "/../../appdefs"};
    for (size_t i = 0; i < FY_ARRAY_LEN(cands); i++) {
        char *p = fy_xasprintf("%s%s", dir, cands[i]);
        struct stat st;
        char *real = stat(p, &st) == 0 && S_ISDIR(st.st_mode) ? realpath(p, NULL) : NULL;
        free(p);
        if (real) {
            free(dir);
            return real;
        }
    }
    free(dir);
    return NULL;
}
