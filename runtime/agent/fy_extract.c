/* Extraction and backup: for each selected user, detect applications, walk the scan roots
 * of the program through files and registry, let the VM decide each object, and write the
 * personality (a new generation) in location-independent form. */
#include "agent/fy_agent_int.h"
#include "fy_report.h"
#include "io/fy_safepath.h"
#include "io/fy_signal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct xroot {
    char *host; /* host folder */
    char *win;  /* Windows path */
    bool recurse;
} xroot;

typedef struct xctx {
    fy_agent *a;
    const fy_machine *m;
    const fy_machine_user *u;
    fy_vm *vm;
    fy_store_writer *w; /* NULL on a dry run */
    fy_safe_root **drive_roots; /* per m->drives entry, read-only */
    xroot *roots;
    size_t nroots;
    const char *store_real; /* the store folder, never walked */
    uint64_t files, regs, bytes, skipped;
    bool fatal; /* a store error or a cancel: stop */
    int fatal_code;
    fy_buf path, dest;
} xctx;

/* ---- where a host path lives ---- */

static int drive_of(const xctx *x, const char *host, const char **rel)
{
    size_t best = 0;
    int found = -1;
    for (size_t i = 0; i < x->m->ndrives; i++) {
        const char *root = x->m->drives[i].root;
        size_t n = strlen(root);
        if (strcmp(root, "/") == 0) n = 0;
        if (strncmp(host, root, n) == 0 && (host[n] == '/' || host[n] == 0) && n >= best) {
            best = n;
            found = (int)i;
        }
    }
    if (found >= 0) {
        *rel = host + best;
        while (**rel == '/') (*rel)++;
    }
    return found;
}

