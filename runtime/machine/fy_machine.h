/* ferry's model of an offline Windows installation: the mounted system volume
 * (`--machine DIR`, the folder holding Windows\ and Users\ or Documents and Settings\) and
 * any further volumes (`--drive D=DIR`), read once into a plain description that the
 * agent consults: OS, computer name, time zone, users and their known folders, drives.
 * docs/machine.md says what is read from where, and in which order.
 *
 * Reading only: nothing here writes to the volume. Hives are opened through fy_reg.h
 * (dirty hives have their logs replayed, or a warning), read and closed again; only their
 * host paths are kept.
 *
 * Windows paths in this model are "C:\\Dir\\Name": an upper-case drive letter, '\\'
 * separators, no trailing '\\', no "." or ".." components. Host paths are the Linux paths
 * of files on the mounted volumes, found case-insensitively as NTFS would.
 *
 * Ownership: fy_machine_open returns a model the caller frees with fy_machine_free. Every
 * pointer inside it (strings, users, folders) belongs to the model, is read-only for
 * callers and lives until fy_machine_free. Functions documented as returning "malloc'd"
 * strings return memory the caller frees. There is no global state: several models may be
 * open at once (a source and a target), each used from one thread at a time. */
#ifndef FY_MACHINE_H
#define FY_MACHINE_H

#include "fy_common.h"
#include "fy_tokens.h"

/* Windows families, by SOFTWARE\Microsoft\Windows NT\CurrentVersion. */
typedef enum {
    FY_OS_UNKNOWN = 0,
    FY_OS_2000,  /* 5.0 */
    FY_OS_XP,    /* 5.1, and 5.2 (XP x64, Server 2003) */
    FY_OS_VISTA, /* 6.0 */
    FY_OS_7,     /* 6.1 */
    FY_OS_8,     /* 6.2 */
    FY_OS_81,    /* 6.3 without CurrentMajorVersionNumber */
    FY_OS_10,    /* CurrentMajorVersionNumber 10, build < 22000 */
    FY_OS_11,    /* CurrentMajorVersionNumber 10, build >= 22000 */
} fy_os_id;

typedef struct fy_machine_os {
    fy_os_id id;
    const char *name;            /* "Windows XP", "Windows 7", "Windows 10", ... */
    const char *product_name;    /* [ProductName] as stored ("Windows 10 Enterprise"), or "" */
    const char *version;         /* "5.1", "6.1", "10.0" (major.minor as found) */
    unsigned major, minor;       /* 5.1, 6.1, 10.0 */
    unsigned build;              /* [CurrentBuild] / [CurrentBuildNumber]; 0 = unknown */
    const char *service_pack;    /* [CSDVersion] ("Service Pack 3"), or "" */
    const char *display_version; /* [DisplayVersion] or [ReleaseId] ("22H2"), or "" */
    bool xp_layout; /* profiles and known folders laid out as on 2000/XP/2003 (fy_tokens
                     * xp_default); false: Vista and later (vista_default) */
} fy_machine_os;

typedef enum {
    FY_FOLDER_NONE = 0,    /* the folder does not exist on this OS (Downloads on XP) */
    FY_FOLDER_DEFAULT,     /* where Windows puts it by default for this user */
    FY_FOLDER_REDIRECTED,  /* User Shell Folders names another place on a local volume */
    FY_FOLDER_UNREACHABLE, /* redirected to a UNC path or a volume not given with --drive */
} fy_folder_state;

typedef struct fy_machine_folder {
    fy_folder_state state;
    const char *path;         /* Windows path (a UNC path when unreachable); NULL when NONE */
    const char *default_path; /* the OS default for this user/machine; NULL when NONE */
    const char *raw;          /* the registry value as stored (unexpanded); NULL = defaults */
    const char *why;          /* UNREACHABLE: why, in words; else NULL */
} fy_machine_folder;

typedef struct fy_machine_drive {
    char letter;      /* 'C' */
    const char *root; /* host folder of the volume, without trailing '/' ("/" stays "/") */
    bool system;      /* the --machine volume */
} fy_machine_drive;

