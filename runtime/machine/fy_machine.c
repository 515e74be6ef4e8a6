/* Reading an offline Windows volume into the machine model (fy_machine.h): SOFTWARE,
 * SYSTEM and SAM, then each profile's NTUSER.DAT (opened, read, closed). docs/machine.md
 * describes the order in which names, domains and folders are looked for. */
#include "fy_machine_int.h"
#include "registry/fy_reg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A ProfileList entry as read from SOFTWARE, before the drives are known. */
typedef struct pentry {
    char *sid;
    char *raw; /* ProfileImagePath */
    bool has_unload;
    uint64_t unload_ft;
} pentry;

/* What pass 1 learns about a user that the model does not keep. */
typedef struct uwork {
    char *sid_domain;  /* "S-1-5-21-a-b-c", or the cloud SID's prefix */
    bool cloud;        /* S-1-12-1-...: an Azure AD account */
    char *vol_user;    /* NTUSER.DAT Volatile Environment [USERNAME] */
    char *vol_domain;  /* ... [USERDOMAIN] */
    char *logon_name;  /* Software\Microsoft\Windows\CurrentVersion\Explorer [Logon User Name] */
    char *folder_name; /* the profile folder's own name */
    bool domain_known; /* domain from a source that names it (not guessed) */
    char *usf[FY_TOK_COUNT]; /* User Shell Folders values as stored */
} uwork;

typedef struct build {
    fy_machine *m;
    fy_diags *w;
    fy_arena *a;
    pentry *pe;
    size_t npe, pe_cap;
    uwork *uw; /* parallel to m->users */
    size_t nuw, uw_cap;
    /* SOFTWARE values used after the first pass */
    char *winlogon_user, *winlogon_domain, *cache_primary;
    char *logonui_sam, *logonui_sid;
    char *pl_profiles_dir, *pl_default, *pl_default_user, *pl_all_users, *pl_programdata,
        *pl_public;
    char *pf_dir, *pf86_dir, *common_appdata;
} build;

static void warn(build *b, const char *file, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn(build *b, const char *file, const char *check, const char *fmt, ...)
{
    if (!b->w) return;
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(b->w, FY_DIAG_WARNING, file, 0, 0, check, fmt, ap);
    va_end(ap);
}

/* ---- registry value helpers (over the read-only tree) ---- */

static char *val_str(fy_arena *a, const fy_regkey *k, const char *name)
{
    if (!k) return NULL;
    const fy_regval *v = fy_regkey_value(k, name);
    if (!v || (v->type != FY_REG_SZ && v->type != FY_REG_EXPAND_SZ && v->type != FY_REG_LINK))
        return NULL;
    char *s = fy_reg_sz_decode(v->data, v->len);
    char *r = s ? fy_arena_strdup(a, s) : NULL;
    free(s);
    return r;
}

/* A non-empty string value, else NULL. */
static char *val_nstr(fy_arena *a, const fy_regkey *k, const char *name)
{
    char *s = val_str(a, k, name);
    return s && *s ? s : NULL;
}

static bool val_u32(const fy_regkey *k, const char *name, uint32_t *out)
{
    if (!k) return false;
    const fy_regval *v = fy_regkey_value(k, name);
    if (!v || v->len < 4) return false;
    if (v->type == FY_REG_DWORD || v->type == FY_REG_BINARY) {
        *out = fy_le32(v->data);
        return true;
    }
    if (v->type == FY_REG_DWORD_BIG_ENDIAN) {
        const uint8_t *p = v->data;
        *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        return true;
    }
    return false;
}

/* ---- small helpers ---- */

static bool ieq(const char *a, const char *b)
{
    return a && b && fy_strcasecmp_u8(a, strlen(a), b, strlen(b)) == 0;
}

static const char *last_component(const char *p)
{
    const char *s = strrchr(p, '\\');
    return s ? s + 1 : p;
}

/* canonical path of text expanded for user u (NULL: machine variables only), in the arena;
 * NULL when not an absolute path or a variable is unknown (*unknown set). */
static char *expand_canon(build *b, const fy_machine_user *u, const char *raw, bool *unknown)
{
    bool unk = false;
    char *e = fy_mach_expand(b->m, u, raw, &unk);
    char *c = unk ? NULL : fy_machine_canon_path(e);
    free(e);
    if (unknown) *unknown = unk;
    char *r = c ? fy_arena_strdup(b->a, c) : NULL;
    free(c);
    return r;
}

static char *join(build *b, const char *base, const char *rel)
{
    char *j = fy_xasprintf("%s\\%s", base, rel);
    char *c = fy_machine_canon_path(j);
    free(j);
    char *r = c ? fy_arena_strdup(b->a, c) : NULL;
    free(c);
    return r;
}

/* "C:\..." with the system drive's letter in place of C. */
static char *on_system_drive(build *b, const char *def)
{
    char *r = fy_arena_strdup(b->a, def);
    if (r[0] && r[1] == ':') r[0] = b->m->system_drive;
    return r;
}

/* SID "S-1-A-s1-s2-..." -> authority and sub-authorities; false when malformed. */
static bool parse_sid(const char *s, uint64_t *auth, uint32_t *sub, size_t max, size_t *nsub)
{
    if ((s[0] != 'S' && s[0] != 's') || s[1] != '-' || s[2] != '1' || s[3] != '-') return false;
    const char *p = s + 4;
    char *end;
    if (*p < '0' || *p > '9') return false;
    errno = 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (errno || end == p || a > 0xFFFFFFFFFFFFull) return false;
    *auth = a;
    *nsub = 0;
    p = end;
    while (*p == '-') {
        p++;
        if (*p < '0' || *p > '9' || *nsub >= max) return false;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > 0xFFFFFFFFull) return false;
        sub[(*nsub)++] = (uint32_t)v;
        p = end;
    }
    return *p == 0;
}