static bool under_host(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* Folders a user-context scan never enters (agent.md, "Scanning and placing"). */
static bool skip_dir(const xctx *x, const char *host, const char *name)
{
    static const char *const never[] = {"System Volume Information", "$Recycle.Bin", "RECYCLER",
                                        "Config.Msi"};
    for (size_t i = 0; i < FY_ARRAY_LEN(never); i++)
        if (fy_streq_ci(name, never[i])) return true;
    if (x->store_real && strcmp(host, x->store_real) == 0) return true;
    for (size_t i = 0; i < x->m->nusers; i++) {
        const fy_machine_user *o = &x->m->users[i];
        if (o != x->u && o->profile_host && strcmp(o->profile_host, host) == 0) return true;
    }
    /* another scan root walks it */
    for (size_t i = 0; i < x->nroots; i++)
        if (strcmp(x->roots[i].host, host) == 0) return true;
    return false;
}

static bool skip_file(const char *name)
{
    static const char *const never[] = {"pagefile.sys", "hiberfil.sys", "swapfile.sys"};
    for (size_t i = 0; i < FY_ARRAY_LEN(never); i++)
        if (fy_streq_ci(name, never[i])) return true;
    return fy_safe_is_internal_name(name);
}

static void stop(xctx *x, int code, const char *fmt, const char *arg)
{
    fy_agent_msg(x->a, FY_LOG_ERROR, fmt, arg);
    x->fatal = true;
    if (code > x->fatal_code) x->fatal_code = code;
}

static void skipped(xctx *x, const char *path, const char *why)
{
    fy_agent_msg(x->a, FY_LOG_WARNING, "skipped %s: %s", path, why);
    x->skipped++;
    x->a->objects_skipped++;
    fy_agent_fail(x->a, FY_EXIT_PARTIAL);
}

/* The remap destination of a file: DEST + the part of its folder below the rule's node. */
static const char *remap_dest(xctx *x, const fy_verdict *v, const char *folder)
{
    if (v->dest == FY_NONE) return NULL;
    const fy_program *p = x->a->prog;
    const char *node = fy_prog_str(p, v->node);
    size_t nn = strcmp(node, "*") == 0 ? 0 : strlen(node);
    /* count components of the node and skip as many in the folder (wildcards allowed) */
    size_t comps = nn ? 1 : 0;
    for (size_t i = 0; i < nn; i++) comps += node[i] == '\\';
    const char *rest = folder;
    for (size_t c = 0; c < comps && rest; c++) {
        const char *s = strchr(rest, '\\');
        rest = s ? s + 1 : NULL;
    }
    x->dest.len = 0;
    fy_buf_puts(&x->dest, fy_prog_str(p, v->dest));
    if (rest && *rest) {
        fy_buf_putc(&x->dest, '\\');
        fy_buf_puts(&x->dest, rest);
    }
    return fy_buf_cstr(&x->dest);
}

static void take_file(xctx *x, int dfd, int drive, const char *rel, const char *norm_folder,
                      const char *name, const struct stat *st, const fy_meta *meta,
                      const fy_verdict *v)
{
    fy_agent *a = x->a;
    x->path.len = 0;
    fy_buf_puts(&x->path, norm_folder);
    fy_buf_putc(&x->path, '\\');
    fy_buf_puts(&x->path, name);
    const char *npath = fy_buf_cstr(&x->path);
    if (meta->has_attrs && (meta->attrs & FY_ATTR_ENCRYPTED)) {
        skipped(x, npath, "EFS-encrypted: it cannot be read on another machine");
        return;
    }
    if (meta->has_attrs && (meta->attrs & (FY_ATTR_OFFLINE | FY_ATTR_RECALL_ON_DATA_ACCESS |
                                           FY_ATTR_RECALL_ON_OPEN))) {
        skipped(x, npath, "a cloud placeholder: its content is not on this disk");
        return;
    }
    const char *dest = remap_dest(x, v, norm_folder);
    if (!x->w) {
        fy_log_msg(a->log, FY_LOG_INFO, "would take %s (%llu bytes)%s%s", npath,
                   (unsigned long long)st->st_size, dest ? " -> " : "", dest ? dest : "");
        x->files++;
        x->bytes += (uint64_t)st->st_size;
        return;
    }
    char err[512];
    fy_store_file f = {0};
    f.path = npath;
    f.size = (uint64_t)st->st_size;
    f.mtime = fy_store_filetime_from_unix_ns((int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
    f.ctime = meta->has_crtime ? fy_store_filetime_from_unix_ns((int64_t)meta->crtime.tv_sec * 1000000000 +
                                                                meta->crtime.tv_nsec)
                               : f.mtime;
    f.attributes = meta->has_attrs ? meta->attrs : 0;
    f.has_content = true;
    f.dest = dest;
    /* A backup stores only what changed since the last generation. */
    const fy_store_file *prev = NULL;
    if (a->o->op == FY_AGENT_BACKUP && fy_store_prev_file(x->w, npath, &prev) && prev->size == f.size &&
        prev->mtime == f.mtime && prev->has_content) {
        f.content = prev->content;
    } else {
        /* Relative to the folder the walker holds open: every folder on the way was checked
         * not to be a link, and O_NOFOLLOW refuses a file swapped for one since. */
        int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            skipped(x, npath, strerror(errno));
            return;
        }
        int rc = fy_store_put_fd(x->w, fd, &f.content, err, sizeof err);
        close(fd);
        if (rc == FY_STORE_ERR_SOURCE) {
            skipped(x, npath, err);
            return;
        }
        if (rc) {
            stop(x, fy_store_exit_code(rc), "%s", err);
            return;
        }
        x->bytes += f.size;
    }
    /* Alternate data streams (Zone.Identifier...) travel with the file. */
    fy_store_ads *ads = meta->nstreams ? fy_xcalloc(meta->nstreams, sizeof(*ads)) : NULL;
    size_t nads = 0;
    for (size_t i = 0; i < meta->nstreams; i++) {
        fy_buf sb = {0};
        if (fy_safe_read_stream(x->drive_roots[drive], rel, meta->streams[i], &sb, err, sizeof err) == 0 &&
            fy_store_put_mem(x->w, sb.data, sb.len, &ads[nads].ref, err, sizeof err) == 0) {
            ads[nads].name = meta->streams[i];
            nads++;
        } else {
            fy_agent_msg(a, FY_LOG_WARNING, "%s: stream %s not kept: %s", npath, meta->streams[i], err);
        }
        fy_buf_free(&sb);
    }
    f.ads = ads;
    f.n_ads = nads;
    int rc = fy_store_add_file(x->w, &f, err, sizeof err);
    free(ads);
    if (rc) {
        stop(x, fy_store_exit_code(rc), "%s", err);
        return;
    }
    fy_log_msg(a->log, FY_LOG_VERBOSE, "took %s%s%s", npath, dest ? " -> " : "", dest ? dest : "");
    x->files++;
    a->objects_ok++;
    a->bytes += f.size;
    if (a->progress) fy_progress_update(a->progress, x->files, x->bytes);
}

static void walk_dir(xctx *x, const char *host, const char *win, bool recurse, int depth)
{
    if (x->fatal) return;
    if (fy_cancel_requested()) {
        stop(x, FY_EXIT_CANCELLED, "%s", "cancelled");
        return;
    }
    if (depth > 512) {
        skipped(x, win, "folders nested deeper than 512 levels");
        return;
    }
    const char *rel;
    int drive = drive_of(x, host, &rel);
    if (drive < 0) return;
    DIR *d = opendir(host);
    if (!d) {
        skipped(x, win, strerror(errno));
        return;
    }
    char *norm = fy_machine_normalise(x->m, x->u, win);
    /* Attributes, creation times and streams: from xattrs on an NTFS mount, else from the
     * folder's side file when there is one; plain folders without one have none. */
    bool want_meta = fy_safe_root_meta_mode(x->drive_roots[drive]) != FY_META_SIDEFILE ||
                     faccessat(dirfd(d), ".ferry-attrs", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
                     faccessat(dirfd(d), ".ferry-streams", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
    fy_buf child_host = {0}, child_win = {0}, child_rel = {0};
    struct dirent *e;
    while (!x->fatal && (e = readdir(d))) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW)) continue;
        child_host.len = child_win.len = child_rel.len = 0;
        fy_buf_printf(&child_host, "%s/%s", host, name);
        fy_buf_printf(&child_win, "%s\\%s", win, name);
        fy_buf_printf(&child_rel, "%s%s%s", rel, *rel ? "/" : "", name);
        if (S_ISLNK(st.st_mode)) {
            /* junctions such as "Application Data" in Windows 7+ profiles loop back */
            fy_log_msg(x->a->log, FY_LOG_VERBOSE, "not followed (a link): %s", fy_buf_cstr(&child_win));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (recurse && !skip_dir(x, fy_buf_cstr(&child_host), name))
                walk_dir(x, (const char *)child_host.data, fy_buf_cstr(&child_win), true, depth + 1);
            continue;
        }
        if (!S_ISREG(st.st_mode) || skip_file(name) || !norm) continue;
        fy_object o = {.kind = FY_OBJ_KIND_FILE,
                       .folder = norm,
                       .folder_len = strlen(norm),
                       .name = name,
                       .name_len = strlen(name),
                       .size = (uint64_t)st.st_size,
                       .mtime = st.st_mtim.tv_sec,
                       .mtime_local = fy_machine_local_time(x->m, st.st_mtim.tv_sec)};
        fy_meta meta;
        char err[256];
        memset(&meta, 0, sizeof meta);
        if (want_meta) {
            if (fy_safe_get_meta(x->drive_roots[drive], fy_buf_cstr(&child_rel), &meta, err, sizeof err) == 0) {
                if (meta.has_attrs) o.attrib = meta.attrs;
            } else {
                fy_meta_free(&meta);
                memset(&meta, 0, sizeof meta);
            }
        }
        fy_verdict v;
        fy_vm_classify(x->vm, &o, &v);
        if (v.decision == FY_DECIDE_INCLUDE) {
            take_file(x, dirfd(d), drive, fy_buf_cstr(&child_rel), norm, name, &st, &meta, &v);
        } else if (fy_log_enabled(x->a->log, FY_LOG_TRACE)) {
            fy_log_msg(x->a->log, FY_LOG_TRACE, "%s %s\\%s",
                       v.decision == FY_DECIDE_EXCLUDE ? "excluded" : "not selected", norm, name);
        }
        fy_meta_free(&meta);
    }
    closedir(d);
    free(norm);
    fy_buf_free(&child_host);
    fy_buf_free(&child_win);
    fy_buf_free(&child_rel);
}

/* The program's file scan roots, resolved for this user; roots inside a recursive root are
 * dropped (it reaches them), so every file is met once. */
static void plan_roots(xctx *x)
{
    const fy_program *p = x->a->prog;
    for (uint32_t i = 0; i < p->nroots; i++) {
        const fy_prog_root *r = &p->roots[i];
        if (r->kind != 1) continue;
        const char *norm = fy_prog_str(p, r->path);
        char **wins = NULL;
        size_t nwins = 0;
        if (norm[0] == 0) { /* "*:": every fixed disk */
            for (size_t d = 0; d < x->m->ndrives; d++) {
                wins = fy_xrealloc(wins, (nwins + 1) * sizeof(*wins));
                wins[nwins++] = fy_xasprintf("%c:", x->m->drives[d].letter);
            }
        } else {
            if (norm[0] == '<') {
                const char *close = strchr(norm, '>');
                int tok = close ? fy_token_lookup(norm + 1, (size_t)(close - norm - 1)) : -1;
                const fy_machine_folder *f = tok >= 0 ? fy_machine_folder_of(x->m, x->u, (fy_token_id)tok) : NULL;
                if (f && f->state == FY_FOLDER_UNREACHABLE) {
                    fy_agent_msg(x->a, FY_LOG_WARNING, "%s of %s is %s (%s): not extracted", norm,
                                 x->u->account, f->path, f->why ? f->why : "unreachable offline");
                    fy_agent_fail(x->a, FY_EXIT_PARTIAL);
                    continue;
                }
            }
            char *win = fy_machine_denormalise(x->m, x->u, norm);
            if (!win) {
                fy_log_msg(x->a->log, FY_LOG_VERBOSE, "%s: no such folder on %s", norm, x->m->os.name);
                continue;
            }
            wins = fy_xrealloc(wins, sizeof(*wins));
            wins[0] = win;
            nwins = 1;
        }
        for (size_t k = 0; k < nwins; k++) {
            char *host = NULL;
            if (fy_machine_host_path(x->m, wins[k], &host) == 1) {
                x->roots = fy_xrealloc(x->roots, (x->nroots + 1) * sizeof(*x->roots));
                x->roots[x->nroots++] = (xroot){host, wins[k], r->recurse};
            } else {
                free(host);
                free(wins[k]);
            }
        }
        free(wins);
    }
    /* drop duplicates and roots below a recursive root: mark first, then compact */
    bool *covered = fy_xcalloc(x->nroots + 1, sizeof(*covered));
    for (size_t i = 0; i < x->nroots; i++) {
        for (size_t j = 0; j < x->nroots && !covered[i]; j++) {
            if (i == j || covered[j]) continue;
            if (strcmp(x->roots[i].host, x->roots[j].host) == 0) {
                /* the same folder twice: the first stays, recursive if either is */
                if (j < i) {
                    x->roots[j].recurse |= x->roots[i].recurse;
                    covered[i] = true;
                }
            } else if (x->roots[j].recurse && under_host(x->roots[i].host, x->roots[j].host)) {
                covered[i] = true;
            }
        }
    }
    size_t out = 0;
    for (size_t i = 0; i < x->nroots; i++) {
        if (covered[i]) {
            free(x->roots[i].host);
            free(x->roots[i].win);
        } else {
            x->roots[out++] = x->roots[i];
        }
    }
    free(covered);
    x->nroots = out;
}

/* ---- registry ---- */

static void take_value(xctx *x, const char *key, const fy_regval *val)
{
    fy_object o = {.kind = FY_OBJ_KIND_REGVAL,
                   .folder = key,
                   .folder_len = strlen(key),
                   .name = val->name,
                   .name_len = strlen(val->name)};
    fy_verdict v;
    fy_vm_classify(x->vm, &o, &v);
    if (v.decision != FY_DECIDE_INCLUDE) return;
    if (!x->w) {
        fy_log_msg(x->a->log, FY_LOG_INFO, "would take %s [%s]", key, val->name);
        x->regs++;
        return;
    }
    char err[512];
    fy_store_reg r = {.key = key, .value = val->name, .type = val->type, .data = val->data, .len = val->len};
    int rc = fy_store_add_reg(x->w, &r, err, sizeof err);
    if (rc) {
        stop(x, fy_store_exit_code(rc), "%s", err);
        return;
    }
    x->regs++;
    x->a->objects_ok++;
}

static void walk_key(xctx *x, const fy_regkey *k, fy_buf *key, bool recurse, int depth)
{
    if (x->fatal || depth > 512) return;
    const char *kp = fy_buf_cstr(key);
    fy_object o = {.kind = FY_OBJ_KIND_REGKEY, .folder = kp, .folder_len = key->len, .name = "", .name_len = 0};
    fy_verdict v;
    fy_vm_classify(x->vm, &o, &v);
    if (v.decision == FY_DECIDE_INCLUDE && x->w && k->nval == 0) {
        /* an empty key still moves; keys with values are recreated by their values */
        char err[512];
        fy_store_reg r = {.key = kp};
        int rc = fy_store_add_reg(x->w, &r, err, sizeof err);
        if (rc) stop(x, fy_store_exit_code(rc), "%s", err);
    }
    for (size_t i = 0; i < k->nval && !x->fatal; i++) take_value(x, fy_buf_cstr(key), &k->val[i]);
    if (!recurse) return;
    size_t len = key->len;
    for (size_t i = 0; i < k->nsub && !x->fatal; i++) {
        key->len = len;
        fy_buf_putc(key, '\\');
        fy_buf_puts(key, k->sub[i]->name);
        walk_key(x, k->sub[i], key, true, depth + 1);
    }
    key->len = len;
}

static void walk_registry(xctx *x, fy_agent_hives *hives)
{
    const fy_program *p = x->a->prog;
    for (uint32_t i = 0; i < p->nroots && !x->fatal; i++) {
        const fy_prog_root *r = &p->roots[i];
        if (r->kind != 2) continue;
        const char *norm = fy_prog_str(p, r->path), *rest;
        fy_reg *reg = fy_agent_hive_for(hives, norm, &rest);
        const fy_regtree *t = reg ? fy_reg_tree(reg) : NULL;
        if (!t) continue;
        char *path = fy_xstrdup(rest);
        if (reg == hives->system && !strncasecmp(path, "CurrentControlSet", 17)) {
            char *cs = fy_xasprintf("ControlSet%03u%s", x->m->control_set ? x->m->control_set : 1, path + 17);
            free(path);
            path = cs;
        }
        const fy_regkey *k = fy_regkey_find(t->root, path);
        free(path);
        if (!k) continue;
        fy_buf key = {0};
        fy_buf_puts(&key, norm);
        walk_key(x, k, &key, r->recurse, 0);
        fy_buf_free(&key);
    }
}

/* ---- one user ---- */

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* A backup without a program given runs the one the personality was extracted with. */
static int load_own_program(fy_agent *a, const fy_machine *m, const fy_machine_user *u)
{
    char err[512];
    fy_store_id id = {u->domain, u->name, m->computer_name};
    fy_store_reader *r = NULL;
    fy_store_gen *g = NULL;
    uint8_t *img = NULL;
    size_t n = 0;
    int src = fy_store_reader_open(a->store, &id, a->o->password, a->o->password_len, &r, err, sizeof err);
    if (!src) src = fy_store_gen_open(r, 0, &g, err, sizeof err);
    if (!src) src = fy_store_gen_program(g, &img, &n, err, sizeof err);
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    if (src) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s: no personality to back up with its own program (%s); "
                                      "extract first, or give --program/--config", u->account, err);
        return src == FY_STORE_ERR_NOT_FOUND ? FY_EXIT_PARTIAL : fy_store_exit_code(src);
    }
    int rc = fy_agent_load_program(a, img, n);
    free(img);
    return rc;
}