typedef struct fy_machine_user {
    const char *sid;             /* "S-1-5-21-...-1105" as ProfileList spells it */
    uint32_t rid;                /* last sub-authority */
    const char *domain;          /* NETBIOS domain; a local user's is the computer name */
    const char *name;            /* account (SAM) name */
    const char *account;         /* "DOMAIN\\name" */
    const char *name_source;     /* where the name was found, in words (docs/machine.md) */
    bool local;                  /* an account of this machine's SAM */
    bool builtin_admin;          /* RID 500 of this machine: the built-in Administrator */
    bool last_logged_on;         /* the user the registry says logged on last */
    const char *profile;         /* Windows path of the profile folder (ProfileImagePath) */
    const char *profile_raw;     /* ProfileImagePath as stored ("%SystemDrive%\\Users\\x") */
    const char *profile_host;    /* host path of the profile folder; NULL when missing */
    const char *ntuser_path;     /* Windows path of NTUSER.DAT */
    const char *ntuser;          /* host path of NTUSER.DAT (HKCU); NULL when missing */
    const char *usrclass_path;   /* Windows path of UsrClass.dat */
    const char *usrclass;        /* host path of UsrClass.dat (HKCU\Software\Classes); NULL when
                                  * missing (XP profiles that never opened Explorer have none) */
    int64_t last_use;            /* Unix seconds UTC; 0 = unknown */
    const char *last_use_source; /* "ProfileList LocalProfileUnloadTime", "NTUSER.DAT
                                  * modification time", or NULL */
    const char *hive_error;      /* why NTUSER.DAT could not be read (folders are then the OS
                                  * defaults); NULL when it was read */
    /* Per-user known folders by token (fy_tokens[].per_user && is_folder); other entries
     * are FY_FOLDER_NONE: machine-wide folders are in fy_machine.folders. */
    fy_machine_folder folders[FY_TOK_COUNT];
} fy_machine_user;

/* A well-known service account with a profile (S-1-5-18/19/20, or any SID that is not a
 * user's): listed, never migrated. */
typedef struct fy_machine_sysaccount {
    const char *sid;
    const char *name;    /* "NT AUTHORITY\\SYSTEM", or "" when not well known */
    const char *profile; /* Windows path */
} fy_machine_sysaccount;

/* A local account of this machine's SAM (with or without a profile). */
typedef struct fy_machine_account {
    const char *name;
    uint32_t rid;
    const char *sid; /* machine SID + RID; NULL when the machine SID is unknown */
} fy_machine_account;

/* SYSTEMTIME as TIME_ZONE_INFORMATION keeps it (StandardStart / DaylightStart). */
typedef struct fy_machine_systime {
    uint16_t year, month, dow, day, hour, minute, second, ms;
} fy_machine_systime;

typedef struct fy_machine_tz {
    bool known;            /* TimeZoneInformation was found */
    int32_t bias;          /* minutes: UTC = local standard time + bias (US Eastern: 300) */
    int32_t standard_bias; /* added to bias in standard time (usually 0) */
    int32_t daylight_bias; /* added to bias in daylight time (usually -60) */
    const char *name;      /* [TimeZoneKeyName], else [StandardName]; "" when neither */
    fy_machine_systime standard_start, daylight_start; /* month 0: no daylight saving */
} fy_machine_tz;

