#include "fy_users.h"

#include <string.h>

static bool is_sid(const char *s)
{
    return (s[0] == 'S' || s[0] == 's') && s[1] == '-';
}

bool fy_user_pattern_valid(const char *p)
{
    if (!p || !*p) return false;
    if (is_sid(p)) return true;
    const char *bs = strchr(p, '\\');
    return bs && bs != p && bs[1] && !strchr(bs + 1, '\\');
}

bool fy_user_pattern_match(const char *p, const fy_user_id *u)
{
    if (is_sid(p)) return u->sid && fy_glob_match(p, strlen(p), u->sid, strlen(u->sid), false);
    const char *bs = strchr(p, '\\');
    if (!bs) return false;
    const char *d = u->domain ? u->domain : "", *n = u->name ? u->name : "";
    return fy_glob_match(p, (size_t)(bs - p), d, strlen(d), false) &&
           fy_glob_match(bs + 1, strlen(bs + 1), n, strlen(n), false);
}

bool fy_user_selected(const fy_user_filter *f, const fy_user_id *u, const char **why)
{
    *why = NULL;
    if (f->ninclude) {
        bool hit = false;
        for (size_t i = 0; i < f->ninclude && !hit; i++) hit = fy_user_pattern_match(f->include[i], u);
        if (!hit) {
            *why = "not named by --include-user";
            return false;
        }
    }
    for (size_t i = 0; i < f->nexclude; i++) {
        if (fy_user_pattern_match(f->exclude[i], u)) {
            *why = "excluded by --exclude-user";
            return false;
        }
    }
    for (size_t i = 0; i < f->nexclude_domains; i++) {
        const char *d = f->exclude_domains[i];
        if (u->domain && fy_glob_match(d, strlen(d), u->domain, strlen(u->domain), false)) {
            *why = "excluded by --exclude-domain";
            return false;
        }
    }
    if (f->exclude_local && u->local) {
        *why = "a local account (--exclude-local)";
        return false;
    }
    if (f->exclude_unused_days > 0 && u->last_use > 0 &&
        f->now - u->last_use > f->exclude_unused_days * 86400) {
        *why = "not used within --exclude-unused days";
        return false;
    }
    return true;
}
