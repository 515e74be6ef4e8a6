/* Injection: each selected personality is placed into its user on the target machine.
 * Users are mapped (--to-user, --user-map, --domain, same name), a missing profile is made
 * from the target's Default profile when the SID is known, conversions run (application
 * versions, template moves, paths and accounts inside registry strings), files are placed
 * under the overwrite policy through the safe-path layer, registry values go into the
 * user's hives, written whole and atomically. What an injection overwrote is kept (Backup
 * Before Inject) so `ferry inject --undo` can put it back. */
#include "agent/fy_agent_int.h"
#include "fy_report.h"
#include "io/fy_safepath.h"
#include "io/fy_signal.h"
#include "registry/fy_hive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct psel {
    fy_store_reader *r;
    fy_store_gen *g;
    char *account; /* DOMAIN\user (source) */
} psel;

typedef struct ictx {
    fy_agent *a;
    fy_machine *m;
    fy_safe_root **roots; /* per m->drives entry */
    const fy_machine_user *tu;
    fy_store_reader *r;
    fy_vm *vm;
    uint32_t *chain; /* CONVS indices to run, in order */
    size_t nchain;
    fy_translate tr;
    const char *overwrite_files; /* Always | Never | If Newer | Rename */
    bool overwrite_registry;
    bool keep_undo;
    fy_safe_root *undo_root;
    char *undo_rel; /* the undo folder (relative to the system drive) */
    FILE *undo_manifest;
    unsigned undo_count; /* names the copies kept in the undo folder */
    uint64_t files, regs, skipped;
    bool fatal;
    int fatal_code;
} ictx;

static void skipped(ictx *x, const char *what, const char *why)
{
    fy_agent_msg(x->a, FY_LOG_WARNING, "skipped %s: %s", what, why);
    x->skipped++;
    x->a->objects_skipped++;
    fy_agent_fail(x->a, FY_EXIT_PARTIAL);
}

/* The safe root of a Windows path's drive, and the path beneath it with '/' separators in
 * *rel (reset first); NULL when that drive is not on the target. */
static fy_safe_root *target_of(ictx *x, const char *win, fy_buf *rel)
{
    rel->len = 0;
    for (size_t i = 0; i < x->m->ndrives; i++) {
        if ((win[0] & ~0x20) == x->m->drives[i].letter && win[1] == ':') {
            for (const char *p = win[2] == '\\' ? win + 3 : win + 2; *p; p++)
                fy_buf_putc(rel, *p == '\\' ? '/' : (uint8_t)*p);
            fy_buf_cstr(rel);
            return x->roots[i];
        }
    }
    return NULL;
}

/* ---- the target user ---- */

static char *lookup_sid_map(const char *csv, const char *from, const char *to)
{
    FILE *f = csv ? fopen(csv, "r") : NULL;
    if (!f) return NULL;
    char line[1024];
    char *sid = NULL;
    while (!sid && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *a = strtok(line, ","), *b = a ? strtok(NULL, ",") : NULL, *c = b ? strtok(NULL, ",") : NULL;
        if (a && b && c && fy_streq_ci(a, from) && (!to || fy_streq_ci(b, to))) sid = fy_xstrdup(c);
    }
    fclose(f);
    return sid;
}

/* The target account for a source account; *sid when the command line gives one. */
static char *map_account(fy_agent *a, const fy_machine *m, const char *src, bool local, char **sid)
{
    const fy_agent_opts *o = a->o;
    *sid = NULL;
    if (o->to_user) return fy_xstrdup(o->to_user);
    for (size_t i = 0; i < o->nuser_maps; i++) {
        if (fy_streq_ci(o->user_maps[i].from, src)) {
            if (o->user_maps[i].sid) *sid = fy_xstrdup(o->user_maps[i].sid);
            return fy_xstrdup(o->user_maps[i].to);
        }
    }
    const char *bs = strchr(src, '\\');
    char *dom = fy_xstrndup(src, (size_t)(bs - src));
    const char *name = bs + 1;
    char *out = NULL;
    for (size_t i = 0; i < o->ndomains && !out; i++)
        if (fy_streq_ci(o->domains[i].from, dom)) out = fy_xasprintf("%s\\%s", o->domains[i].to, name);
    if (!out && local) out = fy_xasprintf("%s\\%s", m->computer_name, name); /* same-named local account */
    if (!out) out = fy_xstrdup(src);
    free(dom);
    return out;
}

/* A binary SID from its text form (for ProfileList [Sid]). */
static int sid_binary(const char *text, fy_buf *out)
{
    unsigned long long auth;
    const char *p = text;
    if (strncasecmp(p, "S-1-", 4)) return -1;
    p += 4;
    char *end;
    auth = strtoull(p, &end, 10);
    p = end;
    uint32_t subs[15];
    int n = 0;
    while (*p == '-' && n < 15) {
        subs[n++] = (uint32_t)strtoul(p + 1, &end, 10);
        if (end == p + 1) return -1;
        p = end;
    }
    if (*p) return -1;
    fy_buf_putc(out, 1);
    fy_buf_putc(out, (uint8_t)n);
    for (int i = 5; i >= 0; i--) fy_buf_putc(out, (uint8_t)(auth >> (8 * i)));
    for (int i = 0; i < n; i++) fy_buf_u32(out, subs[i]);
    return 0;
}

/* Copies a folder tree (the Default profile) beneath the target root. */
static int copy_tree(ictx *x, const char *src_host, const char *dst_rel, int depth)
{
    DIR *d = opendir(src_host);
    if (!d || depth > 64) {
        if (d) closedir(d);
        return -1;
    }
    char err[512];
    fy_safe_mkdirs(x->roots[0], dst_rel, NULL, err, sizeof err);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || fy_safe_is_internal_name(e->d_name)) continue;
        char *sh = fy_xasprintf("%s/%s", src_host, e->d_name);
        char *dr = fy_xasprintf("%s/%s", dst_rel, e->d_name);
        struct stat st;
        if (lstat(sh, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                rc = copy_tree(x, sh, dr, depth + 1);
            } else if (S_ISREG(st.st_mode)) {
                int fd = open(sh, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                fy_place_meta pm = {.set_mtime = true, .mtime = st.st_mtim};
                fy_place_opts po = {.meta = &pm, .no_replace = true};
                if (fd < 0 || fy_safe_place_fd(x->roots[0], dr, fd, &po, NULL, err, sizeof err)) rc = -1;
                if (fd >= 0) close(fd);
            }
        }
        free(sh);
        free(dr);
    }
    closedir(d);
    return rc;
}