typedef struct fy_machine {
    fy_arena arena;   /* owns everything below */
    const char *root; /* the --machine folder, as given (trailing '/' removed) */
    fy_machine_os os;
    const char *computer_name; /* "" when SYSTEM has none */
    /* The NETBIOS domain the machine was joined to, when the registry says (Winlogon
     * [CachePrimaryDomain], else [DefaultDomainName] when it is not the computer name);
     * NULL for a workgroup machine or when unknown. */
    const char *joined_domain;
    unsigned control_set;        /* N of ControlSet00N (Select\Current) */
    char system_drive;           /* 'C' */
    const char *system_root;     /* "C:\\WINDOWS" */
    const char *profiles_dir;    /* "C:\\Documents and Settings" / "C:\\Users" */
    const char *default_profile; /* the Default (User) profile new profiles are made from */
    const char *public_profile;  /* Vista+: "C:\\Users\\Public"; NULL on XP */
    fy_machine_tz tz;
    const char *machine_sid;                 /* "S-1-5-21-a-b-c", or NULL when unknown */
    const char *machine_sid_source;          /* "SAM" or "ProfileList (SAM missing)"; NULL */
    bool hibernated;                         /* hiberfil.sys holds a hibernation image */
    const char *hiber_signature;             /* its first four bytes when hibernated, else NULL */
    const char *software_hive, *system_hive; /* host paths */
    const char *sam_hive;                    /* host path, NULL when missing */

    fy_machine_drive *drives; /* system drive first, then --drive order */
    size_t ndrives, drives_cap;
    fy_machine_user *users; /* ProfileList order (sorted by SID) */
    size_t nusers, users_cap;
    fy_machine_sysaccount *sysaccounts;
    size_t nsysaccounts, sysaccounts_cap;
    fy_machine_account *accounts; /* SAM order (by name) */
    size_t naccounts, accounts_cap;
    int last_user;              /* index into users of the last logged-on user, or -1 */
    const char *last_user_text; /* as recorded ("OLDCORP\\hdowd"), NULL when none */
    const char *last_user_sid;  /* as recorded (Vista+), NULL when none */
    /* Machine-wide known folders (Program Files, ProgramData, All Users, Windows, System
     * Drive); per-user entries are FY_FOLDER_NONE here. */
    fy_machine_folder folders[FY_TOK_COUNT];
} fy_machine;

/* A further volume: --drive D=DIR. */
typedef struct fy_machine_drive_spec {
    char letter; /* 'A'..'Z' */
    const char *dir;
} fy_machine_drive_spec;

/* Parses "D=DIR" (also "D:=DIR"); the letter is upper-cased, dir points into spec.
 * 0, or -1 with err (a wrong command line). */
int fy_machine_parse_drive(const char *spec, fy_machine_drive_spec *out, char *err,
                           size_t err_size);

/* Reads the volume at `root` (plus `drives`). Warnings (a dirty hive read without its
 * logs, a damaged key skipped, a user whose NTUSER.DAT is unreadable, a folder redirected
 * out of reach, ...) go to `warnings` (may be NULL). Errors (-1, err says what is wrong
 * and what to do; the agent exits 6): no Windows at root (no Windows\System32\config\
 * SOFTWARE), SOFTWARE or SYSTEM or SAM unreadable or damaged, a --drive folder missing or
 * a letter given twice. A hibernated volume is NOT an error here: see hibernated. */
int fy_machine_open(const char *root, const fy_machine_drive_spec *drives, size_t ndrives,
                    fy_diags *warnings, fy_machine **out, char *err, size_t err_size);
void fy_machine_free(fy_machine *m);

/* True when hiberfil.sys at the volume's root starts with a hibernation signature
 * ("hibr", "HIBR", "wake", "WAKE", "RSTR", "rstr"): Windows may resume from it, so the
 * volume must never be written (agent: exit 6). */
bool fy_machine_is_hibernated(const fy_machine *m);

/* ---- users ---- */

/* The user whose account ("DOMAIN\\name", case-insensitive; "name" alone when unique) or
 * SID is `who`; NULL when none. */
const fy_machine_user *fy_machine_find_user(const fy_machine *m, const char *who);
/* The SAM account named `name` (case-insensitive), or NULL. */
const fy_machine_account *fy_machine_find_account(const fy_machine *m, const char *name);
/* The last logged-on user, or NULL. */
const fy_machine_user *fy_machine_last_user(const fy_machine *m);

/* ---- paths ---- */

/* Windows path -> host path (malloc'd, in *hostpath). The existing part is resolved
 * case-insensitively as NTFS would (C:\\Users\\Howard -> ROOT/users/howard when that is
 * what exists; an exact match is preferred, then the first in byte order); the rest is
 * appended as written. '/' is accepted for '\\'; "." is dropped and ".." goes up, never
 * above the drive. Components that are symbolic links are not looked into. Returns 1 when
 * the whole path exists, 0 when a tail is missing, -1 (and *hostpath NULL) when the path is
 * not on this machine: UNC, a drive not mounted, not absolute. Read-only: for writes use
 * the link-refusing resolver in runtime/io/fy_safepath.h. */
