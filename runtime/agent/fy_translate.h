/* Rewriting what moved inside registry strings on injection: folder paths (XP's
 * C:\Documents and Settings\hdowd\My Documents -> C:\Users\howard.dowd\Documents, remaps,
 * user renames) and OLDDOMAIN\user -> NEWDOMAIN\user under a domain move. The VM's
 * TRANSLATE_PATHS and MAP_DOMAIN host calls end here.
 *
 * Ownership: a fy_translate owns copies of everything added to it. */
#ifndef FY_TRANSLATE_H
#define FY_TRANSLATE_H

#include "fy_common.h"

typedef struct fy_translate_pair {
    char *from, *to;
} fy_translate_pair;

typedef struct fy_translate {
    fy_translate_pair *paths; /* Windows folder prefixes, longest first after fy_translate_seal */
    size_t npaths;
    fy_translate_pair *domains; /* "OLDCORP" -> "NEWCORP" */
    size_t ndomains;
    fy_translate_pair *users; /* "OLDCORP\hdowd" -> "NEWCORP\howard.dowd" (exact accounts) */
    size_t nusers;
} fy_translate;

void fy_translate_add_path(fy_translate *t, const char *from, const char *to);
void fy_translate_add_domain(fy_translate *t, const char *from, const char *to);
void fy_translate_add_user(fy_translate *t, const char *from, const char *to);
/* Orders path prefixes longest first (the most specific move wins). */
void fy_translate_seal(fy_translate *t);
void fy_translate_free(fy_translate *t);

/* UTF-8 text: every occurrence of a moved folder (case-insensitive, ending at '\\', the end,
 * or a character that cannot continue a folder name) is rewritten; returns whether anything
 * changed. out receives the result (NUL-terminated). */
bool fy_translate_paths_text(const fy_translate *t, const char *in, size_t n, fy_buf *out);
/* DOMAIN\user accounts: user maps first, then whole domains, at word boundaries. */
bool fy_translate_accounts_text(const fy_translate *t, const char *in, size_t n, fy_buf *out);

/* The same on registry data of type REG_SZ, REG_EXPAND_SZ or REG_MULTI_SZ (UTF-16LE);
 * other types are left alone. Rewrites `data` in place; returns whether it changed. */
bool fy_translate_regdata(const fy_translate *t, uint32_t type, fy_buf *data, bool paths,
                          bool accounts);

#endif