/* Makes a profile for account (with sid) from the target's Default profile and registers it
 * in ProfileList with the values Windows writes. Returns 0 and reloads the machine model. */
static int create_profile(ictx *x, const char *account, const char *sid)
{
    fy_agent *a = x->a;
    fy_machine *m = x->m;
    const char *name = strchr(account, '\\') + 1;
    char *def_host = NULL;
    if (!m->default_profile || fy_machine_host_path(m, m->default_profile, &def_host) != 1) {
        free(def_host);
        fy_agent_msg(a, FY_LOG_ERROR, "%s: the target has no Default profile to make a profile from", account);
        return -1;
    }
    char *win = fy_xasprintf("%s\\%s", m->profiles_dir, name);
    fy_buf rel = {0};
    int rc = target_of(x, win, &rel) == x->roots[0] ? copy_tree(x, def_host, fy_buf_cstr(&rel), 0) : -1;
    free(def_host);
    char err[512];
    fy_reg *soft = NULL;
    if (rc == 0 && fy_reg_open_hive(m->software_hive, 0, NULL, &soft, err, sizeof err) == 0) {
        char *kp = fy_xasprintf("Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\%s", sid);
        fy_reg_key *k = fy_reg_key_create(soft, NULL, kp, err, sizeof err);
        free(kp);
        char *img = fy_xasprintf("%%SystemDrive%%\\%s", win + 3);
        size_t wl;
        uint8_t *w = fy_utf8_to_utf16le(img, strlen(img), &wl);
        fy_buf v = {0};
        fy_buf_put(&v, w, wl);
        fy_buf_u16(&v, 0);
        free(w);
        free(img);
        uint32_t zero = 0;
        fy_buf sidb = {0};
        if (!k || sid_binary(sid, &sidb) ||
            fy_reg_set_value(soft, k, "ProfileImagePath", 2, v.data, (uint32_t)v.len, err, sizeof err) ||
            fy_reg_set_value(soft, k, "Flags", 4, &zero, 4, err, sizeof err) ||
            fy_reg_set_value(soft, k, "State", 4, &zero, 4, err, sizeof err) ||
            fy_reg_set_value(soft, k, "Sid", 3, sidb.data, (uint32_t)sidb.len, err, sizeof err) ||
            fy_reg_commit(soft, err, sizeof err))
            rc = -1;
        fy_buf_free(&v);
        fy_buf_free(&sidb);
        fy_reg_close(soft);
    } else {
        rc = -1;
    }
    fy_buf_free(&rel);
    free(win);
    if (rc) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s: could not make a profile from the Default profile: %s", account, err);
        return -1;
    }
    fy_agent_msg(a, FY_LOG_INFO, "%s: made a new profile from the Default profile (SID %s)", account, sid);
    /* reload the model so the new user has its folders */
    fy_machine *nm = NULL;
    if (fy_agent_open_machine(a, &nm)) return -1;
    fy_machine_free(x->m);
    x->m = nm;
    return 0;
}

static const fy_machine_user *target_user(ictx *x, const char *src, bool local, char **account)
{
    fy_agent *a = x->a;
    char *sid = NULL;
    *account = map_account(a, x->m, src, local, &sid);
    const fy_machine_user *u = fy_machine_find_user(x->m, *account);
    if (!u && sid) u = fy_machine_find_user(x->m, sid);
    if (u) {
        free(sid);
        return u;
    }
    if (!sid) sid = lookup_sid_map(a->o->sid_map, src, *account);
    if (!sid && local) {
        const fy_machine_account *acc = fy_machine_find_account(x->m, strchr(*account, '\\') + 1);
        if (acc && acc->sid) sid = fy_xstrdup(acc->sid);
    }
    if (!sid) {
        fy_agent_msg(a, FY_LOG_ERROR,
                     "%s -> %s: the target has no profile for this user and ferry never invents a "
                     "SID: give --user-map %s=%s=SID or --sid-map FILE.csv",
                     src, *account, src, *account);
        return NULL;
    }
    if (a->o->dry_run) {
        fy_agent_msg(a, FY_LOG_INFO, "%s: would make a profile (SID %s)", *account, sid);
        free(sid);
        return NULL;
    }
    u = NULL;
    if (create_profile(x, *account, sid) == 0) u = fy_machine_find_user(x->m, sid);
    free(sid);
    return u;
}

/* ---- conversions ---- */

static const char *target_version_override(ictx *x, const fy_prog_app *app)
{
    const fy_agent_opts *o = x->a->o;
    const fy_program *p = x->a->prog;
    const char *id = fy_prog_str(p, app->id), *name = fy_prog_str(p, app->name);
    for (size_t i = 0; i < o->ntarget_versions; i++)
        if (fy_streq_ci(o->target_versions[i].from, id) || fy_streq_ci(o->target_versions[i].from, name))
            return o->target_versions[i].to;
    for (uint32_t i = 0; i < p->npolicies; i++) {
        const fy_prog_policy *pp = &p->policies[i];
        if (!fy_streq_ci(fy_prog_str(p, pp->section), "Target Versions")) continue;
        const char *k = fy_prog_str(p, pp->key);
        if (fy_streq_ci(k, id) || fy_streq_ci(k, name) ||
            fy_streq_ci(k, fy_prog_str(p, app->vendor)) /* "Microsoft Office=16.0" names a suite */ ||
            strstr(fy_prog_str(p, app->content_path), k))
            return fy_prog_str(p, pp->value);
    }
    return NULL;
}

