/* The machine model (runtime/machine/fy_machine.h) on volumes assembled in a temp folder:
 * - a Windows 7 volume from the REAL fixture hives (SYSTEM, SAM, a user's NTUSER.DAT) and a
 *   SOFTWARE made with ferry's hive writer: computer name, OS, time zone, the local user
 *   named from SAM, Windows 7 known folders from the real User Shell Folders, last use;
 *   case-insensitive host-path resolution both ways (links not looked into, never above
 *   the volume);
 * - an XP layout and a Windows 10 layout (hives made with the writer): names and domains
 *   (Winlogon, Logon User Name, LogonUI, propagation by SID domain), local/domain by the
 *   machine SID, the built-in Administrator, redirected folders (XP's My Pictures follows a
 *   redirected My Documents), a UNC-redirected folder unreachable, Downloads none on XP,
 *   normalise under the LONGEST token and denormalise round trips, XP -> 10 translation,
 *   %VARIABLE% expansion, local time with daylight saving, --drive volumes;
 * - bad volumes: no Windows (clear error naming what is missing), the real corrupted SYSTEM
 *   hive and garbage hives (clear errors, no crash under ASan), a user's unreadable or
 *   dirty-without-logs NTUSER.DAT (warnings, the model still opens), SAM missing (the
 *   documented machine-SID rule), hibernation signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fy_common.h"
#include "hive_testutil.h"
#include "machine/fy_machine.h"
#include "registry/fy_hive.h"
#include "registry/fy_reg.h"
#include "registry/fy_regtree.h"

static char *tmp;      /* per-test-program temp folder */
static char *fixtures; /* decompressed real hives */
static int volno;

/* ---- helpers: files and hives ---- */