/* A regular file, not a link: a hive named by a link could be any file of the host. */
static bool is_plain_file(const char *host)
{
    struct stat st;
    return host && lstat(host, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- SOFTWARE ---- */

const char *fy_os_name(fy_os_id id)
{
    static const char *const names[] = {"Windows (unknown version)",
                                        "Windows 2000",
                                        "Windows XP",
                                        "Windows Vista",
                                        "Windows 7",
                                        "Windows 8",
                                        "Windows 8.1",
                                        "Windows 10",
                                        "Windows 11"};
    return (unsigned)id < FY_ARRAY_LEN(names) ? names[id] : names[0];
}

static void read_os(build *b, const fy_regkey *cv, const char *path)
{
    fy_machine *m = b->m;
    fy_machine_os *os = &m->os;
    char *ver = val_nstr(b->a, cv, "CurrentVersion");
    unsigned maj = 0, min = 0;
    if (ver) sscanf(ver, "%u.%u", &maj, &min);
    uint32_t mj, mn;
    if (val_u32(cv, "CurrentMajorVersionNumber", &mj)) {
        maj = mj;
        min = val_u32(cv, "CurrentMinorVersionNumber", &mn) ? mn : 0;
    }
    /* CurrentBuildNumber first: XP's CurrentBuild says "1.511.1 () (Obsolete data - do
     * not use)". */
    char *build_s = val_nstr(b->a, cv, "CurrentBuildNumber");
    if (!build_s) build_s = val_nstr(b->a, cv, "CurrentBuild");
    os->build = build_s ? (unsigned)strtoul(build_s, NULL, 10) : 0;
    os->major = maj;
    os->minor = min;
    os->version = fy_arena_printf(b->a, "%u.%u", maj, min);
    fy_os_id id = FY_OS_UNKNOWN;
    if (maj == 5)
        id = min == 0 ? FY_OS_2000 : FY_OS_XP;
    else if (maj == 6)
        id = min == 0 ? FY_OS_VISTA : min == 1 ? FY_OS_7 : min == 2 ? FY_OS_8 : FY_OS_81;
    else if (maj == 10)
        id = os->build >= 22000 ? FY_OS_11 : FY_OS_10;
    else if (maj > 10)
        id = FY_OS_11;
    if (id == FY_OS_UNKNOWN)
        warn(b, path, "machine-os",
             "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion has no usable CurrentVersion "
             "(\"%s\"): the Windows version is unknown",
             ver ? ver : "");
    os->id = id;
    os->name = fy_os_name(id);
    char *pn = val_str(b->a, cv, "ProductName");
    os->product_name = pn ? pn : "";
    char *sp = val_str(b->a, cv, "CSDVersion");
    os->service_pack = sp ? sp : "";
    char *dv = val_nstr(b->a, cv, "DisplayVersion");
    if (!dv) dv = val_nstr(b->a, cv, "ReleaseId");
    os->display_version = dv ? dv : "";
    if (id != FY_OS_UNKNOWN) {
        os->xp_layout = id <= FY_OS_XP;
    } else {
        /* No version: go by which profiles folder the volume has. */
        char *h = NULL;
        os->xp_layout = fy_mach_resolve_under(m->root, "Users", &h, NULL) != 1;
        free(h);
    }
}

static int read_software(build *b, const fy_regtree *t, const char *path, char *err,
                         size_t err_size)
{
    fy_machine *m = b->m;
    const fy_regkey *root = t->root;
    const fy_regkey *cv = fy_regkey_find(root, "Microsoft\\Windows NT\\CurrentVersion");
    if (!cv) {
        snprintf(err, err_size,
                 "%s: the SOFTWARE hive has no Microsoft\\Windows NT\\CurrentVersion key: not a "
                 "Windows SOFTWARE hive, or damaged",
                 path);
        return -1;
    }
    read_os(b, cv, path);
    char *sr = val_nstr(b->a, cv, "SystemRoot");
    char *c = sr ? fy_machine_canon_path(sr) : NULL;
    if (c && c[0] != '\\') {
        m->system_root = fy_arena_strdup(b->a, c);
    } else {
        m->system_root = b->m->os.xp_layout ? "C:\\WINDOWS" : "C:\\Windows";
        if (sr)
            warn(b, path, "machine-systemroot",
                 "CurrentVersion [SystemRoot] is \"%s\", not a drive path: using %s", sr,
                 m->system_root);
    }
    free(c);
    m->system_drive = m->system_root[0];

    const fy_regkey *wl = fy_regkey_find(cv, "Winlogon");
    b->winlogon_user = val_nstr(b->a, wl, "DefaultUserName");
    b->winlogon_domain = val_nstr(b->a, wl, "DefaultDomainName");
    b->cache_primary = val_nstr(b->a, wl, "CachePrimaryDomain");
    const fy_regkey *lui =
        fy_regkey_find(root, "Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI");
    b->logonui_sam = val_nstr(b->a, lui, "LastLoggedOnSAMUser");
    b->logonui_sid = val_nstr(b->a, lui, "LastLoggedOnUserSID");

    const fy_regkey *wcv = fy_regkey_find(root, "Microsoft\\Windows\\CurrentVersion");
    b->pf_dir = val_nstr(b->a, wcv, "ProgramFilesDir");
    b->pf86_dir = val_nstr(b->a, wcv, "ProgramFilesDir (x86)");
    b->common_appdata = val_nstr(
        b->a,
        fy_regkey_find(root, "Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders"),
        "Common AppData");

    const fy_regkey *pl = fy_regkey_find(cv, "ProfileList");
    if (!pl) {
        warn(b, path, "machine-profiles",
             "SOFTWARE has no ProfileList (Microsoft\\Windows NT\\CurrentVersion\\ProfileList): "
             "no users");
        return 0;
    }
    b->pl_profiles_dir = val_nstr(b->a, pl, "ProfilesDirectory");
    b->pl_default = val_nstr(b->a, pl, "Default");
    b->pl_default_user = val_nstr(b->a, pl, "DefaultUserProfile");
    b->pl_all_users = val_nstr(b->a, pl, "AllUsersProfile");
    b->pl_programdata = val_nstr(b->a, pl, "ProgramData");
    b->pl_public = val_nstr(b->a, pl, "Public");
    for (size_t i = 0; i < pl->nsub; i++) {
        const fy_regkey *k = pl->sub[i];
        size_t nl = strlen(k->name);
        if (nl > 4 && strcasecmp(k->name + nl - 4, ".bak") == 0) {
            warn(b, path, "machine-profiles",
                 "ProfileList\\%s: a .bak entry (Windows keeps one when a profile failed to "
                 "load); skipped: check which of the two entries is the user's real profile",
                 k->name);
            continue;
        }
        char *raw = val_nstr(b->a, k, "ProfileImagePath");
        if (!raw) {
            warn(b, path, "machine-profiles", "ProfileList\\%s has no ProfileImagePath; skipped",
                 k->name);
            continue;
        }
        pentry *e = &FY_APUSH(b->a, b->pe, b->npe, b->pe_cap);
        *e = (pentry){.sid = fy_arena_strdup(b->a, k->name), .raw = raw};
        uint32_t hi, lo;
        if (val_u32(k, "LocalProfileUnloadTimeHigh", &hi) &&
            val_u32(k, "LocalProfileUnloadTimeLow", &lo) && (hi || lo)) {
            e->has_unload = true;
            e->unload_ft = (uint64_t)hi << 32 | lo;
        }
    }
    return 0;
}

/* ---- SYSTEM ---- */

static void read_systime(const fy_regkey *k, const char *name, fy_machine_systime *st)
{
    const fy_regval *v = k ? fy_regkey_value(k, name) : NULL;
    if (!v || v->len < 16) return;
    const uint8_t *p = v->data;
    *st = (fy_machine_systime){fy_le16(p),     fy_le16(p + 2),  fy_le16(p + 4),  fy_le16(p + 6),
                               fy_le16(p + 8), fy_le16(p + 10), fy_le16(p + 12), fy_le16(p + 14)};
}

static int read_system(build *b, const fy_regtree *t, const char *path, char *err, size_t err_size)
{
    fy_machine *m = b->m;
    const fy_regkey *root = t->root;
    uint32_t cur = 0;
    if (!val_u32(fy_regkey_find(root, "Select"), "Current", &cur) || cur == 0 || cur > 999) {
        warn(b, path, "machine-controlset",
             "SYSTEM\\Select has no usable [Current]: reading ControlSet001");
        cur = 1;
    }
    char cs[32];
    snprintf(cs, sizeof cs, "ControlSet%03u", cur);
    const fy_regkey *set = fy_regkey_find(root, cs);
    if (!set) {
        snprintf(err, err_size,
                 "%s: the SYSTEM hive has no %s (named by Select\\Current): not a Windows SYSTEM "
                 "hive, or damaged",
                 path, cs);
        return -1;
    }
    m->control_set = cur;
    char *cn =
        val_nstr(b->a, fy_regkey_find(set, "Control\\ComputerName\\ComputerName"), "ComputerName");
    if (!cn) cn = val_nstr(b->a, fy_regkey_find(set, "Services\\Tcpip\\Parameters"), "Hostname");
    if (!cn)
        warn(b, path, "machine-name",
             "SYSTEM\\%s\\Control\\ComputerName\\ComputerName has no [ComputerName]: the computer "
             "name is unknown",
             cs);
    m->computer_name = cn ? cn : "";

    const fy_regkey *tz = fy_regkey_find(set, "Control\\TimeZoneInformation");
    uint32_t v;
    if (tz && val_u32(tz, "Bias", &v)) {
        m->tz.known = true;
        m->tz.bias = (int32_t)v;
        m->tz.standard_bias = val_u32(tz, "StandardBias", &v) ? (int32_t)v : 0;
        m->tz.daylight_bias = val_u32(tz, "DaylightBias", &v) ? (int32_t)v : 0;
        read_systime(tz, "StandardStart", &m->tz.standard_start);
        read_systime(tz, "DaylightStart", &m->tz.daylight_start);
        char *n = val_nstr(b->a, tz, "TimeZoneKeyName");
        if (!n) n = val_nstr(b->a, tz, "StandardName");
        m->tz.name = n ? n : "";
    } else {
        m->tz.name = "";
        warn(b, path, "machine-timezone",
             "SYSTEM\\%s\\Control\\TimeZoneInformation has no [Bias]: times are taken as UTC", cs);
    }
    return 0;
}

/* ---- SAM ---- */

static void read_sam(build *b, const fy_regtree *t, const char *path)
{
    fy_machine *m = b->m;
    const fy_regkey *acc = fy_regkey_find(t->root, "SAM\\Domains\\Account");
    if (!acc) {
        warn(b, path, "machine-sam",
             "the SAM hive has no SAM\\Domains\\Account key: no local "
             "accounts read");
        return;
    }
    /* The account domain's V ends with the machine SID S-1-5-21-a-b-c: a 12-byte SID header
     * (revision 1, 4 sub-authorities, authority 5, first sub-authority 21), then a, b, c. */
    static const uint8_t head[12] = {1, 4, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0};
    const fy_regval *v = fy_regkey_value(acc, "V");
    if (v && v->len >= 24 && memcmp(v->data + v->len - 24, head, 12) == 0) {
        const uint8_t *p = v->data + v->len - 12;
        m->machine_sid =
            fy_arena_printf(b->a, "S-1-5-21-%u-%u-%u", fy_le32(p), fy_le32(p + 4), fy_le32(p + 8));
        m->machine_sid_source = "SAM";
    } else {
        warn(b, path, "machine-sam",
             "SAM\\Domains\\Account [V] does not end with the machine SID: local users are told "
             "from domain users as if SAM were missing");
    }
    const fy_regkey *names = fy_regkey_find(acc, "Users\\Names");
    for (size_t i = 0; names && i < names->nsub; i++) {
        const fy_regkey *k = names->sub[i];
        /* The default value's TYPE is the account's RID (its data is empty). */
        const fy_regval *d = fy_regkey_value(k, "");
        if (!d) continue;
        fy_machine_account *a = &FY_APUSH(b->a, m->accounts, m->naccounts, m->accounts_cap);
        a->name = fy_arena_strdup(b->a, k->name);
        a->rid = d->type;
        a->sid = m->machine_sid ? fy_arena_printf(b->a, "%s-%u", m->machine_sid, d->type) : NULL;
    }
}

/* ---- hiberfil.sys ---- */

static void check_hibernation(build *b)
{
    fy_machine *m = b->m;
    char *h = NULL;
    if (fy_mach_resolve_under(m->root, "hiberfil.sys", &h, NULL) == 1) {
        int fd = open(h, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        uint8_t sig[4];
        if (fd >= 0) {
            if (read(fd, sig, 4) == 4) {
                /* "hibr"/"HIBR": a hibernation image (HIBR: Windows 8+, also Fast Startup);
                 * "wake"/"WAKE": a resume that did not finish, which Windows offers to retry;
                 * "RSTR"/"rstr": a restore in progress. ntfs-3g and GRUB test hibr/HIBR;
                 * refusing the others too is the safe side. An all-zero header is clean. */
                static const char *const sigs[] = {"hibr", "HIBR", "wake", "WAKE", "RSTR", "rstr"};
                for (size_t i = 0; i < FY_ARRAY_LEN(sigs); i++)
                    if (memcmp(sig, sigs[i], 4) == 0) {
                        m->hibernated = true;
                        m->hiber_signature = sigs[i];
                    }
            }
            close(fd);
        } else {
            warn(b, h, "machine-hiberfil", "cannot read hiberfil.sys (%s): taken as hibernated",
                 strerror(errno));
            m->hibernated = true;
            m->hiber_signature = "????";
        }
    }
    free(h);
}

bool fy_machine_is_hibernated(const fy_machine *m)
{
    return m->hibernated;
}

/* ---- drives ---- */

static char *strip_slash(fy_arena *a, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return fy_arena_strndup(a, dir, n);
}

int fy_machine_parse_drive(const char *spec, fy_machine_drive_spec *out, char *err, size_t err_size)
{
    const char *s = spec;
    char l = s[0];
    if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z'))) goto bad;
    s++;
    if (*s == ':') s++;
    if (*s != '=' || !s[1]) goto bad;
    out->letter = (char)(l & ~0x20);
    out->dir = s + 1;
    return 0;
bad:
    snprintf(err, err_size, "--drive \"%s\": expected LETTER=FOLDER, e.g. --drive D=/mnt/data",
             spec);
    return -1;
}

static int add_drives(build *b, const fy_machine_drive_spec *drives, size_t ndrives, char *err,
                      size_t err_size)
{
    fy_machine *m = b->m;
    fy_machine_drive *d = &FY_APUSH(b->a, m->drives, m->ndrives, m->drives_cap);
    *d = (fy_machine_drive){m->system_drive, m->root, true};
    for (size_t i = 0; i < ndrives; i++) {
        char l = drives[i].letter;
        for (size_t j = 0; j < m->ndrives; j++)
            if (m->drives[j].letter == l) {
                snprintf(err, err_size,
                         "--drive %c=%s: drive %c: is already %s (the system drive is %c:, "
                         "found from SystemRoot %s)",
                         l, drives[i].dir, l,
                         m->drives[j].system ? "the --machine volume" : "given", m->system_drive,
                         m->system_root);
                return -1;
            }
        struct stat st;
        if (stat(drives[i].dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, err_size, "--drive %c=%s: %s", l, drives[i].dir,
                     stat(drives[i].dir, &st) != 0 ? strerror(errno) : "not a folder");
            return -1;
        }
        d = &FY_APUSH(b->a, m->drives, m->ndrives, m->drives_cap);
        *d = (fy_machine_drive){l, strip_slash(b->a, drives[i].dir), false};
    }
    return 0;
}

/* ---- machine-wide folders ---- */

static void set_folder(build *b, fy_machine_folder *f, const char *path, const char *def,
                       const char *raw)
{
    f->path = path;
    f->default_path = def;
    f->raw = raw;
    if (!path) {
        f->state = FY_FOLDER_NONE;
        return;
    }
    f->state = def && ieq(path, def) ? FY_FOLDER_DEFAULT : FY_FOLDER_REDIRECTED;
    fy_machine *m = b->m;
    if (path[0] == '\\') {
        f->state = FY_FOLDER_UNREACHABLE;
        f->why = "on a network share (UNC path): not reachable on an offline volume";
        return;
    }
    for (size_t i = 0; i < m->ndrives; i++)
        if (m->drives[i].letter == path[0]) return;
    f->state = FY_FOLDER_UNREACHABLE;
    f->why = fy_arena_printf(b->a, "on drive %c:, which is not given (add --drive %c=FOLDER)",
                             path[0], path[0]);
}

/* A registry path for a machine folder: expanded and canonical, or NULL with a warning. */
static char *machine_value(build *b, const char *raw, const char *what)
{
    if (!raw) return NULL;
    bool unk;
    char *p = expand_canon(b, NULL, raw, &unk);
    if (!p)
        warn(b, b->m->software_hive, "machine-folder", "%s is \"%s\": %s; using the default", what,
             raw, unk ? "a variable in it is unknown" : "not a drive path");
    return p;
}

static void machine_folders(build *b)
{
    fy_machine *m = b->m;
    bool xp = m->os.xp_layout;
    fy_machine_folder *F = m->folders;
    const char *def;

    /* Wherever SystemRoot is (WINNT on 2000), that is Windows' own default. */
    set_folder(b, &F[FY_TOK_WINDOWS], m->system_root, m->system_root, NULL);
    def = on_system_drive(b, "C:");
    set_folder(b, &F[FY_TOK_SYSTEM_DRIVE], def, def, NULL);

    def = on_system_drive(b, fy_tokens[FY_TOK_PROGRAM_FILES].vista_default);
    char *p = machine_value(b, b->pf_dir, "CurrentVersion [ProgramFilesDir]");
    set_folder(b, &F[FY_TOK_PROGRAM_FILES], p ? p : def, def, p ? b->pf_dir : NULL);

    def = on_system_drive(b, fy_tokens[FY_TOK_PROGRAM_FILES_X86].vista_default);
    p = machine_value(b, b->pf86_dir, "CurrentVersion [ProgramFilesDir (x86)]");
    if (p) {
        set_folder(b, &F[FY_TOK_PROGRAM_FILES_X86], p, def, b->pf86_dir);
    } else {
        /* 32-bit Windows has none; a 64-bit one without the value still has the folder. */
        char *h = NULL;
        bool there = fy_mach_resolve_under(m->root, def + 3, &h, NULL) == 1;
        free(h);
        set_folder(b, &F[FY_TOK_PROGRAM_FILES_X86], there ? def : NULL, there ? def : NULL, NULL);
    }

    /* Profiles folder, Default and Public profiles. */
    const char *pdef = on_system_drive(b, xp ? "C:\\Documents and Settings" : "C:\\Users");
    p = machine_value(b, b->pl_profiles_dir, "ProfileList [ProfilesDirectory]");
    m->profiles_dir = p ? p : pdef;
    if (xp) {
        m->default_profile =
            join(b, m->profiles_dir, b->pl_default_user ? b->pl_default_user : "Default User");
        m->public_profile = NULL;
    } else {
        p = machine_value(b, b->pl_default, "ProfileList [Default]");
        m->default_profile = p ? p : join(b, m->profiles_dir, "Default");
        p = machine_value(b, b->pl_public, "ProfileList [Public]");
        m->public_profile = p ? p : join(b, m->profiles_dir, "Public");
    }
    if (!m->default_profile) m->default_profile = join(b, pdef, "Default");

    if (xp) {
        def = join(b, pdef, "All Users");
        const char *au = b->pl_all_users ? join(b, m->profiles_dir, b->pl_all_users) : NULL;
        set_folder(b, &F[FY_TOK_ALL_USERS], au ? au : join(b, m->profiles_dir, "All Users"), def,
                   b->pl_all_users);
        /* Common AppData is "%ALLUSERSPROFILE%\Application Data": All Users is set above. */
        def = join(b, def, "Application Data");
        p = machine_value(b, b->common_appdata, "Explorer\\User Shell Folders [Common AppData]");
        set_folder(b, &F[FY_TOK_PROGRAM_DATA],
                   p ? p : join(b, F[FY_TOK_ALL_USERS].path, "Application Data"), def,
                   p ? b->common_appdata : NULL);
    } else {
        def = on_system_drive(b, fy_tokens[FY_TOK_PROGRAM_DATA].vista_default);
        p = machine_value(b, b->pl_programdata, "ProfileList [ProgramData]");
        set_folder(b, &F[FY_TOK_PROGRAM_DATA], p ? p : def, def, p ? b->pl_programdata : NULL);
        set_folder(b, &F[FY_TOK_ALL_USERS], F[FY_TOK_PROGRAM_DATA].path, def, NULL);
    }
}

/* ---- users, pass 1: ProfileList entries and their hives ---- */

static void read_user_hive(build *b, fy_machine_user *u, uwork *w)
{
    fy_reg *r = NULL;
    char err[1024];
    if (fy_reg_open_hive(u->ntuser, 0, b->w, &r, err, sizeof err) != 0) {
        u->hive_error = fy_arena_strdup(b->a, err);
        warn(b, u->ntuser, "machine-user-hive",
             "the NTUSER.DAT of %s cannot be read (%s): this user's settings cannot be "
             "migrated, and known folders are taken as the defaults",
             u->sid, err);
        return;
    }
    const fy_regtree *t = fy_reg_tree(r);
    const fy_regkey *root = t ? t->root : NULL;
    if (root) {
        const fy_regkey *ve = fy_regkey_find(root, "Volatile Environment");
        w->vol_user = val_nstr(b->a, ve, "USERNAME");
        w->vol_domain = val_nstr(b->a, ve, "USERDOMAIN");
        w->logon_name = val_nstr(
            b->a, fy_regkey_find(root, "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer"),
            "Logon User Name");
        const fy_regkey *usf = fy_regkey_find(
            root, "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders");
        for (int id = 0; usf && id < FY_TOK_COUNT; id++)
            if (fy_tokens[id].per_user && fy_tokens[id].shell_value)
                w->usf[id] = val_nstr(b->a, usf, fy_tokens[id].shell_value);
    }
    fy_reg_close(r);
}

static void pass1(build *b)
{
    fy_machine *m = b->m;
    static const struct {
        const char *sid, *name;
    } wellknown[] = {{"S-1-5-18", "NT AUTHORITY\\SYSTEM"},
                     {"S-1-5-19", "NT AUTHORITY\\LOCAL SERVICE"},
                     {"S-1-5-20", "NT AUTHORITY\\NETWORK SERVICE"}};
    for (size_t i = 0; i < b->npe; i++) {
        pentry *e = &b->pe[i];
        bool unk;
        char *prof = expand_canon(b, NULL, e->raw, &unk);
        if (!prof) {
            warn(b, m->software_hive, "machine-profiles",
                 "ProfileList\\%s [ProfileImagePath] \"%s\" is not a drive path%s; skipped", e->sid,
                 e->raw, unk ? " (a variable in it is unknown)" : "");
            continue;
        }
        uint64_t auth = 0;
        uint32_t sub[16];
        size_t nsub = 0;
        bool ok = parse_sid(e->sid, &auth, sub, FY_ARRAY_LEN(sub), &nsub);
        bool user = ok && auth == 5 && nsub == 5 && sub[0] == 21;
        bool cloud = ok && auth == 12 && nsub == 5 && sub[0] == 1;
        if (!user && !cloud) {
            fy_machine_sysaccount *s =
                &FY_APUSH(b->a, m->sysaccounts, m->nsysaccounts, m->sysaccounts_cap);
            *s = (fy_machine_sysaccount){e->sid, "", prof};
            for (size_t k = 0; k < FY_ARRAY_LEN(wellknown); k++)
                if (ieq(e->sid, wellknown[k].sid)) s->name = wellknown[k].name;
            continue;
        }
        fy_machine_user *u = &FY_APUSH(b->a, m->users, m->nusers, m->users_cap);
        uwork *w = &FY_APUSH(b->a, b->uw, b->nuw, b->uw_cap);
        memset(u, 0, sizeof *u);
        memset(w, 0, sizeof *w);
        u->sid = e->sid;
        u->rid = sub[4];
        u->profile = prof;
        u->profile_raw = e->raw;
        w->cloud = cloud;
        w->sid_domain = fy_arena_printf(b->a, "S-1-%llu-%u-%u-%u-%u", (unsigned long long)auth,
                                        sub[0], sub[1], sub[2], sub[3]);
        w->folder_name = fy_arena_strdup(b->a, last_component(prof));
        char *h = NULL;
        if (fy_machine_host_path(m, prof, &h) == 1) {
            u->profile_host = fy_arena_strdup(b->a, h);
        } else {
            warn(b, m->software_hive, "machine-profile-missing",
                 "the profile folder of %s (%s) is not on the volume", u->sid, prof);
        }
        free(h);
        h = NULL;
        u->ntuser_path = join(b, prof, "NTUSER.DAT");
        u->usrclass_path =
            join(b, prof,
                 m->os.xp_layout ? "Local Settings\\Application Data\\Microsoft\\Windows"
                                   "\\UsrClass.dat"
                                 : "AppData\\Local\\Microsoft\\Windows\\UsrClass.dat");
        struct stat st;
        bool have_nt = false;
        if (u->profile_host && fy_machine_host_path(m, u->ntuser_path, &h) == 1 &&
            lstat(h, &st) == 0 && S_ISREG(st.st_mode)) {
            u->ntuser = fy_arena_strdup(b->a, h);
            have_nt = true;
        }
        free(h);
        h = NULL;
        if (u->profile_host && fy_machine_host_path(m, u->usrclass_path, &h) == 1 &&
            is_plain_file(h))
            u->usrclass = fy_arena_strdup(b->a, h);
        free(h);
        if (e->has_unload) {
            u->last_use = fy_filetime_to_unix(e->unload_ft);
            u->last_use_source = "ProfileList LocalProfileUnloadTime";
        } else if (have_nt) {
            u->last_use = (int64_t)st.st_mtime;
            u->last_use_source = "NTUSER.DAT modification time";
        }
        if (have_nt) {
            read_user_hive(b, u, w);
        } else {
            u->hive_error = "NTUSER.DAT is missing";
            if (u->profile_host)
                warn(b, m->software_hive, "machine-user-hive",
                     "%s: no NTUSER.DAT in %s: this user's settings cannot be migrated", u->sid,
                     prof);
        }
    }
}

/* ---- users, pass 2: machine SID, local or domain, names ---- */

/* Splits "DOMAIN\\name" (".\\name" = this computer); false when there is no '\\'. */
static bool split_account(build *b, const char *s, char **dom, char **name)
{
    const char *bs = s ? strchr(s, '\\') : NULL;
    if (!bs || bs == s || !bs[1]) return false;
    *dom = (bs - s == 1 && s[0] == '.') ? fy_arena_strdup(b->a, b->m->computer_name)
                                        : fy_arena_strndup(b->a, s, (size_t)(bs - s));
    *name = fy_arena_strdup(b->a, bs + 1);
    return true;
}

/* The NETBIOS domain a user's own record gives (Volatile Environment [USERDOMAIN], or
 * LogonUI [LastLoggedOnSAMUser] when its SID is this user's), or NULL. */
static const char *recorded_domain(build *b, size_t i)
{
    uwork *w = &b->uw[i];
    if (w->vol_domain) return w->vol_domain;
    char *dom, *name;
    if (b->logonui_sid && ieq(b->logonui_sid, b->m->users[i].sid) &&
        split_account(b, b->logonui_sam, &dom, &name))
        return dom;
    return NULL;
}

/* The machine SID when SAM gave none (docs/machine.md):
 *  1. the domain part of a user whose own record names the computer as its domain;
 *  2. else, on a workgroup machine (no joined domain), the domain part shared by most
 *     ProfileList SIDs with RID >= 1000, leaving out the parts that a user's record ties
 *     to another domain;
 *  3. else unknown: every user is taken as a domain user (with a warning). */
static void guess_machine_sid(build *b)
{
    fy_machine *m = b->m;
    const char *cn = m->computer_name;
    for (size_t i = 0; i < m->nusers; i++) {
        const char *d = recorded_domain(b, i);
        if (!b->uw[i].cloud && d && ieq(d, cn)) {
            m->machine_sid = b->uw[i].sid_domain;
            m->machine_sid_source = "ProfileList (SAM missing; a user recorded as local)";
            return;
        }
    }
    if (m->joined_domain) {
        warn(b, NULL, "machine-sid",
             "SAM is missing or unreadable and the machine is joined to %s: local users cannot be "
             "told from domain users, all are taken as domain users",
             m->joined_domain);
        return;
    }
    size_t best = 0;
    const char *best_sid = NULL;
    for (size_t i = 0; i < m->nusers; i++) {
        uwork *w = &b->uw[i];
        if (w->cloud || m->users[i].rid < 1000) continue;
        size_t n = 0;
        bool tied = false;
        for (size_t j = 0; j < m->nusers; j++) {
            if (b->uw[j].cloud || !ieq(b->uw[j].sid_domain, w->sid_domain)) continue;
            const char *d = recorded_domain(b, j);
            tied |= d && !ieq(d, cn);
            n += m->users[j].rid >= 1000;
        }
        if (!tied && n > best) {
            best = n;
            best_sid = w->sid_domain;
        }
    }
    if (best_sid) {
        m->machine_sid = best_sid;
        m->machine_sid_source = "ProfileList (SAM missing; most common domain part)";
    }
}

/* The profile folder's name without the suffix Windows adds when the name is taken
 * (".000", ".001", or ".DOMAIN" for a domain this machine knows); the suffix in *suffix. */
static char *folder_user_name(build *b, const char *folder, char **suffix)
{
    *suffix = NULL;
    const char *dot = strrchr(folder, '.');
    if (!dot || dot == folder || !dot[1]) return fy_arena_strdup(b->a, folder);
    const char *sfx = dot + 1;
    bool digits = strspn(sfx, "0123456789") == strlen(sfx);
    bool known = ieq(sfx, b->m->computer_name) || ieq(sfx, b->m->joined_domain) ||
                 ieq(sfx, b->winlogon_domain);
    for (size_t i = 0; !known && i < b->m->nusers; i++)
        known = b->uw[i].domain_known && ieq(sfx, b->m->users[i].domain);
    if (!digits && !known) return fy_arena_strdup(b->a, folder); /* "john.smith" */
    if (!digits) *suffix = fy_arena_strdup(b->a, sfx);
    return fy_arena_strndup(b->a, folder, (size_t)(dot - folder));
}

static void name_users(build *b)
{
    fy_machine *m = b->m;
    const char *cn = m->computer_name;
    int last = -1;
    char *lsam_dom = NULL, *lsam_name = NULL;
    bool have_lsam = split_account(b, b->logonui_sam, &lsam_dom, &lsam_name);
    if (b->logonui_sid)
        for (size_t i = 0; i < m->nusers; i++)
            if (ieq(m->users[i].sid, b->logonui_sid)) last = (int)i;

    /* Sources that name both domain and user, or SAM for local users. */
    for (size_t i = 0; i < m->nusers; i++) {
        fy_machine_user *u = &m->users[i];
        uwork *w = &b->uw[i];
        u->local = !w->cloud && m->machine_sid && ieq(w->sid_domain, m->machine_sid);
        u->builtin_admin = u->local && u->rid == 500;
        if (u->local) {
            u->domain = cn;
            w->domain_known = true;
            for (size_t k = 0; k < m->naccounts; k++)
                if (m->accounts[k].rid == u->rid) {
                    u->name = m->accounts[k].name;
                    u->name_source = "SAM";
                }
            if (!u->name && m->sam_hive)
                warn(b, m->sam_hive, "machine-sam",
                     "%s (%s) looks local but SAM has no account with RID %u (deleted?)", u->sid,
                     u->profile, u->rid);
        }
        if (!u->name && w->vol_user) {
            u->name = w->vol_user;
            u->name_source = "NTUSER.DAT Volatile Environment [USERNAME]";
            if (!u->local && w->vol_domain) {
                u->domain = w->vol_domain;
                w->domain_known = true;
            }
        }
        if (!u->name && (int)i == last && have_lsam) {
            u->name = lsam_name;
            u->name_source = "LogonUI [LastLoggedOnSAMUser]";
            if (!u->local) {
                u->domain = lsam_dom;
                w->domain_known = true;
            }
        }
        if (!u->name && (int)i == last && b->winlogon_user) {
            u->name = b->winlogon_user;
            u->name_source = "Winlogon [DefaultDomainName]/[DefaultUserName]";
            if (!u->local && b->winlogon_domain) {
                u->domain = b->winlogon_domain;
                w->domain_known = true;
            }
        }
    }

    /* XP records no SID for the last user: find the one Winlogon names. */
    if (last < 0 && !b->logonui_sid && b->winlogon_user) {
        bool want_local = !b->winlogon_domain || ieq(b->winlogon_domain, cn);
        for (size_t i = 0; i < m->nusers && last < 0; i++) {
            fy_machine_user *u = &m->users[i];
            uwork *w = &b->uw[i];
            if (u->local != want_local) continue;
            char *sfx;
            bool match = u->name
                             ? ieq(u->name, b->winlogon_user)
                             : (ieq(w->logon_name, b->winlogon_user) ||
                                ieq(folder_user_name(b, w->folder_name, &sfx), b->winlogon_user));
            if (u->name && !u->local && w->domain_known && b->winlogon_domain &&
                !ieq(u->domain, b->winlogon_domain))
                match = false;
            if (!match) continue;
            last = (int)i;
            if (!u->name) {
                u->name = b->winlogon_user;
                u->name_source = "Winlogon [DefaultDomainName]/[DefaultUserName]";
                if (!u->local && b->winlogon_domain) {
                    u->domain = b->winlogon_domain;
                    w->domain_known = true;
                }
            }
        }
    }

    /* Name only: Logon User Name, then the folder's name. */
    for (size_t i = 0; i < m->nusers; i++) {
        fy_machine_user *u = &m->users[i];
        uwork *w = &b->uw[i];
        char *sfx = NULL;
        char *fname = folder_user_name(b, w->folder_name, &sfx);
        if (!u->name && w->logon_name) {
            u->name = w->logon_name;
            u->name_source = "NTUSER.DAT Explorer [Logon User Name]";
        }
        if (!u->name) {
            u->name = fname;
            u->name_source = "profile folder name";
        }
        if (!u->domain && sfx && !u->local) u->domain = sfx;
    }

    /* Domains still unknown: a user of the same SID domain whose domain is recorded, the
     * machine's domain, else the SID's domain part itself. */
    for (size_t i = 0; i < m->nusers; i++) {
        fy_machine_user *u = &m->users[i];
        uwork *w = &b->uw[i];
        for (size_t j = 0; !u->domain && j < m->nusers; j++)
            if (j != i && b->uw[j].domain_known && ieq(b->uw[j].sid_domain, w->sid_domain))
                u->domain = m->users[j].domain;
        if (!u->domain && w->cloud) u->domain = "AzureAD";
        if (!u->domain && m->joined_domain) u->domain = m->joined_domain;
        if (!u->domain) {
            u->domain = w->sid_domain;
            warn(b, NULL, "machine-user-domain",
                 "the domain of %s (%s) is recorded nowhere on the volume: it is named by its SID "
                 "domain part; use --user-map or filter by SID",
                 u->sid, u->profile);
        }
        u->account = fy_arena_printf(b->a, "%s\\%s", u->domain, u->name);
    }

    /* The last user, when recorded by name only (Windows 7 has no LastLoggedOnUserSID). */
    if (last < 0 && have_lsam)
        for (size_t i = 0; i < m->nusers && last < 0; i++)
            if (ieq(m->users[i].name, lsam_name) && ieq(m->users[i].domain, lsam_dom))
                last = (int)i;
    m->last_user = last;
    if (last >= 0) m->users[last].last_logged_on = true;
    if (b->logonui_sam)
        m->last_user_text = b->logonui_sam;
    else if (b->winlogon_user)
        m->last_user_text = b->winlogon_domain ? fy_arena_printf(b->a, "%s\\%s", b->winlogon_domain,
                                                                 b->winlogon_user)
                                               : b->winlogon_user;
    m->last_user_sid = b->logonui_sid;
}

/* ---- users, pass 3: known folders ---- */

/* The default folder of token id for u: from the defaults of the folders it lies in when
 * `pure`, else from where those folders actually are (so that XP's My Pictures follows a
 * redirected My Documents, and Programs a redirected Start Menu). */
static char *user_default(build *b, fy_machine_user *u, fy_token_id id, bool pure)
{
    bool xp = b->m->os.xp_layout;
    const char *d = xp ? fy_tokens[id].xp_default : fy_tokens[id].vista_default;
    /* Windows 8.1 and later keep cookies with the IE cache, in the local AppData. */
    if (id == FY_TOK_COOKIES && b->m->os.id >= FY_OS_81)
        d = "AppData\\Local\\Microsoft\\Windows\\INetCookies";
    if (!d) return NULL;
    const char *base = u->profile, *rest = d;
    int ref = -1;
    if (d[0] == '<') {
        const char *e = strchr(d, '>');
        ref = e ? fy_token_lookup(d + 1, (size_t)(e - d - 1)) : -1;
        if (ref < 0) return NULL;
        rest = e + 1;
    } else if (xp && (id == FY_TOK_PICTURES || id == FY_TOK_MUSIC || id == FY_TOK_VIDEOS)) {
        /* XP keeps them in My Documents, wherever that is */
        ref = FY_TOK_DOCUMENTS;
        rest = last_component(d);
    }
    if (ref >= 0) {
        const fy_machine_folder *f = &u->folders[ref];
        base = pure || f->state == FY_FOLDER_NONE ? f->default_path : f->path;
        if (!base) return NULL;
    }
    return *rest ? join(b, base, rest) : fy_arena_strdup(b->a, base);
}

static void user_folders(build *b, size_t ui)
{
    static const fy_token_id order[] = {
        FY_TOK_PROFILE,   FY_TOK_APPDATA,   FY_TOK_LOCAL_APPDATA, FY_TOK_DOCUMENTS,
        FY_TOK_DESKTOP,   FY_TOK_FAVORITES, FY_TOK_START_MENU,    FY_TOK_PROGRAMS,
        FY_TOK_STARTUP,   FY_TOK_PICTURES,  FY_TOK_MUSIC,         FY_TOK_VIDEOS,
        FY_TOK_DOWNLOADS, FY_TOK_TEMPLATES, FY_TOK_RECENT,        FY_TOK_SENDTO,
        FY_TOK_COOKIES,   FY_TOK_NETHOOD,   FY_TOK_PRINTHOOD,
    };
    fy_machine_user *u = &b->m->users[ui];
    uwork *w = &b->uw[ui];
    for (size_t k = 0; k < FY_ARRAY_LEN(order); k++) {
        fy_token_id id = order[k];
        fy_machine_folder *f = &u->folders[id];
        if (id == FY_TOK_PROFILE) {
            set_folder(b, f, u->profile, u->profile, NULL);
            continue;
        }
        char *def = user_default(b, u, id, true);
        const char *raw = w->usf[id];
        if (raw) {
            bool unk;
            char *p = expand_canon(b, u, raw, &unk);
            if (!p) {
                char *e = fy_mach_expand(b->m, u, raw, NULL);
                f->state = FY_FOLDER_UNREACHABLE;
                f->path = fy_arena_strdup(b->a, e);
                f->default_path = def;
                f->raw = raw;
                f->why =
                    unk ? "a %VARIABLE% in it cannot be expanded offline" : "not an absolute path";
                free(e);
            } else {
                set_folder(b, f, p, def, raw);
            }
        } else {
            char *p = user_default(b, u, id, false);
            set_folder(b, f, p, def, NULL);
        }
        if (f->state == FY_FOLDER_UNREACHABLE)
            warn(b, u->ntuser, "machine-folder-unreachable",
                 "%s's <%s> is %s (%s): it is skipped on extraction, and injection uses the "
                 "default folder",
                 u->account, fy_tokens[id].canonical, f->path, f->why);
    }
}

/* ---- open / free ---- */

static int open_hive(build *b, const char *path, const char *what, fy_reg **r, char *err,
                     size_t err_size)
{
    char e[1024];
    if (fy_reg_open_hive(path, 0, b->w, r, e, sizeof e) != 0) {
        snprintf(err, err_size, "the %s hive cannot be read: %s", what, e);
        return -1;
    }
    if (!fy_reg_tree(*r) || !fy_reg_tree(*r)->root) {
        fy_reg_close(*r);
        *r = NULL;
        snprintf(err, err_size, "%s: the %s hive is empty", path, what);
        return -1;
    }
    return 0;
}

/* The config folder's hives; error naming what is missing when there is no Windows. */
static int find_hives(build *b, char *err, size_t err_size)
{
    fy_machine *m = b->m;
    static const char *const dirs[] = {"Windows\\System32\\config", "WINNT\\System32\\config"};
    char *sw = NULL, *first = NULL;
    size_t miss = 0, first_miss = 0;
    bool first_there = false;
    const char *dir = NULL;
    for (size_t i = 0; i < FY_ARRAY_LEN(dirs) && !dir; i++) {
        char *rel = fy_xasprintf("%s\\SOFTWARE", dirs[i]);
        int there = fy_mach_resolve_under(m->root, rel, &sw, &miss);
        if (there == 1 && is_plain_file(sw)) {
            dir = dirs[i];
        } else if (!first) {
            first = rel;
            rel = NULL;
            first_miss = miss;
            first_there = there == 1;
        }
        free(rel);
        if (!dir) {
            free(sw);
            sw = NULL;
        }
    }
    if (!dir && first_there) {
        snprintf(err, err_size,
                 "%s: no Windows here: %s is not a regular file (a link or a folder; hives are "
                 "never read through links)",
                 m->root, first);
        free(first);
        return -1;
    }
    if (!dir) {
        const char *e = strchr(first + first_miss, '\\');
        snprintf(err, err_size,
                 "%s: no Windows here: %s is missing (no %.*s); give --machine the mounted system "
                 "volume, the folder that holds Windows\\ and Users\\ or Documents and Settings\\",
                 m->root, first, (int)(e ? (size_t)(e - first) : strlen(first)), first);
        free(first);
        return -1;
    }
    free(first);
    m->software_hive = fy_arena_strdup(b->a, sw);
    free(sw);
    char *rel = fy_xasprintf("%s\\SYSTEM", dir), *p = NULL;
    int rc = fy_mach_resolve_under(m->root, rel, &p, NULL);
    if (rc != 1 || !is_plain_file(p)) {
        snprintf(err, err_size, "%s: no Windows here: %s is %s", m->root, rel,
                 rc != 1 ? "missing" : "not a regular file");
        free(rel);
        free(p);
        return -1;
    }
    m->system_hive = fy_arena_strdup(b->a, p);
    free(rel);
    free(p);
    rel = fy_xasprintf("%s\\SAM", dir);
    if (fy_mach_resolve_under(m->root, rel, &p, NULL) == 1 && is_plain_file(p))
        m->sam_hive = fy_arena_strdup(b->a, p);
    else
        warn(b, m->root, "machine-sam",
             "%s is missing: local users are told from domain users by their SIDs alone, and "
             "their names come from their profiles",
             rel);
    free(rel);
    free(p);
    return 0;
}

int fy_machine_open(const char *root, const fy_machine_drive_spec *drives, size_t ndrives,
                    fy_diags *warnings, fy_machine **out, char *err, size_t err_size)
{
    *out = NULL;
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "--machine %s: %s", root,
                 stat(root, &st) != 0 ? strerror(errno) : "not a folder");
        return -1;
    }
    fy_machine *m = fy_xcalloc(1, sizeof *m);
    build b = {.m = m, .w = warnings, .a = &m->arena};
    fy_reg *r = NULL;
    int rc = -1;
    m->root = strip_slash(&m->arena, root);
    m->last_user = -1;
    m->system_drive = 'C';

    if (find_hives(&b, err, err_size)) goto done;
    if (open_hive(&b, m->software_hive, "SOFTWARE", &r, err, err_size)) goto done;
    if (read_software(&b, fy_reg_tree(r), m->software_hive, err, err_size)) goto done;
    fy_reg_close(r);
    r = NULL;
    if (open_hive(&b, m->system_hive, "SYSTEM", &r, err, err_size)) goto done;
    if (read_system(&b, fy_reg_tree(r), m->system_hive, err, err_size)) goto done;
    fy_reg_close(r);
    r = NULL;
    if (m->sam_hive) {
        if (open_hive(&b, m->sam_hive, "SAM", &r, err, err_size)) goto done;
        read_sam(&b, fy_reg_tree(r), m->sam_hive);
        fy_reg_close(r);
        r = NULL;
    }
    /* The machine's own domain: CachePrimaryDomain, else a DefaultDomainName that is not
     * the computer name (a domain user logged on last). */
    if (b.cache_primary && !ieq(b.cache_primary, m->computer_name))
        m->joined_domain = b.cache_primary;
    else if (b.winlogon_domain && !ieq(b.winlogon_domain, m->computer_name) &&
             strcmp(b.winlogon_domain, ".") != 0)
        m->joined_domain = b.winlogon_domain;

    if (add_drives(&b, drives, ndrives, err, err_size)) goto done;
    check_hibernation(&b);
    machine_folders(&b);
    pass1(&b);
    if (!m->machine_sid) guess_machine_sid(&b);
    name_users(&b);
    for (size_t i = 0; i < m->nusers; i++)
        user_folders(&b, i);
    rc = 0;
done:
    if (r) fy_reg_close(r);
    if (rc == 0) {
        *out = m;
    } else {
        fy_machine_free(m);
    }
    return rc;
}

void fy_machine_free(fy_machine *m)
{
    if (!m) return;
    fy_arena_free(&m->arena);
    free(m);
}

/* ---- lookups ---- */

const fy_machine_user *fy_machine_find_user(const fy_machine *m, const char *who)
{
    if (!who) return NULL;
    const fy_machine_user *only = NULL;
    size_t nname = 0;
    for (size_t i = 0; i < m->nusers; i++) {
        const fy_machine_user *u = &m->users[i];
        if (ieq(u->sid, who) || ieq(u->account, who)) return u;
        if (!strchr(who, '\\') && ieq(u->name, who)) {
            only = u;
            nname++;
        }
    }
    return nname == 1 ? only : NULL;
}

const fy_machine_account *fy_machine_find_account(const fy_machine *m, const char *name)
{
    for (size_t i = 0; i < m->naccounts; i++)
        if (ieq(m->accounts[i].name, name)) return &m->accounts[i];
    return NULL;
}

const fy_machine_user *fy_machine_last_user(const fy_machine *m)
{
    return m->last_user >= 0 && (size_t)m->last_user < m->nusers ? &m->users[m->last_user] : NULL;
}

const char *fy_folder_state_name(fy_folder_state s)
{
    switch (s) {
    case FY_FOLDER_DEFAULT:
        return "default";
    case FY_FOLDER_REDIRECTED:
        return "redirected";
    case FY_FOLDER_UNREACHABLE:
        return "unreachable";
    default:
        return "none";
    }
}

/* ---- time ---- */

int64_t fy_filetime_to_unix(uint64_t ft)
{
    return (int64_t)(ft / 10000000u) - INT64_C(11644473600);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned mo, unsigned d)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t year_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) return 1970;
    return (int64_t)tm.tm_year + 1900;
}