/* Finds conversions leading from `from` to `to` for app (breadth first over from->to). */
static void add_chain(ictx *x, uint32_t app, const char *from, const char *to)
{
    const fy_program *p = x->a->prog;
    uint32_t n = p->nconvs;
    uint32_t *prev = fy_xmalloc((n + 1) * sizeof(*prev));
    uint32_t *queue = fy_xmalloc((n + 1) * sizeof(*queue));
    for (uint32_t i = 0; i < n; i++) prev[i] = UINT32_MAX;
    size_t qh = 0, qt = 0;
    uint32_t found = FY_NONE;
    for (uint32_t i = 0; i < n; i++) {
        const fy_prog_conv *c = &p->convs[i];
        if (c->app == app && c->from_version != FY_NONE && fy_streq_ci(fy_prog_str(p, c->from_version), from)) {
            prev[i] = FY_NONE;
            queue[qt++] = i;
        }
    }
    while (qh < qt && found == FY_NONE) {
        uint32_t ci = queue[qh++];
        const char *at = fy_prog_str(p, p->convs[ci].to_version);
        if (fy_streq_ci(at, to)) {
            found = ci;
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            const fy_prog_conv *c = &p->convs[i];
            if (prev[i] == UINT32_MAX && c->app == app && c->from_version != FY_NONE &&
                fy_streq_ci(fy_prog_str(p, c->from_version), at)) {
                prev[i] = ci;
                queue[qt++] = i;
            }
        }
    }
    if (found != FY_NONE) {
        size_t start = x->nchain, k = 0;
        for (uint32_t c = found; c != FY_NONE; c = prev[c]) k++;
        x->chain = fy_xrealloc(x->chain, (x->nchain + k) * sizeof(*x->chain));
        x->nchain += k;
        for (uint32_t c = found; c != FY_NONE; c = prev[c]) x->chain[start + --k] = c;
    } else {
        fy_agent_msg(x->a, FY_LOG_WARNING, "%s: no conversion from version %s to %s: its settings are injected unconverted",
                     fy_prog_str(p, p->apps[app].id), from, to);
    }
    free(prev);
    free(queue);
}

static void plan_conversions(ictx *x, const fy_store_meta *meta, const uint32_t *target_ver)
{
    const fy_program *p = x->a->prog;
    for (size_t i = 0; i < meta->n_apps; i++) {
        uint32_t app = FY_NONE;
        for (uint32_t k = 0; k < p->napps && app == FY_NONE; k++)
            if (fy_streq_ci(fy_prog_str(p, p->apps[k].id), meta->apps[i].id)) app = k;
        const char *from = meta->apps[i].version;
        if (app == FY_NONE || !from || !*from) continue;
        const char *to = target_ver[app] != FY_NONE ? fy_prog_str(p, p->versions[target_ver[app]].version)
                                                     : target_version_override(x, &p->apps[app]);
        if (!to) {
            bool has_conv = false;
            for (uint32_t c = 0; c < p->nconvs; c++) has_conv |= p->convs[c].app == app;
            if (has_conv)
                fy_agent_msg(x->a, FY_LOG_WARNING, "%s %s: not detected on the target and no target "
                                                   "version given ([Target Versions] or --target-version): "
                                                   "settings injected unconverted", meta->apps[i].id, from);
            continue;
        }
        if (fy_version_cmp(from, to) == 0) continue;
        fy_log_msg(x->a->log, FY_LOG_INFO, "%s: converting settings from version %s to %s", meta->apps[i].id, from, to);
        add_chain(x, app, from, to);
    }
    /* the template's moves and the built-in translation always run, after the apps' */
    for (uint32_t c = 0; c < p->nconvs; c++) {
        if (p->convs[c].app != FY_NONE) continue;
        x->chain = fy_xrealloc(x->chain, (x->nchain + 1) * sizeof(*x->chain));
        x->chain[x->nchain++] = c;
    }
}

/* Runs the chain on an object; false when a conversion failed (logged) or dropped it. */
static bool convert(ictx *x, fy_mobject *o, const char *what)
{
    for (size_t i = 0; i < x->nchain; i++) {
        if (fy_vm_convert(x->vm, x->chain[i], o)) {
            skipped(x, what, fy_vm_error(x->vm));
            return false;
        }
        if (o->dropped) {
            const char *why = fy_vm_drop_reason(x->vm);
            fy_log_msg(x->a->log, FY_LOG_VERBOSE, "not injected (dropped by a conversion): %s%s%s", what,
                       *why ? ": " : "", why);
            return false;
        }
    }
    return true;
}

/* ---- undo ---- */

static void undo_note(ictx *x, const char *action, const char *rel, const char *backup)
{
    if (!x->undo_manifest) return;
    fprintf(x->undo_manifest, "%s\t%s\t%s\n", action, rel, backup ? backup : "");
    fflush(x->undo_manifest);
}

/* Keeps a copy of a file about to be replaced; returns the copy's path (relative) or NULL. */
static char *undo_keep(ictx *x, fy_safe_root *root, const char *rel)
{
    if (!x->keep_undo || !x->undo_rel) return NULL;
    char err[512];
    int fd = fy_safe_open(root, rel, O_RDONLY, 0, err, sizeof err);
    if (fd < 0) return NULL;
    char *copy = fy_xasprintf("%s/%06u", x->undo_rel, ++x->undo_count);
    fy_place_opts po = {0};
    if (fy_safe_place_fd(x->undo_root, copy, fd, &po, NULL, err, sizeof err)) {
        free(copy);
        copy = NULL;
    }
    close(fd);
    return copy;
}

/* Folders that placing `rel` will create, noted (outermost first) so an undo can remove
 * them again when they are empty. */
static void note_new_folders(ictx *x, fy_safe_root *root, const char *rel)
{
    if (!x->undo_manifest || root != x->roots[0]) return;
    char *dir = fy_xstrdup(rel);
    char *missing[64];
    int n = 0;
    for (char *slash = strrchr(dir, '/'); slash && n < 64; slash = strrchr(dir, '/')) {
        *slash = 0;
        if (fy_safe_exists(root, dir, NULL, 0) != 0) break;
        missing[n++] = fy_xstrdup(dir);
    }
    while (n-- > 0) {
        undo_note(x, "mkdir", missing[n], NULL);
        free(missing[n]);
    }
    free(dir);
}

/* ---- files ---- */

static bool disk_excluded(const fy_agent_opts *o, char letter)
{
    if (!o->exclude_disks) return false;
    for (const char *p = o->exclude_disks; *p; p++)
        if ((*p & ~0x20) == letter && (p[1] == 0 || p[1] == ';' || p[1] == ':' || p[1] == ','))
            return true;
    return false;
}