static void mkdirs(const char *path)
{
    char *p = fy_xstrdup(path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
    free(p);
}

static char *vpath(const char *vol, const char *rel)
{
    return fy_xasprintf("%s/%s", vol, rel);
}

static void put_file(const char *vol, const char *rel, const void *data, size_t n)
{
    char *p = vpath(vol, rel);
    char *d = fy_xstrdup(p);
    *strrchr(d, '/') = 0;
    mkdirs(d);
    assert_int_equal(th_write_file(p, data, n), 0);
    free(d);
    free(p);
}

static void copy_in(const char *vol, const char *rel, const char *from)
{
    char *p = vpath(vol, rel);
    char *d = fy_xstrdup(p);
    *strrchr(d, '/') = 0;
    mkdirs(d);
    assert_int_equal(th_copy(from, p), 0);
    free(d);
    free(p);
}

static char *new_volume(void)
{
    char *v = fy_xasprintf("%s/vol%d", tmp, ++volno);
    mkdirs(v);
    return v;
}

static fy_regtree *tree(void)
{
    return fy_regtree_new("ROOT");
}

static void sz_t(fy_regtree *t, const char *key, const char *name, uint32_t type, const char *s)
{
    fy_buf b = {0};
    assert_int_equal(fy_reg_sz_encode(s, &b), 0);
    fy_regkey_set_value(fy_regkey_create_path(t->root, key), name, type, b.data, (uint32_t)b.len);
    fy_buf_free(&b);
}

static void sz(fy_regtree *t, const char *key, const char *name, const char *s)
{
    sz_t(t, key, name, FY_REG_SZ, s);
}

static void xsz(fy_regtree *t, const char *key, const char *name, const char *s)
{
    sz_t(t, key, name, FY_REG_EXPAND_SZ, s);
}

static void dw(fy_regtree *t, const char *key, const char *name, uint32_t v)
{
    uint8_t d[4];
    fy_put_le32(d, v);
    fy_regkey_set_value(fy_regkey_create_path(t->root, key), name, FY_REG_DWORD, d, 4);
}

static void raw(fy_regtree *t, const char *key, const char *name, uint32_t type, const void *d,
                uint32_t n)
{
    fy_regkey_set_value(fy_regkey_create_path(t->root, key), name, type, d, n);
}

static void write_hive(fy_regtree *t, const char *vol, const char *rel)
{
    char *p = vpath(vol, rel);
    char *d = fy_xstrdup(p);
    *strrchr(d, '/') = 0;
    mkdirs(d);
    char err[512];
    assert_int_equal(fy_hive_write_file(t, p, err, sizeof err), 0);
    fy_regtree_free(t);
    free(d);
    free(p);
}

#define CV "Microsoft\\Windows NT\\CurrentVersion"
#define PL CV "\\ProfileList"
#define USF "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders"

static void sam_hive(const char *vol, const char *dir, uint32_t a, uint32_t b, uint32_t c,
                     const char *const *names, const uint32_t *rids, size_t n)
{
    fy_regtree *t = tree();
    uint8_t v[40] = {0};
    static const uint8_t head[12] = {1, 4, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0};
    memcpy(v + 16, head, 12);
    fy_put_le32(v + 28, a);
    fy_put_le32(v + 32, b);
    fy_put_le32(v + 36, c);
    raw(t, "SAM\\Domains\\Account", "V", FY_REG_BINARY, v, sizeof v);
    for (size_t i = 0; i < n; i++) {
        char *k = fy_xasprintf("SAM\\Domains\\Account\\Users\\Names\\%s", names[i]);
        raw(t, k, "", rids[i], NULL, 0);
        free(k);
    }
    char *rel = fy_xasprintf("%s/SAM", dir);
    write_hive(t, vol, rel);
    free(rel);
}

static void system_hive(const char *vol, const char *dir, const char *name, uint32_t bias)
{
    fy_regtree *t = tree();
    dw(t, "Select", "Current", 2);
    sz(t, "ControlSet001\\Control\\ComputerName\\ComputerName", "ComputerName", "WRONG-SET");
    sz(t, "ControlSet002\\Control\\ComputerName\\ComputerName", "ComputerName", name);
    const char *tz = "ControlSet002\\Control\\TimeZoneInformation";
    dw(t, tz, "Bias", bias);
    dw(t, tz, "StandardBias", 0);
    dw(t, tz, "DaylightBias", (uint32_t)-60);
    /* US rules: 2nd Sunday of March 02:00 -> 1st Sunday of November 02:00 */
    uint16_t ss[8] = {0, 11, 0, 1, 2, 0, 0, 0}, ds[8] = {0, 3, 0, 2, 2, 0, 0, 0};
    uint8_t sb[16], db[16];
    for (int i = 0; i < 8; i++) {
        fy_put_le16(sb + 2 * i, ss[i]);
        fy_put_le16(db + 2 * i, ds[i]);
    }
    raw(t, tz, "StandardStart", FY_REG_BINARY, sb, 16);
    raw(t, tz, "DaylightStart", FY_REG_BINARY, db, 16);
    sz(t, tz, "StandardName", "Eastern Standard Time");
    char *rel = fy_xasprintf("%s/SYSTEM", dir);
    write_hive(t, vol, rel);
    free(rel);
}

static void xp_usf(fy_regtree *t, const char *personal, const char *favorites)
{
    xsz(t, USF, "Personal", personal);
    xsz(t, USF, "Favorites", favorites);
    xsz(t, USF, "Desktop", "%USERPROFILE%\\Desktop");
    xsz(t, USF, "AppData", "%USERPROFILE%\\Application Data");
    xsz(t, USF, "Local AppData", "%USERPROFILE%\\Local Settings\\Application Data");
    xsz(t, USF, "Start Menu", "%USERPROFILE%\\Start Menu");
    xsz(t, USF, "Programs", "%USERPROFILE%\\Start Menu\\Programs");
}

#define DOM "S-1-5-21-3623811015-3361044348-30300820"
#define XPM "S-1-5-21-1390067357-1202660629-682003330"

/* An XP volume like the sample machine: OLDCORP\hdowd (last logged on), OLDCORP\jsmith
 * (My Documents -> %USERPROFILE%\Docs), local kiosk (Favorites on a share), Administrator
 * (no User Shell Folders). */
static char *xp_volume(void)
{
    char *v = new_volume();
    fy_regtree *t = tree();
    sz(t, CV, "CurrentVersion", "5.1");
    sz(t, CV, "CurrentBuild", "1.511.1 () (Obsolete data - do not use)");
    sz(t, CV, "CurrentBuildNumber", "2600");
    sz(t, CV, "ProductName", "Microsoft Windows XP");
    sz(t, CV, "CSDVersion", "Service Pack 3");
    sz(t, CV, "SystemRoot", "C:\\WINDOWS");
    sz(t, CV "\\Winlogon", "DefaultDomainName", "OLDCORP");
    sz(t, CV "\\Winlogon", "DefaultUserName", "hdowd");
    xsz(t, PL, "ProfilesDirectory", "%SystemDrive%\\Documents and Settings");
    sz(t, PL, "AllUsersProfile", "All Users");
    sz(t, PL, "DefaultUserProfile", "Default User");
    xsz(t, PL "\\S-1-5-18", "ProfileImagePath", "%systemroot%\\system32\\config\\systemprofile");
    xsz(t, PL "\\" XPM "-500", "ProfileImagePath",
        "%SystemDrive%\\Documents and Settings\\Administrator");
    xsz(t, PL "\\" XPM "-1003", "ProfileImagePath", "%SystemDrive%\\Documents and Settings\\kiosk");
    xsz(t, PL "\\" DOM "-1105", "ProfileImagePath", "%SystemDrive%\\Documents and Settings\\hdowd");
    xsz(t, PL "\\" DOM "-1107", "ProfileImagePath",
        "%SystemDrive%\\Documents and Settings\\jsmith");
    sz(t, "Microsoft\\Windows\\CurrentVersion", "ProgramFilesDir", "C:\\Program Files");
    xsz(t, "Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders", "Common AppData",
        "%ALLUSERSPROFILE%\\Application Data");
    write_hive(t, v, "WINDOWS/system32/config/software");
    system_hive(v, "WINDOWS/system32/config", "OLDPC01", 300);
    const char *names[] = {"Administrator", "Guest", "kiosk"};
    const uint32_t rids[] = {500, 501, 1003};
    sam_hive(v, "WINDOWS/system32/config", 1390067357u, 1202660629u, 682003330u, names, rids, 3);

    t = tree();
    sz(t, "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer", "Logon User Name", "hdowd");
    xp_usf(t, "%USERPROFILE%\\My Documents", "%USERPROFILE%\\Favorites");
    xsz(t, USF, "My Pictures", "%USERPROFILE%\\My Documents\\My Pictures");
    write_hive(t, v, "Documents and Settings/hdowd/NTUSER.DAT");
    t = tree();
    sz(t, "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer", "Logon User Name", "jsmith");
    xp_usf(t, "%USERPROFILE%\\Docs", "%USERPROFILE%\\Favorites");
    write_hive(t, v, "Documents and Settings/jsmith/NTUSER.DAT");
    t = tree();
    xp_usf(t, "%USERPROFILE%\\My Documents", "\\\\server\\share\\kiosk\\Favorites");
    write_hive(t, v, "Documents and Settings/kiosk/NTUSER.DAT");
    t = tree();
    sz(t, "Control Panel\\Desktop", "Wallpaper", "");
    write_hive(t, v, "Documents and Settings/Administrator/NTUSER.DAT");
    char *p = vpath(v, "Documents and Settings/hdowd/NTUSER.DAT");
    struct timespec ts[2] = {{1780000000, 0}, {1780000000, 0}};
    utimensat(AT_FDCWD, p, ts, 0);
    free(p);
    p = vpath(v, "Program Files");
    mkdirs(p);
    free(p);
    return v;
}

#define W10D "S-1-5-21-1004336348-1177238915-682003330"

static char *win10_volume(const char *build, bool redirect_docs_to_d)
{
    char *v = new_volume();
    fy_regtree *t = tree();
    sz(t, CV, "CurrentVersion", "6.3");
    dw(t, CV, "CurrentMajorVersionNumber", 10);
    dw(t, CV, "CurrentMinorVersionNumber", 0);
    sz(t, CV, "CurrentBuild", build);
    sz(t, CV, "CurrentBuildNumber", build);
    sz(t, CV, "ProductName", "Windows 10 Enterprise");
    sz(t, CV, "DisplayVersion", "22H2");
    sz(t, CV, "SystemRoot", "C:\\Windows");
    xsz(t, PL, "ProfilesDirectory", "%SystemDrive%\\Users");
    xsz(t, PL, "Default", "%SystemDrive%\\Users\\Default");
    xsz(t, PL, "ProgramData", "%SystemDrive%\\ProgramData");
    xsz(t, PL, "Public", "%SystemDrive%\\Users\\Public");
    xsz(t, PL "\\" W10D "-1201", "ProfileImagePath", "C:\\Users\\jsmith");
    /* 2026-05-29T16:00:00Z */
    dw(t, PL "\\" W10D "-1201", "LocalProfileUnloadTimeHigh", 0x01dcef84);
    dw(t, PL "\\" W10D "-1201", "LocalProfileUnloadTimeLow", 0x33ea8000);
    sz(t, "Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI", "LastLoggedOnSAMUser",
       "NEWCORP\\jsmith");
    sz(t, "Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI", "LastLoggedOnUserSID",
       W10D "-1201");
    sz(t, "Microsoft\\Windows\\CurrentVersion", "ProgramFilesDir", "C:\\Program Files");
    sz(t, "Microsoft\\Windows\\CurrentVersion", "ProgramFilesDir (x86)", "C:\\Program Files (x86)");
    write_hive(t, v, "Windows/System32/config/SOFTWARE");
    system_hive(v, "Windows/System32/config", "NEWPC01", 300);
    const char *names[] = {"Administrator"};
    const uint32_t rids[] = {500};
    sam_hive(v, "Windows/System32/config", 2847125563u, 4008839152u, 2935874910u, names, rids, 1);
    t = tree();
    xsz(t, USF, "Personal",
        redirect_docs_to_d ? "D:\\Docs\\%USERNAME%" : "%USERPROFILE%\\Documents");
    xsz(t, USF, "My Pictures", "%USERPROFILE%\\Pictures");
    xsz(t, USF, "AppData", "%USERPROFILE%\\AppData\\Roaming");
    xsz(t, USF, "Programs",
        "%USERPROFILE%\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs");
    write_hive(t, v, "Users/jsmith/NTUSER.DAT");
    return v;
}

static fy_machine *open_ok(const char *vol, const fy_machine_drive_spec *d, size_t nd, fy_diags *w)
{
    fy_machine *m = NULL;
    char err[2048] = "";
    int rc = fy_machine_open(vol, d, nd, w, &m, err, sizeof err);
    if (rc != 0) print_error("open %s: %s\n", vol, err);
    assert_int_equal(rc, 0);
    assert_non_null(m);
    return m;
}

static bool has_warning(const fy_diags *w, const char *check, const char *text)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].check, check) == 0 && (!text || strstr(w->v[i].message, text)))
            return true;
    return false;
}

