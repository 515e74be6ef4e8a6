/* Known-folder and environment tokens: the one table that the compiler (to check and
 * normalise paths) and the runtime (to resolve them per user and per machine) share.
 *
 * A source path may spell a token as <My Documents>, %MyDocuments%, %CSIDL_PERSONAL% or
 * %USERPROFILE%-style environment names; all normalise to the canonical "<Name>" form. */
#ifndef FY_TOKENS_H
#define FY_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    FY_TOK_PROFILE,
    FY_TOK_DOCUMENTS,
    FY_TOK_DESKTOP,
    FY_TOK_FAVORITES,
    FY_TOK_APPDATA,
    FY_TOK_LOCAL_APPDATA,
    FY_TOK_PICTURES,
    FY_TOK_MUSIC,
    FY_TOK_VIDEOS,
    FY_TOK_DOWNLOADS,
    FY_TOK_START_MENU,
    FY_TOK_PROGRAMS,
    FY_TOK_STARTUP,
    FY_TOK_TEMPLATES,
    FY_TOK_RECENT,
    FY_TOK_SENDTO,
    FY_TOK_COOKIES,
    FY_TOK_NETHOOD,
    FY_TOK_PRINTHOOD,
    /* machine-wide folders */
    FY_TOK_PROGRAM_FILES,
    FY_TOK_PROGRAM_FILES_X86,
    FY_TOK_PROGRAM_DATA,
    FY_TOK_ALL_USERS,
    FY_TOK_WINDOWS,
    FY_TOK_SYSTEM_DRIVE,
    /* text, not folders: may stand anywhere in a path */
    FY_TOK_USER_NAME,
    FY_TOK_USER_DOMAIN,
    FY_TOK_COUNT
} fy_token_id;

typedef struct fy_token_info {
    fy_token_id id;
    const char *canonical;   /* "My Documents": written "<My Documents>" in normalised paths */
    bool per_user;           /* resolved from the user's profile (else machine-wide) */
    bool is_folder;          /* false for USER_NAME / USER_DOMAIN */
    const char *shell_value; /* value name in ...\Explorer\User Shell Folders, or NULL */
    /* Default location. Per-user folders: relative to the profile root; a leading "<...>"
     * names another token (Programs lies in Start Menu). Machine folders: absolute with
     * the system drive as "C:". NULL: the folder does not exist on that OS. */
    const char *xp_default;
    const char *vista_default; /* Vista, 7, 8, 10, 11 */
} fy_token_info;

extern const fy_token_info fy_tokens[FY_TOK_COUNT];

/* Looks up a token name as written between < > or % % (case-insensitive, spaces and
 * underscores significant only as written in the alias table). Returns the id or -1. */
int fy_token_lookup(const char *name, size_t n);
const fy_token_info *fy_token_info_of(fy_token_id id);

#endif