static void place_file(ictx *x, const fy_store_file *f)
{
    fy_agent *a = x->a;
    const char *path = f->path;
    const char *slash = strrchr(path, '\\');
    if (!slash) return;
    fy_mobject o = {0};
    char *folder = fy_xstrndup(path, (size_t)(slash - path));
    fy_mobject_set(&o, FY_OBJ_KIND_FILE, folder, slash + 1, 0, NULL, 0);
    free(folder);
    if (!convert(x, &o, path)) goto out;
    const char *nfolder = f->dest ? f->dest : (const char *)o.folder.data;
    char *norm = fy_xasprintf("%s\\%s", nfolder, (const char *)o.name.data);
    char *win = fy_machine_denormalise(x->m, x->tu, norm);
    free(norm);
    if (!win) {
        skipped(x, path, "its folder does not exist on the target's Windows version");
        goto out;
    }
    fy_buf relb = {0};
    fy_safe_root *root = target_of(x, win, &relb);
    if (!root || disk_excluded(a->o, (char)(win[0] & ~0x20))) {
        if (root) fy_log_msg(a->log, FY_LOG_VERBOSE, "not placed (--exclude-disks): %s", win);
        else skipped(x, path, "its drive is not on the target (add --drive)");
        fy_buf_free(&relb);
        free(win);
        goto out;
    }
    char *rel = (char *)fy_buf_cstr(&relb);
    char err[512];
    struct timespec mt = fy_timespec_from_filetime((int64_t)f->mtime);
    int exists = fy_safe_exists(root, rel, err, sizeof err);
    char *backup = NULL;
    if (exists == 1) {
        const char *pol = x->overwrite_files;
        if (fy_streq_ci(pol, "Never")) {
            fy_log_msg(a->log, FY_LOG_VERBOSE, "kept the target's %s (Overwrite Existing Files=Never)", win);
            goto done;
        }
        if (fy_streq_ci(pol, "If Newer") && fy_safe_target_newer(root, rel, &mt, err, sizeof err) != 0) {
            fy_log_msg(a->log, FY_LOG_VERBOSE, "kept the target's newer %s", win);
            goto done;
        }
        if (fy_streq_ci(pol, "Rename")) {
            char *nr = NULL;
            if (fy_safe_free_name(root, rel, &nr, err, sizeof err)) {
                skipped(x, win, err);
                goto done;
            }
            relb.len = 0;
            fy_buf_puts(&relb, nr);
            rel = (char *)fy_buf_cstr(&relb);
            free(nr);
            exists = 0;
        }
    }
    if (a->o->dry_run) {
        fy_log_msg(a->log, FY_LOG_INFO, "would place %s%s", win, exists == 1 ? " (replacing)" : "");
        x->files++;
        goto done;
    }
    if (exists == 1) backup = undo_keep(x, root, rel);
    else note_new_folders(x, root, rel);
    int fd = memfd_create("ferry-inject", MFD_CLOEXEC);
    int src = fd < 0 ? FY_STORE_ERR_IO : fy_store_read_object(x->r, &f->content, fd, err, sizeof err);
    if (src) {
        if (fd >= 0) close(fd);
        if (src == FY_STORE_ERR_CORRUPT) skipped(x, path, err);
        else {
            fy_agent_msg(a, FY_LOG_ERROR, "%s", err);
            x->fatal = true;
            x->fatal_code = fy_store_exit_code(src);
        }
        goto done;
    }
    lseek(fd, 0, SEEK_SET);
    fy_stream_data *streams = f->n_ads ? fy_xcalloc(f->n_ads, sizeof(*streams)) : NULL;
    uint8_t **sdata = f->n_ads ? fy_xcalloc(f->n_ads, sizeof(*sdata)) : NULL;
    size_t ns = 0;
    for (size_t i = 0; i < f->n_ads; i++) {
        size_t len;
        if (fy_store_read_object_mem(x->r, &f->ads[i].ref, 16 << 20, &sdata[ns], &len, err, sizeof err) == 0) {
            streams[ns] = (fy_stream_data){f->ads[i].name, sdata[ns], len};
            ns++;
        }
    }
    fy_place_meta pm = {.set_mtime = true,
                        .mtime = mt,
                        .set_crtime = true,
                        .crtime = fy_timespec_from_filetime((int64_t)f->ctime),
                        .set_attrs = f->attributes != 0,
                        .attrs = f->attributes,
                        .streams = streams,
                        .nstreams = ns};
    /* No fsync per file: the volume is synced once before the hives are written
     * (sync_roots); a crash before that leaves an injection to run again, the source intact. */
    fy_place_opts po = {.meta = &pm, .defer_sync = true};
    char *placed = NULL;
    if (fy_safe_place_fd(root, rel, fd, &po, &placed, err, sizeof err)) {
        if (errno == ENOSPC || errno == EIO || errno == EFBIG || errno == EROFS) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", win, err);
            x->fatal = true;
            x->fatal_code = FY_EXIT_IO;
        } else {
            skipped(x, win, err);
        }
    } else {
        undo_note(x, backup ? "replaced" : "created", placed ? placed : rel, backup);
        fy_log_msg(a->log, FY_LOG_VERBOSE, "placed %s", win);
        x->files++;
        a->objects_ok++;
        a->bytes += f->size;
    }
    free(placed);
    for (size_t i = 0; i < ns; i++) free(sdata[i]);
    free(sdata);
    free(streams);
    close(fd);
done:
    free(backup);
    fy_buf_free(&relb);
    free(win);
out:
    fy_mobject_free(&o);
}

/* ---- registry ---- */

static void place_reg(ictx *x, fy_agent_hives *th, const fy_store_reg *e)
{
    fy_agent *a = x->a;
    char err[512];
    fy_mobject o = {0};
    uint8_t *big = NULL;
    const uint8_t *data = e->data;
    size_t len = e->len;
    if (e->value && e->data_is_object) {
        if (fy_store_read_object_mem(x->r, &e->data_ref, 64 << 20, &big, &len, err, sizeof err)) {
            skipped(x, e->key, err);
            return;
        }
        data = big;
    }
    fy_mobject_set(&o, e->value ? FY_OBJ_KIND_REGVAL : FY_OBJ_KIND_REGKEY, e->key, e->value ? e->value : "",
                   e->type, data, len);
    free(big);
    char *what = fy_xasprintf("%s [%s]", e->key, e->value ? e->value : "");
    if (!convert(x, &o, what)) goto out;
    const char *rest;
    fy_reg *r = fy_agent_hive_for(th, (const char *)o.folder.data, &rest);
    if (!r) {
        skipped(x, what, "the target user has no such hive");
        goto out;
    }
    if (a->o->dry_run) {
        fy_log_msg(a->log, FY_LOG_VERBOSE, "would set %s", what);
        x->regs++;
        goto out;
    }
    fy_reg_key *k = fy_reg_key_create(r, NULL, rest, err, sizeof err);
    if (!k) {
        skipped(x, what, err);
        goto out;
    }
    if (e->value) {
        fy_reg_value old;
        if (!x->overwrite_registry && fy_reg_get_value(r, k, (const char *)o.name.data, &old) == 0) {
            fy_log_msg(a->log, FY_LOG_VERBOSE, "kept the target's %s (Overwrite Existing Registry=Never)", what);
        } else if (fy_reg_set_value(r, k, (const char *)o.name.data, o.type, o.data.data, (uint32_t)o.data.len,
                                    err, sizeof err)) {
            skipped(x, what, err);
        } else {
            x->regs++;
            a->objects_ok++;
        }
    }
    fy_reg_key_close(r, k);
out:
    free(what);
    fy_mobject_free(&o);
}