static void check_norm(const fy_machine *m, const fy_machine_user *u, const char *win,
                       const char *want)
{
    char *n = fy_machine_normalise(m, u, win);
    if (!want) {
        assert_null(n);
        return;
    }
    assert_non_null(n);
    assert_string_equal(n, want);
    /* and back: the canonical Windows path (case as the folder's, not as written) */
    char *back = fy_machine_denormalise(m, u, n);
    char *canon = fy_machine_canon_path(win);
    assert_non_null(back);
    assert_int_equal(fy_strcasecmp_u8(back, strlen(back), canon, strlen(canon)), 0);
    free(back);
    free(canon);
    free(n);
}

static void check_denorm(const fy_machine *m, const fy_machine_user *u, const char *norm,
                         const char *want)
{
    char *d = fy_machine_denormalise(m, u, norm);
    if (!want) {
        assert_null(d);
        return;
    }
    assert_non_null(d);
    assert_string_equal(d, want);
    free(d);
}

/* ---- Windows 7 from the real hives ---- */

static void test_win7_real(void **state)
{
    (void)state;
    char *v = new_volume();
    char *f;
    /* Spelt unlike the Windows paths on purpose: NTFS matching is case-insensitive. */
    copy_in(v, "windows/system32/CONFIG/SYSTEM", f = fy_xasprintf("%s/SYSTEM", fixtures));
    free(f);
    copy_in(v, "windows/system32/CONFIG/sam", f = fy_xasprintf("%s/SAM", fixtures));
    free(f);
    copy_in(v, "users/preston/NTUSER.DAT", f = fy_xasprintf("%s/NTUSER.DAT", fixtures));
    free(f);
    fy_regtree *t = tree();
    sz(t, CV, "CurrentVersion", "6.1");
    sz(t, CV, "CurrentBuild", "7601");
    sz(t, CV, "ProductName", "Windows 7 Professional");
    sz(t, CV, "SystemRoot", "C:\\Windows");
    /* the SAM fixture's machine SID and its user Preston (RID 1000) */
    xsz(t, PL "\\S-1-5-21-1760460187-1592185332-161725925-1000", "ProfileImagePath",
        "%SystemDrive%\\Users\\Preston");
    xsz(t, PL "\\S-1-5-18", "ProfileImagePath", "%systemroot%\\system32\\config\\systemprofile");
    /* a domain user without a profile folder on the volume */
    sz(t, PL "\\S-1-5-21-111-222-333-1105", "ProfileImagePath", "C:\\Users\\bob.EXAMPLE");
    write_hive(t, v, "windows/system32/CONFIG/SOFTWARE");
    char *nt = vpath(v, "users/preston/NTUSER.DAT");
    struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, nt, ts, 0), 0);

    fy_diags w = {0};
    fy_machine *m = open_ok(v, NULL, 0, &w);
    assert_string_equal(m->computer_name, "WKS-WIN732BITA");
    assert_int_equal(m->os.id, FY_OS_7);
    assert_string_equal(m->os.name, "Windows 7");
    assert_string_equal(m->os.product_name, "Windows 7 Professional");
    assert_int_equal(m->os.build, 7601);
    assert_false(m->os.xp_layout);
    assert_int_equal(m->control_set, 1);
    assert_true(m->tz.known);
    assert_int_equal(m->tz.bias, 300);
    assert_string_equal(m->tz.name, "Eastern Standard Time");
    assert_int_equal(m->system_drive, 'C');
    assert_string_equal(m->machine_sid, "S-1-5-21-1760460187-1592185332-161725925");
    assert_false(m->hibernated);
    assert_int_equal(m->nsysaccounts, 1);
    assert_string_equal(m->sysaccounts[0].name, "NT AUTHORITY\\SYSTEM");
    assert_non_null(fy_machine_find_account(m, "preston"));

    assert_int_equal(m->nusers, 2);
    const fy_machine_user *u = fy_machine_find_user(m, "WKS-WIN732BITA\\preston");
    assert_non_null(u);
    assert_true(u->local);
    assert_false(u->builtin_admin);
    assert_string_equal(u->name, "Preston");
    assert_string_equal(u->name_source, "SAM");
    assert_string_equal(u->account, "WKS-WIN732BITA\\Preston");
    assert_string_equal(u->profile, "C:\\Users\\Preston");
    assert_non_null(u->ntuser);
    assert_string_equal(u->ntuser, nt);
    assert_null(u->hive_error);
    assert_int_equal(u->last_use, 1700000000);
    assert_string_equal(u->last_use_source, "NTUSER.DAT modification time");
    assert_ptr_equal(fy_machine_find_user(m, "S-1-5-21-1760460187-1592185332-161725925-1000"), u);
    /* Windows 7 folders from the real User Shell Folders */
    static const struct {
        fy_token_id id;
        const char *path;
    } want[] = {
        {FY_TOK_PROFILE, "C:\\Users\\Preston"},
        {FY_TOK_DOCUMENTS, "C:\\Users\\Preston\\Documents"},
        {FY_TOK_DESKTOP, "C:\\Users\\Preston\\Desktop"},
        {FY_TOK_APPDATA, "C:\\Users\\Preston\\AppData\\Roaming"},
        {FY_TOK_LOCAL_APPDATA, "C:\\Users\\Preston\\AppData\\Local"},
        {FY_TOK_PICTURES, "C:\\Users\\Preston\\Pictures"},
        {FY_TOK_VIDEOS, "C:\\Users\\Preston\\Videos"},
        {FY_TOK_DOWNLOADS, "C:\\Users\\Preston\\Downloads"},
        {FY_TOK_STARTUP, "C:\\Users\\Preston\\AppData\\Roaming\\Microsoft\\Windows\\Start "
                         "Menu\\Programs\\Startup"},
        {FY_TOK_COOKIES, "C:\\Users\\Preston\\AppData\\Roaming\\Microsoft\\Windows\\Cookies"},
        {FY_TOK_NETHOOD,
         "C:\\Users\\Preston\\AppData\\Roaming\\Microsoft\\Windows\\Network Shortcuts"},
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(want); i++) {
        const fy_machine_folder *fo = fy_machine_folder_of(m, u, want[i].id);
        assert_non_null(fo);
        assert_int_equal(fo->state, FY_FOLDER_DEFAULT);
        assert_string_equal(fo->path, want[i].path);
        assert_string_equal(fy_machine_token_path(m, u, want[i].id), want[i].path);
    }
    assert_non_null(u->folders[FY_TOK_DOCUMENTS].raw); /* from the hive, not the defaults */
    assert_string_equal(u->folders[FY_TOK_DOCUMENTS].raw, "%USERPROFILE%\\Documents");

    /* the domain user without a profile: kept, named from the folder, hive missing */
    const fy_machine_user *bob = fy_machine_find_user(m, "S-1-5-21-111-222-333-1105");
    assert_non_null(bob);
    assert_false(bob->local);
    assert_string_equal(bob->name, "bob.EXAMPLE"); /* EXAMPLE is no domain the machine knows */
    assert_null(bob->ntuser);
    assert_non_null(bob->hive_error);
    assert_true(has_warning(&w, "machine-profile-missing", "bob.EXAMPLE"));
    assert_true(has_warning(&w, "machine-user-domain", NULL));

    /* case-insensitive resolution */
    char *h = NULL;
    assert_int_equal(fy_machine_host_path(m, "c:\\USERS\\preston\\ntuser.dat", &h), 1);
    assert_string_equal(h, nt);
    free(h);
    assert_int_equal(fy_machine_host_path(m, "C:/Users/Preston/Documents/x.docx", &h), 0);
    char *want_h = vpath(v, "users/preston/Documents/x.docx");
    assert_string_equal(h, want_h);
    free(want_h);
    free(h);
    assert_int_equal(fy_machine_host_path(m, "\\\\server\\share\\x", &h), -1);
    assert_null(h);
    assert_int_equal(fy_machine_host_path(m, "D:\\x", &h), -1);
    assert_int_equal(fy_machine_host_path(m, "Users\\x", &h), -1);
    /* never above the volume */
    assert_int_equal(fy_machine_host_path(m, "C:\\..\\..\\..\\etc\\passwd", &h), 0);
    want_h = vpath(v, "etc/passwd");
    assert_string_equal(h, want_h);
    free(want_h);
    free(h);
    /* an exact name wins; else the first in byte order */
    char *d1 = vpath(v, "Data"), *d2 = vpath(v, "data");
    mkdirs(d1);
    mkdirs(d2);
    assert_int_equal(fy_machine_host_path(m, "C:\\data", &h), 1);
    assert_string_equal(h, d2);
    free(h);
    assert_int_equal(fy_machine_host_path(m, "C:\\DATA", &h), 1);
    assert_string_equal(h, d1);
    free(h);
    /* a link is not looked into */
    char *ln = vpath(v, "users/escape");
    assert_int_equal(symlink("/etc", ln), 0);
    assert_int_equal(fy_machine_host_path(m, "C:\\Users\\escape\\passwd", &h), 0);
    free(h);
    assert_int_equal(fy_machine_host_path(m, "C:\\Users\\Escape", &h), 1);
    assert_string_equal(h, ln);
    free(h);
    /* and back */
    char *wp = fy_machine_win_path(m, nt);
    assert_string_equal(wp, "C:\\users\\preston\\NTUSER.DAT");
    free(wp);
    wp = fy_machine_win_path(m, v);
    assert_string_equal(wp, "C:");
    free(wp);
    char *other = fy_xasprintf("%sX/y", v); /* a sibling folder that shares the prefix */
    assert_null(fy_machine_win_path(m, other));
    assert_null(fy_machine_win_path(m, "/etc/passwd"));
    free(other);
    free(ln);
    free(d1);
    free(d2);

    fy_machine_free(m);
    fy_diags_free(&w);
    free(nt);
    free(v);
}