/* Local wall-clock seconds of a TIME_ZONE_INFORMATION transition in `year`; -1 if bad. */
static bool transition(int64_t year, const fy_machine_systime *st, int64_t *out)
{
    if (st->month < 1 || st->month > 12 || st->hour > 23 || st->minute > 59) return false;
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y = st->year ? st->year : year;
    unsigned dim = mdays[st->month - 1];
    if (st->month == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) dim = 29;
    unsigned day;
    if (st->year) {
        day = st->day;
        if (day < 1 || day > dim) return false;
    } else {
        /* day = which occurrence (1..5, 5 = last) of weekday dow in the month */
        if (st->day < 1 || st->day > 5 || st->dow > 6) return false;
        int64_t first = days_from_civil(y, st->month, 1);
        unsigned wd_first = (unsigned)(((first % 7) + 7 + 4) % 7); /* 1970-01-01: Thursday */
        day = 1 + (st->dow + 7 - wd_first) % 7 + (unsigned)(st->day - 1) * 7;
        while (day > dim)
            day -= 7;
    }
    *out =
        days_from_civil(y, st->month, day) * 86400 + st->hour * 3600 + st->minute * 60 + st->second;
    return true;
}

int64_t fy_machine_local_time(const fy_machine *m, int64_t utc)
{
    const fy_machine_tz *tz = &m->tz;
    if (!tz->known) return utc;
    int64_t std_off = ((int64_t)tz->bias + tz->standard_bias) * 60;
    int64_t dst_off = ((int64_t)tz->bias + tz->daylight_bias) * 60;
    int64_t year = year_of(utc - std_off), s, e;
    if (tz->daylight_start.month == 0 || tz->standard_start.month == 0 ||
        !transition(year, &tz->daylight_start, &s) || !transition(year, &tz->standard_start, &e))
        return utc - std_off;
    /* DaylightStart is given in standard time, StandardStart in daylight time. */
    s += std_off;
    e += dst_off;
    bool dst = s < e ? (utc >= s && utc < e) : (utc >= s || utc < e);
    return utc - (dst ? dst_off : std_off);
}