/* A user hive's root descriptor as Windows makes it for a profile: owner and group the
 * user; protected DACL with full control for the user, SYSTEM and Administrators, read for
 * RESTRICTED, all inherited by subkeys (CI). libhivex cannot read the descriptor a hive
 * had, so without this a rewritten NTUSER.DAT would lock its user out of HKCU. */
static int user_hive_sd(const char *sid, fy_buf *out)
{
    fy_buf user = {0}, sys = {0}, admins = {0}, restricted = {0};
    int rc = sid_binary(sid, &user) | sid_binary("S-1-5-18", &sys) | sid_binary("S-1-5-32-544", &admins) |
             sid_binary("S-1-5-12", &restricted);
    if (rc == 0) {
        struct {
            fy_buf *sid;
            uint32_t mask;
        } aces[] = {{&user, 0xF003F}, {&sys, 0xF003F}, {&admins, 0xF003F}, {&restricted, 0x20019}};
        fy_buf dacl = {0};
        for (size_t i = 0; i < FY_ARRAY_LEN(aces); i++) {
            fy_buf_putc(&dacl, 0);    /* ACCESS_ALLOWED_ACE_TYPE */
            fy_buf_putc(&dacl, 0x02); /* CONTAINER_INHERIT_ACE */
            fy_buf_u16(&dacl, (uint16_t)(8 + aces[i].sid->len));
            fy_buf_u32(&dacl, aces[i].mask);
            fy_buf_put(&dacl, aces[i].sid->data, aces[i].sid->len);
        }
        uint32_t owner = 20, group = owner + (uint32_t)user.len, dacl_off = group + (uint32_t)user.len;
        fy_buf_putc(out, 1); /* revision */
        fy_buf_putc(out, 0);
        fy_buf_u16(out, 0x8000 | 0x1000 | 0x0004); /* self-relative, DACL protected, DACL present */
        fy_buf_u32(out, owner);
        fy_buf_u32(out, group);
        fy_buf_u32(out, 0); /* no SACL */
        fy_buf_u32(out, dacl_off);
        fy_buf_put(out, user.data, user.len);
        fy_buf_put(out, user.data, user.len);
        fy_buf_putc(out, 2); /* ACL revision */
        fy_buf_putc(out, 0);
        fy_buf_u16(out, (uint16_t)(8 + dacl.len));
        fy_buf_u16(out, (uint16_t)FY_ARRAY_LEN(aces));
        fy_buf_u16(out, 0);
        fy_buf_put(out, dacl.data, dacl.len);
        fy_buf_free(&dacl);
    }
    fy_buf_free(&user);
    fy_buf_free(&sys);
    fy_buf_free(&admins);
    fy_buf_free(&restricted);
    return rc ? -1 : 0;
}

/* Writes the changed hives of the target user, keeping the old ones for undo. */
static int commit_hives(ictx *x, fy_agent_hives *th)
{
    fy_reg *hives[] = {th->hkcu, th->classes, th->software, th->system};
    char err[512];
    fy_buf sd = {0};
    if ((th->hkcu && fy_reg_changed(th->hkcu)) || (th->classes && fy_reg_changed(th->classes))) {
        if (user_hive_sd(x->tu->sid, &sd) == 0) {
            if (th->hkcu && fy_reg_changed(th->hkcu)) fy_reg_set_root_security(th->hkcu, sd.data, (uint32_t)sd.len);
            if (th->classes && fy_reg_changed(th->classes))
                fy_reg_set_root_security(th->classes, sd.data, (uint32_t)sd.len);
        } else {
            fy_agent_msg(x->a, FY_LOG_WARNING, "%s: SID %s is not valid: the hive keeps ferry's default descriptor",
                         x->tu->account, x->tu->sid);
        }
    }
    fy_buf_free(&sd);
    for (size_t i = 0; i < FY_ARRAY_LEN(hives); i++) {
        fy_reg *r = hives[i];
        if (!r || !fy_reg_changed(r)) continue;
        char *win = fy_machine_win_path(x->m, fy_reg_path(r));
        fy_buf rel = {0};
        fy_safe_root *root = win ? target_of(x, win, &rel) : NULL;
        char *backup = root ? undo_keep(x, root, fy_buf_cstr(&rel)) : NULL;
        int rc = fy_reg_commit(r, err, sizeof err);
        if (rc) {
            fy_agent_msg(x->a, FY_LOG_ERROR, "%s: %s", fy_reg_path(r), err);
            free(win);
            free(backup);
            fy_buf_free(&rel);
            return FY_EXIT_IO;
        }
        if (backup) undo_note(x, "hive", fy_buf_cstr(&rel), backup);
        free(win);
        free(backup);
        fy_buf_free(&rel);
    }
    return 0;
}

/* Makes the files placed so far durable (they were written without a sync each). */
static int sync_roots(ictx *x)
{
    char err[512];
    for (size_t i = 0; i < x->m->ndrives; i++) {
        if (x->roots[i] && fy_safe_root_sync(x->roots[i], err, sizeof err)) {
            fy_agent_msg(x->a, FY_LOG_ERROR, "%s", err);
            return FY_EXIT_IO;
        }
    }
    return 0;
}

/* ---- one personality ---- */