/* ---- XP layout ---- */

static void test_xp(void **state)
{
    (void)state;
    char *v = xp_volume();
    fy_diags w = {0};
    fy_machine *m = open_ok(v, NULL, 0, &w);
    assert_int_equal(m->os.id, FY_OS_XP);
    assert_true(m->os.xp_layout);
    assert_int_equal(m->os.build, 2600);
    assert_string_equal(m->os.service_pack, "Service Pack 3");
    assert_string_equal(m->computer_name, "OLDPC01"); /* ControlSet002, by Select\Current */
    assert_int_equal(m->control_set, 2);
    assert_string_equal(m->joined_domain, "OLDCORP");
    assert_string_equal(m->system_root, "C:\\WINDOWS");
    assert_string_equal(m->profiles_dir, "C:\\Documents and Settings");
    assert_string_equal(m->default_profile, "C:\\Documents and Settings\\Default User");
    assert_null(m->public_profile);
    assert_int_equal(m->nusers, 4);

    const fy_machine_user *hd = fy_machine_find_user(m, "oldcorp\\HDOWD");
    const fy_machine_user *js = fy_machine_find_user(m, "jsmith");
    const fy_machine_user *ki = fy_machine_find_user(m, "OLDPC01\\kiosk");
    const fy_machine_user *ad = fy_machine_find_user(m, "OLDPC01\\Administrator");
    assert_non_null(hd);
    assert_non_null(js);
    assert_non_null(ki);
    assert_non_null(ad);
    assert_null(fy_machine_find_user(m, "nobody"));
    assert_ptr_equal(fy_machine_last_user(m), hd);
    assert_true(hd->last_logged_on);
    assert_string_equal(m->last_user_text, "OLDCORP\\hdowd");
    assert_string_equal(hd->name_source, "Winlogon [DefaultDomainName]/[DefaultUserName]");
    assert_string_equal(js->account, "OLDCORP\\jsmith");
    assert_string_equal(js->name_source, "NTUSER.DAT Explorer [Logon User Name]");
    assert_false(js->local);
    assert_true(ki->local);
    assert_string_equal(ki->name_source, "SAM");
    assert_true(ad->builtin_admin);
    assert_int_equal(ad->rid, 500);
    assert_int_equal(hd->last_use, 1780000000);

    /* folders: XP defaults, redirection, unreachable */
    assert_string_equal(fy_machine_token_path(m, hd, FY_TOK_DOCUMENTS),
                        "C:\\Documents and Settings\\hdowd\\My Documents");
    assert_string_equal(fy_machine_token_path(m, hd, FY_TOK_PICTURES),
                        "C:\\Documents and Settings\\hdowd\\My Documents\\My Pictures");
    assert_null(fy_machine_token_path(m, hd, FY_TOK_DOWNLOADS));
    assert_int_equal(hd->folders[FY_TOK_DOWNLOADS].state, FY_FOLDER_NONE);
    assert_null(fy_machine_token_path(m, NULL, FY_TOK_DOCUMENTS));
    assert_null(fy_machine_token_path(m, hd, FY_TOK_USER_NAME));
    assert_string_equal(fy_machine_token_path(m, hd, FY_TOK_STARTUP),
                        "C:\\Documents and Settings\\hdowd\\Start Menu\\Programs\\Startup");
    assert_string_equal(fy_machine_token_path(m, NULL, FY_TOK_PROGRAM_DATA),
                        "C:\\Documents and Settings\\All Users\\Application Data");
    assert_int_equal(js->folders[FY_TOK_DOCUMENTS].state, FY_FOLDER_REDIRECTED);
    assert_string_equal(js->folders[FY_TOK_DOCUMENTS].path,
                        "C:\\Documents and Settings\\jsmith\\Docs");
    /* XP's My Pictures lies in My Documents, wherever that went */
    assert_int_equal(js->folders[FY_TOK_PICTURES].state, FY_FOLDER_REDIRECTED);
    assert_string_equal(js->folders[FY_TOK_PICTURES].path,
                        "C:\\Documents and Settings\\jsmith\\Docs\\My Pictures");
    assert_string_equal(js->folders[FY_TOK_PICTURES].default_path,
                        "C:\\Documents and Settings\\jsmith\\My Documents\\My Pictures");
    assert_int_equal(ki->folders[FY_TOK_FAVORITES].state, FY_FOLDER_UNREACHABLE);
    assert_string_equal(ki->folders[FY_TOK_FAVORITES].path, "\\\\server\\share\\kiosk\\Favorites");
    assert_true(has_warning(&w, "machine-folder-unreachable", "kiosk"));
    /* no User Shell Folders at all: XP defaults */
    assert_string_equal(
        fy_machine_token_path(m, ad, FY_TOK_LOCAL_APPDATA),
        "C:\\Documents and Settings\\Administrator\\Local Settings\\Application Data");
    assert_null(ad->folders[FY_TOK_LOCAL_APPDATA].raw);
    assert_int_equal(ad->folders[FY_TOK_LOCAL_APPDATA].state, FY_FOLDER_DEFAULT);

    /* normalise under the LONGEST token, and back */
    check_norm(m, hd, "C:\\Documents and Settings\\hdowd\\My Documents\\My Pictures\\beach.bmp",
               "<My Pictures>\\beach.bmp");
    check_norm(m, hd, "c:/documents and settings/HDOWD/ntuser.ini", "<Profile>\\ntuser.ini");
    check_norm(m, hd, "C:\\Documents and Settings\\hdowd\\My Documents", "<My Documents>");
    check_norm(m, hd, "C:\\Documents and Settings\\hdowd\\My Documents\\a\\b.doc",
               "<My Documents>\\a\\b.doc");
    check_norm(m, hd, "C:\\Documents and Settings\\hdowd\\Local Settings\\Application Data\\x",
               "<Local Application Data>\\x");
    check_norm(m, hd, "C:\\Documents and Settings\\hdowd\\Start Menu\\Programs\\Startup\\a.lnk",
               "<Startup>\\a.lnk");
    check_norm(m, hd, "C:\\Documents and Settings\\hdowd\\My Documents\\My Picturesque\\x",
               "<My Documents>\\My Picturesque\\x"); /* whole components only */
    check_norm(m, hd, "C:\\Program Files\\X", "<Program Files>\\X");
    check_norm(m, NULL, "C:\\Program Files\\X", "<Program Files>\\X");
    check_norm(m, hd, "C:\\Documents and Settings\\All Users\\Application Data\\x",
               "<ProgramData>\\x");
    check_norm(m, hd, "C:\\Documents and Settings\\All Users\\Desktop\\x.url",
               "<All Users>\\Desktop\\x.url");
    check_norm(m, hd, "C:\\WINDOWS\\system32\\drivers\\etc\\hosts",
               "<Windows>\\system32\\drivers\\etc\\hosts");
    check_norm(m, hd, "C:\\Project Files\\Ledger\\x.mdb", "C:\\Project Files\\Ledger\\x.mdb");
    check_norm(m, hd, "d:\\Data\\x", "D:\\Data\\x");
    check_norm(m, NULL, "C:\\Documents and Settings\\hdowd\\x",
               "C:\\Documents and Settings\\hdowd\\x");
    check_norm(m, js, "C:\\Documents and Settings\\jsmith\\Docs\\My Pictures\\team.jpg",
               "<My Pictures>\\team.jpg");
    check_norm(m, js, "C:\\Documents and Settings\\jsmith\\Docs\\Plan.docx",
               "<My Documents>\\Plan.docx");
    /* another user's profile is no token of this one */
    check_norm(m, js, "C:\\Documents and Settings\\hdowd\\x",
               "C:\\Documents and Settings\\hdowd\\x");
    /* the unreachable folder matches nothing; what lies at its default place is in the profile */
    check_norm(m, ki, "C:\\Documents and Settings\\kiosk\\Favorites\\a.url",
               "<Profile>\\Favorites\\a.url");
    check_norm(m, ki, "\\\\server\\share\\kiosk\\Favorites\\a.url", NULL);
    check_norm(m, hd, "relative\\x", NULL);

    check_denorm(m, hd, "<Downloads>\\x.zip", NULL); /* none on XP */
    check_denorm(m, hd, "<My Pictures>\\beach.bmp",
                 "C:\\Documents and Settings\\hdowd\\My Documents\\My Pictures\\beach.bmp");
    check_denorm(m, hd, "%MyDocuments%\\x", NULL); /* not a normalised form */
    check_denorm(m, hd, "<No Such Token>\\x", NULL);
    check_denorm(m, hd, "<Profile>x", NULL);
    check_denorm(m, NULL, "<My Documents>\\x", NULL);
    check_denorm(m, NULL, "<Program Files>\\x", "C:\\Program Files\\x");
    check_denorm(m, hd, "<System Drive>\\Project Files\\a", "C:\\Project Files\\a");
    check_denorm(m, hd, "<My Documents>\\<User Name>\\<User Domain>.txt",
                 "C:\\Documents and Settings\\hdowd\\My Documents\\hdowd\\OLDCORP.txt");
    check_denorm(m, ki, "<Favorites>\\a.url",
                 "C:\\Documents and Settings\\kiosk\\Favorites\\a.url");
    check_denorm(m, hd, "D:\\Data\\x", "D:\\Data\\x");
    check_denorm(m, hd, "\\\\srv\\share\\x", NULL);

    /* expansion */
    char *e = fy_machine_expand(m, hd, "%USERPROFILE%\\x;%SystemRoot%;%systemdrive%;%FOO%;%");
    assert_string_equal(e, "C:\\Documents and Settings\\hdowd\\x;C:\\WINDOWS;C:;%FOO%;%");
    free(e);
    e = fy_machine_expand(m, hd, "%USERDOMAIN%\\%USERNAME% %APPDATA% %HOMEDRIVE%%HOMEPATH%");
    assert_string_equal(e, "OLDCORP\\hdowd C:\\Documents and Settings\\hdowd\\Application Data "
                           "C:\\Documents and Settings\\hdowd");
    free(e);
    e = fy_machine_expand(m, NULL, "%USERPROFILE%|%ALLUSERSPROFILE%|%COMPUTERNAME%");
    assert_string_equal(e, "%USERPROFILE%|C:\\Documents and Settings\\All Users|OLDPC01");
    free(e);

    /* the source's local time: US Eastern with daylight saving */
    assert_int_equal(fy_machine_local_time(m, 1782907200), 1782907200 - 4 * 3600); /* Jul 1 */
    assert_int_equal(fy_machine_local_time(m, 1768478400), 1768478400 - 5 * 3600); /* Jan 15 */
    /* 2026-03-08 (second Sunday) 06:59:59Z is 01:59:59 EST, 07:00Z is 03:00 EDT */
    assert_int_equal(fy_machine_local_time(m, 1772953199), 1772953199 - 5 * 3600);
    assert_int_equal(fy_machine_local_time(m, 1772953200), 1772953200 - 4 * 3600);
    /* 2026-11-01 (first Sunday) 05:59:59Z is 01:59:59 EDT, 06:00Z is 01:00 EST */
    assert_int_equal(fy_machine_local_time(m, 1793512799), 1793512799 - 4 * 3600);
    assert_int_equal(fy_machine_local_time(m, 1793512800), 1793512800 - 5 * 3600);

    fy_machine_free(m);
    fy_diags_free(&w);
    free(v);
}