static int extract_user(fy_agent *a, const fy_machine *m, const fy_machine_user *u,
                        fy_safe_root **drive_roots, const char *store_real)
{
    const fy_agent_opts *o = a->o;
    if (o->op == FY_AGENT_BACKUP && !o->program && !o->config) {
        int lrc = load_own_program(a, m, u);
        if (lrc) return lrc;
    }
    const fy_program *p = a->prog;
    fy_diags warn = {0};
    fy_agent_hives hives = {.m = m, .u = u, .warnings = &warn};
    fy_agent_host host;
    fy_agent_host_init(&host, &hives, NULL);
    fy_vm *vm = fy_vm_new(p, &host.host);
    fy_vm_set_now(vm, a->now);
    uint8_t *detected = fy_xcalloc(p->napps + 1, 1);
    uint32_t *version = fy_xcalloc(p->napps + 1, sizeof(*version));
    fy_log_section(a->log, "User Information");
    fy_log_item(a->log, "User", "%s", u->account);
    fy_log_item(a->log, "SID", "%s", u->sid);
    fy_log_item(a->log, "Profile", "%s", u->profile);
    fy_agent_detect(a, vm, detected, version);
    fy_vm_set_detected(vm, detected);
    fy_store_app *apps = fy_xcalloc(p->napps + 1, sizeof(*apps));
    size_t napps = 0;
    for (uint32_t i = 0; i < p->napps; i++) {
        if (!detected[i] || !(p->apps[i].flags & FY_APP_SELECTED)) continue;
        apps[napps].id = fy_prog_str(p, p->apps[i].id);
        apps[napps].version = version[i] != FY_NONE ? fy_prog_str(p, p->versions[version[i]].version) : "";
        fy_log_item(a->log, "Detected", "%s %s", apps[napps].id, apps[napps].version);
        napps++;
    }
    xctx x = {.a = a, .m = m, .u = u, .vm = vm, .drive_roots = drive_roots, .store_real = store_real};
    int rc = 0;
    char err[512];
    if (!o->dry_run) {
        fy_store_id id = {u->domain, u->name, m->computer_name};
        fy_store_write_opts wo = {.overwrite = o->overwrite && o->op == FY_AGENT_EXTRACT,
                                  .password = o->password,
                                  .password_len = o->password_len};
        int src = fy_store_writer_begin(a->store, &id, &wo, &x.w, err, sizeof err);
        if (src) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", u->account, err);
            rc = fy_store_exit_code(src);
            goto out;
        }
    }
    plan_roots(&x);
    for (size_t i = 0; i < x.nroots && !x.fatal; i++) {
        fy_log_msg(a->log, FY_LOG_VERBOSE, "scanning %s%s", x.roots[i].win, x.roots[i].recurse ? " and below" : "");
        walk_dir(&x, x.roots[i].host, x.roots[i].win, x.roots[i].recurse, 0);
    }
    if (!x.fatal) walk_registry(&x, &hives);
    for (size_t i = 0; i < warn.n; i++)
        fy_agent_msg(a, FY_LOG_WARNING, "%s: %s", warn.v[i].file ? warn.v[i].file : u->account, warn.v[i].message);
    if (x.fatal) {
        rc = x.fatal_code;
        goto out;
    }
    if (x.w) {
        /* What injection needs to translate paths: this user's folders on this machine. */
        fy_store_kv *kv = fy_xcalloc(FY_TOK_COUNT + 4, sizeof(*kv));
        size_t nkv = 0;
        char *keys[FY_TOK_COUNT];
        for (int t = 0; t < FY_TOK_COUNT; t++) {
            keys[t] = NULL;
            const char *path = fy_machine_token_path(m, u, (fy_token_id)t);
            if (!path || !fy_tokens[t].is_folder) continue;
            keys[t] = fy_xasprintf("folder:%s", fy_tokens[t].canonical);
            kv[nkv++] = (fy_store_kv){keys[t], path};
        }
        kv[nkv++] = (fy_store_kv){"profile", u->profile};
        kv[nkv++] = (fy_store_kv){"local", u->local ? "yes" : "no"};
        char hash[65];
        hex(p->source_hash, 32, hash);
        fy_store_meta meta = {.user = u->account,
                              .sid = u->sid,
                              .computer = m->computer_name,
                              .os_name = m->os.product_name[0] ? m->os.product_name : m->os.name,
                              .os_version = m->os.version,
                              .time = a->now,
                              .apps = apps,
                              .n_apps = napps,
                              .program_hash = hash,
                              .kv = kv,
                              .n_kv = nkv};
        int src = fy_store_set_program(x.w, a->image, a->image_size, err, sizeof err);
        uint32_t gen = 0;
        if (!src) src = fy_store_commit(x.w, &meta, &gen, err, sizeof err);
        for (int t = 0; t < FY_TOK_COUNT; t++) free(keys[t]);
        free(kv);
        if (src) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", u->account, err);
            rc = fy_store_exit_code(src);
            goto out;
        }
        fy_log_msg(a->log, FY_LOG_INFO, "%s: generation %u: %llu files (%llu bytes), %llu registry values%s",
                   u->account, gen, (unsigned long long)x.files, (unsigned long long)x.bytes,
                   (unsigned long long)x.regs, x.skipped ? ", some objects skipped" : "");
        /* a copy of the log so far goes into the personality */
        const char *lp = fy_log_path(a->log);
        int lfd = lp ? open(lp, O_RDONLY | O_CLOEXEC) : -1;
        if (lfd >= 0) {
            const char *base = strrchr(lp, '/');
            if (fy_store_add_log(x.w, base ? base + 1 : lp, lfd, err, sizeof err))
                fy_agent_msg(a, FY_LOG_WARNING, "log not copied into the personality: %s", err);
            close(lfd);
        }
    } else {
        fy_log_msg(a->log, FY_LOG_INFO, "%s: would take %llu files (%llu bytes), %llu registry values (dry run)",
                   u->account, (unsigned long long)x.files, (unsigned long long)x.bytes, (unsigned long long)x.regs);
        printf("%s: would take %llu files (%llu bytes) and %llu registry values\n", u->account,
               (unsigned long long)x.files, (unsigned long long)x.bytes, (unsigned long long)x.regs);
    }
    fy_buf_puts(&a->report, a->report.len ? ",\n    {\"user\": " : "\n    {\"user\": ");
    fy_report_json_string(&a->report, u->account);
    fy_buf_puts(&a->report, ", \"sid\": ");
    fy_report_json_string(&a->report, u->sid);
    fy_buf_printf(&a->report, ", \"files\": %llu, \"bytes\": %llu, \"registry\": %llu, \"skipped\": %llu}",
                  (unsigned long long)x.files, (unsigned long long)x.bytes, (unsigned long long)x.regs,
                  (unsigned long long)x.skipped);