static int inject_one(ictx *x, psel *ps)
{
    fy_agent *a = x->a;
    const fy_agent_opts *o = a->o;
    char err[512];
    int rc = 0;
    uint8_t *img = NULL;
    size_t img_n = 0;
    if (!o->program && !o->config && fy_store_gen_program(ps->g, &img, &img_n, err, sizeof err)) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", ps->account, err);
        return FY_EXIT_STORE;
    }
    rc = fy_agent_load_program(a, img, img_n);
    free(img);
    if (rc) return rc;
    /* the template's Log Level, unless --log-level said otherwise */
    const char *lvs = fy_agent_policy(a->prog, "Logging", "Log Level");
    fy_log_level lv;
    if (!o->log_level && lvs && fy_log_level_parse(lvs, &lv) == 0) fy_log_set_level(a->log, lv);
    const fy_program *p = a->prog;
    x->r = ps->r;
    const fy_store_meta *meta = fy_store_gen_meta(ps->g);
    const char *local = NULL;
    for (size_t i = 0; i < meta->n_kv; i++)
        if (!strcmp(meta->kv[i].key, "local")) local = meta->kv[i].value;
    char *account = NULL;
    x->tu = target_user(x, ps->account, local && !strcmp(local, "yes"), &account);
    if (!x->tu) {
        free(account);
        fy_agent_fail(a, FY_EXIT_PARTIAL);
        return 0;
    }
    fy_log_section(a->log, "User Information");
    fy_log_item(a->log, "Source", "%s on %s (%s, generation %u)", ps->account, meta->computer, meta->os_name,
                meta->generation);
    fy_log_item(a->log, "Target", "%s (%s), profile %s", x->tu->account, x->tu->sid, x->tu->profile);
    /* translations: the source's folders -> the target user's, accounts, domains */
    memset(&x->tr, 0, sizeof x->tr);
    for (size_t i = 0; i < meta->n_kv; i++) {
        const char *k = meta->kv[i].key;
        if (!strncmp(k, "folder:", 7)) {
            int t = fy_token_lookup(k + 7, strlen(k + 7));
            const char *to = t >= 0 ? fy_machine_token_path(x->m, x->tu, (fy_token_id)t) : NULL;
            if (to) fy_translate_add_path(&x->tr, meta->kv[i].value, to);
        } else if (!strcmp(k, "profile")) {
            fy_translate_add_path(&x->tr, meta->kv[i].value, x->tu->profile);
        }
    }
    for (size_t i = 0; i < o->ndomains; i++) fy_translate_add_domain(&x->tr, o->domains[i].from, o->domains[i].to);
    if (!fy_streq_ci(ps->account, x->tu->account)) fy_translate_add_user(&x->tr, ps->account, x->tu->account);
    fy_translate_seal(&x->tr);
    /* target detection, then the conversion chain */
    fy_diags warn = {0};
    fy_agent_hives th = {.m = x->m, .u = x->tu, .warnings = &warn};
    fy_agent_host host;
    fy_agent_host_init(&host, &th, &x->tr);
    const char *tp = fy_agent_policy(p, "Policies", "Translate Paths In Registry");
    host.translate_paths = !tp || !fy_streq_ci(tp, "No");
    x->vm = fy_vm_new(p, &host.host);
    fy_vm_set_now(x->vm, a->now);
    uint8_t *det = fy_xcalloc(p->napps + 1, 1);
    uint32_t *tver = fy_xcalloc(p->napps + 1, sizeof(*tver));
    fy_agent_detect(a, x->vm, det, tver);
    x->nchain = 0;
    plan_conversions(x, meta, tver);
    const char *ow = fy_agent_policy(p, "Policies", "Overwrite Existing Files");
    x->overwrite_files = ow ? ow : "If Newer";
    const char *owr = fy_agent_policy(p, "Policies", "Overwrite Existing Registry");
    x->overwrite_registry = !owr || !fy_streq_ci(owr, "Never");
    const char *bb = fy_agent_policy(p, "Policies", "Backup Before Inject");
    x->keep_undo = !o->dry_run && (!bb || !fy_streq_ci(bb, "No"));
    /* the undo folder: C:\ProgramData\ferry\undo\<time>_<DOMAIN>_<user> on the target */
    if (x->keep_undo) {
        const char *pd = fy_machine_token_path(x->m, NULL, FY_TOK_PROGRAM_DATA);
        fy_buf ub = {0};
        x->undo_root = pd ? target_of(x, pd, &ub) : NULL;
        if (x->undo_root) {
            char ts[32];
            time_t now = (time_t)a->now;
            struct tm tm;
            gmtime_r(&now, &tm);
            strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
            fy_buf_printf(&ub, "/ferry/undo/%s_%s_%s", ts, x->tu->domain, x->tu->name);
            x->undo_rel = fy_xstrdup(fy_buf_cstr(&ub));
            if (fy_safe_mkdirs(x->undo_root, x->undo_rel, NULL, err, sizeof err) == 0) {
                char *mrel = fy_xasprintf("%s/undo.txt", x->undo_rel);
                int mfd = fy_safe_open(x->undo_root, mrel, O_WRONLY | O_CREAT | O_TRUNC, 0644, err, sizeof err);
                free(mrel);
                x->undo_manifest = mfd >= 0 ? fdopen(mfd, "w") : NULL;
                if (x->undo_manifest)
                    fprintf(x->undo_manifest, "# ferry injection of %s into %s\n", ps->account, x->tu->account);
            }
        }
        fy_buf_free(&ub);
    }
    fy_store_entry e;
    int src;
    while (!x->fatal && (src = fy_store_gen_next(ps->g, &e, err, sizeof err)) == 1) {
        if (fy_cancel_requested()) {
            x->fatal = true;
            x->fatal_code = FY_EXIT_CANCELLED;
            break;
        }
        if (e.kind == FY_STORE_ENTRY_FILE && e.file.has_content)
            place_file(x, &e.file);
        else if (e.kind == FY_STORE_ENTRY_REG)
            place_reg(x, &th, &e.reg);
    }
    if (!x->fatal && src < 0) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", ps->account, err);
        x->fatal = true;
        x->fatal_code = fy_store_exit_code(src);
    }
    /* hives are written only when every entry went in (or was skipped): a store or I/O
     * failure leaves the target's registry as it was */
    if (!x->fatal && !o->dry_run) {
        int hrc = sync_roots(x);
        if (!hrc) hrc = commit_hives(x, &th);
        if (hrc) {
            x->fatal = true;
            x->fatal_code = hrc;
        }
    }
    for (size_t i = 0; i < warn.n; i++) fy_agent_msg(a, FY_LOG_WARNING, "%s", warn.v[i].message);
    fy_log_msg(a->log, FY_LOG_INFO, "%s -> %s: %llu files, %llu registry values placed%s", ps->account,
               x->tu->account, (unsigned long long)x->files, (unsigned long long)x->regs,
               o->dry_run ? " (dry run: nothing written)" : "");
    fy_buf_puts(&a->report, a->report.len ? ",\n    {\"user\": " : "\n    {\"user\": ");
    fy_report_json_string(&a->report, ps->account);
    fy_buf_puts(&a->report, ", \"target\": ");
    fy_report_json_string(&a->report, x->tu->account);
    fy_buf_printf(&a->report, ", \"files\": %llu, \"registry\": %llu, \"skipped\": %llu}",
                  (unsigned long long)x->files, (unsigned long long)x->regs, (unsigned long long)x->skipped);
    if (x->undo_manifest) fclose(x->undo_manifest);
    x->undo_manifest = NULL;
    free(x->undo_rel);
    x->undo_rel = NULL;
    fy_agent_hives_close(&th);
    fy_diags_free(&warn);
    fy_vm_free(x->vm);
    x->vm = NULL;
    free(det);
    free(tver);
    fy_translate_free(&x->tr);
    free(account);
    x->files = x->regs = x->skipped = 0;
    return x->fatal ? x->fatal_code : 0;
}

