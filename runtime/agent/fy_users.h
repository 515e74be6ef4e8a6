/* User selection: the filters of agent.md (--all-users, --include-user, --exclude-user,
 * --exclude-local, --exclude-domain, --exclude-unused). A user is NETBIOSDOMAIN\samname
 * (a local user's domain is the computer name); a filter matches that name or the SID,
 * case-insensitively; '*' matches within one part and never crosses '\'. */
#ifndef FY_USERS_H
#define FY_USERS_H

#include "fy_common.h"

typedef struct fy_user_filter {
    const char **include; /* patterns; none = all users */
    size_t ninclude;
    const char **exclude;
    size_t nexclude;
    const char **exclude_domains;
    size_t nexclude_domains;
    bool exclude_local;
    int64_t exclude_unused_days; /* 0 = off */
    int64_t now;                 /* unix seconds: ages are counted from here */
} fy_user_filter;

typedef struct fy_user_id {
    const char *domain;
    const char *name;
    const char *sid;
    bool local;
    int64_t last_use; /* unix seconds, 0 = unknown (never excluded as unused) */
} fy_user_id;

/* Does one pattern ("DOMAIN\user", "*\user", "S-1-5-21-...") match the user? */
bool fy_user_pattern_match(const char *pattern, const fy_user_id *u);
/* Is the user selected? *why (static text) says which filter dropped it. */
bool fy_user_selected(const fy_user_filter *f, const fy_user_id *u, const char **why);
/* A pattern is valid: "DOMAIN\user" (either part may hold * and ?), or a SID. */
bool fy_user_pattern_valid(const char *pattern);

#endif