int fy_machine_host_path(const fy_machine *m, const char *winpath, char **hostpath);
/* Host path -> Windows path ("C:\\..."), malloc'd; NULL when it lies on no drive of the
 * machine. The host path is taken as written (below a drive's root, longest root wins). */
char *fy_machine_win_path(const fy_machine *m, const char *hostpath);
/* A Windows path in canonical form (see top), malloc'd; NULL when it is not an absolute
 * drive path ("C:\\x"). UNC paths are kept as "\\\\server\\share\\x". */
char *fy_machine_canon_path(const char *winpath);

/* ---- known folders and tokens ---- */

/* The folder of token `id` for user `u` (per-user tokens need u; machine tokens ignore it).
 * NULL for text tokens (User Name, User Domain) and bad ids. Borrowed. */
const fy_machine_folder *fy_machine_folder_of(const fy_machine *m, const fy_machine_user *u,
                                              fy_token_id id);
/* The Windows path of a known folder for a user: the folder's path (a UNC path when it is
 * unreachable), NULL when that OS has none (Downloads on XP) or u is NULL for a per-user
 * token. Borrowed. */
const char *fy_machine_token_path(const fy_machine *m, const fy_machine_user *u, fy_token_id id);

/* Windows path -> normalised form (malloc'd): "<Token>\\rest" under the LONGEST known
 * folder (counted in path components) of this user or machine that contains it ("<My
 * Pictures>\\beach.bmp", not "<My Documents>\\My Pictures\\beach.bmp", on XP too); the
 * drive form ("D:\\Data\\x") when none does. Ties go to the lower token id. Unreachable
 * folders and <System Drive> never match (a file on C: outside every folder stays
 * "C:\\..."). u may be NULL (machine folders only). NULL when winpath is not an absolute
 * drive path. */
char *fy_machine_normalise(const fy_machine *m, const fy_machine_user *u, const char *winpath);
/* The reverse, used on injection (malloc'd): "<Token>\\rest" -> the folder on this machine
 * for this user + rest; a folder that is unreachable here gives its OS default; "<User
 * Name>" / "<User Domain>" anywhere are replaced by the user's. A drive form is returned
 * canonical. NULL when the token has no folder on this OS ("<Downloads>\\x" on XP), is
 * unknown, is per-user and u is NULL, or the text is not a normalised path. */
char *fy_machine_denormalise(const fy_machine *m, const fy_machine_user *u, const char *norm);

/* Expands %VARIABLE% references as Windows would for this user (USERPROFILE, APPDATA,
 * LOCALAPPDATA, USERNAME, USERDOMAIN, HOMEDRIVE, HOMEPATH, SystemDrive, SystemRoot, windir,
 * ProgramFiles, ProgramFiles(x86), ProgramData, ALLUSERSPROFILE, PUBLIC, COMPUTERNAME;
 * case-insensitive). Unknown variables are left as written, as Windows leaves them.
 * u may be NULL (per-user variables then stay). malloc'd. */
char *fy_machine_expand(const fy_machine *m, const fy_machine_user *u, const char *text);

/* ---- time ---- */

/* UTC seconds -> the same instant as wall-clock seconds in the machine's time zone
 * (standard/daylight by TimeZoneInformation's transition rules; the yearly dynamic DST
 * tables are not read). UTC itself when the time zone is unknown. */
int64_t fy_machine_local_time(const fy_machine *m, int64_t utc);
/* FILETIME (100 ns since 1601) -> Unix seconds. */
int64_t fy_filetime_to_unix(uint64_t ft);

/* "Windows XP" etc. for an id (static). */
const char *fy_os_name(fy_os_id id);
/* "default", "redirected", "unreachable", "none" (static). */
const char *fy_folder_state_name(fy_folder_state s);

#endif