/* ---- selection of personalities ---- */

static int select_personalities(fy_agent *a, psel **out, size_t *nout)
{
    const fy_agent_opts *o = a->o;
    char err[512];
    fy_store_personality *v = NULL;
    size_t n = 0;
    int src = fy_store_list(a->store, &v, &n, err, sizeof err);
    if (src) {
        fprintf(stderr, "ferry: %s\n", err);
        return fy_store_exit_code(src);
    }
    psel *sel = fy_xcalloc(n + 1, sizeof(*sel));
    size_t k = 0;
    fy_user_filter f = o->users;
    f.now = a->now;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!v[i].n_gens) continue;
        if (o->source && !fy_streq_ci(o->source, v[i].computer)) continue;
        /* the most recent personality of this user, unless --source picks one */
        bool newer_elsewhere = false;
        for (size_t j = 0; j < n && !o->source; j++)
            if (j != i && v[j].n_gens && fy_streq_ci(v[j].domain, v[i].domain) && fy_streq_ci(v[j].user, v[i].user) &&
                v[j].gens[v[j].n_gens - 1].time > v[i].gens[v[i].n_gens - 1].time)
                newer_elsewhere = true;
        if (newer_elsewhere) continue;
        /* names first (no need to open what is not wanted), then the SID and local flag
         * the personality records */
        fy_user_id id = {v[i].domain, v[i].user, NULL, false, 0};
        const char *why;
        fy_user_filter names = f;
        names.exclude_local = false;
        bool sid_patterns = false;
        for (size_t q = 0; q < f.ninclude; q++) sid_patterns |= (f.include[q][0] | 0x20) == 's' && f.include[q][1] == '-';
        if (!sid_patterns && !fy_user_selected(&names, &id, &why)) continue;
        fy_store_id sid = {v[i].domain, v[i].user, v[i].computer};
        src = fy_store_reader_open(a->store, &sid, o->password, o->password_len, &sel[k].r, err, sizeof err);
        if (!src) src = fy_store_gen_open(sel[k].r, 0, &sel[k].g, err, sizeof err);
        if (src) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s\\%s from %s: %s", v[i].domain, v[i].user, v[i].computer, err);
            rc = fy_store_exit_code(src);
            fy_store_reader_close(sel[k].r);
            break;
        }
        const fy_store_meta *meta = fy_store_gen_meta(sel[k].g);
        id.sid = meta->sid;
        for (size_t q = 0; q < meta->n_kv; q++)
            if (!strcmp(meta->kv[q].key, "local")) id.local = !strcmp(meta->kv[q].value, "yes");
        if (!fy_user_selected(&f, &id, &why)) {
            fy_store_gen_close(sel[k].g);
            fy_store_reader_close(sel[k].r);
            sel[k].g = NULL;
            sel[k].r = NULL;
            continue;
        }
        sel[k].account = fy_xstrdup(meta->user ? meta->user : "");
        if (!strchr(sel[k].account, '\\')) {
            free(sel[k].account);
            sel[k].account = fy_xasprintf("%s\\%s", v[i].domain, v[i].user);
        }
        k++;
    }
    fy_store_list_free(v, n);
    *out = sel;
    *nout = k;
    return rc;
}

static void free_sel(psel *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fy_store_gen_close(s[i].g);
        fy_store_reader_close(s[i].r);
        free(s[i].account);
    }
    free(s);
}

static int open_target_roots(ictx *x)
{
    char err[512];
    x->roots = fy_xcalloc(x->m->ndrives + 1, sizeof(*x->roots));
    for (size_t i = 0; i < x->m->ndrives; i++) {
        if (fy_safe_root_open(x->m->drives[i].root, x->a->o->dry_run ? FY_SAFE_READ_ONLY : FY_SAFE_DEFER_SYNC, &x->roots[i], err,
                              sizeof err)) {
            fy_agent_msg(x->a, FY_LOG_ERROR, "%s", err);
            return FY_EXIT_MACHINE;
        }
    }
    return 0;
}

static void close_target_roots(ictx *x)
{
    for (size_t i = 0; x->roots && x->m && i < x->m->ndrives; i++) {
        char err[512];
        if (x->roots[i] && fy_safe_root_close(x->roots[i], err, sizeof err))
            fy_agent_msg(x->a, FY_LOG_WARNING, "%s", err);
    }
    free(x->roots);
    x->roots = NULL;
}

int fy_agent_inject(fy_agent *a)
{
    const fy_agent_opts *o = a->o;
    ictx x = {.a = a};
    psel *sel = NULL;
    size_t nsel = 0;
    char err[512];
    int rc = fy_agent_open_machine(a, &x.m);
    if (rc) return rc;
    snprintf(a->computer, sizeof a->computer, "%s", x.m->computer_name);
    if (fy_machine_is_hibernated(x.m)) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s is hibernated (Fast Startup): Windows would resume over any change. "
                                      "Boot it and shut it down fully (shutdown /s /t 0), then inject again", o->machine);
        rc = FY_EXIT_MACHINE;
        goto out;
    }
    fy_store_opts so = fy_store_opts_default();
    int src = fy_store_open(o->store, &so, &a->store, err, sizeof err);
    if (src) {
        fprintf(stderr, "ferry: %s\n", err);
        rc = fy_store_exit_code(src);
        goto out;
    }
    /* Every personality is opened (and its password checked) before anything is written. */
    if ((rc = select_personalities(a, &sel, &nsel))) goto out;
    if (!nsel) {
        fy_agent_msg(a, FY_LOG_ERROR, "no personality in %s matches the user selection%s%s: nothing would be injected",
                     o->store, o->source ? " from " : "", o->source ? o->source : "");
        rc = FY_EXIT_MACHINE;
        goto out;
    }
    if ((rc = fy_agent_open_log(a, FY_OP_INJECT, x.m->computer_name))) goto out;
    if ((rc = open_target_roots(&x))) goto out;
    a->progress = fy_progress_new(2, o->hide_status, "inject");
    for (size_t i = 0; i < nsel && !rc; i++) {
        if (i == 0) fy_agent_log_header(a, x.m);
        int urc = inject_one(&x, &sel[i]);
        if (urc >= FY_EXIT_USAGE) rc = urc;
    }