/* ---- Windows 10 / 11 layout, and XP -> 10 ---- */

static void test_win10(void **state)
{
    (void)state;
    char *v = win10_volume("19045", false);
    fy_diags w = {0};
    fy_machine *m = open_ok(v, NULL, 0, &w);
    assert_int_equal(m->os.id, FY_OS_10);
    assert_string_equal(m->os.name, "Windows 10");
    assert_string_equal(m->os.version, "10.0");
    assert_string_equal(m->os.display_version, "22H2");
    assert_string_equal(m->computer_name, "NEWPC01");
    assert_string_equal(m->default_profile, "C:\\Users\\Default");
    assert_string_equal(m->public_profile, "C:\\Users\\Public");
    assert_int_equal(m->nusers, 1);
    const fy_machine_user *js = fy_machine_find_user(m, "NEWCORP\\jsmith");
    assert_non_null(js);
    assert_ptr_equal(fy_machine_last_user(m), js);
    assert_string_equal(js->name_source, "LogonUI [LastLoggedOnSAMUser]");
    assert_false(js->local);
    assert_int_equal(js->last_use, 1780070400);
    assert_string_equal(js->last_use_source, "ProfileList LocalProfileUnloadTime");
    assert_string_equal(js->usrclass_path,
                        "C:\\Users\\jsmith\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat");
    assert_null(js->usrclass); /* not made in this volume */
    /* Administrator has no profile: a SAM account only */
    const fy_machine_account *adm = fy_machine_find_account(m, "administrator");
    assert_non_null(adm);
    assert_string_equal(adm->sid, "S-1-5-21-2847125563-4008839152-2935874910-500");
    /* folders: from the hive where given, else the Vista+ defaults */
    assert_string_equal(fy_machine_token_path(m, js, FY_TOK_DOWNLOADS),
                        "C:\\Users\\jsmith\\Downloads");
    assert_string_equal(fy_machine_token_path(m, js, FY_TOK_COOKIES),
                        "C:\\Users\\jsmith\\AppData\\Local\\Microsoft\\Windows\\INetCookies");
    assert_string_equal(fy_machine_token_path(m, NULL, FY_TOK_PROGRAM_FILES_X86),
                        "C:\\Program Files (x86)");
    check_norm(m, js, "C:\\Users\\jsmith\\Downloads\\a.zip", "<Downloads>\\a.zip");
    check_norm(
        m, js,
        "C:\\Users\\jsmith\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\x.lnk",
        "<Programs>\\x.lnk");
    check_norm(m, js, "C:\\Users\\jsmith\\AppData\\Roaming\\WinSCP.ini",
               "<Application Data>\\WinSCP.ini");
    check_norm(m, js, "C:\\ProgramData\\Vendor\\x", "<ProgramData>\\Vendor\\x"); /* tie: lower id */
    check_norm(m, js, "C:\\Program Files (x86)\\WinSCP\\WinSCP.exe",
               "<Program Files (x86)>\\WinSCP\\WinSCP.exe");
    check_denorm(m, js, "<Profile>\\ntuser.ini", "C:\\Users\\jsmith\\ntuser.ini");

    /* what an XP source normalised lands in the Windows 10 folders */
    char *xv = xp_volume();
    fy_machine *xm = open_ok(xv, NULL, 0, NULL);
    const fy_machine_user *hd = fy_machine_find_user(xm, "OLDCORP\\hdowd");
    static const struct {
        const char *xp, *ten;
    } pairs[] = {
        {"C:\\Documents and Settings\\hdowd\\My Documents\\My Pictures\\beach.bmp",
         "C:\\Users\\jsmith\\Pictures\\beach.bmp"},
        {"C:\\Documents and Settings\\hdowd\\My Documents\\Report.docx",
         "C:\\Users\\jsmith\\Documents\\Report.docx"},
        {"C:\\Documents and Settings\\hdowd\\Application Data\\WinSCP.ini",
         "C:\\Users\\jsmith\\AppData\\Roaming\\WinSCP.ini"},
        {"C:\\Documents and Settings\\hdowd\\Local Settings\\Application Data\\x\\y",
         "C:\\Users\\jsmith\\AppData\\Local\\x\\y"},
        {"C:\\Documents and Settings\\hdowd\\Start Menu\\Programs\\PuTTY.lnk",
         "C:\\Users\\jsmith\\AppData\\Roaming\\Microsoft\\Windows\\Start "
         "Menu\\Programs\\PuTTY.lnk"},
        {"C:\\Documents and Settings\\All Users\\Application Data\\V\\x", "C:\\ProgramData\\V\\x"},
        {"C:\\Project Files\\Ledger\\x.mdb", "C:\\Project Files\\Ledger\\x.mdb"},
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(pairs); i++) {
        char *n = fy_machine_normalise(xm, hd, pairs[i].xp);
        char *d = fy_machine_denormalise(m, js, n);
        assert_non_null(d);
        assert_string_equal(d, pairs[i].ten);
        free(n);
        free(d);
    }
    fy_machine_free(xm);
    free(xv);
    fy_machine_free(m);
    fy_diags_free(&w);
    free(v);

    /* Windows 11: CurrentMajorVersionNumber 10 with a build >= 22000 */
    v = win10_volume("22631", false);
    m = open_ok(v, NULL, 0, NULL);
    assert_int_equal(m->os.id, FY_OS_11);
    assert_string_equal(m->os.name, "Windows 11");
    fy_machine_free(m);
    free(v);
}