out:
    fy_store_writer_free(x.w);
    for (size_t i = 0; i < x.nroots; i++) free(x.roots[i].host), free(x.roots[i].win);
    free(x.roots);
    fy_buf_free(&x.path);
    fy_buf_free(&x.dest);
    fy_vm_free(vm);
    fy_agent_hives_close(&hives);
    fy_diags_free(&warn);
    free(detected);
    free(version);
    free(apps);
    return rc;
}

int fy_agent_extract(fy_agent *a)
{
    const fy_agent_opts *o = a->o;
    int rc = 0;
    fy_machine *m = NULL;
    fy_safe_root **drive_roots = NULL;
    const fy_machine_user **sel = NULL;
    size_t nsel = 0;
    char *store_real = NULL;
    char err[512];
    /* A backup without --program/--config runs each personality's own program (loaded per
     * user in extract_user); extract needs one given. */
    bool own_program = o->op == FY_AGENT_BACKUP && !o->program && !o->config;
    if (!own_program && (rc = fy_agent_load_program(a, NULL, 0))) return rc;
    if ((rc = fy_agent_open_machine(a, &m))) return rc;
    snprintf(a->computer, sizeof a->computer, "%s", m->computer_name);
    if ((rc = fy_agent_open_log(a, o->op == FY_AGENT_BACKUP ? FY_OP_BACKUP : FY_OP_EXTRACT, m->computer_name)))
        goto out;
    fy_agent_log_header(a, m);
    const char *req = a->prog ? fy_agent_policy(a->prog, "Policies", "Password Required") : NULL;
    if (req && fy_streq_ci(req, "Yes") && !o->password) {
        fy_agent_msg(a, FY_LOG_ERROR, "the template requires a password (Password Required=Yes): give "
                                      "--password-file or FERRY_PASSWORD");
        rc = FY_EXIT_PASSWORD;
        goto out;
    }
    fy_user_filter f = o->users;
    f.now = a->now;
    const char *unused = a->prog ? fy_agent_policy(a->prog, "Policies", "Exclude Unused Days") : NULL;
    if (!f.exclude_unused_days && unused) f.exclude_unused_days = strtol(unused, NULL, 10);
    sel = fy_xcalloc(m->nusers + 1, sizeof(*sel));
    for (size_t i = 0; i < m->nusers; i++) {
        const fy_machine_user *u = &m->users[i];
        fy_user_id id = {u->domain, u->name, u->sid, u->local, u->last_use};
        const char *why;
        if (fy_user_selected(&f, &id, &why))
            sel[nsel++] = u;
        else
            fy_log_msg(a->log, FY_LOG_VERBOSE, "%s not selected: %s", u->account, why);
    }
    if (!nsel) {
        fy_agent_msg(a, FY_LOG_ERROR, "the user selection matches no user on %s (%zu profiles): nothing "
                                      "would be migrated; check --include-user / --exclude-*",
                     m->computer_name, m->nusers);
        rc = FY_EXIT_MACHINE;
        goto out;
    }
    if (!o->dry_run || own_program) {
        fy_store_opts so = fy_store_opts_default();
        so.create = !o->dry_run;
        int src = fy_store_open(o->store, &so, &a->store, err, sizeof err);
        if (src) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s", err);
            rc = fy_store_exit_code(src);
            goto out;
        }
        store_real = realpath(o->store, NULL);
    }
    drive_roots = fy_xcalloc(m->ndrives + 1, sizeof(*drive_roots));
    for (size_t i = 0; i < m->ndrives; i++) {
        if (fy_safe_root_open(m->drives[i].root, FY_SAFE_READ_ONLY, &drive_roots[i], err, sizeof err)) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s", err);
            rc = FY_EXIT_MACHINE;
            goto out;
        }
    }
    a->progress = fy_progress_new(2, o->hide_status, o->op == FY_AGENT_BACKUP ? "backup" : "extract");
    for (size_t i = 0; i < nsel; i++) {
        int urc = extract_user(a, m, sel[i], drive_roots, store_real);
        if (urc >= FY_EXIT_STORE || urc == FY_EXIT_USAGE) { /* store, password, I/O, cancel: stop */
            rc = urc;
            break;
        }
        if (urc) fy_agent_fail(a, FY_EXIT_PARTIAL);
    }
out:
    if (drive_roots) {
        for (size_t i = 0; m && i < m->ndrives; i++)
            if (drive_roots[i]) fy_safe_root_close(drive_roots[i], NULL, 0);
        free(drive_roots);
    }
    free(sel);
    free(store_real);
    fy_machine_free(m);
    return rc;
}