out:
    close_target_roots(&x);
    free_sel(sel, nsel);
    free(x.chain);
    fy_machine_free(x.m);
    return rc;
}

/* ---- undo ---- */

static int undo_set(ictx *x, const char *rel_dir)
{
    fy_agent *a = x->a;
    char err[512];
    char *mrel = fy_xasprintf("%s/undo.txt", rel_dir);
    int fd = fy_safe_open(x->roots[0], mrel, O_RDONLY, 0, err, sizeof err);
    free(mrel);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "r");
    char line[8192];
    int rc = 0;
    /* newest first: replay the manifest backwards */
    char **lines = NULL;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        lines = fy_xrealloc(lines, (n + 1) * sizeof(*lines));
        lines[n++] = fy_xstrdup(line);
    }
    fclose(f);
    for (size_t i = n; i-- > 0;) {
        char *action = lines[i], *rel = strchr(action, '\t');
        if (!rel) continue;
        *rel++ = 0;
        char *backup = strchr(rel, '\t');
        if (backup) *backup++ = 0;
        if (!strcmp(action, "mkdir")) {
            /* only when empty: anything else there is not ours to remove */
            fy_safe_root_flush(x->roots[0], NULL, 0); /* side files of removed files go first */
            char *host = fy_xasprintf("%s/%s", x->m->drives[0].root, rel);
            if (rmdir(host) && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
                fy_agent_msg(a, FY_LOG_WARNING, "undo: cannot remove the folder %s: %s", rel, strerror(errno));
            free(host);
        } else if (!strcmp(action, "created")) {
            if (fy_safe_unlink(x->roots[0], rel, err, sizeof err) && errno != ENOENT) {
                fy_agent_msg(a, FY_LOG_WARNING, "undo: %s", err);
                rc = 1;
            }
        } else if (backup && *backup) {
            int bfd = fy_safe_open(x->roots[0], backup, O_RDONLY, 0, err, sizeof err);
            fy_place_opts po = {.keep_security = true};
            if (bfd < 0 || fy_safe_place_fd(x->roots[0], rel, bfd, &po, NULL, err, sizeof err)) {
                fy_agent_msg(a, FY_LOG_WARNING, "undo: %s: %s", rel, err);
                rc = 1;
            }
            if (bfd >= 0) close(bfd);
            if (!strcmp(action, "hive")) {
                char *host = fy_xasprintf("%s/%s", x->m->drives[0].root, rel);
                fy_hive_remove_logs(host);
                free(host);
            }
        }
        fy_log_msg(a->log, FY_LOG_VERBOSE, "undo: %s %s", action, rel);
    }
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
    /* mark it done so it is not undone twice */
    char *from = fy_xasprintf("%s/%s/undo.txt", x->m->drives[0].root, rel_dir);
    char *to = fy_xasprintf("%s/%s/undone.txt", x->m->drives[0].root, rel_dir);
    rename(from, to);
    free(from);
    free(to);
    return rc;
}

int fy_agent_undo(fy_agent *a)
{
    const fy_agent_opts *o = a->o;
    ictx x = {.a = a};
    int rc = fy_agent_open_machine(a, &x.m);
    if (rc) return rc;
    if (fy_machine_is_hibernated(x.m)) {
        fprintf(stderr, "ferry: %s is hibernated: never written\n", o->machine);
        fy_machine_free(x.m);
        return FY_EXIT_MACHINE;
    }
    if ((rc = fy_agent_open_log(a, FY_OP_INJECT, x.m->computer_name)) || (rc = open_target_roots(&x))) goto out;
    const char *pd = fy_machine_token_path(x.m, NULL, FY_TOK_PROGRAM_DATA);
    char *host = NULL;
    char *pdwin = pd ? fy_xasprintf("%s\\ferry\\undo", pd) : NULL;
    DIR *d = pdwin && fy_machine_host_path(x.m, pdwin, &host) == 1 ? opendir(host) : NULL;
    size_t done = 0;
    if (d) {
        /* the newest undo set of each selected target user */
        struct dirent **ents = NULL;
        int n = scandir(host, &ents, NULL, alphasort);
        fy_user_filter f = o->users;
        char **seen = NULL; /* one set per user, the newest: an older one stays for a second undo */
        size_t nseen = 0;
        for (int i = n - 1; i >= 0; i--) {
            const char *name = ents[i]->d_name;
            const char *u1 = strchr(name, '_');
            const char *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
            if (name[0] == '.' || !u2) continue;
            char *dom = fy_xstrndup(u1 + 1, (size_t)(u2 - u1 - 1));
            fy_user_id id = {dom, u2 + 1, NULL, false, 0};
            const char *why;
            char *win = fy_xasprintf("%s\\%s", pdwin, name);
            fy_buf rel = {0};
            bool on_target = target_of(&x, win, &rel) == x.roots[0];
            char *manifest = fy_xasprintf("%s/%s/undo.txt", host, name);
            struct stat st;
            char *who = fy_xasprintf("%s\\%s", dom, u2 + 1);
            bool again = false;
            for (size_t k = 0; k < nseen; k++) again |= fy_streq_ci(seen[k], who);
            if (!again && fy_user_selected(&f, &id, &why) && stat(manifest, &st) == 0 && on_target) {
                if (undo_set(&x, fy_buf_cstr(&rel))) fy_agent_fail(a, FY_EXIT_PARTIAL);
                printf("undone: %s\n", name);
                done++;
                seen = fy_xrealloc(seen, (nseen + 1) * sizeof(*seen));
                seen[nseen++] = who;
                who = NULL;
            }
            free(who);
            fy_buf_free(&rel);
            free(dom);
            free(win);
            free(manifest);
        }
        for (size_t k = 0; k < nseen; k++) free(seen[k]);
        free(seen);
        for (int i = 0; i < n; i++) free(ents[i]);
        free(ents);
        closedir(d);
    }
    free(host);
    free(pdwin);
    if (!done) {
        fprintf(stderr, "ferry: no injection to undo on %s for the selected users\n", o->machine);
        rc = FY_EXIT_MACHINE;
    }
out:
    close_target_roots(&x);
    fy_machine_free(x.m);
    return rc;
}