/* My Documents redirected to D:, reachable only when D: is given. */
static void test_drives(void **state)
{
    (void)state;
    char *v = win10_volume("19045", true);
    fy_diags w = {0};
    fy_machine *m = open_ok(v, NULL, 0, &w);
    const fy_machine_user *js = &m->users[0];
    assert_int_equal(js->folders[FY_TOK_DOCUMENTS].state, FY_FOLDER_UNREACHABLE);
    assert_string_equal(js->folders[FY_TOK_DOCUMENTS].path, "D:\\Docs\\jsmith");
    assert_non_null(strstr(js->folders[FY_TOK_DOCUMENTS].why, "--drive D="));
    check_denorm(m, js, "<My Documents>\\a.doc", "C:\\Users\\jsmith\\Documents\\a.doc");
    fy_machine_free(m);
    fy_diags_free(&w);

    char *d = fy_xasprintf("%s-D", v);
    mkdirs(d);
    char *dd = fy_xasprintf("%s/docs/JSMITH", d);
    mkdirs(dd);
    fy_machine_drive_spec spec;
    char err[512];
    char *arg = fy_xasprintf("d=%s", d);
    assert_int_equal(fy_machine_parse_drive(arg, &spec, err, sizeof err), 0);
    assert_int_equal(spec.letter, 'D');
    m = open_ok(v, &spec, 1, NULL);
    js = &m->users[0];
    assert_int_equal(m->ndrives, 2);
    assert_int_equal(m->drives[1].letter, 'D');
    assert_false(m->drives[1].system);
    assert_int_equal(js->folders[FY_TOK_DOCUMENTS].state, FY_FOLDER_REDIRECTED);
    check_norm(m, js, "D:\\Docs\\jsmith\\a.doc", "<My Documents>\\a.doc");
    check_norm(m, js, "D:\\Other\\a.doc", "D:\\Other\\a.doc");
    char *h = NULL;
    assert_int_equal(fy_machine_host_path(m, "D:\\Docs\\jsmith", &h), 1);
    assert_string_equal(h, dd);
    char *back = fy_machine_win_path(m, h);
    assert_string_equal(back, "D:\\docs\\JSMITH");
    free(back);
    free(h);
    fy_machine_free(m);

    /* a letter twice, a missing folder */
    fy_machine_drive_spec bad[2] = {{'C', d}, {'E', "/nonexistent/ferry-test"}};
    fy_machine *none = NULL;
    assert_int_equal(fy_machine_open(v, bad, 1, NULL, &none, err, sizeof err), -1);
    assert_null(none);
    assert_non_null(strstr(err, "drive C: is already"));
    assert_int_equal(fy_machine_open(v, bad + 1, 1, NULL, &none, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/ferry-test"));

    /* spec syntax */
    assert_int_equal(fy_machine_parse_drive("E:=/x", &spec, err, sizeof err), 0);
    assert_int_equal(spec.letter, 'E');
    assert_string_equal(spec.dir, "/x");
    assert_int_equal(fy_machine_parse_drive("1=/x", &spec, err, sizeof err), -1);
    assert_int_equal(fy_machine_parse_drive("D", &spec, err, sizeof err), -1);
    assert_int_equal(fy_machine_parse_drive("D=", &spec, err, sizeof err), -1);
    assert_int_equal(fy_machine_parse_drive("DE=/x", &spec, err, sizeof err), -1);
    free(arg);
    free(dd);
    free(d);
    free(v);
}

/* ---- canonical paths ---- */

static void test_canon(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"c:/a//b/./c/../d/", "C:\\a\\b\\d"},
        {"C:", "C:"},
        {"C:\\", "C:"},
        {"C:\\..\\..", "C:"},
        {"\\\\srv\\share\\x\\..\\..\\..", "\\\\srv\\share"},
        {"//srv/share/a/./b", "\\\\srv\\share\\a\\b"},
        {"\\\\srv", "\\\\srv"},
        {"\\\\..\\x", NULL},
        {"\\\\srv\\share\\x", "\\\\srv\\share\\x"},
        {"\\\\?\\C:\\x\\y", "C:\\x\\y"},
        {"\\\\?\\UNC\\srv\\share\\x", "\\\\srv\\share\\x"},
        {"relative\\x", NULL},
        {"C:x", NULL},
        {"\\x", NULL},
        {"\\\\", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        char *c = fy_machine_canon_path(cases[i].in);
        if (!cases[i].out) {
            assert_null(c);
        } else {
            assert_non_null(c);
            assert_string_equal(c, cases[i].out);
        }
        free(c);
    }
    assert_null(fy_machine_canon_path(NULL));
}

/* ---- bad volumes ---- */

static void expect_error(const char *vol, const char *needle1, const char *needle2)
{
    fy_machine *m = NULL;
    char err[2048] = "";
    fy_diags w = {0};
    assert_int_equal(fy_machine_open(vol, NULL, 0, &w, &m, err, sizeof err), -1);
    assert_null(m);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        print_error("error was: %s\n", err);
    assert_non_null(strstr(err, needle1));
    if (needle2) assert_non_null(strstr(err, needle2));
    fy_diags_free(&w);
}

static void test_no_windows(void **state)
{
    (void)state;
    char *v = new_volume();
    expect_error(v, "no Windows here", "no Windows)");
    char *p = vpath(v, "Windows/System32");
    mkdirs(p);
    expect_error(v, "no Windows here", "no Windows\\System32\\config");
    free(p);
    put_file(v, "Windows/System32/config/SOFTWARE", "", 0);
    expect_error(v, "no Windows here", "SYSTEM is missing");
    system_hive(v, "Windows/System32/config", "X", 0);
    expect_error(v, "SOFTWARE hive cannot be read", NULL); /* empty file */
    expect_error("/nonexistent/ferry-machine", "--machine /nonexistent/ferry-machine", NULL);
    char *f = vpath(v, "Windows/System32/config/SOFTWARE");
    expect_error(f, "not a folder", NULL);
    free(f);
    free(v);
}

static void test_corrupt_hives(void **state)
{
    (void)state;
    /* the real corrupted SYSTEM hive with a good SOFTWARE */
    char *v = win10_volume("19045", false);
    char *sys = vpath(v, "Windows/System32/config/SYSTEM");
    char *bad = fy_xasprintf("%s/corrupted_system_hive", fixtures);
    assert_int_equal(th_copy(bad, sys), 0);
    expect_error(v, "the SYSTEM hive cannot be read", "not a registry hive or damaged");
    /* a SYSTEM without the control set Select names */
    fy_regtree *t = tree();
    dw(t, "Select", "Current", 7);
    write_hive(t, v, "Windows/System32/config/SYSTEM");
    expect_error(v, "ControlSet007", NULL);
    /* garbage and truncated SOFTWARE, SAM */
    system_hive(v, "Windows/System32/config", "NEWPC01", 300);
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    memcpy(junk, "regf", 4);
    put_file(v, "Windows/System32/config/SAM", junk, sizeof junk);
    expect_error(v, "the SAM hive cannot be read", NULL);
    put_file(v, "Windows/System32/config/SAM", junk, 100);
    expect_error(v, "the SAM hive cannot be read", NULL);
    put_file(v, "Windows/System32/config/SOFTWARE", junk + 4, 4096);
    expect_error(v, "the SOFTWARE hive cannot be read", NULL);
    /* a hive that is fine but not a SOFTWARE hive */
    free(bad);
    copy_in(v, "Windows/System32/config/SOFTWARE", bad = fy_xasprintf("%s/SAM", fixtures));
    expect_error(v, "no Microsoft\\Windows NT\\CurrentVersion", NULL);
    free(bad);
    free(sys);
    free(v);
}

/* A user's hive unreadable, or dirty without its logs: warnings, the model still opens. */
static void test_user_hives(void **state)
{
    (void)state;
    char *v = win10_volume("19045", false);
    put_file(v, "Users/jsmith/NTUSER.DAT", "regf but not really a hive", 26);
    fy_diags w = {0};
    fy_machine *m = open_ok(v, NULL, 0, &w);
    const fy_machine_user *js = &m->users[0];
    assert_non_null(js->hive_error);
    assert_non_null(js->ntuser);
    assert_true(has_warning(&w, "machine-user-hive", "cannot be read"));
    /* folders fall back to the defaults */
    assert_string_equal(fy_machine_token_path(m, js, FY_TOK_DOCUMENTS),
                        "C:\\Users\\jsmith\\Documents");
    assert_null(js->folders[FY_TOK_DOCUMENTS].raw);
    /* the name still comes from LogonUI */
    assert_string_equal(js->account, "NEWCORP\\jsmith");
    fy_machine_free(m);
    fy_diags_free(&w);

    char *dirty = fy_xasprintf("%s/NTUSER_with_winscp.DAT", fixtures);
    copy_in(v, "Users/jsmith/NTUSER.DAT", dirty);
    memset(&w, 0, sizeof w);
    m = open_ok(v, NULL, 0, &w);
    assert_null(m->users[0].hive_error);
    assert_true(has_warning(&w, "hive-dirty", NULL));
    fy_machine_free(m);
    fy_diags_free(&w);

    /* a hive that is a link (it could name any file of the host) is not read */
    char *ntl = vpath(v, "Users/jsmith/NTUSER.DAT");
    unlink(ntl);
    assert_int_equal(symlink(dirty, ntl), 0);
    m = open_ok(v, NULL, 0, NULL);
    assert_null(m->users[0].ntuser);
    fy_machine_free(m);
    char *sw = vpath(v, "Windows/System32/config/SOFTWARE");
    char *sw2 = vpath(v, "software.real");
    assert_int_equal(rename(sw, sw2), 0);
    assert_int_equal(symlink(sw2, sw), 0);
    expect_error(v, "no Windows here", "SOFTWARE is not a regular file");
    unlink(sw);
    assert_int_equal(rename(sw2, sw), 0);
    free(sw);
    free(sw2);
    free(ntl);

    /* no NTUSER.DAT at all */
    char *nt = vpath(v, "Users/jsmith/NTUSER.DAT");
    unlink(nt);
    memset(&w, 0, sizeof w);
    m = open_ok(v, NULL, 0, &w);
    free(dirty);
    assert_null(m->users[0].ntuser);
    assert_string_equal(m->users[0].hive_error, "NTUSER.DAT is missing");
    assert_int_equal(m->users[0].last_use, 1780070400); /* ProfileList still says */
    fy_machine_free(m);
    fy_diags_free(&w);
    free(nt);
    free(v);
}

/* SAM missing: the machine SID by the documented rule. */
static void test_no_sam(void **state)
{
    (void)state;
    char *v = new_volume();
    fy_regtree *t = tree();
    sz(t, CV, "CurrentVersion", "6.1");
    sz(t, CV, "SystemRoot", "C:\\Windows");
    xsz(t, PL "\\S-1-5-21-10-20-30-1000", "ProfileImagePath", "C:\\Users\\anna");
    xsz(t, PL "\\S-1-5-21-10-20-30-1001", "ProfileImagePath", "C:\\Users\\ben.000");
    xsz(t, PL "\\S-1-5-21-77-88-99-1500", "ProfileImagePath", "C:\\Users\\carl");
    write_hive(t, v, "Windows/System32/config/SOFTWARE");
    system_hive(v, "Windows/System32/config", "WKS9", 0);
    fy_diags w = {0};
    fy_machine *m = open_ok(v, NULL, 0, &w);
    assert_true(has_warning(&w, "machine-sam", "missing"));
    assert_null(m->sam_hive);
    /* a workgroup machine: the most common domain part among RIDs >= 1000 */
    assert_string_equal(m->machine_sid, "S-1-5-21-10-20-30");
    const fy_machine_user *anna = fy_machine_find_user(m, "WKS9\\anna");
    const fy_machine_user *ben = fy_machine_find_user(m, "WKS9\\ben");
    assert_non_null(anna);
    assert_non_null(ben); /* ".000" is the suffix Windows adds; not part of the name */
    assert_true(anna->local);
    assert_string_equal(anna->name_source, "profile folder name");
    const fy_machine_user *carl = fy_machine_find_user(m, "carl");
    assert_non_null(carl);
    assert_false(carl->local);
    assert_string_equal(carl->domain, "S-1-5-21-77-88-99"); /* recorded nowhere */
    fy_machine_free(m);
    fy_diags_free(&w);

    /* joined to a domain: local users cannot be told apart; all are domain users */
    t = tree();
    sz(t, CV, "CurrentVersion", "6.1");
    sz(t, CV "\\Winlogon", "CachePrimaryDomain", "CORP");
    xsz(t, PL "\\S-1-5-21-10-20-30-1000", "ProfileImagePath", "C:\\Users\\anna.CORP");
    write_hive(t, v, "Windows/System32/config/SOFTWARE");
    memset(&w, 0, sizeof w);
    m = open_ok(v, NULL, 0, &w);
    assert_null(m->machine_sid);
    assert_true(has_warning(&w, "machine-sid", "CORP"));
    assert_non_null(fy_machine_find_user(m, "CORP\\anna")); /* the known-domain suffix */
    fy_machine_free(m);
    fy_diags_free(&w);

    /* a user's own record naming the computer wins over the majority; a part a record ties
     * to a domain is left out */
    t = tree();
    sz(t, CV, "CurrentVersion", "6.1");
    xsz(t, PL "\\S-1-5-21-10-20-30-1000", "ProfileImagePath", "C:\\Users\\anna");
    xsz(t, PL "\\S-1-5-21-10-20-30-1001", "ProfileImagePath", "C:\\Users\\ben");
    xsz(t, PL "\\S-1-5-21-77-88-99-1500", "ProfileImagePath", "C:\\Users\\carl");
    write_hive(t, v, "Windows/System32/config/SOFTWARE");
    t = tree();
    sz(t, "Volatile Environment", "USERDOMAIN", "wks9");
    sz(t, "Volatile Environment", "USERNAME", "Carl");
    write_hive(t, v, "Users/carl/NTUSER.DAT");
    m = open_ok(v, NULL, 0, NULL);
    assert_string_equal(m->machine_sid, "S-1-5-21-77-88-99");
    assert_non_null(fy_machine_find_user(m, "WKS9\\Carl"));
    assert_false(fy_machine_find_user(m, "anna")->local);
    fy_machine_free(m);
    t = tree();
    sz(t, "Volatile Environment", "USERDOMAIN", "FARAWAY");
    sz(t, "Volatile Environment", "USERNAME", "anna");
    write_hive(t, v, "Users/anna/NTUSER.DAT");
    char *nt = vpath(v, "Users/carl/NTUSER.DAT");
    unlink(nt);
    free(nt);
    m = open_ok(v, NULL, 0, NULL);
    assert_string_equal(m->machine_sid, "S-1-5-21-77-88-99"); /* 10-20-30 is FARAWAY's */
    assert_non_null(fy_machine_find_user(m, "FARAWAY\\anna"));
    const fy_machine_user *b2 = fy_machine_find_user(m, "FARAWAY\\ben"); /* same domain part */
    assert_non_null(b2);
    assert_string_equal(b2->name_source, "profile folder name");
    assert_true(fy_machine_find_user(m, "WKS9\\carl")->local);
    fy_machine_free(m);
    free(v);
}

static void test_hibernation(void **state)
{
    (void)state;
    char *v = win10_volume("19045", false);
    uint8_t page[4096] = {0};
    static const struct {
        const char *sig;
        bool hib;
    } cases[] = {{"hibr", true}, {"HIBR", true},  {"wake", true},     {"WAKE", true},
                 {"RSTR", true}, {"link", false}, {"\0\0\0\0", false}};
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        memcpy(page, cases[i].sig, 4);
        put_file(v, i % 2 ? "HIBERFIL.SYS" : "hiberfil.sys", page, sizeof page);
        fy_machine *m = open_ok(v, NULL, 0, NULL);
        assert_int_equal(fy_machine_is_hibernated(m), cases[i].hib);
        if (cases[i].hib) assert_memory_equal(m->hiber_signature, cases[i].sig, 4);
        fy_machine_free(m);
        char *p = vpath(v, i % 2 ? "HIBERFIL.SYS" : "hiberfil.sys");
        unlink(p);
        free(p);
    }
    put_file(v, "hiberfil.sys", "hi", 2); /* too short to hold a signature */
    fy_machine *m = open_ok(v, NULL, 0, NULL);
    assert_false(m->hibernated);
    fy_machine_free(m);
    free(v);
}

static int setup(void **state)
{
    (void)state;
    tmp = th_mkdtemp();
    fixtures = fy_xasprintf("%s/fixtures", tmp);
    mkdirs(fixtures);
    static const char *const names[] = {"SYSTEM", "SAM", "NTUSER.DAT", "corrupted_system_hive",
                                        "NTUSER_with_winscp.DAT"};
    for (size_t i = 0; i < FY_ARRAY_LEN(names); i++) {
        char *xz = fy_xasprintf("%s.xz", names[i]);
        char *p = th_fixture(fixtures, xz, names[i]);
        free(xz);
        if (!p) {
            fprintf(stderr, "fixture %s missing (FERRY_SHARED_DIR)\n", names[i]);
            return -1;
        }
        free(p);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_rmtree(tmp);
    free(tmp);
    free(fixtures);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_win7_real),     cmocka_unit_test(test_xp),
        cmocka_unit_test(test_win10),         cmocka_unit_test(test_drives),
        cmocka_unit_test(test_canon),         cmocka_unit_test(test_no_windows),
        cmocka_unit_test(test_corrupt_hives), cmocka_unit_test(test_user_hives),
        cmocka_unit_test(test_no_sam),        cmocka_unit_test(test_hibernation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
